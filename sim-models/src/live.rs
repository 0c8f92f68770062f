//! Live-style injection inside the simulation: scheduled injections, a
//! monitor that sees breaches late, and rollback.
//!
//! A live chaos experiment injects a fault into a running system while
//! monitoring watches the workload's error rate and p99 latency; when the
//! abort condition holds long enough, the experiment is rolled back. This
//! module runs the same loop inside a campaign, so its outcome (how long a
//! breach lasts, how often an experiment must be stopped) is predicted
//! before anyone runs the real thing.
//!
//! # The loop
//!
//! Injections come one at a time, from a [`Schedule`]: Poisson starts (mean
//! gap `injection_frequency`, each gap counted from the nominal end of the
//! previous injection, so the schedule does not depend on what the
//! injections do) or fixed times. While an injection is on, and until the
//! workload has recovered after it, the campaign advances in monitoring
//! ticks (`tick`, 1 s by default). At the end of each tick the monitored
//! handlers' requests *finished* during the tick are checked against their
//! [`AbortRule`]: the tick is *breaching* when some handler's error rate or
//! p99 is at or above its limit.
//!
//! A breach starts at the start of its first breaching tick (time `B`).
//! Monitoring sees a tick `detection_delay` after it ends. When every tick
//! in `[B, B + for)` breached, the monitor knows it at
//! `R = B + for + detection_delay` and rolls back then, unless the
//! injection ended by itself before `R`:
//!
//! - `abort`: the injection stops at `R`.
//! - `automatic_failover`: the router takes the injected replica out of
//!   rotation at `R` (back in when the injection ends). An injection that
//!   strikes every replica leaves nowhere to fail over to: it is stopped, as
//!   with `abort`, and the event says so.
//! - `graceful_degradation`: from `R` to the end of the injection, callers
//!   skip the calls to the injected resource that they can do without (soft
//!   dependencies and fallbacks) instead of waiting for them to fail. Hard
//!   dependencies are untouched, so this may not end the breach.
//!
//! The breach ends at the start of the first tick after `B` that does not
//! breach (event `recover`). Event times are simulation truth; the detail
//! says when monitoring saw what.
//!
//! Ticking stops once the injection is off and a tick no longer breaches,
//! or [`RECOVERY_LIMIT`] after the injection's end, or at the horizon.
//! Between injections the campaign runs without ticks, at full speed.

use rand::RngExt;
use rand_distr::{Distribution, Exp1};
use sim_core::{CampaignSeed, SimDuration, SimTime, stream_key};

use crate::actors::{Layout, Node, RequestStats};
use crate::campaign::{CampaignMode, CampaignResult, RequestSummary, finish, start};
use crate::model::{EffectIx, HandlerIx, Model, ResourceIx};
use crate::msg::{ALL_REPLICAS, Msg};
pub use crate::spec::RollbackPolicy;

/// How long after an injection ends monitoring keeps ticking while the
/// workload has not recovered.
pub const RECOVERY_LIMIT: SimDuration = SimDuration(600 * 1_000_000_000);

/// One fault a live experiment can inject.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveFault {
    /// Scenario id (events and rows name it).
    pub id: String,
    /// The resource it strikes.
    pub resource: ResourceIx,
    /// What it does while active.
    pub effect: EffectIx,
    /// One replica, or [`ALL_REPLICAS`].
    pub replica: u16,
    /// How long it lasts unless rolled back.
    pub duration: SimDuration,
}

impl LiveFault {
    /// What the injections of one family share ([`WarmedUp::run_live_family`]):
    /// the resource, the effect and the replica; they differ in duration.
    pub fn family(&self) -> (ResourceIx, EffectIx, u16) {
        (self.resource, self.effect, self.replica)
    }
}

/// When a monitored handler's tick counts as breaching.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AbortRule {
    /// Error rate at or above which the tick breaches.
    pub error_rate: Option<f64>,
    /// p99 latency at or above which the tick breaches.
    pub latency_p99: Option<SimDuration>,
}

impl AbortRule {
    fn breached(&self, s: &RequestStats) -> bool {
        if s.requests == 0 {
            return false;
        }
        let rate = s.errors as f64 / s.requests as f64;
        self.error_rate.is_some_and(|r| rate >= r)
            || self
                .latency_p99
                .is_some_and(|l| s.latency.quantile(0.99) >= l)
    }
}

/// What monitoring watches and what it does about a breach.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitoring {
    /// Monitoring resolution.
    pub tick: SimDuration,
    /// How late monitoring sees a tick.
    pub detection_delay: SimDuration,
    /// How long a breach must last before the rollback (`for:`).
    pub hold: SimDuration,
    /// The handlers watched, each with its limits.
    pub rules: Vec<(HandlerIx, AbortRule)>,
    /// What a rollback does; `None`: watch only, never roll back.
    pub policy: Option<RollbackPolicy>,
}

impl Monitoring {
    /// The step of a watch: the resolution, at least a millisecond.
    fn watch_tick(&self) -> SimDuration {
        SimDuration(self.tick.0.max(1_000_000))
    }
}

/// When injections start.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Poisson starts with mean gap `mean_gap` (counted from the nominal end
    /// of the previous injection), each drawing one of `eligible` (indices
    /// into the plan's faults) uniformly.
    Poisson {
        /// Mean time between injections.
        mean_gap: SimDuration,
        /// Faults that may be injected.
        eligible: Vec<usize>,
    },
    /// Fault `k` at time `t`, in order of time; an injection that would
    /// start while the previous one is still being watched is skipped.
    Fixed(Vec<(usize, SimDuration)>),
}

/// A live-injection plan for a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct LivePlan {
    /// The faults the schedule refers to.
    pub faults: Vec<LiveFault>,
    /// When injections start.
    pub schedule: Schedule,
    /// The monitor.
    pub monitoring: Monitoring,
    /// Keep every tick in the result (for impact measurement).
    pub keep_ticks: bool,
}

/// Kinds of injection-log events (in the order simultaneous events are logged).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum EventKind {
    /// An injection started.
    Inject,
    /// The watched handlers started breaching their limits.
    Breach,
    /// Monitoring rolled the injection back.
    Rollback,
    /// The injection ended (its own duration, or stopped by a rollback).
    End,
    /// The breach ended.
    Recover,
}

impl EventKind {
    /// The name written in `events.parquet`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Inject => "inject",
            EventKind::Breach => "breach",
            EventKind::Rollback => "rollback",
            EventKind::End => "end",
            EventKind::Recover => "recover",
        }
    }
}

/// One entry of the injection log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LiveEvent {
    /// When it happened (simulation truth).
    pub time: SimTime,
    /// What happened.
    pub kind: EventKind,
    /// Which fault (index into the plan's faults).
    pub fault: usize,
    /// Words for people: values, thresholds, when monitoring saw it.
    pub detail: String,
    /// The same values, typed, for a notebook (`events.parquet`).
    pub figures: EventFigures,
}

/// The values of one log entry, each where its kind has it (`None`
/// elsewhere).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EventFigures {
    /// `inject`: the replica injected (`None` for all replicas).
    pub replica: Option<u32>,
    /// `inject`: the injection's planned duration, seconds.
    pub duration_s: Option<f64>,
    /// `breach`: the error rate over the tick that breached.
    pub error_rate: Option<f64>,
    /// `breach`: the p99 latency over that tick, ms.
    pub latency_p99_ms: Option<f64>,
    /// `breach`: when monitoring sees it (the tick's end plus the
    /// detection delay), seconds.
    pub detected_at_s: Option<f64>,
    /// `recover`: how long the breach lasted, seconds; `rollback`: when
    /// the breach it answers began, seconds.
    pub breach_s: Option<f64>,
    /// `rollback`: how long a breach must hold before the rollback, seconds.
    pub hold_s: Option<f64>,
    /// `rollback`: the monitoring's detection delay, seconds.
    pub detection_delay_s: Option<f64>,
}

/// One monitoring tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tick {
    /// End of the tick (it covers `[end - tick, end)`).
    pub end: SimTime,
    /// Requests of the watched handlers finished in the tick.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// Their p99 latency, ms (NaN without requests).
    pub p99_ms: f64,
    /// Whether some watched handler breached its rule.
    pub breaching: bool,
    /// Whether the injection was on during the tick.
    pub injected: bool,
}

/// How one injection went.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Which fault.
    pub fault: usize,
    /// When it started.
    pub on: SimTime,
    /// When it actually ended (earlier than nominal when rolled back).
    pub off: SimTime,
    /// When a rollback happened.
    pub rollback: Option<SimTime>,
    /// The first breach it caused: start and end (`None` end: not recovered
    /// while watched).
    pub breach: Option<(SimTime, Option<SimTime>)>,
    /// Requests of the watched handlers finished while it was on.
    pub during: RequestSummary,
    /// Requests of the watched handlers finished between the end of the
    /// previous watch (or time zero) and this injection: the background.
    pub before: RequestSummary,
    /// How long that background span was.
    pub before_span: SimDuration,
    /// Time from its end to the end of the breach (zero when the breach
    /// ended before it, or there was none; `None`: not recovered while watched).
    pub recovery: Option<SimDuration>,
}

/// A campaign with live injection.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveResult {
    /// The campaign's figures, as for any campaign (injections count in `faults`).
    pub result: CampaignResult,
    /// The injection log.
    pub events: Vec<LiveEvent>,
    /// Each injection.
    pub outcomes: Vec<Outcome>,
    /// Every tick, when asked for.
    pub ticks: Vec<Tick>,
    /// Rollbacks.
    pub rollbacks: u32,
}

/// The healthy steady state as monitoring sees it: a campaign of `model`
/// with no fault at all, watched from `from` to `until` in ticks of
/// `mon.tick`; per tick, the requests of the rules' handlers that finished
/// in it, their errors and their p99 (`injected` and `breaching` as the
/// rules say). What a live experiment should see before its fault and
/// after its recovery, with the noise of one tick.
pub fn healthy_ticks(
    model: &Model,
    seed: CampaignSeed,
    mon: &Monitoring,
    from: SimDuration,
    until: SimDuration,
) -> (Vec<Tick>, u64) {
    let (layout, mut sim) = start(model, seed, CampaignMode::Healthy);
    count_windows(&mut sim, layout, mon, true);
    healthy_ticks_of(layout, sim, mon, from, until)
}

/// A healthy campaign's first stretch, shared by live runs that differ
/// only in their horizon and in what they inject after it ([`warm_up`]):
/// the same simulation a run would reach by then on its own.
pub struct WarmedUp<'m> {
    layout: Layout,
    sim: sim_core::Simulation<Node<'m>>,
    seed: CampaignSeed,
}

/// A campaign of `model` with no fault (`Healthy`), the windows of `mon`
/// counted, run to `until`: what [`healthy_ticks`] and [`run_live`] (with
/// `Healthy` mode and the same monitoring) do up to then, whatever the
/// horizon of the model they are given (which only stops the arrivals).
/// Continue it with [`WarmedUp::healthy_ticks`] and [`WarmedUp::run_live`].
pub fn warm_up<'m>(
    model: &'m Model,
    seed: CampaignSeed,
    mon: &Monitoring,
    until: SimDuration,
) -> WarmedUp<'m> {
    let (layout, mut sim) = start(model, seed, CampaignMode::Healthy);
    count_windows(&mut sim, layout, mon, true);
    sim.run_until(SimTime::ZERO + until);
    WarmedUp { layout, sim, seed }
}

impl<'m> WarmedUp<'m> {
    /// A copy of the simulation whose arrivals stop at `horizon` (a run of
    /// a model of that horizon), as if it had been built with it.
    fn copy(&self, horizon: SimDuration) -> sim_core::Simulation<Node<'m>> {
        self.copy_of(&self.sim, horizon)
    }

    /// [`healthy_ticks`] of a model like the one warmed up, of horizon
    /// `model.horizon`, on the same seed and monitoring; `from` is not
    /// before the warm-up's end. The same ticks, tick for tick.
    pub fn healthy_ticks(
        &self,
        model: &Model,
        mon: &Monitoring,
        from: SimDuration,
        until: SimDuration,
    ) -> (Vec<Tick>, u64) {
        debug_assert!(SimTime::ZERO + from >= self.sim.now());
        healthy_ticks_of(self.layout, self.copy(model.horizon), mon, from, until)
    }

    /// [`run_live`] in `Healthy` mode of a model like the one warmed up,
    /// of horizon `model.horizon`, on the same seed, with `plan` (its
    /// monitoring the warm-up's, its first injection not before the
    /// warm-up's end). The same run, event for event.
    pub fn run_live(&self, model: &Model, plan: &LivePlan) -> LiveResult {
        let sim = self.copy(model.horizon);
        live_rest(
            model,
            self.seed,
            CampaignMode::Healthy,
            self.layout,
            sim,
            plan,
        )
    }

    /// [`WarmedUp::run_live`] of each of `runs` (in that order), where the
    /// runs are a family: each plan injects one fault at the warm-up's
    /// end, the same resource, effect and replica in all, with no rollback
    /// policy, and they differ only in the fault's duration (and name) and
    /// their model's horizon. Such runs are one simulation until a fault
    /// ends: the longest is simulated, and each shorter one is a copy of it
    /// (simulation and watch) taken at the start of the tick in which its
    /// own fault ends. The same runs, event for event, as each alone (runs
    /// that are not such a family are run alone).
    pub fn run_live_family(&self, runs: &[(&Model, &LivePlan)]) -> Vec<LiveResult> {
        let at = self.sim.now();
        let key = |p: &LivePlan| p.faults[0].family();
        let family = runs.iter().all(|(m, p)| {
            p.faults.len() == 1
                && p.monitoring.policy.is_none()
                && p.monitoring.tick == runs[0].1.monitoring.tick
                && matches!(&p.schedule, Schedule::Fixed(l)
                    if l.len() == 1 && l[0].0 == 0 && SimTime::ZERO + l[0].1 == at)
                && key(p) == key(runs[0].1)
                && SimTime::ZERO + m.horizon > at
        });
        if runs.is_empty() || !family {
            return runs.iter().map(|(m, p)| self.run_live(m, p)).collect();
        }
        let duration = |i: usize| runs[i].1.faults[0].duration;
        let mut order: Vec<usize> = (0..runs.len()).collect();
        order.sort_by_key(|&i| (duration(i), i));
        let longest = order.pop().expect("at least one run");
        let (ml, pl) = runs[longest];
        let horizon = |m: &Model| SimTime::ZERO + m.horizon;
        let tick = pl.monitoring.watch_tick();
        let layout = self.layout;
        let mut sim = self.copy(ml.horizon);
        let mut events = Vec::new();
        let mut w = Watch::start(&mut sim, ml, layout, pl, 0, &mut events);
        let mut out: Vec<Option<LiveResult>> = vec![None; runs.len()];
        let mut pending = order.into_iter().peekable();
        loop {
            // Every shorter run whose next tick is not the longest's.
            while let Some(&i) = pending.peek() {
                let (m, p) = runs[i];
                let off = w.on + p.faults[0].duration;
                let end = w.tick_end(tick, horizon(m));
                if off >= end && end == w.tick_end(tick, horizon(ml)) {
                    break;
                }
                pending.next();
                let mut copy = self.copy_of(&sim, m.horizon);
                let mut watch = w.clone();
                watch.nominal_off = off;
                let mut ev = events.clone();
                ev[0] = inject_event(m, p, 0, w.on);
                while !watch.step(&mut copy, m, layout, p, tick, horizon(m), &mut ev) {}
                let watched = watch.finish(&mut copy, m, layout, p, &mut ev);
                out[i] = Some(single_result(m, layout, copy, p, ev, watched));
            }
            if w.step(&mut sim, ml, layout, pl, tick, horizon(ml), &mut events) {
                break;
            }
        }
        let watched = w.finish(&mut sim, ml, layout, pl, &mut events);
        out[longest] = Some(single_result(ml, layout, sim, pl, events, watched));
        // A shorter run still pending (its fault outlasting the longest's
        // watch: not a family after all) runs alone.
        out.into_iter()
            .zip(runs)
            .map(|(r, (m, p))| r.unwrap_or_else(|| self.run_live(m, p)))
            .collect()
    }

    /// A copy of `sim` (this warm-up or one run on from it) whose arrivals
    /// stop at `horizon`, as if it had been built with it.
    fn copy_of(
        &self,
        sim: &sim_core::Simulation<Node<'m>>,
        horizon: SimDuration,
    ) -> sim_core::Simulation<Node<'m>> {
        let mut copy = crate::campaign::fork(sim);
        for a in copy.actors_mut() {
            if let Node::Resource(r) = a {
                r.set_arrivals_end(SimTime::ZERO + horizon);
            }
        }
        copy
    }
}

/// The result of a `Healthy` run of one injection (nothing watched before
/// it), as [`live_rest`] gives it.
fn single_result(
    model: &Model,
    layout: Layout,
    sim: sim_core::Simulation<Node<'_>>,
    plan: &LivePlan,
    events: Vec<LiveEvent>,
    watched: Watched,
) -> LiveResult {
    let mut outcome = watched.outcome;
    outcome.before_span = outcome.on.saturating_since(SimTime::ZERO);
    let mode = CampaignMode::Healthy;
    close_live(
        model,
        mode,
        layout,
        sim,
        plan,
        events,
        vec![outcome],
        watched.ticks,
    )
}

fn healthy_ticks_of(
    layout: Layout,
    mut sim: sim_core::Simulation<Node<'_>>,
    mon: &Monitoring,
    from: SimDuration,
    until: SimDuration,
) -> (Vec<Tick>, u64) {
    let tick = mon.watch_tick();
    let mut t = SimTime::ZERO + from;
    let stop = SimTime::ZERO + until;
    sim.run_until(t);
    take_windows(&mut sim, layout, mon);
    let mut ticks = Vec::new();
    while t < stop {
        let end = (t + tick).min(stop);
        sim.run_until(end);
        ticks.push(read_tick(&mut sim, layout, mon, end, false).0);
        t = end;
    }
    (ticks, sim.unhandled())
}

/// Runs one campaign of `model` (`Natural` or `Healthy`; a targeted
/// campaign's injection runs as well) with the live injections of `plan`.
pub fn run_live(
    model: &Model,
    seed: CampaignSeed,
    mode: CampaignMode,
    plan: &LivePlan,
) -> LiveResult {
    let (layout, mut sim) = start(model, seed, mode);
    count_windows(&mut sim, layout, &plan.monitoring, true);
    live_rest(model, seed, mode, layout, sim, plan)
}

/// [`run_live`] from a started simulation, its windows counted.
fn live_rest(
    model: &Model,
    seed: CampaignSeed,
    mode: CampaignMode,
    layout: Layout,
    mut sim: sim_core::Simulation<Node<'_>>,
    plan: &LivePlan,
) -> LiveResult {
    let horizon = SimTime::ZERO + model.horizon;
    let mon = &plan.monitoring;
    let tick = mon.watch_tick();
    let mut rng = seed.stream(stream_key("live/schedule"));
    let mut fixed = 0usize;
    let mut nominal_end = SimTime::ZERO;
    let mut watched_until = SimTime::ZERO;
    let mut events = Vec::new();
    let mut outcomes = Vec::new();
    let mut ticks = Vec::new();
    loop {
        // The next injection.
        let next = match &plan.schedule {
            Schedule::Poisson { mean_gap, eligible } => {
                if eligible.is_empty() || mean_gap.0 == 0 {
                    None
                } else {
                    let e: f64 = Exp1.sample(&mut rng);
                    let gap = SimDuration::from_secs_f64(e * mean_gap.as_secs_f64());
                    let k = eligible[rng.random_range(0..eligible.len())];
                    Some((k, nominal_end + gap))
                }
            }
            Schedule::Fixed(list) => loop {
                let Some(&(k, at)) = list.get(fixed) else {
                    break None;
                };
                fixed += 1;
                let at = SimTime::ZERO + at;
                if at >= watched_until {
                    break Some((k, at));
                }
            },
        };
        let Some((k, on)) = next else { break };
        let on = on.max(watched_until);
        let f = &plan.faults[k];
        nominal_end = on + f.duration;
        if on >= horizon {
            break;
        }
        sim.run_until(on);
        let since = watched_until.min(on);
        let mut out = watch(&mut sim, model, layout, plan, k, tick, horizon, &mut events);
        out.outcome.before_span = on.saturating_since(since);
        watched_until = out.watched_until;
        outcomes.push(out.outcome);
        ticks.extend(out.ticks);
    }
    close_live(model, mode, layout, sim, plan, events, outcomes, ticks)
}

/// The end of a live run once its injections are watched: the windows no
/// longer counted (the rest of the campaign runs at full speed), the
/// campaign run to its horizon and drained.
#[allow(clippy::too_many_arguments)]
fn close_live(
    model: &Model,
    mode: CampaignMode,
    layout: Layout,
    mut sim: sim_core::Simulation<Node<'_>>,
    plan: &LivePlan,
    events: Vec<LiveEvent>,
    outcomes: Vec<Outcome>,
    ticks: Vec<Tick>,
) -> LiveResult {
    count_windows(&mut sim, layout, &plan.monitoring, false);
    let mut result = finish(model, layout, sim, matches!(mode, CampaignMode::Natural));
    result.faults += outcomes.len() as u32;
    LiveResult {
        result,
        events,
        rollbacks: outcomes.iter().filter(|o| o.rollback.is_some()).count() as u32,
        outcomes,
        ticks: if plan.keep_ticks { ticks } else { Vec::new() },
    }
}

struct Watched {
    outcome: Outcome,
    ticks: Vec<Tick>,
    watched_until: SimTime,
}

/// What a rollback does to the running campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// The fault is switched off.
    Stop,
    /// The replica is out of rotation until the fault ends.
    Failover,
    /// Tolerated calls to the resource are skipped until the fault ends.
    Degrade,
}

/// Injects fault `k` now and watches it until the workload recovers.
#[allow(clippy::too_many_arguments)]
fn watch(
    sim: &mut sim_core::Simulation<Node<'_>>,
    model: &Model,
    layout: Layout,
    plan: &LivePlan,
    k: usize,
    tick: SimDuration,
    horizon: SimTime,
    events: &mut Vec<LiveEvent>,
) -> Watched {
    let mut w = Watch::start(sim, model, layout, plan, k, events);
    while !w.step(sim, model, layout, plan, tick, horizon, events) {}
    w.finish(sim, model, layout, plan, events)
}

/// The event of injecting fault `k` of `plan` at `on`.
fn inject_event(model: &Model, plan: &LivePlan, k: usize, on: SimTime) -> LiveEvent {
    let f = &plan.faults[k];
    let rid = &model.resources[f.resource].id;
    LiveEvent {
        time: on,
        kind: EventKind::Inject,
        fault: k,
        detail: format!(
            "{} on {}{} for {:.1} s",
            f.id,
            rid,
            if f.replica == ALL_REPLICAS {
                " (all replicas)".to_string()
            } else {
                format!(" (replica {})", f.replica)
            },
            f.duration.as_secs_f64()
        ),
        figures: EventFigures {
            replica: (f.replica != ALL_REPLICAS).then_some(u32::from(f.replica)),
            duration_s: Some(f.duration.as_secs_f64()),
            ..EventFigures::default()
        },
    }
}

fn fault_msg(f: &LiveFault, on: bool) -> Msg {
    Msg::Fault {
        effect: f.effect as u32,
        replica: f.replica,
        on,
    }
}

/// One injection being watched, tick by tick ([`watch`]): everything it
/// has seen so far, so that a copy of it (with a copy of the simulation)
/// can go on as the watch of a fault with another end.
#[derive(Clone)]
struct Watch {
    k: usize,
    on: SimTime,
    nominal_off: SimTime,
    /// When the fault was switched off.
    off: Option<SimTime>,
    /// A rollback decided, not yet due.
    planned: Option<(SimTime, Action)>,
    /// The rollback done.
    applied: Option<(SimTime, Action)>,
    breach_start: Option<SimTime>,
    first_breach: Option<(SimTime, Option<SimTime>)>,
    /// What the windows counted before the injection: the background.
    before: RequestStats,
    during: RequestStats,
    ticks: Vec<Tick>,
    /// The start of the next tick.
    t: SimTime,
}

impl Watch {
    /// Injects fault `k` of `plan` now.
    fn start(
        sim: &mut sim_core::Simulation<Node<'_>>,
        model: &Model,
        layout: Layout,
        plan: &LivePlan,
        k: usize,
        events: &mut Vec<LiveEvent>,
    ) -> Watch {
        let mon = &plan.monitoring;
        let f = &plan.faults[k];
        let on = sim.now();
        sim.schedule(on, layout.resource(f.resource), fault_msg(f, true));
        events.push(inject_event(model, plan, k, on));
        let mut before = RequestStats::default();
        for w in take_windows(sim, layout, mon) {
            before.merge(&w);
        }
        Watch {
            k,
            on,
            nominal_off: on + f.duration,
            off: None,
            planned: None,
            applied: None,
            breach_start: None,
            first_breach: None,
            before,
            during: RequestStats::default(),
            ticks: Vec::new(),
            t: on,
        }
    }

    /// The end of the next tick.
    fn tick_end(&self, tick: SimDuration, horizon: SimTime) -> SimTime {
        (self.t + tick).min(horizon)
    }

    /// Watches one more tick; whether the watch is over.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        sim: &mut sim_core::Simulation<Node<'_>>,
        model: &Model,
        layout: Layout,
        plan: &LivePlan,
        tick: SimDuration,
        horizon: SimTime,
        events: &mut Vec<LiveEvent>,
    ) -> bool {
        let mon = &plan.monitoring;
        let k = self.k;
        let f = &plan.faults[k];
        let target = layout.resource(f.resource);
        let rid = &model.resources[f.resource].id;
        let nominal_off = self.nominal_off;
        let t = self.t;
        let end = self.tick_end(tick, horizon);
        // A rollback and the fault's own end that fall in this tick, at their times.
        if let Some((at, a)) = self.planned
            && at < end
        {
            self.planned = None;
            self.applied = Some((at, a));
            apply(sim, model, layout, f, a, true, at, &mut self.off);
        }
        if self.off.is_none() && nominal_off < end {
            sim.schedule(nominal_off, target, fault_msg(f, false));
            self.off = Some(nominal_off);
            if let Some((_, a)) = self.applied
                && a != Action::Stop
            {
                apply(sim, model, layout, f, a, false, nominal_off, &mut None);
            }
        }
        let injected = t < self.off.unwrap_or(SimTime::MAX);
        sim.run_until(end);
        let (tick_row, all) = read_tick(sim, layout, mon, end, injected);
        let breaching = tick_row.breaching;
        if injected {
            self.during.merge(&all);
        }
        self.ticks.push(tick_row);
        match (breaching, self.breach_start) {
            (true, None) => {
                self.breach_start = Some(t);
                if self.first_breach.is_none() {
                    self.first_breach = Some((t, None));
                }
                events.push(LiveEvent {
                    time: t,
                    kind: EventKind::Breach,
                    fault: k,
                    detail: format!(
                        "error rate {:.3}, p99 {:.1} ms over the tick; monitoring sees it at {:.1} s",
                        ratio(all.errors, all.requests),
                        all.latency.quantile(0.99).as_millis_f64(),
                        (end + mon.detection_delay).as_secs_f64()
                    ),
                    figures: EventFigures {
                        error_rate: Some(ratio(all.errors, all.requests)),
                        latency_p99_ms: Some(all.latency.quantile(0.99).as_millis_f64()),
                        detected_at_s: Some((end + mon.detection_delay).as_secs_f64()),
                        ..EventFigures::default()
                    },
                });
            }
            (false, Some(b)) => {
                self.breach_start = None;
                if let Some((s, e @ None)) = &mut self.first_breach
                    && *s == b
                {
                    *e = Some(t);
                }
                events.push(LiveEvent {
                    time: t,
                    kind: EventKind::Recover,
                    fault: k,
                    detail: format!("breach lasted {:.1} s", (t - b).as_secs_f64()),
                    figures: EventFigures {
                        breach_s: Some((t - b).as_secs_f64()),
                        ..EventFigures::default()
                    },
                });
            }
            _ => {}
        }
        // The rollback decision: the breach has lasted `hold`, as monitoring
        // will see `detection_delay` after this tick.
        if let (Some(b), Some(policy)) = (self.breach_start, mon.policy)
            && self.applied.is_none()
            && self.planned.is_none()
            && end.saturating_since(b) >= mon.hold
        {
            let at = (b + mon.hold).max(end) + mon.detection_delay;
            if at < nominal_off && at < horizon {
                let (a, why) = match policy {
                    RollbackPolicy::Abort => (Action::Stop, "abort: injection stopped".to_string()),
                    RollbackPolicy::AutomaticFailover => {
                        if can_fail_over(model, f) {
                            (
                                Action::Failover,
                                format!(
                                    "automatic failover: replica {} out of rotation",
                                    f.replica
                                ),
                            )
                        } else {
                            (
                                Action::Stop,
                                "automatic failover: no healthy replica to fail over to; injection stopped".to_string(),
                            )
                        }
                    }
                    RollbackPolicy::GracefulDegradation => {
                        let n = soft_callers(model, f.resource);
                        (
                            Action::Degrade,
                            if n == 0 {
                                format!(
                                    "graceful degradation: nothing calls {rid} as a soft dependency; nothing to skip"
                                )
                            } else {
                                format!(
                                    "graceful degradation: {n} tolerated call step(s) to {rid} skipped"
                                )
                            },
                        )
                    }
                };
                self.planned = Some((at, a));
                rollbacks_push(events, at, k, why, b, mon);
            }
        }
        self.t = end;
        let done = self.off.is_some_and(|o| end >= o) && self.breach_start.is_none();
        let gave_up = end >= nominal_off.min(self.off.unwrap_or(SimTime::MAX)) + RECOVERY_LIMIT;
        done || gave_up || end >= horizon
    }

    /// Ends the watch: an injection still on (the horizon) is switched off
    /// now, so the drain runs without it; a rollback planned after the
    /// watch is moot.
    fn finish(
        self,
        sim: &mut sim_core::Simulation<Node<'_>>,
        model: &Model,
        layout: Layout,
        plan: &LivePlan,
        events: &mut Vec<LiveEvent>,
    ) -> Watched {
        let (k, t) = (self.k, self.t);
        let f = &plan.faults[k];
        let applied = self.applied;
        let actual_off = match self.off {
            Some(o) => o,
            None => {
                sim.schedule(t, layout.resource(f.resource), fault_msg(f, false));
                if let Some((_, a)) = applied
                    && a != Action::Stop
                {
                    apply(sim, model, layout, f, a, false, t, &mut None);
                }
                t
            }
        };
        let rollback_at = applied.map(|(at, _)| at);
        events.push(LiveEvent {
            time: actual_off,
            kind: EventKind::End,
            fault: k,
            detail: if applied.is_some_and(|(_, a)| a == Action::Stop) {
                "stopped by the rollback".to_string()
            } else {
                "ended after its duration".to_string()
            },
            figures: EventFigures::default(),
        });
        events.sort_by_key(|e| (e.time, e.kind));
        let recovery = match self.first_breach {
            None => Some(SimDuration::ZERO),
            Some((_, None)) => None,
            Some((_, Some(e))) => Some(e.saturating_since(actual_off)),
        };
        Watched {
            outcome: Outcome {
                fault: k,
                on: self.on,
                off: actual_off,
                rollback: rollback_at,
                breach: self.first_breach,
                during: RequestSummary::from_parts(
                    self.during.requests,
                    self.during.errors,
                    self.during.degraded,
                    &self.during.latency,
                ),
                before: RequestSummary::from_parts(
                    self.before.requests,
                    self.before.errors,
                    self.before.degraded,
                    &self.before.latency,
                ),
                before_span: SimDuration::ZERO,
                recovery,
            },
            ticks: self.ticks,
            watched_until: t.max(self.nominal_off),
        }
    }
}

fn rollbacks_push(
    events: &mut Vec<LiveEvent>,
    at: SimTime,
    k: usize,
    why: String,
    breach: SimTime,
    mon: &Monitoring,
) {
    events.push(LiveEvent {
        time: at,
        kind: EventKind::Rollback,
        fault: k,
        detail: format!(
            "{why}; breach since {:.1} s held {:.1} s, seen {:.1} s late",
            breach.as_secs_f64(),
            mon.hold.as_secs_f64(),
            mon.detection_delay.as_secs_f64()
        ),
        figures: EventFigures {
            breach_s: Some(breach.as_secs_f64()),
            hold_s: Some(mon.hold.as_secs_f64()),
            detection_delay_s: Some(mon.detection_delay.as_secs_f64()),
            ..EventFigures::default()
        },
    });
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

/// Whether a failover has somewhere to send traffic: the fault strikes one
/// replica of several.
fn can_fail_over(model: &Model, f: &LiveFault) -> bool {
    f.replica != ALL_REPLICAS && model.resources[f.resource].replicas > 1
}

/// How many call steps tolerate the failure of `resource` (soft
/// dependencies and fallbacks, a fallback call included), over every handler.
pub fn soft_callers(model: &Model, resource: ResourceIx) -> usize {
    model
        .handlers
        .iter()
        .flat_map(|h| &h.ops)
        .flat_map(|o| &o.steps)
        .filter(|s| match s {
            crate::model::StepDef::Call(c) => !c.hard() && model.links[c.link].to == resource,
            crate::model::StepDef::Poll(_) => false,
        })
        .count()
}

/// Applies (or, with `on` false, undoes) a rollback action at `at`.
#[allow(clippy::too_many_arguments)]
fn apply(
    sim: &mut sim_core::Simulation<Node<'_>>,
    model: &Model,
    layout: Layout,
    f: &LiveFault,
    a: Action,
    on: bool,
    at: SimTime,
    off: &mut Option<SimTime>,
) {
    let target = layout.resource(f.resource);
    match a {
        Action::Stop => {
            if on && off.is_none() {
                sim.schedule(
                    at,
                    target,
                    Msg::Fault {
                        effect: f.effect as u32,
                        replica: f.replica,
                        on: false,
                    },
                );
                *off = Some(at);
            }
        }
        Action::Failover => sim.schedule(
            at,
            target,
            Msg::Failover {
                replica: f.replica,
                on,
            },
        ),
        Action::Degrade => {
            for h in 0..model.handlers.len() {
                sim.schedule(
                    at,
                    layout.handler(h),
                    Msg::Degrade {
                        resource: f.resource as u32,
                        on,
                    },
                );
            }
        }
    }
}

/// The monitored handlers' windows since the last call, in rule order; resets them.
/// Switches the counting of the watched handlers' finished requests
/// (their `window`) on or off.
fn count_windows(
    sim: &mut sim_core::Simulation<Node<'_>>,
    layout: Layout,
    mon: &Monitoring,
    on: bool,
) {
    for (h, _) in &mon.rules {
        if let Node::Handler(a) = sim.actor_mut(layout.handler(*h)) {
            a.window = on.then(Box::default);
        }
    }
}

/// The tick ending at `end`: takes the watched handlers' windows, and
/// returns the tick with the requests of all of them merged.
fn read_tick(
    sim: &mut sim_core::Simulation<Node<'_>>,
    layout: Layout,
    mon: &Monitoring,
    end: SimTime,
    injected: bool,
) -> (Tick, RequestStats) {
    let windows = take_windows(sim, layout, mon);
    let breaching = mon
        .rules
        .iter()
        .zip(&windows)
        .any(|((_, rule), w)| rule.breached(w));
    let mut all = RequestStats::default();
    for w in &windows {
        all.merge(w);
    }
    let tick = Tick {
        end,
        requests: all.requests,
        errors: all.errors,
        p99_ms: if all.requests == 0 {
            f64::NAN
        } else {
            all.latency.quantile(0.99).as_millis_f64()
        },
        breaching,
        injected,
    };
    (tick, all)
}

fn take_windows(
    sim: &mut sim_core::Simulation<Node<'_>>,
    layout: Layout,
    mon: &Monitoring,
) -> Vec<RequestStats> {
    mon.rules
        .iter()
        .map(|(h, _)| match sim.actor_mut(layout.handler(*h)) {
            Node::Handler(a) => a
                .window
                .as_mut()
                .map(|w| std::mem::take(&mut **w))
                .unwrap_or_default(),
            _ => unreachable!("layout"),
        })
        .collect()
}

/// The SLO of each workload handler as a breach rule (error rate at or
/// above `1 - success_rate`, p99 at or above `latency_p99`): the monitoring
/// the predicted scenarios are measured with.
pub fn slo_rules(model: &Model) -> Vec<(HandlerIx, AbortRule)> {
    let mut out: Vec<(HandlerIx, AbortRule)> = Vec::new();
    for w in &model.workloads {
        if out.iter().any(|(h, _)| *h == w.handler) {
            continue;
        }
        let slo = &model.handlers[w.handler].slo;
        out.push((
            w.handler,
            AbortRule {
                error_rate: slo.success_rate.map(|s| (1.0 - s).max(f64::MIN_POSITIVE)),
                latency_p99: slo.latency_p99,
            },
        ));
    }
    out
}

/// The same rule for every workload handler.
pub fn uniform_rules(model: &Model, rule: AbortRule) -> Vec<(HandlerIx, AbortRule)> {
    let mut hs: Vec<HandlerIx> = model.workloads.iter().map(|w| w.handler).collect();
    hs.sort_unstable();
    hs.dedup();
    hs.into_iter().map(|h| (h, rule)).collect()
}
