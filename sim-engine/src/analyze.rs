//! `preflight analyze`: static failure points of a compiled model.
//!
//! Nothing is simulated. Each check reads the [`Model`] (the scenario after
//! compilation: indices, defaults filled in, every call and poll with its
//! link) and returns [`Finding`]s: *where* a failure point is (a resource, a
//! step, a call path), *why* it matters (one sentence) and how severe it is.
//! The checks never print; [`render_table`] and [`render_json`] do the
//! presentation. The rules, bounds and severities are documented in
//! `docs/analyze.md`; in short:
//!
//! | kind | where | severity |
//! |---|---|---|
//! | `single_point_of_failure` | a resource with one replica that a call, poll or workload needs (no fallback, not soft) | critical when it is on the hard path of a critical handler, else warning |
//! | `articulation_point` | a resource whose removal disconnects the dependency graph | warning with one replica, else info |
//! | `no_timeout` | a call step without `timeout` | critical in a critical handler, else warning |
//! | `retry_amplification` | the worst call chain from a workload's handler down to a resource, when its product of attempts exceeds [`AMPLIFICATION_BOUND`] | critical above 10 × the bound, else warning |
//! | `retry_without_backoff` | a call retried with a zero delay | warning |
//! | `retry_without_jitter` | a call retried with a delay but no jitter | info |
//! | `no_breaker_or_fallback` | a critical handler's hard calls to one callee with neither circuit breaker nor fallback | critical when the handler is `critical`, warning when `high` |
//! | `capacity` | a resource whose utilisation at the workload rate is at least [`UTILISATION_WARNING`] | critical at [`UTILISATION_CRITICAL`] (saturated), else warning |
//! | `timeout_over_slo` | a call whose per-attempt timeout exceeds its handler's `slo.latency_p99` | warning |
//! | `fallback_load` | a fallback call (`fallback: {call: X}`): X's utilisation while the step's own callee is down and X takes its calls | critical at [`UTILISATION_CRITICAL`], warning at [`UTILISATION_WARNING`], else info |
//!
//! A *critical handler* is one that runs on a resource of criticality `high`
//! or `critical`: the levels whose risk threshold is `risk.threshold.low` or
//! less ([`crate::risk::threshold_for`]). Operation call cycles are rejected by
//! validation, so a model never has one; the walks below still guard against
//! them rather than loop.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use petgraph::graph::{DiGraph, NodeIndex, UnGraph};
use petgraph::visit::EdgeRef;
use serde::Serialize;
use sim_models::model::{ANY_OP, CallDef, HandlerIx, Model, ResourceIx, StepDef};
use sim_models::spec::{Backoff, Criticality, Jitter};

/// Largest product of attempts along a call chain that is not flagged.
///
/// When the deepest dependency of a chain fails, every attempt at each level
/// is retried by the level above, so one request at the top becomes the
/// product of the attempts at the bottom. Ten is the point where that becomes
/// an order of magnitude: a dependency that is failing under its normal load
/// then receives ten times that load from retries alone, which no ordinary
/// capacity plan has headroom for, so the retries keep it down (a retry
/// storm). Three attempts at one level (the usual default) and three at the
/// next give 9 and pass; 4 × 3 = 12 does not.
pub const AMPLIFICATION_BOUND: u64 = 10;

/// Utilisation at or above which a resource is flagged (warning): beyond
/// 80%, queueing delay grows steeply (for M/M/c, waiting time scales as
/// 1 / (1 − ρ)) and a lost replica or a retry burst tips it over.
pub const UTILISATION_WARNING: f64 = 0.8;

/// Utilisation at or above which a resource is saturated (critical): arrivals
/// outpace what its slots can serve, so its queue grows without bound.
pub const UTILISATION_CRITICAL: f64 = 1.0;

/// How bad a finding is (its `severity` in the output; not the severity
/// of an injection scenario, `sim_models::spec::Severity`). Sorted most
/// severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Likely to fail requests of a critical handler, or already saturated.
    Critical,
    /// A weakness that a common fault turns into failed requests.
    Warning,
    /// Worth knowing; rarely harmful alone.
    Info,
}

impl Level {
    /// The name printed and written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Critical => "critical",
            Level::Warning => "warning",
            Level::Info => "info",
        }
    }
}

/// What a finding is about, in the order of the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A hard dependency on a resource with one replica.
    SinglePointOfFailure,
    /// A resource whose removal disconnects the dependency graph.
    ArticulationPoint,
    /// A call without a timeout.
    NoTimeout,
    /// A call chain whose product of attempts exceeds the bound.
    RetryAmplification,
    /// Retries with no delay between attempts.
    RetryWithoutBackoff,
    /// Retries with a delay but no jitter.
    RetryWithoutJitter,
    /// A hard call of a critical handler with neither breaker nor fallback.
    NoBreakerOrFallback,
    /// Utilisation at the workload rate near or above 1.
    Capacity,
    /// A per-attempt timeout longer than the handler's p99 objective.
    TimeoutOverSlo,
    /// A call to a resource with no entry in `dependencies:`: modelled as
    /// a lossless, zero-latency, hard link.
    UndeclaredDependency,
    /// A resource no handler runs on and nothing calls: no request reaches
    /// it, so its failures change nothing.
    Unreached,
    /// A called resource without a handler or a `service_time`: it serves
    /// in zero time.
    DefaultServiceTime,
    /// A fallback call's target, with the calls of the step's own callee
    /// while that callee is down.
    FallbackLoad,
}

impl Kind {
    /// The name printed and written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SinglePointOfFailure => "single_point_of_failure",
            Kind::ArticulationPoint => "articulation_point",
            Kind::NoTimeout => "no_timeout",
            Kind::RetryAmplification => "retry_amplification",
            Kind::RetryWithoutBackoff => "retry_without_backoff",
            Kind::RetryWithoutJitter => "retry_without_jitter",
            Kind::NoBreakerOrFallback => "no_breaker_or_fallback",
            Kind::Capacity => "capacity",
            Kind::TimeoutOverSlo => "timeout_over_slo",
            Kind::UndeclaredDependency => "undeclared_dependency",
            Kind::Unreached => "unreached",
            Kind::DefaultServiceTime => "default_service_time",
            Kind::FallbackLoad => "fallback_load",
        }
    }
}

/// One static failure point. `severity`, `kind`, `location` and `detail` are
/// always present; the other fields only for the kinds they concern.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The variant analysed (`base` for the scenario as written).
    pub variant: String,
    /// How bad it is.
    pub severity: Level,
    /// What it is.
    pub kind: Kind,
    /// Where: a field path (`resources[db]`,
    /// `handlers[api].operations[read].steps[0]`), or a call path `a → b → c`.
    pub location: String,
    /// Why it matters, in one sentence.
    pub detail: String,
    /// The resource concerned (the callee, for a step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The handler whose step it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    /// The operation whose step it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The step's index in its operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// Replicas of `resource`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u16>,
    /// `single_point_of_failure`: who depends on the resource (step paths, or
    /// `workload` for a workload's own handler).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callers: Option<Vec<String>>,
    /// `articulation_point`: the parts the graph falls into without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<Vec<String>>>,
    /// `retry_amplification`: resource ids from the workload's handler down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<Vec<String>>,
    /// `retry_amplification`: the steps of the path, one per hop;
    /// `no_breaker_or_fallback`: the unprotected call steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<String>>,
    /// `retry_amplification`: attempts per hop (`max_attempts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Vec<u32>>,
    /// `retry_amplification`: the product of `attempts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amplification: Option<u64>,
    /// `capacity`: utilisation at the workload's mean rate;
    /// `fallback_load`: the fallback target's, while it takes the calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilisation: Option<f64>,
    /// `fallback_load`: the fallback target's utilisation without them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilisation_before: Option<f64>,
    /// `fallback_load`: the resource whose calls the fallback takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_for: Option<String>,
    /// `capacity`: utilisation in the busiest hour of the workloads'
    /// diurnal shapes (equal to `utilisation` without one); the severity
    /// follows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_utilisation: Option<f64>,
    /// `capacity`: requests per second reaching the resource (mean rate,
    /// without retries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrival_rate: Option<f64>,
    /// `capacity`: mean time a request holds a slot, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holding_time_s: Option<f64>,
    /// `capacity`: replicas × concurrency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slots: Option<u64>,
    /// The step's per-attempt timeout, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<f64>,
    /// `timeout_over_slo`: the handler's `slo.latency_p99`, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo_latency_p99_s: Option<f64>,
}

impl Finding {
    fn new(severity: Level, kind: Kind, location: String, detail: String) -> Finding {
        Finding {
            variant: "base".into(),
            severity,
            kind,
            location,
            detail,
            resource: None,
            handler: None,
            operation: None,
            step: None,
            replicas: None,
            callers: None,
            parts: None,
            path: None,
            steps: None,
            attempts: None,
            amplification: None,
            utilisation: None,
            utilisation_before: None,
            fallback_for: None,
            peak_utilisation: None,
            arrival_rate: None,
            holding_time_s: None,
            slots: None,
            timeout_s: None,
            slo_latency_p99_s: None,
        }
    }

    /// A finding about step `si` of operation `o` of handler `h`.
    fn at_step(
        m: &Model,
        (h, o, si): StepAt,
        severity: Level,
        kind: Kind,
        detail: String,
    ) -> Finding {
        let hd = &m.handlers[h];
        let mut f = Finding::new(severity, kind, step_path(m, h, o, si), detail);
        f.handler = Some(hd.id.clone());
        f.operation = Some(hd.ops[o].name.clone());
        f.step = Some(si);
        f
    }
}

/// Every check on `m`, sorted by severity, then kind, then location.
pub fn analyze(m: &Model) -> Vec<Finding> {
    let mut all = Vec::new();
    all.extend(single_points_of_failure(m));
    all.extend(articulation_points(m));
    all.extend(calls_without_timeout(m));
    all.extend(retry_amplification(m));
    all.extend(retries_without_backoff_or_jitter(m));
    all.extend(unprotected_critical_calls(m));
    all.extend(capacity(m));
    all.extend(fallback_load(m));
    all.extend(timeouts_over_slo(m));
    all.extend(silent_defaults(m));
    sort(&mut all);
    all
}

/// Sorts findings by severity (critical first), kind (check order), then
/// location and variant.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (a.severity, a.kind, &a.location, &a.variant).cmp(&(
            b.severity,
            b.kind,
            &b.location,
            &b.variant,
        ))
    });
}

// ---------------------------------------------------------------------------
// Helpers over the model
// ---------------------------------------------------------------------------

/// A step: (handler, operation, index in the operation).
type StepAt = (HandlerIx, usize, usize);

/// `handlers[h].operations[o].steps[i]`: the same path a variant's `set:` uses.
fn step_path(m: &Model, h: HandlerIx, o: usize, si: usize) -> String {
    let hd = &m.handlers[h];
    format!(
        "handlers[{}].operations[{}].steps[{si}]",
        hd.id, hd.ops[o].name
    )
}

/// Whether handler `h` is critical: it runs on a resource of criticality
/// `high` or `critical` (a risk threshold of `risk.threshold.low` or less).
pub fn is_critical_handler(m: &Model, h: HandlerIx) -> bool {
    m.resources[m.handlers[h].resource].criticality >= Criticality::High
}

/// The normalised weights of handler `h`'s operations.
fn op_shares(m: &Model, h: HandlerIx) -> Vec<f64> {
    let mut prev = 0.0;
    m.handlers[h]
        .cumulative_weights
        .iter()
        .map(|c| {
            let w = c - prev;
            prev = *c;
            w
        })
        .collect()
}

/// The operations a request to handler `h` runs, with their shares: the one
/// named (`op`), or all of them by weight ([`ANY_OP`]).
fn ops_reached(m: &Model, h: HandlerIx, op: u16) -> Vec<(usize, f64)> {
    if op == ANY_OP || usize::from(op) >= m.handlers[h].ops.len() {
        op_shares(m, h).into_iter().enumerate().collect()
    } else {
        vec![(usize::from(op), 1.0)]
    }
}

/// Every step of every operation: `((handler, op, step), step)`.
fn all_steps(m: &Model) -> impl Iterator<Item = (StepAt, &StepDef)> {
    m.handlers.iter().enumerate().flat_map(|(h, hd)| {
        hd.ops.iter().enumerate().flat_map(move |(o, op)| {
            op.steps
                .iter()
                .enumerate()
                .map(move |(si, s)| ((h, o, si), s))
        })
    })
}

/// Every call step: `((handler, op, step), call)`.
fn all_calls(m: &Model) -> impl Iterator<Item = (StepAt, &CallDef)> {
    all_steps(m).filter_map(|(at, s)| match s {
        StepDef::Call(c) => Some((at, c)),
        StepDef::Poll(_) => None,
    })
}

fn callee(m: &Model, c: &CallDef) -> ResourceIx {
    m.links[c.link].to
}

fn secs(x: f64) -> String {
    sim_models::spec::Duration::from_secs(x).to_string()
}

/// A computed duration, rounded for reading: `15ms`, `1.25s`, `300µs`.
fn short_secs(x: f64) -> String {
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if x < 1e-3 {
        format!("{}µs", trim(format!("{:.1}", x * 1e6)))
    } else if x < 1.0 {
        format!("{}ms", trim(format!("{:.3}", x * 1e3)))
    } else {
        format!("{}s", trim(format!("{x:.3}")))
    }
}

/// A rate with as many digits as it needs: `875`, `2.5`, `0.0125`.
fn rate(x: f64) -> String {
    let digits = if x >= 100.0 {
        0
    } else if x >= 1.0 {
        2
    } else {
        4
    };
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn names(ids: &[String], max: usize) -> String {
    if ids.len() <= max {
        ids.join(", ")
    } else {
        format!("{}, … ({} in all)", ids[..max].join(", "), ids.len())
    }
}

// ---------------------------------------------------------------------------
// 1. Single points of failure and articulation points
// ---------------------------------------------------------------------------

/// Resources with one replica that something needs without a way around:
/// a call step that does not tolerate failure (no fallback, hard link), a
/// poll step (a poll that never succeeds fails its step), or a workload (a
/// client has no fallback for the handler it sends to).
pub fn single_points_of_failure(m: &Model) -> Vec<Finding> {
    let mut callers: BTreeMap<ResourceIx, Vec<String>> = BTreeMap::new();
    for w in &m.workloads {
        let r = m.handlers[w.handler].resource;
        let list = callers.entry(r).or_default();
        if !list.iter().any(|c| c == "workload") {
            list.push("workload".into());
        }
    }
    for ((h, o, si), step) in all_steps(m) {
        let to = match step {
            StepDef::Call(c) if c.hard() => callee(m, c),
            StepDef::Poll(p) => m.links[p.link].to,
            StepDef::Call(_) => continue,
        };
        callers.entry(to).or_default().push(step_path(m, h, o, si));
    }
    let mut out = Vec::new();
    for (r, who) in callers {
        let rd = &m.resources[r];
        if rd.replicas != 1 {
            continue;
        }
        // Critical handlers that cannot serve without it (a handler running
        // on it counts only when a workload sends to it directly).
        let critical_for: Vec<&str> = m
            .handlers
            .iter()
            .enumerate()
            .filter(|(h, hd)| {
                is_critical_handler(m, *h)
                    && hd.hard_path.contains(&r)
                    && (hd.resource != r || m.workloads.iter().any(|w| w.handler == *h))
            })
            .map(|(_, hd)| hd.id.as_str())
            .collect();
        let severity = if critical_for.is_empty() {
            Level::Warning
        } else {
            Level::Critical
        };
        let mut detail = format!(
            "`{}` has one replica and {} need{} it with no fallback, so one crash fails {} requests until it is repaired",
            rd.id,
            if who.len() == 1 {
                "one caller".to_string()
            } else {
                format!("{} callers", who.len())
            },
            if who.len() == 1 { "s" } else { "" },
            if who.len() == 1 { "its" } else { "their" },
        );
        if !critical_for.is_empty() {
            let _ = write!(
                detail,
                " (on the hard path of critical handler{} {})",
                if critical_for.len() == 1 { "" } else { "s" },
                critical_for.join(", ")
            );
        }
        let mut f = Finding::new(
            severity,
            Kind::SinglePointOfFailure,
            format!("resources[{}]", rd.id),
            detail,
        );
        f.resource = Some(rd.id.clone());
        f.replicas = Some(rd.replicas);
        f.callers = Some(who);
        out.push(f);
    }
    out
}

/// The dependency graph, undirected: one node per resource, one edge per
/// link (every declared dependency, and every call and poll).
pub fn dependency_graph(m: &Model) -> UnGraph<ResourceIx, ()> {
    let mut g = UnGraph::<ResourceIx, ()>::with_capacity(m.resources.len(), m.links.len());
    for r in 0..m.resources.len() {
        g.add_node(r);
    }
    for l in &m.links {
        if l.from != l.to {
            g.update_edge(NodeIndex::new(l.from), NodeIndex::new(l.to), ());
        }
    }
    g
}

/// Resources whose removal disconnects the dependency graph (its
/// articulation points, by petgraph's Tarjan).
pub fn articulation_points(m: &Model) -> Vec<Finding> {
    let g = dependency_graph(m);
    let mut points: Vec<NodeIndex> = petgraph::algo::articulation_points::articulation_points(&g)
        .into_iter()
        .collect();
    points.sort();
    let mut out = Vec::new();
    for ap in points {
        let r = g[ap];
        let rd = &m.resources[r];
        let neighbours: BTreeSet<ResourceIx> = g.neighbors(ap).map(|n| g[n]).collect();
        let mut without = g.clone();
        without.remove_node(ap);
        let mut parts: Vec<Vec<String>> = petgraph::algo::kosaraju_scc(&without)
            .into_iter()
            .map(|comp| comp.into_iter().map(|n| without[n]).collect::<Vec<_>>())
            .filter(|comp| comp.iter().any(|r| neighbours.contains(r)))
            .map(|mut comp| {
                comp.sort_unstable();
                comp.into_iter()
                    .map(|r| m.resources[r].id.clone())
                    .collect()
            })
            .collect();
        // Largest part first; ties in resource order.
        parts.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        let cut: Vec<String> = parts.iter().skip(1).flatten().cloned().collect();
        let (severity, why) = if rd.replicas == 1 {
            (Level::Warning, "and it has one replica")
        } else {
            (
                Level::Info,
                "a fault of the whole resource (partition, dependency failure, common cause) isolates them",
            )
        };
        let mut f = Finding::new(
            severity,
            Kind::ArticulationPoint,
            format!("resources[{}]", rd.id),
            format!(
                "every dependency between {} and the rest of the system goes through `{}`, {why}",
                names(&cut, 4),
                rd.id
            ),
        );
        f.resource = Some(rd.id.clone());
        f.replicas = Some(rd.replicas);
        f.parts = Some(parts);
        out.push(f);
    }
    out
}

// ---------------------------------------------------------------------------
// 2. Calls without a timeout
// ---------------------------------------------------------------------------

/// Call steps without `timeout`, and fallback calls without theirs.
pub fn calls_without_timeout(m: &Model) -> Vec<Finding> {
    let fallbacks = all_calls(m).filter_map(|(at, c)| {
        let f = c.fallback_call.filter(|f| f.timeout.is_none())?;
        let severity = if is_critical_handler(m, at.0) {
            Level::Critical
        } else {
            Level::Warning
        };
        let (to, from) = (
            &m.resources[m.links[f.link].to].id,
            &m.resources[callee(m, c)].id,
        );
        let mut f = Finding::at_step(
            m,
            at,
            severity,
            Kind::NoTimeout,
            format!(
                "the fallback call to `{to}` has no timeout: while `{from}` fails, a lost or hung answer from `{to}` holds the caller's slot indefinitely"
            ),
        );
        f.location.push_str(".fallback");
        f.resource = Some(to.clone());
        Some(f)
    });
    let mut out: Vec<Finding> = all_calls(m)
        .filter(|(_, c)| c.timeout.is_none())
        .map(|(at, c)| {
            let severity = if is_critical_handler(m, at.0) {
                Level::Critical
            } else {
                Level::Warning
            };
            let to = &m.resources[callee(m, c)].id;
            let mut f = Finding::at_step(
                m,
                at,
                severity,
                Kind::NoTimeout,
                format!(
                    "the call to `{to}` has no timeout: a lost or hung answer holds the caller's slot indefinitely, and its retries, breaker and fallback never act"
                ),
            );
            f.resource = Some(to.clone());
            f
        })
        .collect();
    out.extend(fallbacks);
    out
}

// ---------------------------------------------------------------------------
// 3. Retry amplification
// ---------------------------------------------------------------------------

/// One hop of a call chain.
#[derive(Debug, Clone)]
struct Hop {
    step: String,
    to: ResourceIx,
    attempts: u32,
}

/// The worst chain found to a resource.
#[derive(Debug, Clone)]
struct Chain {
    product: u64,
    hops: Vec<Hop>,
}

/// For every resource reachable from operation `o` of handler `h`, the chain
/// with the largest product of attempts (memoised; a cycle contributes nothing).
fn worst_chains(
    m: &Model,
    h: HandlerIx,
    o: usize,
    memo: &mut HashMap<(HandlerIx, usize), BTreeMap<ResourceIx, Chain>>,
    on_stack: &mut Vec<(HandlerIx, usize)>,
) -> BTreeMap<ResourceIx, Chain> {
    if let Some(done) = memo.get(&(h, o)) {
        return done.clone();
    }
    if on_stack.contains(&(h, o)) {
        return BTreeMap::new();
    }
    on_stack.push((h, o));
    let mut best: BTreeMap<ResourceIx, Chain> = BTreeMap::new();
    let offer = |best: &mut BTreeMap<ResourceIx, Chain>, to: ResourceIx, chain: Chain| {
        if best.get(&to).is_none_or(|b| chain.product > b.product) {
            best.insert(to, chain);
        }
    };
    for (si, step) in m.handlers[h].ops[o].steps.iter().enumerate() {
        let StepDef::Call(c) = step else { continue };
        let to = callee(m, c);
        let hop = Hop {
            step: step_path(m, h, o, si),
            to,
            attempts: c.retry.max_attempts,
        };
        let a = u64::from(c.retry.max_attempts);
        offer(
            &mut best,
            to,
            Chain {
                product: a,
                hops: vec![hop.clone()],
            },
        );
        if let Some(th) = m.resources[to].handler {
            for (o2, _) in ops_reached(m, th, c.op) {
                for (t2, ch) in worst_chains(m, th, o2, memo, on_stack) {
                    let mut hops = Vec::with_capacity(ch.hops.len() + 1);
                    hops.push(hop.clone());
                    hops.extend(ch.hops);
                    offer(
                        &mut best,
                        t2,
                        Chain {
                            product: a.saturating_mul(ch.product),
                            hops,
                        },
                    );
                }
            }
        }
    }
    on_stack.pop();
    memo.insert((h, o), best.clone());
    best
}

/// For each resource, the call chain from a workload's handler down to it
/// with the largest product of attempts (`max_attempts`, the first attempt
/// included, i.e. 1 + retries); flagged above [`AMPLIFICATION_BOUND`].
/// Poll steps are not counted (they retry by design, at a fixed interval).
pub fn retry_amplification(m: &Model) -> Vec<Finding> {
    let mut memo = HashMap::new();
    let mut worst: BTreeMap<ResourceIx, (HandlerIx, Chain)> = BTreeMap::new();
    let entries: BTreeSet<HandlerIx> = m.workloads.iter().map(|w| w.handler).collect();
    for &h in &entries {
        for o in 0..m.handlers[h].ops.len() {
            for (to, ch) in worst_chains(m, h, o, &mut memo, &mut Vec::new()) {
                if worst.get(&to).is_none_or(|(_, b)| ch.product > b.product) {
                    worst.insert(to, (h, ch));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (to, (h, ch)) in worst {
        if ch.product <= AMPLIFICATION_BOUND {
            continue;
        }
        let severity = if ch.product > AMPLIFICATION_BOUND * 10 {
            Level::Critical
        } else {
            Level::Warning
        };
        let mut path = vec![m.resources[m.handlers[h].resource].id.clone()];
        path.extend(ch.hops.iter().map(|x| m.resources[x.to].id.clone()));
        let attempts: Vec<u32> = ch.hops.iter().map(|x| x.attempts).collect();
        let factors: Vec<String> = attempts.iter().map(u32::to_string).collect();
        let target = &m.resources[to].id;
        let mut f = Finding::new(
            severity,
            Kind::RetryAmplification,
            path.join(" → "),
            format!(
                "when `{target}` fails, each request to `{}` can send it {} attempts ({}), more than the bound of {AMPLIFICATION_BOUND}: the retries alone keep a struggling `{target}` down",
                m.handlers[h].id,
                ch.product,
                factors.join(" × "),
            ),
        );
        f.resource = Some(target.clone());
        f.handler = Some(m.handlers[h].id.clone());
        f.path = Some(path);
        f.steps = Some(ch.hops.iter().map(|x| x.step.clone()).collect());
        f.attempts = Some(attempts);
        f.amplification = Some(ch.product);
        out.push(f);
    }
    out
}

// ---------------------------------------------------------------------------
// 4. Retries without backoff or jitter
// ---------------------------------------------------------------------------

/// Retried calls (`max_attempts` > 1) whose wait before a retry is zero
/// (`base` 0 or absent, whatever the backoff shape), or whose wait is not
/// jittered (`jitter: none`). A call without backoff is not also reported
/// for its jitter: jitter of a zero wait is zero.
pub fn retries_without_backoff_or_jitter(m: &Model) -> Vec<Finding> {
    let mut out = Vec::new();
    for (at, c) in all_calls(m) {
        let r = c.retry;
        if r.max_attempts <= 1 {
            continue;
        }
        let to = &m.resources[callee(m, c)].id;
        let mut f = if r.base.0 == 0 {
            Finding::at_step(
                m,
                at,
                Level::Warning,
                Kind::RetryWithoutBackoff,
                format!(
                    "the {} retries to `{to}` are sent at once, with no backoff: a failing `{to}` gets them all before it can recover",
                    r.max_attempts - 1
                ),
            )
        } else if r.jitter == Jitter::None {
            let shape = match r.backoff {
                Backoff::Constant => "constant",
                Backoff::Exponential => "exponential",
            };
            Finding::at_step(
                m,
                at,
                Level::Info,
                Kind::RetryWithoutJitter,
                format!(
                    "the retries to `{to}` wait a {shape} {} without jitter: callers that failed together retry together, in waves",
                    secs(r.base.as_secs_f64())
                ),
            )
        } else {
            continue;
        };
        f.resource = Some(to.clone());
        out.push(f);
    }
    out
}

// ---------------------------------------------------------------------------
// 5. Hard calls of critical handlers without breaker or fallback
// ---------------------------------------------------------------------------

/// Hard dependencies of critical handlers without protection: for each
/// (critical handler, callee), the call steps that fail the request when
/// they fail (no fallback, hard link) and have no circuit breaker either.
/// One finding per callee, listing the steps.
pub fn unprotected_critical_calls(m: &Model) -> Vec<Finding> {
    let mut groups: BTreeMap<(HandlerIx, ResourceIx), Vec<StepAt>> = BTreeMap::new();
    for (at, c) in all_calls(m) {
        if is_critical_handler(m, at.0) && c.hard() && c.breaker.is_none() {
            groups.entry((at.0, callee(m, c))).or_default().push(at);
        }
    }
    groups
        .into_iter()
        .map(|((h, to), steps)| {
            let level = m.resources[m.handlers[h].resource].criticality;
            let severity = if level == Criticality::Critical {
                Level::Critical
            } else {
                Level::Warning
            };
            let (hid, tid) = (&m.handlers[h].id, &m.resources[to].id);
            let calls = if steps.len() == 1 {
                "a hard call".to_string()
            } else {
                format!("{} hard calls", steps.len())
            };
            let mut f = Finding::new(
                severity,
                Kind::NoBreakerOrFallback,
                format!("handlers[{hid}] → {tid}"),
                format!(
                    "`{hid}` (criticality {}) has {calls} to `{tid}` with neither circuit breaker nor fallback: while `{tid}` fails, every such request waits out its timeouts and retries, then fails",
                    crate::risk::criticality_str(level)
                ),
            );
            f.resource = Some(tid.clone());
            f.handler = Some(hid.clone());
            if let [(_, o, si)] = steps[..] {
                f.operation = Some(m.handlers[h].ops[o].name.clone());
                f.step = Some(si);
            }
            f.steps = Some(steps.iter().map(|&(h, o, si)| step_path(m, h, o, si)).collect());
            f
        })
        .collect()
}

// ---------------------------------------------------------------------------
// 6. Capacity headroom
// ---------------------------------------------------------------------------

fn mean_secs(d: Option<&sim_models::dist::Dist>) -> f64 {
    d.map(|d| d.mean()).unwrap_or(0.0)
}

/// Mean time a request holds a slot of the resource its handler runs on,
/// without faults or queueing: its own service time, then each step (the
/// slot is held while the steps run, `docs/semantics.md`). A call takes a
/// round trip over its link plus the callee's own holding time, capped by the
/// call's timeout; a poll takes about `ready_after` (capped by its timeout)
/// plus one round trip and service.
struct Holding<'m> {
    m: &'m Model,
    memo: HashMap<(HandlerIx, usize), f64>,
    on_stack: Vec<(HandlerIx, usize)>,
}

impl Holding<'_> {
    fn op(&mut self, h: HandlerIx, o: usize) -> f64 {
        if let Some(t) = self.memo.get(&(h, o)) {
            return *t;
        }
        if self.on_stack.contains(&(h, o)) {
            return 0.0;
        }
        self.on_stack.push((h, o));
        let m = self.m;
        let mut t = mean_secs(m.resources[m.handlers[h].resource].service.as_ref());
        for step in &m.handlers[h].ops[o].steps {
            t += match step {
                StepDef::Call(c) => {
                    let link = &m.links[c.link];
                    let rtt = 2.0 * mean_secs(link.latency.as_ref());
                    let d = rtt + self.served(link.to, c.op);
                    c.timeout.map_or(d, |to| d.min(to.as_secs_f64()))
                }
                StepDef::Poll(p) => {
                    let link = &m.links[p.link];
                    let rtt = 2.0 * mean_secs(link.latency.as_ref());
                    p.ready_after.mean().min(p.timeout.as_secs_f64()).max(0.0)
                        + rtt
                        + mean_secs(m.resources[link.to].service.as_ref())
                }
            };
        }
        self.on_stack.pop();
        self.memo.insert((h, o), t);
        t
    }

    /// Mean time resource `r` takes to answer a call naming operation `op`.
    fn served(&mut self, r: ResourceIx, op: u16) -> f64 {
        match self.m.resources[r].handler {
            Some(th) => ops_reached(self.m, th, op)
                .into_iter()
                .map(|(o, share)| share * self.op(th, o))
                .sum(),
            None => mean_secs(self.m.resources[r].service.as_ref()),
        }
    }
}

/// The operations as a directed graph: an edge from `(h, o)` to `(h2, o2)`
/// carries the requests one request of `(h, o)` sends to `(h2, o2)` (one
/// per call step to `h2`'s resource, times `o2`'s share), and the order in
/// which rates can be pushed down it (topological: callers first).
struct OpGraph {
    g: DiGraph<(HandlerIx, usize), f64>,
    ix: HashMap<(HandlerIx, usize), NodeIndex>,
    order: Vec<NodeIndex>,
}

impl OpGraph {
    fn new(m: &Model) -> OpGraph {
        let mut g = DiGraph::new();
        let mut ix = HashMap::new();
        for (h, hd) in m.handlers.iter().enumerate() {
            for o in 0..hd.ops.len() {
                ix.insert((h, o), g.add_node((h, o)));
            }
        }
        for ((h, o, _), c) in all_calls(m) {
            if let Some(th) = m.resources[callee(m, c)].handler {
                for (o2, share) in ops_reached(m, th, c.op) {
                    g.add_edge(ix[&(h, o)], ix[&(th, o2)], share);
                }
            }
        }
        // Validation rejects operation call cycles, so the order exists;
        // were one left, its rates would be counted once, not looped.
        let order =
            petgraph::algo::toposort(&g, None).unwrap_or_else(|_| g.node_indices().collect());
        OpGraph { g, ix, order }
    }

    /// Requests per second and busy slots (Erlangs) per resource that a
    /// workload of `rate` requests per second to handler `h` brings.
    fn load(&self, m: &Model, hold: &mut Holding<'_>, h: HandlerIx, rate: f64) -> Load {
        let n = m.resources.len();
        let mut load = Load {
            arrivals: vec![0.0; n],
            busy: vec![0.0; n],
            op_rate: Vec::new(),
        };
        let mut op_rate = vec![0.0; self.g.node_count()];
        for (o, share) in ops_reached(m, h, ANY_OP) {
            op_rate[self.ix[&(h, o)].index()] += rate * share;
        }
        for &node in &self.order {
            let lambda = op_rate[node.index()];
            if lambda <= 0.0 {
                continue;
            }
            let (h, o) = self.g[node];
            let r = m.handlers[h].resource;
            load.arrivals[r] += lambda;
            load.busy[r] += lambda * hold.op(h, o);
            for e in self.g.edges(node) {
                op_rate[e.target().index()] += lambda * e.weight();
            }
            for step in &m.handlers[h].ops[o].steps {
                match step {
                    StepDef::Call(c) => {
                        let to = callee(m, c);
                        if m.resources[to].handler.is_none() {
                            load.serve(m, to, lambda);
                        }
                    }
                    StepDef::Poll(p) => {
                        // Polls are served by the target resource itself:
                        // one at once, then one per interval until ready.
                        let interval = p.interval.as_secs_f64();
                        let waited = p.ready_after.mean().min(p.timeout.as_secs_f64());
                        let polls = 1.0 + waited / interval.max(f64::MIN_POSITIVE);
                        load.serve(m, m.links[p.link].to, lambda * polls);
                    }
                }
            }
        }
        load.op_rate = op_rate;
        load
    }
}

/// Requests per second and busy slots (Erlangs) per resource, and
/// requests per second per operation (by [`OpGraph`] node).
struct Load {
    arrivals: Vec<f64>,
    busy: Vec<f64>,
    op_rate: Vec<f64>,
}

impl Load {
    /// `rate` requests per second served by resource `r` itself.
    fn serve(&mut self, m: &Model, r: ResourceIx, rate: f64) {
        self.arrivals[r] += rate;
        self.busy[r] += rate * mean_secs(m.resources[r].service.as_ref());
    }
}

/// Utilisation of each resource with a finite number of slots at the
/// workloads' rates: requests per second reaching it (from the workloads,
/// through every call and poll of the handlers they reach, by operation
/// weight; retries not counted) × the mean time each holds a slot ÷
/// (replicas × concurrency). For a resource without a handler the holding
/// time is its mean `service_time`; a handler's resource also holds the slot
/// while the steps run. Flagged at [`UTILISATION_WARNING`] and above.
pub fn capacity(m: &Model) -> Vec<Finding> {
    let n = m.resources.len();
    let graph = OpGraph::new(m);
    let mut hold = Holding {
        m,
        memo: HashMap::new(),
        on_stack: Vec::new(),
    };
    // Per workload, then combined per hour of day (shapes may differ).
    let mut mean_arrivals = vec![0.0; n];
    let mut mean_busy = vec![0.0; n];
    let mut hourly_busy = vec![[0.0f64; 24]; n];
    for w in &m.workloads {
        let Load { arrivals, busy, .. } = graph.load(m, &mut hold, w.handler, w.rate);
        let shape = w.diurnal.unwrap_or([1.0; 24]);
        let mean_shape = shape.iter().sum::<f64>() / 24.0;
        for r in 0..n {
            mean_arrivals[r] += arrivals[r] * mean_shape;
            mean_busy[r] += busy[r] * mean_shape;
            for (hour, k) in shape.iter().enumerate() {
                hourly_busy[r][hour] += busy[r] * k;
            }
        }
    }
    let mut out = Vec::new();
    for (r, rd) in m.resources.iter().enumerate() {
        if rd.concurrency == u32::MAX || mean_arrivals[r] <= 0.0 {
            continue; // unlimited slots never saturate
        }
        let slots = u64::from(rd.replicas) * u64::from(rd.concurrency);
        let utilisation = mean_busy[r] / slots as f64;
        let peak = hourly_busy[r].iter().copied().fold(0.0, f64::max) / slots as f64;
        let peak = peak.max(utilisation);
        if peak < UTILISATION_WARNING {
            continue;
        }
        let (severity, state) = if peak >= UTILISATION_CRITICAL {
            (
                Level::Critical,
                "saturated: requests arrive faster than its slots can serve them, so its queue grows until it rejects them",
            )
        } else {
            (
                Level::Warning,
                "little headroom: queueing delay climbs steeply, and losing a replica or a burst of retries saturates it",
            )
        };
        let holding = mean_busy[r] / mean_arrivals[r];
        let peak_note = if (peak - utilisation).abs() > 1e-12 {
            format!(" ({:.0}% in the busiest hour)", 100.0 * peak)
        } else {
            String::new()
        };
        let mut f = Finding::new(
            severity,
            Kind::Capacity,
            format!("resources[{}]", rd.id),
            format!(
                "`{}` runs at {:.0}% utilisation{peak_note} ({}/s × {} held ÷ {slots} slot{}), {state}",
                rd.id,
                100.0 * utilisation,
                rate(mean_arrivals[r]),
                short_secs(holding),
                if slots == 1 { "" } else { "s" },
            ),
        );
        f.resource = Some(rd.id.clone());
        f.replicas = Some(rd.replicas);
        f.utilisation = Some(utilisation);
        f.peak_utilisation = Some(peak);
        f.arrival_rate = Some(mean_arrivals[r]);
        f.holding_time_s = Some(holding);
        f.slots = Some(slots);
        out.push(f);
    }
    out
}

/// Per fallback call (`fallback: {call: X}`): X's utilisation when the
/// step's own callee is down and every request of the step's operation
/// makes the fallback call (workloads at their mean rate, by operation
/// weight, retries not counted): X's usual busy slots plus the step's
/// calls per second × the time X holds a slot for one (its handler's
/// holding time for the operation called, or its `service_time`), over
/// replicas × concurrency. A cache-aside read path moves all of the cache's
/// reads to the database at once: this says whether the database can take
/// them. Resources with unlimited slots are not reported.
pub fn fallback_load(m: &Model) -> Vec<Finding> {
    let calls: Vec<_> = all_calls(m)
        .filter_map(|(at, c)| c.fallback_call.map(|f| (at, c, f)))
        .collect();
    if calls.is_empty() {
        return Vec::new();
    }
    let n = m.resources.len();
    let graph = OpGraph::new(m);
    let mut hold = Holding {
        m,
        memo: HashMap::new(),
        on_stack: Vec::new(),
    };
    let mut op_rate = vec![0.0; graph.g.node_count()];
    let mut busy = vec![0.0; n];
    for w in &m.workloads {
        let load = graph.load(m, &mut hold, w.handler, w.rate);
        let shape = w.diurnal.unwrap_or([1.0; 24]);
        let mean_shape = shape.iter().sum::<f64>() / 24.0;
        for (k, x) in load.op_rate.iter().enumerate() {
            op_rate[k] += x * mean_shape;
        }
        for (r, x) in load.busy.iter().enumerate() {
            busy[r] += x * mean_shape;
        }
    }
    let mut out = Vec::new();
    for (at, c, f) in calls {
        let lambda = op_rate[graph.ix[&(at.0, at.1)].index()];
        let to = m.links[f.link].to;
        let rd = &m.resources[to];
        if lambda <= 0.0 || rd.concurrency == u32::MAX {
            continue;
        }
        let held = hold.served(to, f.op);
        let slots = u64::from(rd.replicas) * u64::from(rd.concurrency);
        let before = busy[to] / slots as f64;
        let during = (busy[to] + lambda * held) / slots as f64;
        let (severity, state) = if during >= UTILISATION_CRITICAL {
            (
                Level::Critical,
                "it saturates: the fallback fails too, and so do its own callers' requests",
            )
        } else if during >= UTILISATION_WARNING {
            (
                Level::Warning,
                "little headroom: its queueing delay climbs steeply while the fallback lasts",
            )
        } else {
            (Level::Info, "it has the room")
        };
        let from = &m.resources[callee(m, c)].id;
        let mut finding = Finding::at_step(
            m,
            at,
            severity,
            Kind::FallbackLoad,
            format!(
                "while `{from}` is down, this step's {}/s calls go to `{}` ({} held each): its utilisation goes from {:.0}% to {:.0}% of {slots} slot{}; {state}",
                rate(lambda),
                rd.id,
                short_secs(held),
                100.0 * before,
                100.0 * during,
                if slots == 1 { "" } else { "s" },
            ),
        );
        finding.location.push_str(".fallback");
        finding.resource = Some(rd.id.clone());
        finding.fallback_for = Some(from.clone());
        finding.utilisation = Some(during);
        finding.utilisation_before = Some(before);
        finding.arrival_rate = Some(lambda);
        finding.holding_time_s = Some(held);
        finding.slots = Some(slots);
        finding.replicas = Some(rd.replicas);
        out.push(finding);
    }
    out
}

// ---------------------------------------------------------------------------
// 7. Timeouts longer than the caller's SLO
// ---------------------------------------------------------------------------

/// Call steps whose per-attempt timeout exceeds their handler's
/// `slo.latency_p99`.
pub fn timeouts_over_slo(m: &Model) -> Vec<Finding> {
    all_calls(m)
        .filter_map(|(at, c)| {
            let slo = m.handlers[at.0].slo.latency_p99?;
            let timeout = c.timeout?;
            if timeout <= slo {
                return None;
            }
            let to = &m.resources[callee(m, c)].id;
            let mut f = Finding::at_step(
                m,
                at,
                Level::Warning,
                Kind::TimeoutOverSlo,
                format!(
                    "the call to `{to}` may wait {} per attempt, longer than `{}`'s p99 objective of {}: a request that waits it out has breached the SLO before it gives up",
                    secs(timeout.as_secs_f64()),
                    m.handlers[at.0].id,
                    secs(slo.as_secs_f64())
                ),
            );
            f.resource = Some(to.clone());
            f.timeout_s = Some(timeout.as_secs_f64());
            f.slo_latency_p99_s = Some(slo.as_secs_f64());
            Some(f)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// 8. What the scenario leaves to a default, silently
// ---------------------------------------------------------------------------

/// What the scenario accepts but probably did not mean: a call over a link
/// it never declared (lossless, zero latency, hard), a resource no request
/// can reach (a load balancer in front of a handler: ingress is not
/// modelled), a called resource that serves in zero time.
pub fn silent_defaults(m: &Model) -> Vec<Finding> {
    let mut out = Vec::new();
    for l in m.links.iter().filter(|l| !l.declared) {
        let (from, to) = (&m.resources[l.from].id, &m.resources[l.to].id);
        let mut f = Finding::new(
            Level::Info,
            Kind::UndeclaredDependency,
            format!("{from} → {to}"),
            format!(
                "`{from}` calls `{to}` with no entry in `dependencies:`: the call is modelled as a lossless, zero-latency, hard link; declare it to give it latency, loss or `soft: true`"
            ),
        );
        f.resource = Some(to.clone());
        out.push(f);
    }
    for r in &m.resources {
        let called = !r.in_links.is_empty();
        if r.handler.is_none() && !called {
            let lb = matches!(r.kind, sim_models::spec::ResourceType::LoadBalancer);
            let mut f = Finding::new(
                if lb { Level::Warning } else { Level::Info },
                Kind::Unreached,
                format!("resources[{}]", r.id),
                if lb {
                    format!(
                        "no handler runs on `{}` and nothing calls it: workloads enter their handlers' resources directly (ingress through a load balancer is not modelled), so its failures affect no request; run a handler on it that calls the service behind it",
                        r.id
                    )
                } else {
                    format!(
                        "no handler runs on `{}` and nothing calls it: no request reaches it, so its failures change nothing",
                        r.id
                    )
                },
            );
            f.resource = Some(r.id.clone());
            out.push(f);
        } else if r.handler.is_none() && r.service.is_none() {
            let mut f = Finding::new(
                Level::Info,
                Kind::DefaultServiceTime,
                format!("resources[{}]", r.id),
                format!(
                    "`{}` is called but has no `service_time` and no handler: it serves every request in zero time (only its failures and concurrency matter)",
                    r.id
                ),
            );
            f.resource = Some(r.id.clone());
            out.push(f);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Presentation
// ---------------------------------------------------------------------------

/// The findings as a table: severity, kind, where, why (one line each),
/// then a count per severity.
pub fn render_table(findings: &[Finding]) -> String {
    let variants: BTreeSet<&str> = findings.iter().map(|f| f.variant.as_str()).collect();
    let show_variant = variants.len() > 1 || variants.iter().any(|v| *v != "base");
    let width = |get: &dyn Fn(&Finding) -> usize, header: &str, cap: usize| {
        findings
            .iter()
            .map(get)
            .max()
            .unwrap_or(0)
            .max(header.len())
            .min(cap)
    };
    let wv = width(&|f| f.variant.chars().count(), "variant", 16);
    let wk = width(&|f| f.kind.as_str().len(), "kind", 24);
    let wl = width(&|f| f.location.chars().count(), "where", 80);
    let mut out = String::new();
    let mut row = |v: &str, s: &str, k: &str, l: &str, d: &str| {
        let mut line = String::new();
        if show_variant {
            let _ = write!(line, "{v:<wv$}  ");
        }
        let _ = write!(line, "{s:<8}  {k:<wk$}  {l:<wl$}  {d}");
        out.push_str(line.trim_end());
        out.push('\n');
    };
    if findings.is_empty() {
        return "no static failure points found\n".into();
    }
    row("variant", "severity", "kind", "where", "why");
    for f in findings {
        row(
            &f.variant,
            f.severity.as_str(),
            f.kind.as_str(),
            &f.location,
            &f.detail,
        );
    }
    let count = |s: Level| findings.iter().filter(|f| f.severity == s).count();
    let _ = writeln!(
        out,
        "{} findings: {} critical, {} warning, {} info (rules: docs/analyze.md)",
        findings.len(),
        count(Level::Critical),
        count(Level::Warning),
        count(Level::Info)
    );
    out
}

/// The findings as a JSON array (pretty-printed).
pub fn render_json(findings: &[Finding]) -> String {
    serde_json::to_string_pretty(findings).expect("findings are plain values")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Format, load_bytes};
    use sim_models::compile::{Empirical, compile};

    fn model(yaml: &str) -> Model {
        let loaded = load_bytes(
            yaml.as_bytes(),
            Format::Yaml,
            std::path::Path::new("t.yaml"),
        )
        .unwrap_or_else(|e| {
            let p: Vec<String> = e.problems().iter().map(|p| p.to_string()).collect();
            panic!("{}", p.join("\n"))
        });
        compile(
            &loaded.scenario,
            &crate::defaults::default_failure_modes(),
            &Empirical::new(),
        )
        .expect("compiles")
    }

    /// api → mid → db, each a handler but db; attempts as given.
    fn chain(a1: u32, a2: u32) -> String {
        format!(
            r#"
name: chain
resources:
  - {{ id: api, type: service, replicas: 2 }}
  - {{ id: mid, type: service, replicas: 2 }}
  - {{ id: db, type: database, replicas: 2 }}
handlers:
  - id: api
    runs_on: api
    operations:
      - name: go
        steps: [ {{ call: mid, timeout: 1s, retry: {{ max_attempts: {a1}, base: 10ms, jitter: full }} }} ]
  - id: mid
    runs_on: mid
    operations:
      - name: go
        steps: [ {{ call: db, timeout: 100ms, retry: {{ max_attempts: {a2}, base: 10ms, jitter: full }} }} ]
workload:
  - {{ handler: api, arrivals: {{ process: poisson, rate: 1/s }} }}
"#
        )
    }

    #[test]
    fn shares_are_the_normalised_weights() {
        let m = model(
            r#"
name: w
resources: [ { id: api, type: service } ]
handlers:
  - id: api
    runs_on: api
    operations: [ { name: a, weight: 3 }, { name: b, weight: 1 } ]
workload: [ { handler: api, arrivals: { process: poisson, rate: 1/s } } ]
"#,
        );
        let s = op_shares(&m, 0);
        assert!(
            (s[0] - 0.75).abs() < 1e-12 && (s[1] - 0.25).abs() < 1e-12,
            "{s:?}"
        );
        assert_eq!(ops_reached(&m, 0, 1), vec![(1, 1.0)]);
        assert_eq!(ops_reached(&m, 0, ANY_OP).len(), 2);
    }

    #[test]
    fn the_worst_chain_multiplies_attempts_down_the_path() {
        let m = model(&chain(4, 3));
        let mut memo = HashMap::new();
        let best = worst_chains(&m, 0, 0, &mut memo, &mut Vec::new());
        // Both mid (4 attempts) and db (4 × 3) are reached from api.
        assert_eq!(best[&1].product, 4);
        assert_eq!(best[&2].product, 12);
        let attempts: Vec<u32> = best[&2].hops.iter().map(|h| h.attempts).collect();
        assert_eq!(attempts, [4, 3]);
        // The memo holds mid's own view: db at 3.
        assert_eq!(memo[&(1, 0)][&2].product, 3);
    }

    #[test]
    fn holding_time_includes_the_steps_and_the_round_trip() {
        let m = model(
            r#"
name: hold
resources:
  - { id: api, type: service, concurrency: 10, service_time: { dist: constant, value: 1ms } }
  - { id: db, type: database, service_time: { dist: constant, value: 10ms } }
dependencies:
  - { from: api, to: db, network: { latency: { dist: constant, value: 2ms } } }
handlers:
  - id: api
    runs_on: api
    operations: [ { name: read, steps: [ { call: db, timeout: 1s } ] } ]
workload: [ { handler: api, arrivals: { process: poisson, rate: 1/s } } ]
"#,
        );
        let mut h = Holding {
            m: &m,
            memo: HashMap::new(),
            on_stack: Vec::new(),
        };
        // 1 ms own service + 2 × 2 ms round trip + 10 ms at the database.
        assert!((h.op(0, 0) - 0.015).abs() < 1e-12, "{}", h.op(0, 0));
    }

    #[test]
    fn a_timeout_caps_the_time_a_call_holds_the_slot() {
        let m = model(
            r#"
name: cap
resources:
  - { id: api, type: service, concurrency: 10 }
  - { id: slow, type: database, service_time: { dist: constant, value: 5s } }
handlers:
  - id: api
    runs_on: api
    operations: [ { name: read, steps: [ { call: slow, timeout: 200ms } ] } ]
workload: [ { handler: api, arrivals: { process: poisson, rate: 1/s } } ]
"#,
        );
        let mut h = Holding {
            m: &m,
            memo: HashMap::new(),
            on_stack: Vec::new(),
        };
        assert!((h.op(0, 0) - 0.2).abs() < 1e-12, "{}", h.op(0, 0));
    }

    #[test]
    fn petgraph_finds_the_middle_of_a_path() {
        let m = model(&chain(1, 1));
        let g = dependency_graph(&m);
        assert_eq!(g.node_count(), 3);
        assert_eq!(g.edge_count(), 2);
        let points = articulation_points(&m);
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].resource.as_deref(), Some("mid"));
        assert_eq!(
            points[0].parts,
            Some(vec![vec!["api".to_string()], vec!["db".to_string()]])
        );
        // mid has two replicas: reported, but only as info.
        assert_eq!(points[0].severity, Level::Info);
    }

    #[test]
    fn numbers_read_short() {
        assert_eq!(rate(875.0), "875");
        assert_eq!(rate(2.5), "2.5");
        assert_eq!(rate(0.0125), "0.0125");
        assert_eq!(short_secs(0.015000000000000001), "15ms");
        assert_eq!(short_secs(1.25), "1.25s");
        assert_eq!(short_secs(0.0003), "300µs");
    }

    #[test]
    fn sorted_by_severity_then_kind_then_location() {
        let f = |s, k, l: &str| Finding::new(s, k, l.into(), String::new());
        let mut v = vec![
            f(Level::Info, Kind::ArticulationPoint, "a"),
            f(Level::Critical, Kind::Capacity, "b"),
            f(Level::Critical, Kind::NoTimeout, "z"),
            f(Level::Critical, Kind::NoTimeout, "c"),
            f(Level::Warning, Kind::SinglePointOfFailure, "a"),
        ];
        sort(&mut v);
        let got: Vec<(&str, &str, &str)> = v
            .iter()
            .map(|f| (f.severity.as_str(), f.kind.as_str(), f.location.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("critical", "no_timeout", "c"),
                ("critical", "no_timeout", "z"),
                ("critical", "capacity", "b"),
                ("warning", "single_point_of_failure", "a"),
                ("info", "articulation_point", "a"),
            ]
        );
    }

    #[test]
    fn the_table_has_one_row_per_finding_and_a_count() {
        let mut a = Finding::new(
            Level::Warning,
            Kind::NoTimeout,
            "handlers[x].operations[y].steps[0]".into(),
            "why".into(),
        );
        let t = render_table(std::slice::from_ref(&a));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(lines[0].starts_with("severity") && lines[0].contains("where"));
        assert!(lines[1].starts_with("warning") && lines[1].ends_with("why"));
        assert!(lines[2].starts_with("1 findings: 0 critical, 1 warning, 0 info"));
        assert!(!t.contains("variant"));
        a.variant = "db-replica".into();
        assert!(render_table(&[a]).starts_with("variant"));
        assert_eq!(render_table(&[]), "no static failure points found\n");
    }

    #[test]
    fn json_has_the_stable_fields_and_omits_the_others() {
        let f = Finding::new(
            Level::Info,
            Kind::RetryWithoutJitter,
            "loc".into(),
            "why".into(),
        );
        let v: serde_json::Value = serde_json::from_str(&render_json(&[f])).unwrap();
        let o = v[0].as_object().unwrap();
        let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["detail", "kind", "location", "severity", "variant"]);
        assert_eq!(o["kind"], "retry_without_jitter");
        assert_eq!(o["severity"], "info");
    }
}
