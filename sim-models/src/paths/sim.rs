//! Service paths in the simulation: ADUs flowing through placed operators,
//! node failures, heartbeat detection, reroute and move-back
//! (`docs/paths.md`, "Simulation").
//!
//! One campaign ([`run_path_campaign`]) is a sim-core [`Simulation`] of
//! [`PathActor`]s exchanging [`PathMsg`]s (small, `Copy`):
//!
//! - one [`PathActor::Node`] per node with a `failure:` process: an
//!   alternating renewal process (up ~ `time_between`, down ~ `repair`)
//!   started **in equilibrium** like the engine's other failure processes
//!   (down at time zero with probability `E[repair] / (E[up] + E[repair])`,
//!   the first transition after a forward-recurrence draw of the current
//!   phase), on its own stream `path-node/<id>`. Each transition is sent at
//!   once to every path actor (`NodeDown` / `NodeUp`).
//! - one [`PathActor::Path`] per path, on its stream `path/<id>`: the
//!   source (a Poisson stream of ADUs at `adu_rate` from time 0, the first
//!   one an exponential time after 0; none after the horizon), the operator
//!   instances of its current placement (each a FIFO single-server queue
//!   with the operator's service time), the connectors (each link hop
//!   delays the ADU by the link's delay and loses it with the link's `loss`
//!   probability, drawn when it leaves), the sink, and the path's control
//!   path (detection, reroute, move back). The paths share the CPU
//!   [`CapacityLedger`] and the [`PathCache`] (a pure memo) through the
//!   control plane they all see.
//!
//! **ADUs.** An ADU emitted while the path has no placement, or while its
//! source node is down, is lost; so is one reaching a node that is down,
//! one reaching any point of a torn-down placement (a reroute or a move back
//! tears the whole old placement down, connectors included, and the ADUs
//! queued in its operator instances are lost), and the ADUs queued on a node
//! when it fails. Delay = sink arrival − emission, for delivered ADUs.
//! At the horizon the run stops: `adus_sent = adus_delivered + adus_lost +
//! adus_in_flight`, where in flight are the ADUs on a link or queued (or in
//! service) in an operator instance at the horizon.
//!
//! **Control path.** Heartbeats are sent by every node on a fixed grid
//! `k · heartbeat` (k = 1, 2, …) while it is up; the controller declares a
//! node dead after `missed` consecutive missed heartbeats, i.e. at
//! `T₁ + (missed − 1) · heartbeat` where `T₁` is the first tick strictly
//! after the failure: the detection delay lies in
//! `((missed − 1) · hb, missed · hb]`, uniform for a failure time that is
//! uniform over the grid. A node that comes back before it is declared is
//! never declared. A declared node is seen alive again at its first
//! heartbeat, the first tick at or after its recovery. The heartbeats are
//! not simulated one by one (that would cost an event per node and tick for
//! months of simulated time): each path actor computes the declaration and
//! sighting times from the failure and recovery times on the grid, which
//! gives exactly the times the tick-by-tick controller would. The
//! controller watches every node (it must know which are alive to place on
//! them), so a declared node is also avoided by later placements. Without
//! `monitoring`, failures and recoveries are noticed at once (detection
//! delay 0), as [`super::PathDef::monitoring`] documents.
//!
//! **Repair.** `reroute`: when a node the placement uses (for an operator or
//! to relay data, source and sink included) is declared dead, the
//! placement's CPU is released, the node joins the path's exclusions and
//! the path is placed again ([`PathCache::place_and_allocate`], logical
//! and physical path creation without the dead nodes); the operators are
//! re-instantiated (new instances; the ADUs in the old ones are lost) and
//! the flow resumes. If nothing can be placed (the source or sink is dead,
//! or no capacity), the path has no placement until an excluded node is
//! seen again, and then retries. When an excluded node is seen again, the
//! path is re-solved without it excluded; if the new placement is cheaper
//! by the path's objective (relative margin 10⁻⁹) the path moves there and
//! the old placement's capacity is freed (teardown); `moves_back` counts
//! those. `none`: the path is placed at time zero as if every node were up
//! and stays there; it is down while a node it uses is down.
//!
//! At time zero, a rerouting path is placed avoiding the nodes that are down
//! then (the controller has been watching before time zero), in model
//! order, each path taking its CPU before the next.
//!
//! **Availability.** The path is *up* while it has a placement and every
//! node that placement uses is up; time-weighted over the horizon. An
//! *outage* runs from the moment it goes down to the moment it is up again
//! (time to repair). Links have no failure process in the format, so they
//! never fail here.

use rand::RngExt;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use sim_core::{
    Actor, ActorId, CampaignSeed, Context, LatencyHistogram, SimDuration, SimTime, Simulation,
    TimerKey, stream_key,
};

use super::{
    CapacityLedger, DEFAULT_K, Exclusions, NodeFailureDef, PathCache, PathModel, Placement,
};
use crate::spec::PathRepair;

/// What one campaign says about one path.
#[derive(Debug, Clone)]
pub struct PathOutcome {
    /// The path's id.
    pub path: String,
    /// ADUs emitted by the source during the horizon.
    pub adus_sent: u64,
    /// ADUs that reached the sink.
    pub adus_delivered: u64,
    /// ADUs lost: on a link, at a down node, in a torn-down placement, or
    /// emitted while the path had no placement or its source was down.
    pub adus_lost: u64,
    /// ADUs on a link or in an operator instance at the horizon
    /// (`sent = delivered + lost + in_flight`).
    pub adus_in_flight: u64,
    /// End-to-end delay of the delivered ADUs.
    pub delay: LatencyHistogram,
    /// Mean of `delay`, milliseconds (NaN when none was delivered).
    pub delay_mean_ms: f64,
    /// 99th percentile of `delay`, milliseconds (NaN when none was delivered).
    pub delay_p99_ms: f64,
    /// Fraction of the horizon the path was up.
    pub availability: f64,
    /// Time the path was down within the horizon, seconds.
    pub downtime_s: f64,
    /// Times the path went down.
    pub outages: u32,
    /// Reroutes: placements made after a node the path used was declared
    /// dead (successful ones, including retries once a node came back).
    pub repairs: u32,
    /// Mean duration of the outages that ended within the horizon, seconds
    /// (NaN when none did).
    pub time_to_repair_mean_s: f64,
    /// Outages that ended within the horizon.
    pub outages_ended: u32,
    /// Moves back to a cheaper placement once a node was seen again.
    pub moves_back: u32,
}

/// The messages of a path campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathMsg {
    /// To a node: its next up/down transition is due.
    Transition,
    /// To a path: this element (a node, or a link: index `nodes + link`)
    /// just failed.
    NodeDown(u32),
    /// To a path: this element just recovered.
    NodeUp(u32),
    /// To a path: its source emits an ADU.
    Emit,
    /// To a path: an ADU crossed hop `hop` of leg `leg` of placement `gen`.
    Arrive {
        /// Placement generation the ADU was routed by.
        generation: u32,
        /// Leg index.
        leg: u16,
        /// Hop index within the leg.
        hop: u16,
        /// Emission time.
        emitted: SimTime,
    },
    /// To a path: the ADU in service at operator instance `id` is done.
    Done {
        /// Stage (operator position).
        stage: u16,
        /// Instance id.
        id: u32,
        /// The instance's token when the service started.
        token: u32,
    },
    /// To a path: the controller declares this node dead.
    Detect(u32),
    /// To a path: the controller sees this node alive again.
    Seen(u32),
}

/// The failure process of a node or a link (an *element*: nodes are
/// `0..nodes`, link `l` is `nodes + l`).
#[derive(Debug)]
pub struct NodeProc {
    node: u32,
    def: NodeFailureDef,
    up: bool,
    paths: Vec<ActorId>,
    horizon: SimTime,
}

/// The shared control plane: CPU ledger and placement memo.
#[derive(Debug)]
struct Plane {
    ledger: CapacityLedger,
    cache: PathCache,
}

#[derive(Debug)]
struct Instance {
    node: usize,
    op: usize,
    id: u32,
    token: u32,
    /// Emission times of the ADUs queued, the head in service.
    queue: VecDeque<SimTime>,
}

/// One path: source, operator instances, sink, controller.
#[derive(Debug)]
pub struct PathProc<'a> {
    ix: usize,
    model: &'a PathModel,
    plane: Rc<RefCell<Plane>>,
    horizon: SimTime,
    interval: f64,
    hb_ns: Option<u64>,
    missed: u64,
    up_view: Vec<bool>,
    excluded: Exclusions,
    detect: Vec<Option<TimerKey>>,
    seen: Vec<Option<TimerKey>>,
    placement: Option<Placement>,
    uses: Vec<usize>,
    generation: u32,
    instances: Vec<Instance>,
    next_id: u32,
    in_transit: u64,
    // Tallies.
    sent: u64,
    delivered: u64,
    lost: u64,
    delay: LatencyHistogram,
    path_up: bool,
    since: SimTime,
    downtime: SimDuration,
    outages: u32,
    ttr_sum: f64,
    outages_ended: u32,
    repairs: u32,
    moves_back: u32,
}

/// The actors of a path campaign.
#[derive(Debug)]
pub enum PathActor<'a> {
    /// A node's failure process.
    Node(NodeProc),
    /// A path.
    Path(Box<PathProc<'a>>),
}

impl Actor for PathActor<'_> {
    type Msg = PathMsg;

    fn handle(&mut self, msg: PathMsg, ctx: &mut Context<'_, PathMsg>) {
        match self {
            PathActor::Node(n) => n.handle(msg, ctx),
            PathActor::Path(p) => p.handle(msg, ctx),
        }
    }
}

impl NodeProc {
    fn schedule(&self, after: SimDuration, ctx: &mut Context<'_, PathMsg>) {
        if ctx.now() + after <= self.horizon {
            ctx.send_self(after, PathMsg::Transition);
        }
    }

    fn handle(&mut self, msg: PathMsg, ctx: &mut Context<'_, PathMsg>) {
        if msg != PathMsg::Transition {
            // Not a message for a node: a routing bug, counted by the kernel.
            ctx.unhandled();
            return;
        }
        self.up = !self.up;
        let note = if self.up {
            PathMsg::NodeUp(self.node)
        } else {
            PathMsg::NodeDown(self.node)
        };
        for &p in &self.paths {
            ctx.send(p, SimDuration::ZERO, note);
        }
        let next = if self.up {
            self.def.time_between.sample(ctx.rng())
        } else {
            self.def.repair.sample(ctx.rng())
        };
        self.schedule(next, ctx);
    }

    /// The state at time zero, in equilibrium, and the first transition.
    fn start(&mut self, ctx: &mut Context<'_, PathMsg>) {
        let up = self.def.time_between.mean();
        let rep = self.def.repair.mean();
        let p_down = if up + rep > 0.0 {
            rep / (up + rep)
        } else {
            0.0
        };
        let u: f64 = ctx.rng().random();
        let first = if u < p_down {
            self.up = false;
            self.def.repair.sample_forward_recurrence(ctx.rng())
        } else {
            self.up = true;
            self.def.time_between.sample_forward_recurrence(ctx.rng())
        };
        self.schedule(first, ctx);
    }
}

impl PathProc<'_> {
    /// Whether element `e` (node or `nodes + link`) is excluded from placement.
    fn is_excluded(&self, e: usize) -> bool {
        let n = self.model.nodes.len();
        if e < n {
            self.excluded.nodes.contains(&e)
        } else {
            self.excluded.links.contains(&(e - n))
        }
    }

    fn set_excluded(&mut self, e: usize, excluded: bool) {
        let n = self.model.nodes.len();
        let set = if e < n {
            &mut self.excluded.nodes
        } else {
            &mut self.excluded.links
        };
        let k = if e < n { e } else { e - n };
        if excluded {
            set.insert(k);
        } else {
            set.remove(&k);
        }
    }

    /// Whether the current placement runs on or through element `e`.
    fn placement_uses(&self, e: usize) -> bool {
        let n = self.model.nodes.len();
        self.placement.as_ref().is_some_and(|p| {
            if e < n {
                p.uses_node(e)
            } else {
                p.uses_link(e - n)
            }
        })
    }

    /// When the controller declares dead a node that failed at `failed_at`.
    fn detection_time(&self, failed_at: SimTime, now: SimTime) -> SimTime {
        match self.hb_ns {
            None => now,
            Some(hb) => {
                let t1 = (failed_at.0 / hb + 1) * hb;
                SimTime(t1 + (self.missed - 1) * hb).max(now)
            }
        }
    }

    /// The first heartbeat tick at or after `now`.
    fn next_tick(&self, now: SimTime) -> SimTime {
        match self.hb_ns {
            None => now,
            Some(hb) => SimTime(now.0.div_ceil(hb) * hb),
        }
    }

    fn refresh(&mut self, now: SimTime) {
        let up = self.placement.is_some() && self.uses.iter().all(|&n| self.up_view[n]);
        if up == self.path_up {
            return;
        }
        if up {
            let d = now.saturating_since(self.since);
            self.downtime = self.downtime + d;
            self.ttr_sum += d.as_secs_f64();
            self.outages_ended += 1;
        } else {
            self.outages += 1;
        }
        self.path_up = up;
        self.since = now;
    }

    /// Tears the current placement down (ADUs in its instances are lost)
    /// and installs `p` (or nothing).
    fn install(&mut self, p: Option<Placement>) {
        for inst in &self.instances {
            self.lost += inst.queue.len() as u64;
        }
        self.instances.clear();
        self.generation += 1;
        self.uses.clear();
        if let Some(pl) = &p {
            let n = self.model.nodes.len();
            self.uses = (0..n)
                .filter(|&k| pl.uses_node(k))
                .chain(
                    (0..self.model.links.len())
                        .filter(|&l| pl.uses_link(l))
                        .map(|l| n + l),
                )
                .collect();
            for (&op, &node) in pl.ops.iter().zip(&pl.nodes) {
                self.next_id += 1;
                self.instances.push(Instance {
                    node,
                    op,
                    id: self.next_id,
                    token: 0,
                    queue: VecDeque::new(),
                });
            }
        }
        self.placement = p;
    }

    /// Releases the current placement's CPU and places the path again
    /// avoiding its exclusions.
    fn replace(&mut self) -> bool {
        let mut plane = self.plane.borrow_mut();
        let Plane { ledger, cache } = &mut *plane;
        if let Some(old) = &self.placement {
            ledger.release(old);
        }
        let r = cache
            .place_and_allocate(self.model, self.ix, DEFAULT_K, ledger, &self.excluded)
            .ok();
        drop(plane);
        let ok = r.is_some();
        self.install(r);
        ok
    }

    /// Re-solves with the current exclusions; moves when cheaper.
    fn try_move_back(&mut self) {
        let mut plane = self.plane.borrow_mut();
        let Plane { ledger, cache } = &mut *plane;
        let Some(old) = &self.placement else {
            drop(plane);
            if self.replace() {
                self.repairs += 1;
            }
            return;
        };
        ledger.release(old);
        let cand = cache
            .solve(self.model, self.ix, DEFAULT_K, ledger, &self.excluded)
            .placement;
        let better = match &cand {
            Ok(c) => c.objective < old.objective - 1e-9 * old.objective.abs().max(1e-12),
            Err(_) => false,
        };
        if better
            && let Ok(c) = cand
            && ledger.allocate(&c).is_ok()
        {
            drop(plane);
            self.install(Some(c));
            self.moves_back += 1;
            return;
        }
        // Stay: take the old placement's CPU back.
        let _ = ledger.allocate(old);
    }

    fn forward(
        &mut self,
        leg: usize,
        hop: usize,
        emitted: SimTime,
        ctx: &mut Context<'_, PathMsg>,
    ) {
        let Some(pl) = &self.placement else {
            self.lost += 1;
            return;
        };
        let hops = &pl.legs[leg].hops;
        if hop < hops.len() {
            let h = &hops[hop];
            if !self.up_view[self.model.nodes.len() + h.link] {
                self.lost += 1; // the link is cut
                return;
            }
            if h.loss > 0.0 && ctx.rng().random::<f64>() < h.loss {
                self.lost += 1;
                return;
            }
            self.in_transit += 1;
            ctx.send_self(
                SimDuration::from_secs_f64(h.delay),
                PathMsg::Arrive {
                    generation: self.generation,
                    leg: leg as u16,
                    hop: hop as u16,
                    emitted,
                },
            );
        } else if leg < self.instances.len() {
            let model = self.model;
            let inst = &mut self.instances[leg];
            inst.queue.push_back(emitted);
            if inst.queue.len() == 1 {
                let s = model.operators[inst.op].service_time.sample(ctx.rng());
                let msg = PathMsg::Done {
                    stage: leg as u16,
                    id: inst.id,
                    token: inst.token,
                };
                ctx.send_self(s, msg);
            }
        } else {
            self.delivered += 1;
            self.delay.record(ctx.now().saturating_since(emitted));
        }
    }

    fn handle(&mut self, msg: PathMsg, ctx: &mut Context<'_, PathMsg>) {
        let now = ctx.now();
        match msg {
            // Not a message for a path: a routing bug, counted by the kernel.
            PathMsg::Transition => ctx.unhandled(),
            PathMsg::Emit => {
                self.sent += 1;
                let src = self.model.paths[self.ix].source.node;
                if self.placement.is_none() || !self.up_view[src] {
                    self.lost += 1;
                } else {
                    self.forward(0, 0, now, ctx);
                }
                self.schedule_emit(ctx);
            }
            PathMsg::Arrive {
                generation,
                leg,
                hop,
                emitted,
            } => {
                self.in_transit -= 1;
                let (leg, hop) = (leg as usize, hop as usize);
                if generation != self.generation {
                    self.lost += 1;
                    return;
                }
                let Some(pl) = &self.placement else {
                    self.lost += 1;
                    return;
                };
                let h = &pl.legs[leg].hops[hop];
                let (at, link) = (h.to, self.model.nodes.len() + h.link);
                if !self.up_view[at] || !self.up_view[link] {
                    self.lost += 1;
                    return;
                }
                self.forward(leg, hop + 1, emitted, ctx);
            }
            PathMsg::Done { stage, id, token } => {
                let stage = stage as usize;
                let Some(inst) = self.instances.get_mut(stage) else {
                    return;
                };
                if inst.id != id || inst.token != token {
                    return;
                }
                let Some(emitted) = inst.queue.pop_front() else {
                    return;
                };
                if !inst.queue.is_empty() {
                    let s = self.model.operators[inst.op].service_time.sample(ctx.rng());
                    let msg = PathMsg::Done {
                        stage: stage as u16,
                        id: inst.id,
                        token: inst.token,
                    };
                    ctx.send_self(s, msg);
                }
                self.forward(stage + 1, 0, emitted, ctx);
            }
            PathMsg::NodeDown(n) => {
                let n = n as usize;
                self.up_view[n] = false;
                for inst in &mut self.instances {
                    if inst.node == n {
                        self.lost += inst.queue.len() as u64;
                        inst.queue.clear();
                        inst.token += 1;
                    }
                }
                self.refresh(now);
                if self.repair_reroute() {
                    if let Some(k) = self.seen[n].take() {
                        // Down again before its first heartbeat: still excluded.
                        ctx.cancel(k);
                    } else if !self.is_excluded(n) {
                        let at = self.detection_time(now, now);
                        let k = ctx.set_timer(at.saturating_since(now), PathMsg::Detect(n as u32));
                        self.detect[n] = Some(k);
                    }
                }
            }
            PathMsg::NodeUp(n) => {
                let n = n as usize;
                self.up_view[n] = true;
                if let Some(k) = self.detect[n].take() {
                    ctx.cancel(k);
                }
                self.refresh(now);
                if self.repair_reroute() && self.is_excluded(n) {
                    let at = self.next_tick(now);
                    let k = ctx.set_timer(at.saturating_since(now), PathMsg::Seen(n as u32));
                    self.seen[n] = Some(k);
                }
            }
            PathMsg::Detect(n) => {
                let n = n as usize;
                self.detect[n] = None;
                self.set_excluded(n, true);
                if self.placement_uses(n) && self.replace() {
                    self.repairs += 1;
                }
                self.refresh(now);
            }
            PathMsg::Seen(n) => {
                let n = n as usize;
                self.seen[n] = None;
                self.set_excluded(n, false);
                self.try_move_back();
                self.refresh(now);
            }
        }
    }

    fn repair_reroute(&self) -> bool {
        self.model.paths[self.ix].repair == PathRepair::Reroute
    }

    fn schedule_emit(&mut self, ctx: &mut Context<'_, PathMsg>) {
        if self.interval <= 0.0 {
            return;
        }
        let u: f64 = ctx.rng().random();
        let gap = -(1.0 - u).ln() * self.interval;
        let d = SimDuration::from_secs_f64(gap);
        if ctx.now() + d <= self.horizon {
            ctx.send_self(d, PathMsg::Emit);
        }
    }

    fn outcome(&self, horizon: SimTime) -> PathOutcome {
        let mut downtime = self.downtime;
        if !self.path_up {
            downtime = downtime + horizon.saturating_since(self.since);
        }
        let h = horizon.as_secs_f64();
        let downtime_s = downtime.as_secs_f64();
        let in_flight = self.in_transit
            + self
                .instances
                .iter()
                .map(|i| i.queue.len() as u64)
                .sum::<u64>();
        let (mean, p99) = if self.delay.count() == 0 {
            (f64::NAN, f64::NAN)
        } else {
            (
                self.delay.mean().as_millis_f64(),
                self.delay.quantile(0.99).as_millis_f64(),
            )
        };
        PathOutcome {
            path: self.model.paths[self.ix].id.clone(),
            adus_sent: self.sent,
            adus_delivered: self.delivered,
            adus_lost: self.lost,
            adus_in_flight: in_flight,
            delay: self.delay.clone(),
            delay_mean_ms: mean,
            delay_p99_ms: p99,
            availability: if h > 0.0 { 1.0 - downtime_s / h } else { 1.0 },
            downtime_s,
            outages: self.outages,
            repairs: self.repairs,
            time_to_repair_mean_s: if self.outages_ended == 0 {
                f64::NAN
            } else {
                self.ttr_sum / f64::from(self.outages_ended)
            },
            outages_ended: self.outages_ended,
            moves_back: self.moves_back,
        }
    }
}

/// What one path campaign gave ([`run_path_campaign`]).
#[derive(Debug, Clone)]
pub struct PathCampaign {
    /// One outcome per path, in model order.
    pub outcomes: Vec<PathOutcome>,
    /// Messages delivered to an actor that does not handle them
    /// ([`sim_core::Context::unhandled`]): a routing bug, so nonzero means
    /// the outcomes are not to be trusted (the engine refuses them).
    pub misrouted: u64,
}

/// Runs one campaign of the model's paths over `horizon` and returns one
/// outcome per path, in model order. A pure function of `(model, seed,
/// horizon)`: `cache` only saves time (it is a memo keyed by everything a
/// placement depends on), so a fresh or a well-used cache gives the same
/// outcomes. Keep one cache per call site, across campaigns.
pub fn run_path_campaign(
    model: &PathModel,
    seed: CampaignSeed,
    horizon: SimDuration,
    cache: &mut PathCache,
) -> PathCampaign {
    let end = SimTime::ZERO + horizon;
    let plane = Rc::new(RefCell::new(Plane {
        ledger: CapacityLedger::new(model),
        cache: std::mem::take(cache),
    }));
    let mut sim: Simulation<PathActor<'_>> = Simulation::new(seed);
    let n_nodes = model.nodes.len();
    let n_elems = n_nodes + model.links.len();
    // Elements that fail: nodes, then links (index `nodes + link`).
    let failure_of = |e: usize| {
        if e < n_nodes {
            model.nodes[e].failure.as_ref()
        } else {
            model.links[e - n_nodes].failure.as_ref()
        }
    };
    let failing: Vec<usize> = (0..n_elems).filter(|&e| failure_of(e).is_some()).collect();
    // Path actors come right after the node actors.
    let path_ids: Vec<ActorId> = (0..model.paths.len())
        .map(|i| ActorId((failing.len() + i) as u32))
        .collect();
    let mut up_view = vec![true; n_elems];
    for &n in &failing {
        let def = failure_of(n).cloned().expect("filtered on failure");
        let name = if n < n_nodes {
            format!("path-node/{}", model.nodes[n].id)
        } else {
            let l = &model.links[n - n_nodes];
            format!(
                "path-link/{}/{}/{}",
                model.nodes[l.a].id,
                model.nodes[l.b].id,
                n - n_nodes
            )
        };
        let id = sim.add_actor(
            PathActor::Node(NodeProc {
                node: n as u32,
                def,
                up: true,
                paths: path_ids.clone(),
                horizon: end,
            }),
            stream_key(&name),
        );
        up_view[n] = sim.with_context(id, |a, ctx| match a {
            PathActor::Node(p) => {
                p.start(ctx);
                p.up
            }
            PathActor::Path(_) => true,
        });
    }
    let mut initially_down = Exclusions::nodes((0..n_nodes).filter(|&n| !up_view[n]));
    initially_down.links = (n_nodes..n_elems)
        .filter(|&e| !up_view[e])
        .map(|e| e - n_nodes)
        .collect();
    for (ix, p) in model.paths.iter().enumerate() {
        let reroute = p.repair == PathRepair::Reroute;
        let excluded = if reroute {
            initially_down.clone()
        } else {
            Exclusions::none()
        };
        let placement = {
            let mut pl = plane.borrow_mut();
            let Plane { ledger, cache } = &mut *pl;
            cache
                .place_and_allocate(model, ix, DEFAULT_K, ledger, &excluded)
                .ok()
        };
        let (hb_ns, missed) = match p.monitoring {
            Some(m) => (
                Some(SimDuration::from_secs_f64(m.heartbeat).0.max(1)),
                u64::from(m.missed.max(1)),
            ),
            None => (None, 1),
        };
        let mut proc_ = PathProc {
            ix,
            model,
            plane: Rc::clone(&plane),
            horizon: end,
            interval: if p.adu_rate > 0.0 {
                1.0 / p.adu_rate
            } else {
                0.0
            },
            hb_ns,
            missed,
            up_view: up_view.clone(),
            excluded,
            detect: vec![None; n_elems],
            seen: vec![None; n_elems],
            placement: None,
            uses: Vec::new(),
            generation: 0,
            instances: Vec::new(),
            next_id: 0,
            in_transit: 0,
            sent: 0,
            delivered: 0,
            lost: 0,
            delay: LatencyHistogram::new(),
            path_up: false,
            since: SimTime::ZERO,
            downtime: SimDuration::ZERO,
            outages: 0,
            ttr_sum: 0.0,
            outages_ended: 0,
            repairs: 0,
            moves_back: 0,
        };
        proc_.install(placement);
        // Up or down at time zero; a path down at zero starts an outage.
        proc_.path_up = proc_.placement.is_some() && proc_.uses.iter().all(|&n| up_view[n]);
        if !proc_.path_up {
            proc_.outages = 1;
        }
        let id = sim.add_actor(
            PathActor::Path(Box::new(proc_)),
            stream_key(&format!("path/{}", p.id)),
        );
        debug_assert_eq!(id, path_ids[ix]);
        // Nodes down at zero are excluded (rerouting paths) and seen again
        // at their first heartbeat after recovery (`NodeUp`).
        sim.with_context(id, |a, ctx| {
            if let PathActor::Path(p) = a {
                p.schedule_emit(ctx);
            }
        });
    }
    sim.run_until(end);
    let outcomes: Vec<PathOutcome> = sim
        .actors()
        .iter()
        .filter_map(|a| match a {
            PathActor::Path(p) => Some(p.outcome(end)),
            PathActor::Node(_) => None,
        })
        .collect();
    let misrouted = sim.unhandled();
    drop(sim);
    *cache = Rc::try_unwrap(plane)
        .map(|c| c.into_inner().cache)
        .unwrap_or_default();
    PathCampaign {
        outcomes,
        misrouted,
    }
}
