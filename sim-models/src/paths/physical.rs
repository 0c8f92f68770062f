//! Physical path creation: each operator of a composition placed on a node,
//! connectors routed over the links.
//!
//! **Routes.** [`Routes`] holds the all-pairs shortest routes by link delay
//! (Dijkstra from every node; ties: fewer hops, then lower link index),
//! avoiding failed nodes and links. A connector between two operators on
//! the same node crosses no link.
//!
//! **What a placement is worth.** For source node `s`, operator nodes
//! `n1 … nm` and sink node `t`, the route is `s → n1 → … → nm → t`, each leg
//! the shortest route. Then
//!
//! - `delay` = the links' delays along the route + the operators' mean
//!   service times;
//! - `loss` = 1 − Π (1 − loss of each link crossed), a link crossed twice
//!   counting twice;
//! - `cost` = (Σ operator cost) × (1 + link hops of the whole route): the
//!   operators' cost per ADU, paid again for every hop the data makes;
//! - `load` = the highest CPU utilisation, once the operators are added to
//!   what the ledger already holds, of the nodes that host them (0 for the
//!   empty composition). Only the path's own nodes count: the busiest node
//!   of the whole network is often one the path does not touch, and a
//!   maximum over all nodes would then make every placement look the same.
//!
//! The objective (`optimise`) is minimised; ties go to the lower delay (for
//! `cost` and `load`) or the lower cost (for `delay`).
//!
//! **Capacity.** The CPU of the operators placed on a node must fit its free
//! CPU: its `cpu` minus what the [`CapacityLedger`] says other placed paths
//! use.
//!
//! **QoS.** A placement meets the QoS when `delay ≤ max_delay` and
//! `loss ≤ max_loss` (relative tolerance 1e-9). When no placement does, the
//! nearest miss is reported: the one with the smallest *violation*
//! `max(0, delay − max_delay)/max_delay + max(0, loss − max_loss)/max_loss`
//! (ties: the objective), with its shortfalls ([`PlacementError::QosMiss`]).
//!
//! **Search.** Exact branch and bound: a depth-first search that gives the
//! operators nodes in order and keeps the best complete placement under the
//! key (violation, objective, tie-break). At each step the children are
//! sorted by a lower bound of that key and the rest are cut as soon as a
//! bound reaches the best found: the delay bound adds the shortest delay from
//! the current node to the sink (route delays obey the triangle inequality),
//! loss, hops and load only grow. Without pruning the tree has
//! `Σ_{i≤m} N^i ≤ 2·N^m` vertices for `N` live nodes and `m` operators; the
//! search stops after [`SearchLimits::max_visits`] (2·10⁶ by default), so
//! it is exact whenever `N^m ≤ 10⁶` and otherwise returns the best placement
//! found so far, marked `exact: false`. Because children are tried best
//! bound first, the first complete placement is the greedy one (each
//! operator on the node that looks best so far), so a cut-off search is
//! never worse than greedy.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;

use super::{Exclusions, LogicalPath, NetLink, PathModel, QosDef};
use crate::spec::Optimise;

/// Relative tolerance of the QoS and capacity comparisons.
const TOL: f64 = 1e-9;

/// Limits of the placement search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    /// Search-tree vertices visited before giving up exactness.
    pub max_visits: u64,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            max_visits: 2_000_000,
        }
    }
}

/// One link crossed, in the direction of the data.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    /// Link index.
    pub link: usize,
    /// Node the ADU leaves.
    pub from: usize,
    /// Node the ADU reaches.
    pub to: usize,
    /// The link's delay, seconds.
    pub delay: f64,
    /// The link's loss probability.
    pub loss: f64,
}

/// The route of one connector: from the source or an operator's node to the
/// next operator's node or the sink.
#[derive(Debug, Clone, PartialEq)]
pub struct Leg {
    /// Node the data leaves.
    pub from: usize,
    /// Node the data reaches.
    pub to: usize,
    /// Links crossed (empty when `from == to`).
    pub hops: Vec<Hop>,
}

impl Leg {
    /// Sum of the hops' delays, seconds.
    pub fn delay(&self) -> f64 {
        self.hops.iter().fold(0.0, |a, h| a + h.delay)
    }
}

/// All-pairs shortest routes by delay.
#[derive(Debug, Clone)]
pub struct Routes {
    n: usize,
    dist: Vec<f64>,
    hops: Vec<u32>,
    keep: Vec<f64>,
    /// For (source, v): the link and node v was reached from.
    pred: Vec<Option<(usize, usize)>>,
    links: Vec<(usize, usize, f64, f64)>,
}

#[derive(PartialEq)]
struct RouteItem(f64, u32, usize);

impl Eq for RouteItem {}

impl PartialOrd for RouteItem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RouteItem {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .total_cmp(&self.0)
            .then_with(|| other.1.cmp(&self.1))
            .then_with(|| other.2.cmp(&self.2))
    }
}

impl Routes {
    /// Routes over `links` between `n` nodes, avoiding the nodes and links of `ex`.
    pub fn new(n: usize, links: &[NetLink], ex: &Exclusions) -> Self {
        let mut adj: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
        for (i, l) in links.iter().enumerate() {
            if ex.links.contains(&i)
                || ex.nodes.contains(&l.a)
                || ex.nodes.contains(&l.b)
                || l.a >= n
                || l.b >= n
                || l.a == l.b
            {
                continue;
            }
            adj[l.a].push((l.b, i));
            adj[l.b].push((l.a, i));
        }
        let mut r = Routes {
            n,
            dist: vec![f64::INFINITY; n * n],
            hops: vec![u32::MAX; n * n],
            keep: vec![0.0; n * n],
            pred: vec![None; n * n],
            links: links.iter().map(|l| (l.a, l.b, l.delay, l.loss)).collect(),
        };
        for s in 0..n {
            if ex.nodes.contains(&s) {
                continue;
            }
            let row = s * n;
            let mut done = vec![false; n];
            let mut heap = BinaryHeap::new();
            r.dist[row + s] = 0.0;
            r.hops[row + s] = 0;
            r.keep[row + s] = 1.0;
            heap.push(RouteItem(0.0, 0, s));
            while let Some(RouteItem(d, h, u)) = heap.pop() {
                if done[u] {
                    continue;
                }
                done[u] = true;
                for &(v, li) in &adj[u] {
                    if done[v] {
                        continue;
                    }
                    let l = &links[li];
                    let (nd, nh) = (d + l.delay, h + 1);
                    let better = match nd.total_cmp(&r.dist[row + v]) {
                        Ordering::Less => true,
                        Ordering::Equal => {
                            nh < r.hops[row + v]
                                || (nh == r.hops[row + v]
                                    && r.pred[row + v].is_some_and(|(pl, _)| li < pl))
                        }
                        Ordering::Greater => false,
                    };
                    if better {
                        r.dist[row + v] = nd;
                        r.hops[row + v] = nh;
                        r.keep[row + v] = r.keep[row + u] * (1.0 - l.loss);
                        r.pred[row + v] = Some((li, u));
                        heap.push(RouteItem(nd, nh, v));
                    }
                }
            }
        }
        r
    }

    fn ix(&self, a: usize, b: usize) -> Option<usize> {
        (a < self.n && b < self.n).then_some(a * self.n + b)
    }

    /// Delay of the shortest route from `a` to `b`, seconds; infinite when there is none.
    pub fn delay(&self, a: usize, b: usize) -> f64 {
        self.ix(a, b).map_or(f64::INFINITY, |i| self.dist[i])
    }

    /// Links crossed by that route (`None` when there is none).
    pub fn hop_count(&self, a: usize, b: usize) -> Option<u32> {
        self.ix(a, b)
            .map(|i| self.hops[i])
            .filter(|h| *h != u32::MAX)
    }

    /// Probability an ADU crosses that route intact (0 when there is none).
    pub fn delivery(&self, a: usize, b: usize) -> f64 {
        self.ix(a, b).map_or(0.0, |i| self.keep[i])
    }

    /// The links of that route, in order.
    pub fn route(&self, a: usize, b: usize) -> Option<Vec<Hop>> {
        self.hop_count(a, b)?;
        let mut out = Vec::new();
        let mut at = b;
        while at != a {
            let (li, prev) = self.pred[self.ix(a, at)?]?;
            let (_, _, delay, loss) = self.links[li];
            out.push(Hop {
                link: li,
                from: prev,
                to: at,
                delay,
                loss,
            });
            at = prev;
        }
        out.reverse();
        Some(out)
    }
}

/// CPU in use per node, by placed paths.
///
/// The simulation allocates a path's placement when it is set up and
/// releases it when the path is torn down or re-placed; placement only sees
/// what is free.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityLedger {
    cpu: Vec<f64>,
    used: Vec<f64>,
}

/// A placement that does not fit what is free.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityError {
    /// The node short of CPU.
    pub node: usize,
    /// CPU the placement needs there.
    pub need: f64,
    /// CPU free there.
    pub free: f64,
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node {} has {} CPU free, the placement needs {}",
            self.node,
            fmt_num(self.free),
            fmt_num(self.need)
        )
    }
}

impl std::error::Error for CapacityError {}

impl CapacityLedger {
    /// Every node's CPU free.
    pub fn new(model: &PathModel) -> Self {
        Self::with_cpu(model.nodes.iter().map(|n| n.cpu).collect())
    }

    /// A ledger for nodes with these CPUs, all free.
    pub fn with_cpu(cpu: Vec<f64>) -> Self {
        CapacityLedger {
            used: vec![0.0; cpu.len()],
            cpu,
        }
    }

    /// CPU free on `node` (0 for an unknown node).
    pub fn free(&self, node: usize) -> f64 {
        match (self.cpu.get(node), self.used.get(node)) {
            (Some(c), Some(u)) => (c - u).max(0.0),
            _ => 0.0,
        }
    }

    /// CPU in use on `node`.
    pub fn used(&self, node: usize) -> f64 {
        self.used.get(node).copied().unwrap_or(0.0)
    }

    /// Fraction of `node`'s CPU in use.
    pub fn utilisation(&self, node: usize) -> f64 {
        match self.cpu.get(node) {
            Some(&c) if c > 0.0 => self.used(node) / c,
            _ => 0.0,
        }
    }

    fn fits_extra(&self, node: usize, extra: f64) -> bool {
        match self.cpu.get(node) {
            Some(&c) => self.used[node] + extra <= c * (1.0 + TOL),
            None => false,
        }
    }

    /// Whether `p` fits what is free now.
    pub fn fits(&self, p: &Placement) -> bool {
        p.demand.iter().all(|&(n, c)| self.fits_extra(n, c))
    }

    /// Takes `p`'s CPU, or changes nothing and says where it does not fit.
    pub fn allocate(&mut self, p: &Placement) -> Result<(), CapacityError> {
        if let Some(&(node, need)) = p.demand.iter().find(|&&(n, c)| !self.fits_extra(n, c)) {
            return Err(CapacityError {
                node,
                need,
                free: self.free(node),
            });
        }
        for &(n, c) in &p.demand {
            self.used[n] += c;
        }
        Ok(())
    }

    /// Gives `p`'s CPU back (never below zero).
    pub fn release(&mut self, p: &Placement) {
        for &(n, c) in &p.demand {
            if let Some(u) = self.used.get_mut(n) {
                *u = (*u - c).max(0.0);
                if *u < TOL {
                    *u = 0.0;
                }
            }
        }
    }
}

/// Operators of one composition on nodes, with the routes between them.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// Path index.
    pub path: usize,
    /// Rank of the composition in the path's logical list (0: cheapest).
    pub rank: usize,
    /// Operator indices, in data order.
    pub ops: Vec<usize>,
    /// Node of each operator.
    pub nodes: Vec<usize>,
    /// `ops.len() + 1` legs: source → first operator, …, last operator → sink.
    pub legs: Vec<Leg>,
    /// Sum of the links' delays, seconds.
    pub link_delay: f64,
    /// Sum of the operators' mean service times, seconds.
    pub service_delay: f64,
    /// `link_delay + service_delay`.
    pub delay: f64,
    /// 1 − Π(1 − link loss) over the links crossed.
    pub loss: f64,
    /// (Σ operator cost) × (1 + links crossed).
    pub cost: f64,
    /// Highest CPU utilisation of the nodes hosting its operators, with
    /// this placement added to what the ledger held.
    pub load: f64,
    /// The value of the path's objective.
    pub objective: f64,
    /// CPU taken per node, by node index.
    pub demand: Vec<(usize, f64)>,
    /// Whether the search was exhaustive (see [`SearchLimits`]).
    pub exact: bool,
    /// Search-tree vertices visited.
    pub visited: u64,
}

impl Placement {
    /// Links crossed by the whole route.
    pub fn hop_count(&self) -> usize {
        self.legs.iter().map(|l| l.hops.len()).sum()
    }

    /// Whether the placement uses `node` (for an operator or to relay data).
    pub fn uses_node(&self, node: usize) -> bool {
        self.nodes.contains(&node)
            || self
                .legs
                .iter()
                .any(|l| l.from == node || l.to == node || l.hops.iter().any(|h| h.to == node))
    }

    /// Whether the placement's route crosses `link`.
    pub fn uses_link(&self, link: usize) -> bool {
        self.legs
            .iter()
            .any(|l| l.hops.iter().any(|h| h.link == link))
    }
}

/// Why a path could not be placed.
#[derive(Debug, Clone, PartialEq)]
pub enum PlacementError {
    /// No chain of operators turns the source type into the sink type.
    NoComposition {
        /// Source type.
        from: String,
        /// Sink type.
        to: String,
    },
    /// The source or sink node is down.
    EndpointDown {
        /// `source` or `sink`.
        end: &'static str,
        /// The node's id.
        node: String,
    },
    /// No route joins the source node to the sink node.
    Disconnected {
        /// Source node id.
        from: String,
        /// Sink node id.
        to: String,
    },
    /// The operators do not fit the free CPU of the nodes that can be reached.
    NoCapacity {
        /// Composition rank.
        rank: usize,
        /// What does not fit.
        detail: String,
    },
    /// Placements exist, but none meets the QoS; `best` is the nearest miss.
    QosMiss {
        /// The nearest miss.
        best: Box<Placement>,
        /// `max_delay`, seconds.
        max_delay: Option<f64>,
        /// `max_loss`.
        max_loss: Option<f64>,
        /// Seconds over `max_delay` (`None`: within it).
        delay_over: Option<f64>,
        /// Loss over `max_loss` (`None`: within it).
        loss_over: Option<f64>,
        /// The violation measure that ranks misses.
        violation: f64,
    },
}

impl PlacementError {
    /// Of two errors for the same path, the one to report: the nearer QoS
    /// miss, a QoS miss over any other error, else the first.
    pub fn nearer(a: PlacementError, b: PlacementError) -> PlacementError {
        match (&a, &b) {
            (
                PlacementError::QosMiss {
                    violation: va,
                    best: ba,
                    ..
                },
                PlacementError::QosMiss {
                    violation: vb,
                    best: bb,
                    ..
                },
            ) => {
                if (*vb, bb.objective) < (*va, ba.objective) {
                    b
                } else {
                    a
                }
            }
            (PlacementError::QosMiss { .. }, _) => a,
            (_, PlacementError::QosMiss { .. }) => b,
            _ => a,
        }
    }
}

impl fmt::Display for PlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlacementError::NoComposition { from, to } => {
                write!(f, "no chain of operators turns `{from}` into `{to}`")
            }
            PlacementError::EndpointDown { end, node } => {
                write!(f, "the {end} node `{node}` is down")
            }
            PlacementError::Disconnected { from, to } => {
                write!(f, "no route of live links joins `{from}` to `{to}`")
            }
            PlacementError::NoCapacity { detail, .. } => f.write_str(detail),
            PlacementError::QosMiss {
                best,
                max_delay,
                max_loss,
                delay_over,
                loss_over,
                ..
            } => {
                let mut parts = Vec::new();
                if let (Some(over), Some(m)) = (delay_over, max_delay) {
                    parts.push(format!(
                        "delay {}, {} over max_delay {}",
                        fmt_secs(best.delay),
                        fmt_secs(*over),
                        fmt_secs(*m)
                    ));
                }
                if let (Some(over), Some(m)) = (loss_over, max_loss) {
                    parts.push(format!(
                        "loss {}, {} over max_loss {}",
                        fmt_num(best.loss),
                        fmt_num(*over),
                        fmt_num(*m)
                    ));
                }
                write!(
                    f,
                    "no placement meets the QoS: the best placement has {}",
                    parts.join(" and ")
                )
            }
        }
    }
}

impl std::error::Error for PlacementError {}

/// A duration in seconds as `182 ms`, `1.25 s` or `350 µs`.
pub fn fmt_secs(s: f64) -> String {
    let a = s.abs();
    if a == 0.0 {
        "0 ms".to_string()
    } else if a < 1e-3 {
        format!("{} µs", fmt_num(round_sig(s * 1e6)))
    } else if a < 1.0 {
        format!("{} ms", fmt_num(round_sig(s * 1e3)))
    } else {
        format!("{} s", fmt_num(round_sig(s)))
    }
}

/// Rounds to 4 significant digits.
fn round_sig(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let mag = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * mag).round() / mag
}

/// A number with at most 4 significant digits, no trailing zeros.
pub fn fmt_num(x: f64) -> String {
    let r = round_sig(x);
    if r != 0.0 && (r.abs() < 1e-4 || r.abs() >= 1e9) {
        format!("{r:e}")
    } else {
        format!("{r}")
    }
}

/// (violation, objective, tie-break), compared in that order.
type Key = [f64; 3];

fn key_cmp(a: &Key, b: &Key) -> Ordering {
    a[0].total_cmp(&b[0])
        .then_with(|| a[1].total_cmp(&b[1]))
        .then_with(|| a[2].total_cmp(&b[2]))
}

/// Compares keys treating components within a relative 10⁻⁹ as equal:
/// sums of the same delays in another order differ in the last bits, and
/// a bound must not beat the placement it bounds by a rounding error.
fn key_cmp_tol(a: &Key, b: &Key) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let scale = x.abs().max(y.abs()).max(1e-12);
        if (x - y).abs() > TOL * scale {
            return x.total_cmp(y);
        }
    }
    Ordering::Equal
}

/// How far `(delay, loss)` is from meeting `q` (0: it meets it).
pub(super) fn violation(q: &QosDef, delay: f64, loss: f64) -> f64 {
    let mut v = 0.0;
    if let Some(m) = q.max_delay
        && delay > m * (1.0 + TOL)
    {
        v += (delay - m) / m.max(1e-12);
    }
    if let Some(m) = q.max_loss
        && loss > m * (1.0 + TOL) + 1e-15
    {
        v += (loss - m) / m.max(1e-9);
    }
    v
}

struct Search<'a> {
    routes: &'a Routes,
    ledger: &'a CapacityLedger,
    cpu_of_node: Vec<f64>,
    op_cpu: Vec<f64>,
    cands: Vec<usize>,
    sink: usize,
    qos: QosDef,
    optimise: Optimise,
    service: f64,
    cost_sum: f64,
    local: Vec<f64>,
    assign: Vec<usize>,
    best: Option<(Key, Vec<usize>)>,
    visits: u64,
    limit: u64,
    truncated: bool,
}

impl Search<'_> {
    fn key(&self, delay: f64, loss: f64, hops: u32, load: f64) -> Key {
        let cost = self.cost_sum * (1.0 + f64::from(hops));
        let v = violation(&self.qos, delay, loss);
        match self.optimise {
            Optimise::Delay => [v, delay, cost],
            Optimise::Cost => [v, cost, delay],
            Optimise::Load => [v, load, delay],
        }
    }

    fn util_with(&self, node: usize, extra: f64) -> f64 {
        let c = self.cpu_of_node[node];
        if c > 0.0 {
            (self.ledger.used(node) + self.local[node] + extra) / c
        } else {
            0.0
        }
    }

    fn beaten(&self, k: &Key) -> bool {
        self.best
            .as_ref()
            .is_some_and(|(b, _)| key_cmp_tol(k, b) != Ordering::Less)
    }

    /// Depth-first over the operators from `d`, the data being at `prev`
    /// having crossed `link` seconds of links, intact with probability
    /// `keep`, in `hops` links, the busiest node at `load`.
    fn dfs(&mut self, d: usize, prev: usize, link: f64, keep: f64, hops: u32, load: f64) {
        if self.truncated && self.best.is_some() {
            return;
        }
        if d == self.op_cpu.len() {
            let Some(h) = self.routes.hop_count(prev, self.sink) else {
                return;
            };
            let delay = link + self.routes.delay(prev, self.sink) + self.service;
            let loss = 1.0 - keep * self.routes.delivery(prev, self.sink);
            let k = self.key(delay, loss, hops + h, load);
            if !self.beaten(&k) {
                self.best = Some((k, self.assign.clone()));
            }
            return;
        }
        let need = self.op_cpu[d];
        let mut children: Vec<(Key, usize, f64, f64, u32, f64)> = Vec::new();
        for &v in &self.cands {
            let Some(h) = self.routes.hop_count(prev, v) else {
                continue;
            };
            if !self.ledger.fits_extra(v, self.local[v] + need) {
                continue;
            }
            let to_sink = self.routes.delay(v, self.sink);
            if !to_sink.is_finite() {
                continue;
            }
            let nlink = link + self.routes.delay(prev, v);
            let nkeep = keep * self.routes.delivery(prev, v);
            let nhops = hops + h;
            let nload = load.max(self.util_with(v, need));
            let bound = self.key(nlink + to_sink + self.service, 1.0 - nkeep, nhops, nload);
            children.push((bound, v, nlink, nkeep, nhops, nload));
        }
        children.sort_by(|a, b| key_cmp(&a.0, &b.0).then_with(|| a.1.cmp(&b.1)));
        for (bound, v, nlink, nkeep, nhops, nload) in children {
            if self.beaten(&bound) {
                continue;
            }
            self.visits += 1;
            if self.visits > self.limit {
                // Out of budget: stop, unless nothing is found yet, in which
                // case finish the greedy descent (bounded too).
                self.truncated = true;
                if self.best.is_some() || self.visits > self.limit.saturating_mul(4).max(10_000) {
                    return;
                }
            }
            self.assign.push(v);
            self.local[v] += need;
            self.dfs(d + 1, v, nlink, nkeep, nhops, nload);
            self.local[v] -= need;
            self.assign.pop();
        }
    }
}

/// Places composition `lp` (rank `rank` in the path's list) of path `path`:
/// the best placement meeting the QoS, or the nearest miss as
/// [`PlacementError::QosMiss`], or why nothing fits. `routes` must avoid
/// `ex` (see [`PathModel::routes_avoiding`]).
#[allow(clippy::too_many_arguments)]
pub fn place(
    model: &PathModel,
    path: usize,
    rank: usize,
    lp: &LogicalPath,
    ledger: &CapacityLedger,
    ex: &Exclusions,
    routes: &Routes,
    limits: SearchLimits,
) -> Result<Placement, PlacementError> {
    let Some(p) = model.paths.get(path) else {
        return Err(PlacementError::NoCapacity {
            rank,
            detail: format!("there is no path {path}"),
        });
    };
    let node_id = |n: usize| model.nodes.get(n).map_or("?", |n| n.id.as_str());
    for (end, n) in [("source", p.source.node), ("sink", p.sink.node)] {
        if ex.nodes.contains(&n) {
            return Err(PlacementError::EndpointDown {
                end,
                node: node_id(n).to_string(),
            });
        }
    }
    if !routes.delay(p.source.node, p.sink.node).is_finite() {
        return Err(PlacementError::Disconnected {
            from: node_id(p.source.node).to_string(),
            to: node_id(p.sink.node).to_string(),
        });
    }
    let ops: Vec<&super::OperatorDef> = lp
        .ops
        .iter()
        .filter_map(|&o| model.operators.get(o))
        .collect();
    let cands: Vec<usize> = (0..model.nodes.len())
        .filter(|n| !ex.nodes.contains(n) && routes.delay(p.source.node, *n).is_finite())
        .collect();
    let mut s = Search {
        routes,
        ledger,
        cpu_of_node: model.nodes.iter().map(|n| n.cpu).collect(),
        op_cpu: ops.iter().map(|o| o.cpu).collect(),
        cands,
        sink: p.sink.node,
        qos: p.qos,
        optimise: p.optimise,
        service: ops.iter().fold(0.0, |a, o| a + o.mean_service),
        cost_sum: ops.iter().fold(0.0, |a, o| a + o.cost),
        local: vec![0.0; model.nodes.len()],
        assign: Vec::new(),
        best: None,
        visits: 0,
        limit: limits.max_visits,
        truncated: false,
    };
    s.dfs(0, p.source.node, 0.0, 1.0, 0, 0.0);
    let Some((key, nodes)) = s.best.take() else {
        return Err(PlacementError::NoCapacity {
            rank,
            detail: capacity_detail(&ops, &s),
        });
    };
    let mut legs = Vec::with_capacity(nodes.len() + 1);
    let mut at = p.source.node;
    for &n in nodes.iter().chain(std::iter::once(&p.sink.node)) {
        legs.push(Leg {
            from: at,
            to: n,
            hops: routes.route(at, n).unwrap_or_default(),
        });
        at = n;
    }
    // (Folds from +0.0: an empty f64 `sum()` is −0.0.)
    let link_delay = legs.iter().fold(0.0, |a, l| a + l.delay());
    let keep: f64 = legs
        .iter()
        .flat_map(|l| &l.hops)
        .map(|h| 1.0 - h.loss)
        .product();
    let mut demand: Vec<(usize, f64)> = Vec::new();
    for (o, &n) in ops.iter().zip(&nodes) {
        match demand.iter_mut().find(|(m, _)| *m == n) {
            Some((_, c)) => *c += o.cpu,
            None => demand.push((n, o.cpu)),
        }
    }
    demand.sort_by_key(|d| d.0);
    let load = demand
        .iter()
        .map(|&(n, c)| {
            let cap = model.nodes[n].cpu;
            if cap > 0.0 {
                (ledger.used(n) + c) / cap
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max);
    let hops: usize = legs.iter().map(|l| l.hops.len()).sum();
    let placement = Placement {
        path,
        rank,
        ops: lp.ops.clone(),
        nodes,
        link_delay,
        service_delay: s.service,
        delay: link_delay + s.service,
        loss: 1.0 - keep,
        cost: s.cost_sum * (1.0 + hops as f64),
        load,
        objective: key[1],
        legs,
        demand,
        exact: !s.truncated,
        visited: s.visits,
    };
    if key[0] > 0.0 {
        let over = |x: f64, m: Option<f64>| m.filter(|m| x > m * (1.0 + TOL)).map(|m| x - m);
        return Err(PlacementError::QosMiss {
            delay_over: over(placement.delay, p.qos.max_delay),
            loss_over: over(placement.loss, p.qos.max_loss),
            max_delay: p.qos.max_delay,
            max_loss: p.qos.max_loss,
            violation: key[0],
            best: Box::new(placement),
        });
    }
    Ok(placement)
}

/// Why no operator assignment fits: the first operator no reachable node
/// has room for, else the composition as a whole.
fn capacity_detail(ops: &[&super::OperatorDef], s: &Search<'_>) -> String {
    let reachable: Vec<usize> = s
        .cands
        .iter()
        .copied()
        .filter(|&n| s.routes.delay(n, s.sink).is_finite())
        .collect();
    let most_free = reachable
        .iter()
        .map(|&n| s.ledger.free(n))
        .fold(0.0, f64::max);
    if let Some(o) = ops.iter().find(|o| o.cpu > most_free * (1.0 + TOL)) {
        return format!(
            "operator `{}` needs {} CPU, but the most any live, reachable node has free is {}",
            o.id,
            fmt_num(o.cpu),
            fmt_num(most_free)
        );
    }
    if s.truncated {
        return format!(
            "no placement that fits the free CPU was found in {} search steps",
            s.limit
        );
    }
    let total = ops.iter().fold(0.0, |a, o| a + o.cpu);
    let free = reachable.iter().fold(0.0, |a, &n| a + s.ledger.free(n));
    format!(
        "the operators need {} CPU in all and no assignment of them fits the free CPU of the live, reachable nodes ({} in all)",
        fmt_num(total),
        fmt_num(free)
    )
}
