//! One campaign: build the actors of a model, run them, summarise.
//!
//! A campaign runs at request level from time zero to the horizon, with
//! arrivals stopping at the horizon, then a *drain* period in which
//! requests already in flight may finish. Requests still in flight after the
//! drain are counted as failed (they would have hung), with the latency they
//! had accumulated. Every figure is a pure function of the model, the
//! campaign seed and the mode.

use std::rc::Rc;

use sim_core::{ActorId, CampaignSeed, LatencyHistogram, SimTime, Simulation, stream_key};

use crate::in_flight::InFlight;

use crate::actors::{
    Arrivals, FailureActor, HandlerActor, Layout, LinkActor, Node, RequestStats, ResourceActor,
};
use crate::model::{EffectIx, FaultScope, Model, ResourceIx};

/// One fault of a campaign: an effect active on a resource (or one replica)
/// from `on` to `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultInterval {
    /// The resource it strikes.
    pub resource: ResourceIx,
    /// What it does.
    pub effect: EffectIx,
    /// The replica, or [`ALL_REPLICAS`](crate::msg::ALL_REPLICAS).
    pub replica: u16,
    /// Onset (before the horizon).
    pub on: SimTime,
    /// Recovery (may lie after the horizon).
    pub off: SimTime,
    /// The failure process it came from (index into `Model::faults`), or
    /// `None` for an injection.
    pub process: Option<u32>,
}

/// Which faults a campaign simulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignMode {
    /// The natural failure processes of every resource.
    Natural,
    /// One explicit injection (index into [`Model::injections`]), nothing else.
    Targeted(usize),
    /// No fault at all (a healthy baseline).
    Healthy,
}

/// The summary of a population of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RequestSummary {
    /// Requests finished.
    pub requests: u64,
    /// Requests failed.
    pub errors: u64,
    /// Requests that succeeded degraded (fallback or soft dependency).
    pub degraded: u64,
    /// Errors / requests (NaN without requests).
    pub error_rate: f64,
    /// Mean end-to-end latency, ms.
    pub latency_mean_ms: f64,
    /// Median latency, ms.
    pub latency_p50_ms: f64,
    /// 99th-percentile latency, ms.
    pub latency_p99_ms: f64,
}

impl RequestSummary {
    fn of(s: &RequestStats) -> Self {
        Self::from_parts(s.requests, s.errors, s.degraded, &s.latency)
    }

    /// The summary of `requests` requests of which `errors` failed and
    /// `degraded` succeeded degraded, with latencies `h`.
    pub fn from_parts(requests: u64, errors: u64, degraded: u64, h: &LatencyHistogram) -> Self {
        RequestSummary {
            requests,
            errors,
            degraded,
            error_rate: if requests == 0 {
                f64::NAN
            } else {
                errors as f64 / requests as f64
            },
            latency_mean_ms: h.mean().as_millis_f64(),
            latency_p50_ms: h.quantile(0.5).as_millis_f64(),
            latency_p99_ms: h.quantile(0.99).as_millis_f64(),
        }
    }
}

/// One handler's figures in one campaign.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HandlerResult {
    /// Every request the handler served (workload and calls).
    pub summary: RequestSummary,
    /// Fraction of the horizon during which every resource on its hard path could serve.
    pub availability: f64,
    /// Whether the handler missed its SLO over the campaign.
    pub slo_breached: bool,
    /// Times its circuit breakers opened.
    pub breaker_openings: u32,
}

/// The figures of one campaign.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CampaignResult {
    /// Simulated time covered, seconds (the horizon).
    pub horizon_s: f64,
    /// Workload requests, end to end (all workload handlers together).
    pub summary: RequestSummary,
    /// Fraction of the horizon during which every workload handler could serve.
    pub availability: f64,
    /// Whether any handler missed its SLO.
    pub slo_breached: bool,
    /// Faults active during the campaign: those that started in it (natural
    /// failures or injections) and those already active at its start.
    pub faults: u32,
    /// Which failure processes were active during the campaign (failed in
    /// it or were down at its start), as indices into `Model::faults`, in
    /// increasing order. Empty in targeted and healthy campaigns (the
    /// targeted campaign's fault is its injection).
    pub faults_seen: Vec<u32>,
    /// Importance-sampling weight of the campaign: the likelihood ratio of
    /// its failure paths, true over biased (exactly 1 without biasing; see
    /// [`crate::rare`]).
    pub weight: f64,
    /// Events the kernel delivered.
    pub events: u64,
    /// Requests still in flight when the drain ended (counted as errors).
    pub hung: u64,
    /// Requests rejected because the simulation held as many requests as
    /// its in-flight cap allows ([`crate::limits`]; counted as errors).
    pub refused_over_cap: u64,
    /// Per handler, in model order.
    pub handlers: Vec<HandlerResult>,
    /// Messages delivered to an actor that does not handle them
    /// ([`sim_core::Context::unhandled`]): a routing bug of the model, so
    /// nonzero means the figures are not to be trusted (the engine refuses
    /// them). By the two-scale method: those of its own episodes, of the
    /// library episodes it composed from and of the baseline it scaled
    /// (shared by every campaign of the variant, so counted in each).
    /// Nothing in the campaign's rows depends on it.
    pub misrouted: u64,
    /// What the campaign exercised ([`crate::usage::Usage`]): at request
    /// level, the whole campaign; by the two-scale method, its own
    /// simulated episodes, and the library classes it composed episodes
    /// from. Nothing in the campaign's rows depends on it.
    pub usage: Option<crate::usage::Usage>,
}

/// Builds a campaign over the model's horizon with the faults of `mode`
/// (the failure processes, the one injection, or none), ready to run.
pub(crate) fn start<'m>(
    model: &'m Model,
    seed: CampaignSeed,
    mode: CampaignMode,
) -> (Layout, Simulation<Node<'m>>) {
    let layout = Layout::new(model);
    let horizon = SimTime::ZERO + model.horizon;
    let mut sim = build(model, layout, seed, horizon, 0.0);
    match mode {
        CampaignMode::Natural => {
            for (i, f) in model.faults.iter().enumerate() {
                let r = &model.resources[f.resource];
                let actor = FailureActor::process(f, layout.resource(f.resource), r.age, horizon);
                add_failure(&mut sim, actor, &fault_stream_name(model, i));
            }
        }
        CampaignMode::Targeted(k) => {
            let inj = &model.injections[k];
            let actor = FailureActor::injection(inj, layout.resource(inj.resource), horizon);
            add_failure(&mut sim, actor, &injection_stream_name(model, k));
        }
        CampaignMode::Healthy => {}
    }
    (layout, sim)
}

/// Runs one campaign of `model`.
///
/// # Examples
///
/// See the crate documentation for a complete scenario; campaigns are
/// deterministic:
///
/// ```ignore
/// let a = run_campaign(&model, CampaignSeed::derive(1, 0, 7), CampaignMode::Natural);
/// let b = run_campaign(&model, CampaignSeed::derive(1, 0, 7), CampaignMode::Natural);
/// assert_eq!(a, b);
/// ```
pub fn run_campaign(model: &Model, seed: CampaignSeed, mode: CampaignMode) -> CampaignResult {
    let (layout, sim) = start(model, seed, mode);
    finish(model, layout, sim, matches!(mode, CampaignMode::Natural))
}

/// Runs one campaign of `model` with no failure process of its own, the
/// given faults replayed at their times instead (an observed incident
/// history, say: `preflight calibrate` replays each window of history to see
/// whether it breached the SLOs). Faults are `(on, off)` from the start of
/// the campaign; `process` is ignored.
pub fn run_replay(model: &Model, seed: CampaignSeed, faults: &[FaultInterval]) -> CampaignResult {
    let layout = Layout::new(model);
    let horizon = SimTime::ZERO + model.horizon;
    let mut sim = build(model, layout, seed, horizon, 0.0);
    for (j, f) in faults.iter().enumerate() {
        if f.on >= horizon || f.off <= f.on {
            continue;
        }
        let actor = FailureActor::scheduled(
            layout.resource(f.resource),
            f.effect as u32,
            f.replica,
            f.on - SimTime::ZERO,
            f.off - f.on,
        );
        add_failure(&mut sim, actor, &format!("replay/{j}"));
    }
    finish(model, layout, sim, false)
}

/// Runs a built campaign to its horizon and drain, and summarises it.
/// `natural`: the failure actors are the model's processes, in order.
pub(crate) fn finish(
    model: &Model,
    layout: Layout,
    mut sim: Simulation<Node<'_>>,
    natural: bool,
) -> CampaignResult {
    let horizon = SimTime::ZERO + model.horizon;
    sim.run_until(horizon);
    let end = horizon + model.drain;
    sim.run_until(end);
    let events = sim.delivered();
    let misrouted = sim.unhandled();
    let now = sim.now();
    let mut actors = sim.into_actors();
    let refused_over_cap = refused_over_cap(&actors);
    let usage = crate::usage::Usage::of(&actors);

    let mut hung = 0;
    let mut faults = 0;
    let mut faults_seen = Vec::new();
    let mut ln_weight = 0.0;
    // In natural mode the failure actors come last, one per `model.faults`
    // entry and in its order.
    let mut fault_ix = 0u32;
    hung += fail_in_flight(model, layout, &mut actors, now);
    for a in actors.iter_mut() {
        if let Node::Failure(f) = a {
            f.finish();
            ln_weight += f.weight.ln();
            let active = f.onsets + u32::from(f.down_at_start);
            faults += active;
            if natural && active > 0 {
                faults_seen.push(fault_ix);
            }
            fault_ix += 1;
        }
    }

    let logs: Vec<&[(SimTime, bool)]> = actors
        .iter()
        .take(model.resources.len())
        .map(|a| match a {
            Node::Resource(r) => r.serving_log.as_slice(),
            _ => unreachable!("resources come first"),
        })
        .collect();

    let mut handlers = Vec::with_capacity(model.handlers.len());
    let mut ext_hist = LatencyHistogram::new();
    let (mut ext_req, mut ext_err, mut ext_deg) = (0, 0, 0);
    let mut entry_path: Vec<usize> = Vec::new();
    for (i, def) in model.handlers.iter().enumerate() {
        let Node::Handler(h) = &actors[layout.handler(i).index()] else {
            unreachable!("layout")
        };
        let summary = RequestSummary::of(&h.all());
        let slo_breached = breached(&summary, &def.slo);
        let path: Vec<&[(SimTime, bool)]> = def.hard_path.iter().map(|r| logs[*r]).collect();
        handlers.push(HandlerResult {
            summary,
            availability: availability(&path, horizon),
            slo_breached,
            breaker_openings: h.breaker_openings(),
        });
        if h.external.requests > 0 || model.workloads.iter().any(|w| w.handler == i) {
            ext_req += h.external.requests;
            ext_err += h.external.errors;
            ext_deg += h.external.degraded;
            ext_hist.merge(&h.external.latency);
            entry_path.extend(&def.hard_path);
        }
    }
    entry_path.sort_unstable();
    entry_path.dedup();
    let entry_logs: Vec<&[(SimTime, bool)]> = entry_path.iter().map(|r| logs[*r]).collect();

    CampaignResult {
        horizon_s: model.horizon.as_secs_f64(),
        summary: RequestSummary::from_parts(ext_req, ext_err, ext_deg, &ext_hist),
        availability: availability(&entry_logs, horizon),
        slo_breached: handlers.iter().any(|h| h.slo_breached),
        faults,
        faults_seen,
        weight: ln_weight.exp(),
        events,
        hung,
        refused_over_cap,
        handlers,
        misrouted,
        usage: Some(usage),
    }
}

/// Requests the resources of a finished simulation refused because its
/// in-flight cap was reached (they share one budget).
pub(crate) fn refused_over_cap(actors: &[Node<'_>]) -> u64 {
    actors
        .iter()
        .find_map(|a| match a {
            Node::Resource(r) => Some(r.in_flight().refused()),
            _ => None,
        })
        .unwrap_or(0)
}

/// Counts every request still in flight at `now` as failed, with the
/// latency it has accumulated (the drain is over): those in the handlers'
/// tables, and workload requests still queued or served at their resource.
/// Returns how many.
pub(crate) fn fail_in_flight(
    model: &Model,
    layout: Layout,
    actors: &mut [Node<'_>],
    now: SimTime,
) -> u64 {
    let mut hung = 0;
    for (i, r) in model.resources.iter().enumerate() {
        let Some(h) = r.handler else { continue };
        let starts = match &mut actors[layout.resource(i).index()] {
            Node::Resource(a) => a.take_arrivals_in_flight(),
            _ => unreachable!("layout"),
        };
        if let Node::Handler(a) = &mut actors[layout.handler(h).index()] {
            a.fail_arrivals(&starts, now);
        }
        hung += starts.len() as u64;
    }
    for a in actors.iter_mut() {
        if let Node::Handler(h) = a {
            hung += h.fail_in_flight(now);
        }
    }
    hung
}

/// Builds the resources, links and handlers of a campaign, without any
/// fault, with workload arrivals from time zero until `arrivals_end`.
/// `clock_offset` is the day-clock (seconds) at time zero, for diurnal
/// workloads. Actors are added in [`Layout`] order, each on the random
/// stream of its stable name.
pub(crate) fn build<'m>(
    model: &'m Model,
    layout: Layout,
    seed: CampaignSeed,
    arrivals_end: SimTime,
    clock_offset: f64,
) -> Simulation<Node<'m>> {
    let mut sim: Simulation<Node<'m>> = Simulation::new(seed);
    let in_flight = crate::in_flight::InFlight::new(model.in_flight_cap);
    for (i, r) in model.resources.iter().enumerate() {
        // The workloads of the handler running here arrive here.
        let arrivals = match r.handler {
            Some(h) => model
                .workloads
                .iter()
                .filter(|w| w.handler == h)
                .map(|w| {
                    // Keyed by the workload's id, not its position: adding a
                    // workload changes no other workload's arrivals.
                    let key = stream_key(&format!("workload/{}", w.id));
                    Arrivals::new(w, seed.stream(key), arrivals_end).with_clock_offset(clock_offset)
                })
                .collect(),
            None => Vec::new(),
        };
        let id = sim.add_actor(
            Node::Resource(ResourceActor::new(
                model,
                i,
                layout,
                arrivals,
                seed.stream(stream_key(&format!("service/{}", r.id))),
                in_flight.clone(),
            )),
            stream_key(&format!("resource/{}", r.id)),
        );
        sim.with_context(id, |a, ctx| {
            if let Node::Resource(r) = a {
                r.start_workload(ctx)
            }
        });
    }
    for (i, l) in model.links.iter().enumerate() {
        let key = format!(
            "link/{}/{}",
            model.resources[l.from].id, model.resources[l.to].id
        );
        sim.add_actor(
            Node::Link(LinkActor::new(model, i, layout)),
            stream_key(&key),
        );
    }
    for (i, h) in model.handlers.iter().enumerate() {
        sim.add_actor(
            Node::Handler(HandlerActor::new(model, i, layout)),
            stream_key(&format!("handler/{}", h.id)),
        );
    }
    sim
}

/// The stable name of the random stream of natural failure process `i`:
/// its resource, mode, replica, and how many processes of the same
/// resource, mode and replica come before it (0 unless a mode is listed
/// twice). No global position: a variant that adds a replica, or changes
/// another resource, leaves every other process on the same stream, which
/// is what makes variants comparable with common random numbers.
pub(crate) fn fault_stream_name(model: &Model, i: usize) -> String {
    let f = &model.faults[i];
    let replica = match f.scope {
        FaultScope::Replica(k) => k.to_string(),
        FaultScope::Resource => "all".into(),
    };
    let k = model.faults[..i]
        .iter()
        .filter(|g| g.resource == f.resource && g.mode == f.mode && g.scope == f.scope)
        .count();
    format!(
        "fault/{}/{}/{k}/{replica}",
        model.resources[f.resource].id, f.mode
    )
}

/// The stable name of the random stream of injection `k`.
pub(crate) fn injection_stream_name(model: &Model, k: usize) -> String {
    format!("injection/{}", model.injections[k].id)
}

/// Adds a failure actor and lets it schedule its first transition.
pub(crate) fn add_failure<'m>(
    sim: &mut Simulation<Node<'m>>,
    actor: FailureActor<'m>,
    name: &str,
) -> ActorId {
    let id = sim.add_actor(Node::Failure(actor), stream_key(name));
    sim.with_context(id, |a, ctx| {
        if let Node::Failure(f) = a {
            f.start(ctx)
        }
    });
    id
}

/// A copy of `sim` to run on separately ([`Simulation::clone`]): the
/// same state, and so the same future until either is changed. The
/// resources of a simulation share one in-flight budget; the copy's share
/// a copy of it (copying each resource alone would leave the copy's
/// resources holding the original's budget).
pub(crate) fn fork<'m>(sim: &Simulation<Node<'m>>) -> Simulation<Node<'m>> {
    let mut copy = sim.clone();
    let mut budget: Option<(Rc<InFlight>, Rc<InFlight>)> = None;
    for a in copy.actors_mut() {
        if let Node::Resource(r) = a {
            let (from, to) = budget.get_or_insert_with(|| {
                let from = r.in_flight().clone();
                let to = Rc::new(InFlight::clone(&from));
                (from, to)
            });
            debug_assert!(Rc::ptr_eq(r.in_flight(), from), "one budget per simulation");
            r.set_in_flight(to.clone());
        }
    }
    copy
}

/// Whether a handler's figures miss its SLO. A handler without requests
/// cannot miss it.
pub fn breached(s: &RequestSummary, slo: &crate::model::SloDef) -> bool {
    if s.requests == 0 {
        return false;
    }
    let rate_missed = slo
        .success_rate
        .is_some_and(|target| 1.0 - s.error_rate < target);
    let p99_missed = slo
        .latency_p99
        .is_some_and(|limit| s.latency_p99_ms > limit.as_millis_f64());
    rate_missed || p99_missed
}

/// Fraction of `[0, horizon]` during which every log says "serving".
/// Each log starts with its state at time zero and lists its changes in order.
pub fn availability(logs: &[&[(SimTime, bool)]], horizon: SimTime) -> f64 {
    if horizon == SimTime::ZERO {
        return 1.0;
    }
    let mut changes: Vec<(SimTime, bool)> = logs
        .iter()
        .flat_map(|l| l.iter().skip(1).copied())
        .filter(|(t, _)| *t < horizon)
        .collect();
    changes.sort_by_key(|c| c.0);
    let mut down = logs
        .iter()
        .filter(|l| l.first().is_some_and(|(_, s)| !s))
        .count() as i64;
    let mut last = SimTime::ZERO;
    let mut up_time = 0.0;
    for (t, serving) in changes {
        if down == 0 {
            up_time += (t - last).as_secs_f64();
        }
        down += if serving { -1 } else { 1 };
        last = t;
    }
    if down == 0 {
        up_time += (horizon - last).as_secs_f64();
    }
    up_time / (horizon - SimTime::ZERO).as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fork_holds_its_own_in_flight_budget() {
        let m = crate::two_scale::testing::model(crate::two_scale::testing::TWO_CALLEES);
        let layout = Layout::new(&m);
        let mut sim = build(&m, layout, CampaignSeed::derive(1, 0, 0), SimTime::MAX, 0.0);
        sim.run_until(SimTime::from_secs_f64(2.0));
        let budgets = |s: &Simulation<Node<'_>>| -> Vec<Rc<InFlight>> {
            s.actors()
                .iter()
                .filter_map(|a| match a {
                    Node::Resource(r) => Some(r.in_flight().clone()),
                    _ => None,
                })
                .collect()
        };
        let copy = fork(&sim);
        let (a, b) = (budgets(&sim), budgets(&copy));
        assert_eq!(a.len(), 3);
        // One budget per simulation, shared by its resources; the copy's
        // starts where the original's stood.
        assert!(a.iter().all(|x| Rc::ptr_eq(x, &a[0])));
        assert!(b.iter().all(|x| Rc::ptr_eq(x, &b[0])));
        assert!(!Rc::ptr_eq(&a[0], &b[0]));
        assert_eq!(format!("{:?}", a[0]), format!("{:?}", b[0]));
    }

    #[test]
    fn availability_of_overlapping_outages() {
        let s = |x: f64| SimTime::from_secs_f64(x);
        let a: &[(SimTime, bool)] = &[(s(0.0), true), (s(10.0), false), (s(20.0), true)];
        let b: &[(SimTime, bool)] = &[
            (s(0.0), false),
            (s(5.0), true),
            (s(15.0), false),
            (s(30.0), true),
        ];
        // Down: [0,5) from b, [10,20) from a, [15,30) from b → up [5,10) and [30,100).
        let got = availability(&[a, b], s(100.0));
        assert!((got - 0.75).abs() < 1e-12, "{got}");
        assert_eq!(availability(&[], s(100.0)), 1.0);
    }

    #[test]
    fn a_message_an_actor_does_not_handle_is_counted_in_the_campaign_result() {
        use crate::msg::Msg;
        use crate::two_scale::testing::{TWO_CALLEES, model};
        use sim_core::{ActorId, SimDuration};
        let mut m = model(TWO_CALLEES);
        m.horizon = SimDuration::from_secs(60);
        let seed = CampaignSeed::derive(5, 0, 0);
        let clean = run_campaign(&m, seed, CampaignMode::Natural);
        assert_eq!(clean.misrouted, 0, "a well-routed campaign counts none");

        // The same campaign with one wrong message to each kind of actor.
        let (layout, mut sim) = start(&m, seed, CampaignMode::Natural);
        let failure = ActorId((sim.actors().len() - 1) as u32);
        assert!(matches!(sim.actor(failure), Node::Failure(_)));
        let at = SimTime::ZERO + SimDuration::from_secs(10);
        sim.schedule(at, layout.resource(0), Msg::RepairNow);
        sim.schedule(at, layout.link(0), Msg::FailNow);
        sim.schedule(at, layout.handler(0), Msg::FailNow);
        let failover = Msg::Failover {
            replica: 0,
            on: true,
        };
        sim.schedule(at, failure, failover);
        let r = finish(&m, layout, sim, true);
        assert_eq!(r.misrouted, 4);
        // Dropped, and counted: nothing else changed.
        assert_eq!(r.events, clean.events + 4);
        assert_eq!(r.handlers, clean.handlers);
        assert_eq!(r.summary, clean.summary);
    }
}
