//! Two-scale simulation of risk windows far longer than a request-level run.
//!
//! A 30-day window at 200 requests/s is half a billion requests: too many to
//! simulate one by one for thousands of campaigns. Most of that time is
//! healthy and statistically alike; what differs between campaigns is the
//! faults. So a campaign is simulated at two scales (see `docs/two-scale.md`):
//!
//! 1. **Fault timeline** ([`fault_timeline`]): every failure process over
//!    `[0, window]`, drawn exactly as the request-level [`FailureActor`]
//!    draws it (same functions, same random stream per process), or the one
//!    injection of a targeted campaign. Tens of events.
//! 2. **Episodes** ([`cut_episodes`], [`plan_episode`]): faults whose
//!    margins overlap are merged; each episode is simulated at request level
//!    with its faults replayed at their times, from a warm-up before the
//!    first onset to a settle margin after the last recovery. A stretch in
//!    which the set of active faults stays the same for longer than
//!    `transient + sample` is cut: its first `transient` and a `sample` after
//!    it are simulated, and the sample stands for the rest of the stretch.
//! 3. **Healthy baseline** ([`Baseline`]): one request-level sample of
//!    healthy time per variant (pooled by all its campaigns), scaled to each
//!    campaign's healthy time.
//! 4. **Library** ([`Library`], optional): pooled request-level episodes of
//!    isolated faults, per class of fault and duration, from which a
//!    campaign's isolated faults are composed instead of simulated. The
//!    runner builds one per variant; without it every episode is simulated
//!    per campaign.
//!
//! [`run_window`] combines them into the same [`CampaignResult`] a
//! request-level campaign gives. Requests are attributed by the time they
//! *start*, so every request belongs to exactly one of: an episode's counted
//! span, or healthy time.

use std::sync::Arc;

use sim_core::{CampaignSeed, LatencyHistogram, SimDuration, SimTime, splitmix64, stream_key};

use crate::actors::failure::{FirstTransition, first_transition, repair_time, up_time};
use crate::actors::{FailureActor, Layout, Node, RequestStats, Segments};
use crate::campaign::{
    CampaignMode, CampaignResult, FaultInterval, HandlerResult, RequestSummary, add_failure,
    availability, breached, build, fault_stream_name,
};
use crate::model::{Effect, EffectIx, FaultScope, Model, ResourceIx, StepDef};
use crate::msg::ALL_REPLICAS;
use crate::rare::{PathWeight, Start};
use crate::usage::Usage;

/// The faults of one campaign over its whole window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// Every fault, sorted by onset.
    pub faults: Vec<FaultInterval>,
    /// `ln` of the importance-sampling weight of the failure paths (0 unless
    /// a process is biased; see [`crate::rare`]), exactly as the failure
    /// actors of the request-level campaign would compute it.
    pub ln_weight: f64,
}

/// The fault timeline of a campaign: exactly the faults the request-level
/// campaign with the same seed and mode would simulate (each process draws
/// from the stream of the same name, in the same order).
pub fn fault_timeline(model: &Model, seed: CampaignSeed, mode: CampaignMode) -> Timeline {
    let horizon = SimTime::ZERO + model.horizon;
    let mut faults = Vec::new();
    let mut ln_weight = 0.0;
    match mode {
        CampaignMode::Natural => {
            for (i, def) in model.faults.iter().enumerate() {
                let mut rng = seed.stream(stream_key(&fault_stream_name(model, i)));
                let replica = match def.scope {
                    FaultScope::Replica(r) => r,
                    FaultScope::Resource => ALL_REPLICAS,
                };
                let push = |faults: &mut Vec<FaultInterval>, on: SimTime, off: SimTime| {
                    faults.push(FaultInterval {
                        resource: def.resource,
                        effect: def.effect,
                        replica,
                        on,
                        off,
                        process: Some(i as u32),
                    })
                };
                let age = model.resources[def.resource].age;
                // The weight follows the failure actor's calls one for one.
                let mut w = PathWeight::default();
                let mut t = match first_transition(def, age, &mut rng) {
                    FirstTransition::FailIn(d) => {
                        match age {
                            Some(a) => w.up_from(0.0, Start::Aged(a)),
                            None => {
                                w.initial_state(def, false);
                                w.up_from(0.0, Start::Equilibrium);
                            }
                        }
                        SimTime::ZERO + d
                    }
                    FirstTransition::RepairIn(d) => {
                        w.initial_state(def, true);
                        let off = SimTime::ZERO + d;
                        push(&mut faults, SimTime::ZERO, off);
                        w.up_from(off.as_secs_f64(), Start::Fresh);
                        off + up_time(def, &mut rng)
                    }
                };
                while t < horizon {
                    w.failed_at(def, t.as_secs_f64());
                    let off = t + repair_time(def, &mut rng);
                    push(&mut faults, t, off);
                    w.up_from(off.as_secs_f64(), Start::Fresh);
                    t = off + up_time(def, &mut rng);
                }
                w.end(def, horizon.as_secs_f64());
                ln_weight += w.ln();
            }
        }
        CampaignMode::Targeted(k) => {
            let inj = &model.injections[k];
            let on = SimTime::ZERO + inj.at;
            if on < horizon {
                faults.push(FaultInterval {
                    resource: inj.resource,
                    effect: inj.effect,
                    replica: ALL_REPLICAS,
                    on,
                    off: on + inj.duration,
                    process: None,
                });
            }
        }
        CampaignMode::Healthy => {}
    }
    faults.sort_by_key(|f| f.on);
    Timeline { faults, ln_weight }
}

/// Per resource, when it could serve: the same log the request-level
/// [`crate::actors::ResourceActor`] keeps (serving while no whole-resource
/// network fault is active and some replica is up), starting with the state
/// at time zero.
pub fn serving_logs(model: &Model, faults: &[FaultInterval]) -> Vec<Vec<(SimTime, bool)>> {
    let mut logs = Vec::with_capacity(model.resources.len());
    for (r, def) in model.resources.iter().enumerate() {
        let n = def.replicas;
        // (time, replicas hit, +1 / -1, whole-resource)
        let mut changes: Vec<(SimTime, std::ops::Range<u16>, i32, Kind)> = Vec::new();
        for f in faults.iter().filter(|f| f.resource == r) {
            let all = |k: Option<u16>| {
                if f.replica == ALL_REPLICAS {
                    0..k.unwrap_or(n).min(n)
                } else {
                    f.replica..f.replica + 1
                }
            };
            let (range, kind) = match &model.effects[f.effect] {
                Effect::Crash { replicas } => (all(*replicas), Kind::Crash),
                Effect::MemoryStarvation { percent } if *percent >= 100.0 => (all(None), Kind::Oom),
                e if e.takes_resource_down() => (0..0, Kind::Net),
                _ => continue,
            };
            changes.push((f.on, range.clone(), 1, kind));
            changes.push((f.off, range, -1, kind));
        }
        changes.sort_by_key(|c| c.0);
        let mut crashes = vec![0i32; usize::from(n)];
        let mut ooms = vec![0i32; usize::from(n)];
        let mut net = 0i32;
        let mut log = vec![(SimTime::ZERO, true)];
        let mut serving = true;
        for (t, range, d, kind) in changes {
            match kind {
                Kind::Crash => range.for_each(|i| crashes[usize::from(i)] += d),
                Kind::Oom => range.for_each(|i| ooms[usize::from(i)] += d),
                Kind::Net => net += d,
            }
            let now = net == 0 && (0..usize::from(n)).any(|i| crashes[i] == 0 && ooms[i] == 0);
            if now != serving {
                serving = now;
                log.push((t, now));
            }
        }
        logs.push(log);
    }
    logs
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Crash,
    Oom,
    Net,
}

/// The margins around faults, derived from the model (see `docs/two-scale.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Margins {
    /// Simulated before an episode's counted span and not counted: the
    /// system fills with requests in flight and breaker windows fill.
    pub warmup: SimDuration,
    /// Counted before the first onset: requests that started up to this
    /// long before a fault may still be in flight when it strikes (the
    /// 99.9th percentile of healthy latency, at least a second).
    pub lead: SimDuration,
    /// Counted after the last recovery: breakers close, health checks
    /// notice, retries and requests caught by the fault finish.
    pub settle: SimDuration,
    /// After a change of the active faults, how long the system takes to
    /// reach its new steady state (simulated in full in every stretch).
    pub transient: SimDuration,
    /// The steady sample that stands for the rest of a long stretch.
    pub sample: SimDuration,
}

/// Waits the model's mechanisms can impose, for the margins.
#[derive(Debug, Clone, Copy, Default)]
struct Waits {
    /// Longest time one call step can take: timeout × attempts plus backoffs.
    call: SimDuration,
    /// Longest poll timeout.
    poll: SimDuration,
    /// Longest breaker window + open time.
    breaker: SimDuration,
    /// Longest breaker window alone.
    breaker_window: SimDuration,
    /// Longest health-check delay.
    health: SimDuration,
}

impl Waits {
    fn of(model: &Model) -> Waits {
        let mut w = Waits::default();
        for h in &model.handlers {
            for op in &h.ops {
                for s in &op.steps {
                    match s {
                        StepDef::Call(c) => {
                            let per = c.timeout.unwrap_or_default();
                            let mut total =
                                SimDuration(per.0.saturating_mul(u64::from(c.retry.max_attempts)));
                            for n in 1..c.retry.max_attempts.min(64) {
                                let b = match c.retry.backoff {
                                    crate::spec::Backoff::Constant => c.retry.base.0,
                                    crate::spec::Backoff::Exponential => {
                                        c.retry.base.0.saturating_mul(1u64 << (n - 1).min(62))
                                    }
                                };
                                total = total + SimDuration(b.min(c.retry.max.0));
                            }
                            w.call = w.call.max(total);
                            if let Some((_, b)) = &c.breaker {
                                w.breaker = w.breaker.max(b.window + b.open_for);
                                w.breaker_window = w.breaker_window.max(b.window);
                            }
                        }
                        StepDef::Poll(p) => w.poll = w.poll.max(p.timeout),
                    }
                }
            }
        }
        for r in &model.resources {
            w.health = w.health.max(r.health_check);
        }
        w
    }
}

impl Margins {
    /// The margins of `model`, given how long healthy requests take (the
    /// [`LEAD_QUANTILE`] of the [`Baseline`]'s latencies).
    pub fn of(model: &Model, healthy_longest: SimDuration) -> Margins {
        let w = Waits::of(model);
        let second = SimDuration::from_secs(1);
        let lead = healthy_longest.max(second);
        Margins {
            warmup: lead.max(w.breaker_window).max(second),
            lead,
            settle: w.call.max(w.breaker).max(w.health) + lead,
            transient: w.call.max(w.poll).max(w.breaker).max(w.health).max(lead),
            sample: (w.breaker + w.breaker).max(SimDuration::from_secs(30)),
        }
    }
}

/// A group of faults simulated together at request level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    /// Start of the counted span (window time): requests that start in
    /// `[start, end)` are counted by the episode, the others by the baseline.
    pub start: SimTime,
    /// End of the counted span.
    pub end: SimTime,
    /// The faults, as indices into the list given to [`cut_episodes`].
    pub faults: Vec<usize>,
}

/// Groups faults (sorted by onset) into episodes: each fault covers
/// `[on − lead, off + settle)` (within `[0, horizon)`), and faults whose
/// spans overlap or touch share an episode.
pub fn cut_episodes(faults: &[FaultInterval], m: &Margins, horizon: SimTime) -> Vec<Episode> {
    debug_assert!(faults.is_sorted_by_key(|f| f.on));
    let mut out: Vec<Episode> = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        let start = SimTime(f.on.0.saturating_sub(m.lead.0));
        let end = (f.off + m.settle).min(horizon);
        match out.last_mut() {
            Some(e) if start <= e.end => {
                e.end = e.end.max(end);
                e.faults.push(i);
            }
            _ => out.push(Episode {
                start,
                end,
                faults: vec![i],
            }),
        }
    }
    out
}

/// How an episode is simulated: where the simulation's time zero lies in
/// the window, the counted segments with their weights, and the faults in
/// simulated time.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodePlan {
    /// Window time of simulated time zero (the start of the warm-up).
    pub origin: SimTime,
    /// Segment bounds in simulated time (`bounds[0]` ends the warm-up; the
    /// last bound is where arrivals stop).
    pub bounds: Vec<SimTime>,
    /// Weight of each segment: 1, or, for the sample of a cut stretch, the
    /// stretch's remaining length over the sample's.
    pub weights: Vec<f64>,
    /// Faults in simulated time: (index, on, off); `off` is
    /// [`SimTime::MAX`] for a fault still active when the simulation ends.
    pub faults: Vec<(usize, SimTime, SimTime)>,
}

/// Plans episode `e` of `faults`: every stretch of the counted span in which
/// the set of active faults does not change and that is longer than
/// `transient + sample` is cut to that length; its sample segment gets the
/// weight `(length − transient) / sample`.
///
/// `dither` in [0, 1) lengthens the simulated sample of every cut stretch
/// to `sample × (1 + dither)`. Drawn per episode, it puts the end of a cut
/// stretch at a random phase of whatever cycles the system runs through
/// under the fault (a breaker opening and half-opening), as the end of a
/// real fault of random duration is; a fixed cut length would end every
/// cut stretch at the same phase.
pub fn plan_episode(
    e: &Episode,
    faults: &[FaultInterval],
    m: &Margins,
    dither: f64,
) -> EpisodePlan {
    let origin = SimTime(e.start.0.saturating_sub(m.warmup.0));
    let mut cuts: Vec<SimTime> = vec![e.start, e.end];
    for &i in &e.faults {
        for t in [faults[i].on, faults[i].off] {
            if t > e.start && t < e.end {
                cuts.push(t);
            }
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    // Window time → simulated time at each cut.
    let mut sim_at: Vec<SimTime> = Vec::with_capacity(cuts.len());
    let mut bounds = vec![SimTime::ZERO + (e.start - origin)];
    let mut weights = Vec::new();
    let sample = SimDuration((m.sample.0 as f64 * (1.0 + dither.clamp(0.0, 1.0))) as u64);
    let full = m.transient + sample;
    let mut t = bounds[0];
    sim_at.push(t);
    for w in cuts.windows(2) {
        let len = w[1] - w[0];
        if len > full && sample > SimDuration::ZERO {
            bounds.push(t + m.transient);
            weights.push(1.0);
            t += full;
            bounds.push(t);
            weights.push((len.0 - m.transient.0) as f64 / sample.0 as f64);
        } else {
            t += len;
            bounds.push(t);
            weights.push(1.0);
        }
        sim_at.push(t);
    }
    let end_sim = t;
    let map = |x: SimTime| -> SimTime {
        if x >= SimTime::MAX {
            return SimTime::MAX;
        }
        if x >= e.end {
            return end_sim + (x - e.end);
        }
        let k = cuts.partition_point(|c| *c <= x) - 1;
        debug_assert_eq!(cuts[k], x, "fault times are cuts");
        sim_at[k]
    };
    let plan_faults = e
        .faults
        .iter()
        .map(|&i| (i, map(faults[i].on), map(faults[i].off)))
        .collect();
    EpisodePlan {
        origin,
        bounds,
        weights,
        faults: plan_faults,
    }
}

/// Request counts and latencies that may be scaled (weighted sums).
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Requests (weighted).
    pub requests: f64,
    /// Failed requests (weighted).
    pub errors: f64,
    /// Degraded successes (weighted).
    pub degraded: f64,
    /// Latencies, scaled by [`LatencyHistogram::merge_scaled`].
    pub latency: LatencyHistogram,
}

impl Tally {
    /// Adds `s` counted `weight` times.
    pub fn add(&mut self, s: &RequestStats, weight: f64) {
        self.requests += s.requests as f64 * weight;
        self.errors += s.errors as f64 * weight;
        self.degraded += s.degraded as f64 * weight;
        self.latency.merge_scaled(&s.latency, weight);
    }

    /// Adds another tally.
    pub fn merge(&mut self, o: &Tally) {
        self.requests += o.requests;
        self.errors += o.errors;
        self.degraded += o.degraded;
        self.latency.merge(&o.latency);
    }

    /// The figures, with counts rounded to whole requests.
    pub fn summary(&self) -> RequestSummary {
        RequestSummary::from_parts(
            self.requests.round() as u64,
            self.errors.round() as u64,
            self.degraded.round() as u64,
            &self.latency,
        )
    }
}

/// What one request-level simulation (an episode or the baseline) counted.
#[derive(Debug, Clone, Default)]
pub struct Counted {
    /// Per handler: (workload requests, requests from calls), weighted.
    pub handlers: Vec<(Tally, Tally)>,
    /// Circuit-breaker openings per handler.
    pub openings: Vec<u32>,
    /// Events delivered.
    pub events: u64,
    /// Requests still in flight when the drain ended.
    pub hung: u64,
    /// Requests refused at the in-flight cap ([`crate::limits`]).
    pub refused_over_cap: u64,
    /// What the simulation exercised.
    pub usage: Usage,
}

/// Per handler, what each segment of one simulation counted.
struct Raw {
    /// Per handler: the segments.
    segments: Vec<Segments>,
    openings: Vec<u32>,
    events: u64,
    hung: u64,
    refused_over_cap: u64,
    usage: Usage,
}

fn simulate_raw(
    model: &Model,
    plan: &EpisodePlan,
    faults: &[FaultInterval],
    seed: CampaignSeed,
) -> Raw {
    let layout = Layout::new(model);
    let arrivals_end = *plan.bounds.last().expect("at least two bounds");
    let mut sim = build(model, layout, seed, arrivals_end, plan.origin.as_secs_f64());
    for h in 0..model.handlers.len() {
        sim.with_context(layout.handler(h), |a, _| {
            if let Node::Handler(h) = a {
                h.segments = Some(Box::new(Segments::new(plan.bounds.clone())));
            }
        });
    }
    for (j, &(i, on, off)) in plan.faults.iter().enumerate() {
        let f = &faults[i];
        let actor = FailureActor::scheduled(
            layout.resource(f.resource),
            f.effect as u32,
            f.replica,
            on - SimTime::ZERO,
            off - on,
        );
        add_failure(&mut sim, actor, &format!("replay/{j}"));
    }
    sim.run_until(arrivals_end + model.drain);
    let events = sim.delivered();
    let now = sim.now();
    let mut out = Raw {
        segments: Vec::with_capacity(model.handlers.len()),
        openings: Vec::with_capacity(model.handlers.len()),
        events,
        hung: 0,
        refused_over_cap: 0,
        usage: Usage::default(),
    };
    let mut actors = sim.into_actors();
    out.refused_over_cap = crate::campaign::refused_over_cap(&actors);
    out.usage = Usage::of(&actors);
    out.hung += crate::campaign::fail_in_flight(model, layout, &mut actors, now);
    for a in actors.iter_mut() {
        if let Node::Handler(h) = a {
            out.segments
                .push(*h.segments.take().expect("segments were set"));
            out.openings.push(h.breaker_openings());
        }
    }
    out
}

/// Simulates one plan at request level and weights its segments.
pub fn simulate_plan(
    model: &Model,
    plan: &EpisodePlan,
    faults: &[FaultInterval],
    seed: CampaignSeed,
) -> Counted {
    let raw = simulate_raw(model, plan, faults, seed);
    let handlers = raw
        .segments
        .iter()
        .map(|seg| {
            let (mut ext, mut int) = (Tally::default(), Tally::default());
            for (k, w) in plan.weights.iter().enumerate() {
                ext.add(&seg.external[k], *w);
                int.add(&seg.internal[k], *w);
            }
            (ext, int)
        })
        .collect();
    Counted {
        handlers,
        openings: raw.openings,
        events: raw.events,
        hung: raw.hung,
        refused_over_cap: raw.refused_over_cap,
        usage: raw.usage,
    }
}

/// Expected workload arrivals (all workloads) in `[from, to)` seconds of window time.
pub fn expected_arrivals(model: &Model, from: f64, to: f64) -> f64 {
    model
        .workloads
        .iter()
        .map(|w| match &w.diurnal {
            None => w.rate * (to - from).max(0.0),
            Some(shape) => {
                // ∫ rate · shape(hour) over [from, to), hour by hour.
                let day: f64 = shape.iter().sum::<f64>() * 3600.0;
                let cum = |t: f64| {
                    let days = (t / 86_400.0).floor();
                    let mut s = days * day;
                    let mut x = days * 86_400.0;
                    for v in shape {
                        let next = x + 3600.0;
                        if t >= next {
                            s += v * 3600.0;
                        } else {
                            s += v * (t - x).max(0.0);
                            break;
                        }
                        x = next;
                    }
                    s
                };
                w.rate * (cum(to.max(from)) - cum(from))
            }
        })
        .sum()
}

/// A request-level sample of healthy time, shared by every campaign of a
/// variant, and the margins derived from it.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Healthy time counted (after a warm-up).
    pub span: SimDuration,
    /// Window time at which the counted span starts (for diurnal shapes).
    pub start: SimTime,
    /// What the sample counted, weight one.
    pub counted: Counted,
    /// The margins for this model's episodes.
    pub margins: Margins,
    /// The seed the sample was drawn with (library episodes derive theirs from it).
    pub seed: CampaignSeed,
    /// Pooled episodes of isolated faults, when built ([`Library`]).
    pub library: Option<Library>,
}

impl Baseline {
    /// The default length of the healthy sample for `model`: enough time
    /// for 500,000 workload requests, at least 30 minutes and at most 12
    /// hours, but never more than the time for
    /// [`crate::limits::BASELINE_MAX_REQUESTS`] workload requests (above
    /// about 11,000 requests/s the 30-minute floor would hold more).
    pub fn default_span(model: &Model) -> SimDuration {
        let rate = expected_arrivals(model, 0.0, 86_400.0) / 86_400.0;
        let secs = if rate > 0.0 { 5e5 / rate } else { 0.0 };
        let mut secs = secs.clamp(1800.0, 43_200.0);
        if rate > 0.0 {
            secs = secs.min(crate::limits::BASELINE_MAX_REQUESTS / rate);
        }
        SimDuration::from_secs_f64(secs)
    }

    /// The warm-up simulated before the baseline's counted span. It cannot
    /// use the lead (the longest healthy latency is what the baseline
    /// measures): it uses every wait the model declares, at least 10 s.
    pub fn warmup(model: &Model) -> SimDuration {
        let w = Waits::of(model);
        w.call
            .max(w.poll)
            .max(w.breaker)
            .max(w.health)
            .max(SimDuration::from_secs(10))
    }

    /// Whether `model`'s default healthy sample is planned as this one was
    /// (same warm-up, span and drain as `own_model`'s): then a simulation of
    /// it under the same seed differs only where `model` acts differently.
    pub fn same_plan(&self, own_model: &Model, model: &Model) -> bool {
        self.start == SimTime::ZERO + Baseline::warmup(model)
            && self.span == Baseline::default_span(model)
            && own_model.drain == model.drain
    }

    /// Simulates `span` of healthy time (after a warm-up) with `seed`.
    pub fn simulate(model: &Model, seed: CampaignSeed, span: SimDuration) -> Baseline {
        let warm = Baseline::warmup(model);
        let plan = EpisodePlan {
            origin: SimTime::ZERO,
            bounds: vec![SimTime::ZERO + warm, SimTime::ZERO + warm + span],
            weights: vec![1.0],
            faults: Vec::new(),
        };
        let counted = simulate_plan(model, &plan, &[], seed);
        Baseline {
            span,
            start: SimTime::ZERO + warm,
            margins: Margins::of(model, Baseline::longest(&counted)),
            counted,
            seed,
            library: None,
        }
    }

    /// The lead: nearly every healthy request (99.9%) is shorter. The
    /// maximum would make every episode longer for the sake of one request
    /// in a thousand that is in flight when a fault strikes.
    fn longest(counted: &Counted) -> SimDuration {
        counted
            .handlers
            .iter()
            .flat_map(|(e, i)| {
                [
                    e.latency.quantile(LEAD_QUANTILE),
                    i.latency.quantile(LEAD_QUANTILE),
                ]
            })
            .max()
            .unwrap_or_default()
    }

    /// This healthy sample as `model`'s, without the library: what
    /// simulating `model`'s own would give when it is planned the same way
    /// ([`Baseline::same_plan`]) and `model` differs only in mechanisms
    /// the sample did not exercise ([`Usage`]). The margins are `model`'s.
    pub fn healthy_for(&self, model: &Model) -> Baseline {
        Baseline {
            span: self.span,
            start: self.start,
            counted: self.counted.clone(),
            margins: Margins::of(model, Baseline::longest(&self.counted)),
            seed: self.seed,
            library: None,
        }
    }

    /// The baseline of variant `variant` under master seed `master`, with
    /// the default span: its seed is campaign `u64::MAX` of the variant, a
    /// campaign index no run reaches.
    pub fn for_variant(model: &Model, master: u64, variant: u64) -> Baseline {
        let seed = CampaignSeed::derive(master, variant, u64::MAX);
        Baseline::simulate(model, seed, Baseline::default_span(model))
    }
}

/// Resources some handler can reach (its own, and every call or poll
/// target): faults elsewhere cannot change any request.
fn reachable(model: &Model) -> Vec<bool> {
    let mut r = vec![false; model.resources.len()];
    for h in &model.handlers {
        r[h.resource] = true;
        for op in &h.ops {
            for s in &op.steps {
                let l = match s {
                    StepDef::Call(c) => c.link,
                    StepDef::Poll(p) => p.link,
                };
                r[model.links[l].to] = true;
            }
        }
    }
    r
}

/// The seed of episode `k` of a campaign.
fn episode_seed(seed: CampaignSeed, k: usize) -> CampaignSeed {
    CampaignSeed::from_u64(splitmix64(
        seed.as_u64() ^ stream_key(&format!("episode/{k}")),
    ))
}

/// One campaign over the model's whole horizon by the two-scale method:
/// the same figures as [`crate::campaign::run_campaign`], from a fault
/// timeline, request-level episodes around its faults, and `baseline` for
/// the healthy rest. `events` counts the events of the episodes only.
pub fn run_window(
    model: &Model,
    seed: CampaignSeed,
    mode: CampaignMode,
    baseline: &Baseline,
) -> CampaignResult {
    let horizon = SimTime::ZERO + model.horizon;
    let timeline = fault_timeline(model, seed, mode);
    let reach = reachable(model);
    let relevant: Vec<FaultInterval> = timeline
        .faults
        .iter()
        .filter(|f| reach[f.resource])
        .copied()
        .collect();
    let m = &baseline.margins;
    let episodes = cut_episodes(&relevant, m, horizon);

    let nh = model.handlers.len();
    let mut tallies: Vec<(Tally, Tally)> = vec![(Tally::default(), Tally::default()); nh];
    let mut openings = vec![0u32; nh];
    let (mut events, mut hung) = (0u64, 0u64);
    let mut refused = 0.0;
    let mut covered_arrivals = 0.0;
    let mut picks = seed.stream(stream_key("library"));
    let mut usage = Usage::default();
    for (k, e) in episodes.iter().enumerate() {
        covered_arrivals += expected_arrivals(model, e.start.as_secs_f64(), e.end.as_secs_f64());
        if let Some(lib) = &baseline.library
            && let Some(c) = lib.compose(model, e, &relevant, m, horizon, &mut picks)
        {
            usage.composed |= c.usage.composed;
            for (h, (ext, int)) in c.handlers.iter().enumerate() {
                tallies[h].0.merge(ext);
                tallies[h].1.merge(int);
                openings[h] += c.openings[h];
            }
            hung += c.hung;
            refused += c.refused_over_cap as f64;
            continue;
        }
        let eseed = episode_seed(seed, k);
        let dither: f64 = rand::RngExt::random(&mut eseed.stream(stream_key("cut")));
        let plan = plan_episode(e, &relevant, m, dither);
        let c = simulate_plan(model, &plan, &relevant, eseed);
        for (h, (ext, int)) in c.handlers.iter().enumerate() {
            tallies[h].0.merge(ext);
            tallies[h].1.merge(int);
            openings[h] += c.openings[h];
        }
        usage.merge(&c.usage);
        events += c.events;
        hung += c.hung;
        refused += c.refused_over_cap as f64;
    }
    // Healthy time: the rest of the window, in expected arrivals.
    let healthy =
        (expected_arrivals(model, 0.0, horizon.as_secs_f64()) - covered_arrivals).max(0.0);
    // The baseline's own workload requests are the unit: its per-request
    // figures are scaled to the expected healthy count (scaling by time
    // instead would carry the sample's Poisson noise into every campaign).
    let base: f64 = baseline
        .counted
        .handlers
        .iter()
        .map(|(e, _)| e.requests)
        .sum();
    let w = if base > 0.0 { healthy / base } else { 0.0 };
    for (h, (ext, int)) in baseline.counted.handlers.iter().enumerate() {
        tallies[h].0.add_scaled(ext, w);
        tallies[h].1.add_scaled(int, w);
        openings[h] += (f64::from(baseline.counted.openings[h]) * w).round() as u32;
    }
    refused += baseline.counted.refused_over_cap as f64 * w;

    let logs = serving_logs(model, &timeline.faults);
    let mut handlers = Vec::with_capacity(nh);
    let mut entry = Tally::default();
    let mut entry_path: Vec<usize> = Vec::new();
    for (i, def) in model.handlers.iter().enumerate() {
        let (ext, int) = &tallies[i];
        let mut all = ext.clone();
        all.merge(int);
        let summary = all.summary();
        let path: Vec<&[(SimTime, bool)]> =
            def.hard_path.iter().map(|r| logs[*r].as_slice()).collect();
        handlers.push(HandlerResult {
            summary,
            availability: availability(&path, horizon),
            slo_breached: breached(&summary, &def.slo),
            breaker_openings: openings[i],
        });
        if model.workloads.iter().any(|w| w.handler == i) {
            entry.merge(ext);
            entry_path.extend(&def.hard_path);
        }
    }
    entry_path.sort_unstable();
    entry_path.dedup();
    let entry_logs: Vec<&[(SimTime, bool)]> =
        entry_path.iter().map(|r| logs[*r].as_slice()).collect();
    CampaignResult {
        horizon_s: model.horizon.as_secs_f64(),
        summary: entry.summary(),
        availability: availability(&entry_logs, horizon),
        slo_breached: handlers.iter().any(|h| h.slo_breached),
        faults: timeline.faults.len() as u32,
        faults_seen: {
            let mut seen: Vec<u32> = timeline.faults.iter().filter_map(|f| f.process).collect();
            seen.sort_unstable();
            seen.dedup();
            seen
        },
        weight: timeline.ln_weight.exp(),
        events,
        hung,
        refused_over_cap: refused.round() as u64,
        handlers,
        usage: Some(usage),
    }
}

impl Tally {
    /// Adds another tally scaled by `weight`.
    pub fn add_scaled(&mut self, o: &Tally, weight: f64) {
        self.requests += o.requests * weight;
        self.errors += o.errors * weight;
        self.degraded += o.degraded * weight;
        self.latency.merge_scaled(&o.latency, weight);
    }
}

/// What the two-scale method will simulate for a model, estimated before
/// anything runs (see `docs/limits.md`). Margins are taken with the
/// shortest lead (1 s): the lead is the healthy p99.9 latency, which only
/// the baseline measures, so these are the least the method can do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Work {
    /// Mean workload rate over a day, requests per second.
    pub rate: f64,
    /// Workload requests of the pooled healthy baseline (warm-up included).
    pub baseline_requests: f64,
    /// Expected faults per natural campaign (all processes).
    pub faults: f64,
    /// Workload requests of the shortest episode (one fault of length zero).
    pub episode_requests: f64,
    /// Workload requests of one library episode at the grid's top duration.
    pub library_episode_requests: f64,
    /// Library episodes per variant (classes × reps × grid).
    pub library_episodes: usize,
    /// Expected workload requests simulated per campaign (its episodes,
    /// none composed from the library).
    pub campaign_requests: f64,
}

impl Work {
    /// The estimate for `model` (natural campaigns; a targeted campaign
    /// has one fault, fewer than most natural ones).
    pub fn of(model: &Model) -> Work {
        let rate = expected_arrivals(model, 0.0, 86_400.0) / 86_400.0;
        let m = Margins::of(model, SimDuration::from_secs(1));
        let s = |d: SimDuration| d.as_secs_f64();
        let baseline_requests =
            rate * (s(Baseline::warmup(model)) + s(Baseline::default_span(model)));
        let reach = reachable(model);
        let mut classes: Vec<(ResourceIx, EffectIx, bool)> = Vec::new();
        for f in model.faults.iter().filter(|f| reach[f.resource]) {
            let key = (
                f.resource,
                f.effect,
                matches!(f.scope, FaultScope::Replica(_)),
            );
            if !classes.contains(&key) {
                classes.push(key);
            }
        }
        let faults = crate::limits::expected_faults(model);
        let relevant: f64 = {
            let horizon = model.horizon.as_secs_f64();
            model
                .faults
                .iter()
                .filter(|f| reach[f.resource])
                .map(|f| {
                    let cycle = f.time_between.mean() / f.bias.max(1.0) + f.repair.mean();
                    if cycle > 0.0 {
                        horizon / cycle + 1.0
                    } else {
                        f64::INFINITY
                    }
                })
                .sum()
        };
        let around = s(m.warmup) + s(m.lead) + s(m.settle);
        // A fault's stretches: at most its onset's and its recovery's, each
        // cut to `transient + sample × (1 + dither)`.
        let stretch = 2.0 * (s(m.transient) + 2.0 * s(m.sample));
        let per_fault = (around + stretch).min(s(model.horizon) + around);
        let campaign_requests = if relevant > 0.0 {
            rate * (relevant * per_fault).min(relevant * around + s(model.horizon))
        } else {
            0.0
        };
        // Without a fault on a reachable resource (nor an injection) no
        // episode is ever simulated.
        let episodes = relevant > 0.0 || !model.injections.is_empty();
        let on = if episodes { 1.0 } else { 0.0 };
        Work {
            rate,
            baseline_requests,
            faults,
            episode_requests: on * rate * around,
            library_episode_requests: on * rate * (around + s(m.transient) + 2.0 * s(m.sample)),
            library_episodes: classes.len() * LIBRARY_REPS * GRID,
            campaign_requests,
        }
    }

    /// Bytes the pooled baseline and library of one variant hold: per
    /// handler, two histograms for the baseline and four per library
    /// episode.
    pub fn pooled_bytes(&self, model: &Model) -> u64 {
        let h = model.handlers.len() as u64 * crate::limits::hist_bytes();
        2 * h + self.library_episodes as u64 * 4 * h
    }
}

/// The quantile of healthy latency used as the lead before an onset.
pub const LEAD_QUANTILE: f64 = 0.999;

/// Episodes per class of fault and duration in the runner's [`Library`].
pub const LIBRARY_REPS: usize = 8;

/// Durations every rep of a [`Library`] holds, in seconds: short faults,
/// where an episode's figures jump (a crash kills what is in flight, a
/// breaker opens after a few seconds), are sampled densely.
const FIXED_GRID_S: [u64; 5] = [0, 1, 2, 4, 8];
/// Shifted durations per rep between the last fixed one and the top.
const SHIFTED: usize = 8;
/// Durations per rep: the fixed ones, the shifted ones, the top.
const GRID: usize = FIXED_GRID_S.len() + SHIFTED + 1;

/// Faults a library episode can stand for: the same effect on the same
/// resource, on one replica (any: replicas are interchangeable) or on all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClassKey {
    resource: ResourceIx,
    effect: EffectIx,
    per_replica: bool,
}

impl ClassKey {
    fn of(f: &FaultInterval) -> ClassKey {
        ClassKey {
            resource: f.resource,
            effect: f.effect,
            per_replica: f.replica != ALL_REPLICAS,
        }
    }
}

/// One pooled episode: per handler, the part counted once and the steady
/// sample (empty below the longest duration of the grid).
#[derive(Debug, Clone, Default)]
pub struct LibraryEntry {
    fixed: Vec<(Tally, Tally)>,
    sample: Vec<(Tally, Tally)>,
    /// Workload requests counted in the fixed part and in the sample.
    fixed_arrivals: f64,
    sample_arrivals: f64,
    openings: Vec<u32>,
    hung: u64,
    refused_over_cap: u64,
    /// What the episode exercised.
    usage: Usage,
}

impl LibraryEntry {
    /// What the episode exercised (see [`Usage`]).
    pub fn usage(&self) -> &Usage {
        &self.usage
    }
}

/// One episode the library needs: run them in any order, on any thread
/// ([`LibraryTask::run`]), then hand the results in task order to
/// [`Baseline::with_library`].
#[derive(Debug, Clone)]
pub struct LibraryTask {
    plan: EpisodePlan,
    fault: FaultInterval,
    /// The class of fault, as an index into the library's classes.
    class: usize,
    seed: CampaignSeed,
    /// Whether this is the grid's longest duration (its sample is kept apart).
    top: bool,
}

impl LibraryTask {
    /// The resource whose fault the episode simulates.
    pub fn resource(&self) -> ResourceIx {
        self.fault.resource
    }

    /// The class of fault the episode simulates, as an index into the
    /// library's classes (what [`Usage::composed`] takes).
    pub fn class(&self) -> usize {
        self.class
    }

    /// Simulates the episode at request level.
    pub fn run(&self, model: &Model) -> LibraryEntry {
        let raw = simulate_raw(
            model,
            &self.plan,
            std::slice::from_ref(&self.fault),
            self.seed,
        );
        let mut e = LibraryEntry {
            openings: raw.openings,
            hung: raw.hung,
            refused_over_cap: raw.refused_over_cap,
            usage: raw.usage,
            ..LibraryEntry::default()
        };
        for seg in &raw.segments {
            let (mut ext, mut int) = (Tally::default(), Tally::default());
            let (mut sx, mut si) = (Tally::default(), Tally::default());
            for k in 0..seg.external.len() {
                // Segments: lead, fault (its transient at the top), [sample,] settle.
                let (x, i) = if self.top && k == 2 {
                    (&mut sx, &mut si)
                } else {
                    (&mut ext, &mut int)
                };
                x.add(&seg.external[k], 1.0);
                i.add(&seg.internal[k], 1.0);
            }
            e.fixed.push((ext, int));
            e.sample.push((sx, si));
        }
        for h in 0..model.handlers.len() {
            if model.workloads.iter().any(|w| w.handler == h) {
                e.fixed_arrivals += e.fixed[h].0.requests;
                e.sample_arrivals += e.sample[h].0.requests;
            }
        }
        e
    }
}

/// Pooled request-level episodes of isolated faults, shared by every
/// campaign of a variant (like the [`Baseline`]): per class of fault
/// (resource and effect), per duration of a grid, `reps` episodes.
///
/// An isolated fault of duration `d` (alone in its episode, with its whole
/// warm-up and settle margin inside the window) is composed from them
/// instead of being simulated: one of the `reps` that struck the same
/// replica is picked at random (from the campaign's own stream); below the
/// grid's longest duration `D = transient + sample`, the episode is
/// interpolated linearly between the rep's two grid durations around `d`;
/// at or above `D`, it is the rep's episode of duration `D` with its steady
/// sample scaled to `d − transient`, exactly as a simulated episode's long
/// stretch is. Each part is scaled to the workload arrivals the campaign
/// expects in the time it stands for. Episodes of several faults, and
/// faults at the window's edges, are simulated per campaign.
///
/// Each rep's grid is shifted by its own fraction of a step (stratified
/// over the reps): an episode's figures are not linear in the fault's
/// duration (a breaker that cycles open and half-open makes them a
/// sawtooth), and a fixed grid would alias that shape into a bias; shifted
/// grids average it out over the reps.
#[derive(Debug, Clone)]
pub struct Library {
    /// Fault durations, per rep: 0, eight points `(i + u)·D/8` with a
    /// shift `u` in [0, 1) of the rep's own, then `D`.
    pub grids: Vec<Vec<SimDuration>>,
    /// Episodes per class and duration.
    pub reps: usize,
    classes: Vec<ClassKey>,
    /// `[(class × reps + rep) × GRID + g]`; shared, not copied, when
    /// another variant's library reuses them ([`Baseline::shared_entries`]).
    entries: Vec<Arc<LibraryEntry>>,
}

impl Baseline {
    /// The episodes a [`Library`] of `reps` episodes per class and duration
    /// needs, for every class of natural fault on a resource some handler
    /// reaches.
    pub fn library_tasks(&self, model: &Model, reps: usize) -> Vec<LibraryTask> {
        let (classes, grids) = self.library_shape(model, reps);
        let m = &self.margins;
        let mut tasks = Vec::with_capacity(classes.len() * GRID * reps);
        for (c, key) in classes.iter().enumerate() {
            for (rep, grid) in grids.iter().enumerate() {
                for (g, &d) in grid.iter().enumerate() {
                    let top = g + 1 == grid.len();
                    let replica = if key.per_replica {
                        (rep % usize::from(model.resources[key.resource].replicas)) as u16
                    } else {
                        ALL_REPLICAS
                    };
                    let on = SimTime::ZERO + m.warmup + m.lead;
                    let off = on + d;
                    let mut bounds = vec![SimTime::ZERO + m.warmup, on];
                    if top {
                        bounds.push(on + m.transient);
                    }
                    bounds.push(off);
                    bounds.push(off + m.settle);
                    let weights = vec![1.0; bounds.len() - 1];
                    let fault = FaultInterval {
                        resource: key.resource,
                        effect: key.effect,
                        replica,
                        on,
                        off,
                        process: None,
                    };
                    tasks.push(LibraryTask {
                        plan: EpisodePlan {
                            origin: SimTime::ZERO,
                            bounds,
                            weights,
                            faults: vec![(0, on, off)],
                        },
                        fault,
                        class: c,
                        seed: CampaignSeed::from_u64(splitmix64(
                            self.seed.as_u64() ^ stream_key(&format!("library/{c}/{g}/{rep}")),
                        )),
                        top,
                    });
                }
            }
        }
        tasks
    }

    /// This baseline with the library made of `entries`: the results of
    /// [`Baseline::library_tasks`]`(model, reps)`, in task order.
    pub fn with_library(self, model: &Model, reps: usize, entries: Vec<LibraryEntry>) -> Self {
        let entries = entries.into_iter().map(Arc::new).collect();
        self.with_shared_library(model, reps, entries)
    }

    /// [`Baseline::with_library`] from entries that may be shared with
    /// another variant's library (see [`Baseline::shared_entries`]).
    pub fn with_shared_library(
        mut self,
        model: &Model,
        reps: usize,
        entries: Vec<Arc<LibraryEntry>>,
    ) -> Self {
        let (classes, grids) = self.library_shape(model, reps);
        assert_eq!(
            entries.len(),
            classes.len() * GRID * reps,
            "one entry per task"
        );
        self.library = Some(Library {
            grids,
            reps,
            classes,
            entries,
        });
        self
    }

    /// Builds the library on this thread (the runner spreads the tasks over
    /// its pool instead).
    pub fn build_library(self, model: &Model, reps: usize) -> Self {
        let entries = self
            .library_tasks(model, reps)
            .iter()
            .map(|t| t.run(model))
            .collect();
        self.with_library(model, reps, entries)
    }

    /// For each of this baseline's library tasks
    /// ([`Baseline::library_tasks`]`(model, reps)`, in that order), the
    /// entry `other`'s library holds for the same episode — same class of
    /// fault (resource, effect definition, scope and, for a per-replica
    /// class, replica count), same rep and same duration, under the same
    /// margins, seed and grids — or `None` where it holds none. Every entry
    /// is `None` when `other` has no library or its margins, seed or grids
    /// differ from this baseline's (its episodes would not be these).
    ///
    /// The entry was simulated on `other_model`: where this model differs,
    /// reusing it is the caller's approximation (remediation reuses the
    /// base's entries for the fault classes a candidate's change does not
    /// touch, `docs/remediation.md`).
    pub fn shared_entries(
        &self,
        model: &Model,
        reps: usize,
        other: &Baseline,
        other_model: &Model,
    ) -> Vec<Option<Arc<LibraryEntry>>> {
        let (classes, grids) = self.library_shape(model, reps);
        let n = classes.len() * GRID * reps;
        let Some(lib) = other
            .library
            .as_ref()
            .filter(|_| self.margins == other.margins && self.seed == other.seed)
            .filter(|l| l.reps == reps && l.grids == grids)
        else {
            return vec![None; n];
        };
        let mut out = Vec::with_capacity(n);
        for key in &classes {
            let same = |k: &ClassKey| {
                *k == *key
                    && format!("{:?}", model.effects[key.effect])
                        == format!("{:?}", other_model.effects[k.effect])
                    && (!key.per_replica
                        || model.resources[key.resource].replicas
                            == other_model.resources[k.resource].replicas)
            };
            let found = lib.classes.iter().position(same);
            for rep in 0..reps {
                for g in 0..GRID {
                    out.push(found.map(|c| lib.entries[(c * reps + rep) * GRID + g].clone()));
                }
            }
        }
        out
    }

    fn library_shape(&self, model: &Model, reps: usize) -> (Vec<ClassKey>, Vec<Vec<SimDuration>>) {
        let reach = reachable(model);
        let mut classes: Vec<ClassKey> = Vec::new();
        for f in &model.faults {
            let key = ClassKey {
                resource: f.resource,
                effect: f.effect,
                per_replica: matches!(f.scope, FaultScope::Replica(_)),
            };
            if reach[f.resource] && !classes.contains(&key) {
                classes.push(key);
            }
        }
        // Stratified shifts: rep j's grid is shifted by (j + v) / reps steps,
        // so that the reps together sample every phase of the duration axis
        // (see `Library`).
        //
        // The top duration is dithered too, as a cut stretch is
        // (`plan_episode`): `transient + sample × (1 + w)`, w stratified over
        // the reps in the opposite order.
        let (h, smp) = (self.margins.transient, self.margins.sample);
        let mut rng = self.seed.stream(stream_key("library/shift"));
        let v: f64 = rand::RngExt::random(&mut rng);
        let v2: f64 = rand::RngExt::random(&mut rng);
        let grids = (0..reps)
            .map(|j| {
                let u = (j as f64 + v) / reps as f64;
                let w = ((reps - 1 - j) as f64 + v2) / reps as f64;
                let top = h + SimDuration((smp.0 as f64 * (1.0 + w)) as u64);
                let mut g: Vec<SimDuration> = FIXED_GRID_S
                    .iter()
                    .map(|x| SimDuration::from_secs(*x))
                    .collect();
                let first = *g.last().expect("fixed points");
                let step = (top.0 - first.0) as f64 / SHIFTED as f64;
                g.extend((0..SHIFTED).map(|i| first + SimDuration(((i as f64 + u) * step) as u64)));
                g.push(top);
                debug_assert_eq!(g.len(), GRID);
                g
            })
            .collect();
        (classes, grids)
    }
}

impl Library {
    /// The figures of episode `e` composed from the library, or `None` when
    /// it must be simulated (several faults, a fault at the window's edges,
    /// or a fault of a class the library does not hold).
    fn compose(
        &self,
        model: &Model,
        e: &Episode,
        faults: &[FaultInterval],
        m: &Margins,
        horizon: SimTime,
        picks: &mut sim_core::SimRng,
    ) -> Option<Counted> {
        let [i] = e.faults[..] else { return None };
        let f = &faults[i];
        if f.on < SimTime::ZERO + m.warmup + m.lead || f.off + m.settle > horizon {
            return None;
        }
        let c = self.classes.iter().position(|k| *k == ClassKey::of(f))?;
        // Rep j struck replica j mod replicas: pick among the reps that
        // struck this fault's replica (replicas are not interchangeable: the
        // router breaks ties by index).
        let n = usize::from(model.resources[f.resource].replicas);
        let rep = if f.replica != ALL_REPLICAS && self.reps >= n {
            let r = usize::from(f.replica);
            r + n * rand::RngExt::random_range(picks, 0..(self.reps - r).div_ceil(n))
        } else {
            rand::RngExt::random_range(picks, 0..self.reps)
        };
        let grid = &self.grids[rep];
        let entry = |g: usize| &self.entries[(c * self.reps + rep) * GRID + g];
        let top = GRID - 1;
        let d = f.off - f.on;
        // Each part is scaled to the arrivals the campaign expects in the
        // time it stands for (so the library's own Poisson noise in request
        // counts, shared by every campaign, does not bias the window's
        // counts, and a diurnal shape is followed).
        let secs =
            |a: SimTime, b: SimTime| expected_arrivals(model, a.as_secs_f64(), b.as_secs_f64());
        let per = |want: f64, got: f64| if got > 0.0 { want / got } else { 0.0 };
        // (grid index, weight of its fixed part, weight of its sample)
        let parts: Vec<(usize, f64, f64)> = if d >= grid[top] {
            let en = entry(top);
            let head = f.on + m.transient;
            let fixed = secs(e.start, head) + secs(f.off, e.end);
            let sample = secs(head, f.off);
            vec![(
                top,
                per(fixed, en.fixed_arrivals),
                per(sample, en.sample_arrivals),
            )]
        } else {
            let k = grid.partition_point(|g| *g <= d) - 1;
            let (lo, hi) = (grid[k], grid[k + 1]);
            let a = (d.0 - lo.0) as f64 / (hi.0 - lo.0) as f64;
            // Each grid episode is scaled to the arrivals of its own span
            // (lead + its duration + settle), then the two are interpolated.
            [(k, 1.0 - a), (k + 1, a)]
                .into_iter()
                .map(|(g, w)| {
                    let en = entry(g);
                    let want = secs(e.start, e.start + m.lead + grid[g] + m.settle);
                    let x = w * per(want, en.fixed_arrivals + en.sample_arrivals);
                    (g, x, x)
                })
                .collect()
        };
        let nh = model.handlers.len();
        let mut out = Counted {
            handlers: vec![(Tally::default(), Tally::default()); nh],
            openings: vec![0; nh],
            events: 0,
            hung: 0,
            refused_over_cap: 0,
            usage: Usage {
                composed: 1 << c.min(63),
                ..Usage::default()
            },
        };
        let mut hung = 0.0;
        let mut refused = 0.0;
        for (g, wf, ws) in parts {
            let en = entry(g);
            for h in 0..nh {
                out.handlers[h].0.add_scaled(&en.fixed[h].0, wf);
                out.handlers[h].1.add_scaled(&en.fixed[h].1, wf);
                out.handlers[h].0.add_scaled(&en.sample[h].0, ws);
                out.handlers[h].1.add_scaled(&en.sample[h].1, ws);
                out.openings[h] += (f64::from(en.openings[h]) * wf).round() as u32;
            }
            hung += en.hung as f64 * wf;
            refused += en.refused_over_cap as f64 * wf;
        }
        out.hung = hung.round() as u64;
        out.refused_over_cap = refused.round() as u64;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    fn d(s: u64) -> SimDuration {
        SimDuration::from_secs(s)
    }

    fn fault(on: u64, off: u64) -> FaultInterval {
        FaultInterval {
            resource: 0,
            effect: 0,
            replica: 0,
            on: t(on),
            off: t(off),
            process: Some(0),
        }
    }

    fn margins() -> Margins {
        Margins {
            warmup: d(10),
            lead: d(5),
            settle: d(20),
            transient: d(30),
            sample: d(50),
        }
    }

    fn model(yaml: &str) -> Model {
        let s: crate::spec::Scenario = serde_saphyr::from_str(yaml).expect("parses");
        crate::compile::compile(&s, &[], &crate::compile::Empirical::new()).expect("compiles")
    }

    #[test]
    fn episodes_merge_when_their_margins_meet() {
        let m = margins();
        // Spans [5, 40) and [35, 65) overlap; [95, 130) touches nothing;
        // [205, 320) is cut at the horizon (230).
        let faults = [
            fault(10, 20),
            fault(40, 45),
            fault(100, 110),
            fault(210, 300),
        ];
        let e = cut_episodes(&faults, &m, t(230));
        assert_eq!(e.len(), 3);
        assert_eq!(
            (e[0].start, e[0].end, e[0].faults.clone()),
            (t(5), t(65), vec![0, 1])
        );
        assert_eq!((e[1].start, e[1].end), (t(95), t(130)));
        assert_eq!((e[2].start, e[2].end), (t(205), t(230)));
        // Margins that just touch merge; a fault at time zero has no lead.
        let e = cut_episodes(&[fault(0, 10), fault(35, 40)], &m, t(1000));
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].start, e[0].end), (t(0), t(60)));
        let e = cut_episodes(&[fault(0, 10), fault(36, 40)], &m, t(1000));
        assert_eq!(e.len(), 2);
    }

    #[test]
    fn long_stretches_are_cut_and_weighted() {
        let m = margins();
        let faults = [fault(100, 400)];
        let e = &cut_episodes(&faults, &m, t(10_000))[0];
        assert_eq!((e.start, e.end), (t(95), t(420)));
        let p = plan_episode(e, &faults, &m, 0.0);
        // Warm-up from 85 (simulated time zero): lead [10, 15), the fault's
        // transient [15, 45), its sample [45, 95) standing for 270 s,
        // settle [95, 115).
        assert_eq!(p.origin, t(85));
        assert_eq!(p.bounds, vec![t(10), t(15), t(45), t(95), t(115)]);
        assert_eq!(p.weights, vec![1.0, 1.0, 5.4, 1.0]);
        assert_eq!(p.faults, vec![(0, t(15), t(95))]);
        // A short fault is simulated whole; a fault that outlasts the
        // horizon keeps going after the counted span.
        let faults = [fault(100, 150), fault(900, 2000)];
        let es = cut_episodes(&faults, &m, t(1000));
        let p = plan_episode(&es[0], &faults, &m, 0.0);
        assert_eq!(p.bounds, vec![t(10), t(15), t(65), t(85)]);
        assert_eq!(p.weights, vec![1.0; 3]);
        let p = plan_episode(&es[1], &faults, &m, 0.0);
        // Its 100 s inside the window are a stretch too: 30 s, then a
        // 50 s sample standing for 70 s.
        assert_eq!(p.bounds, vec![t(10), t(15), t(45), t(95)]);
        assert_eq!(p.weights, vec![1.0, 1.0, 1.4]);
        assert_eq!(p.faults, vec![(1, t(15), t(95) + d(1000))]);
        // A dither lengthens the sample (and so the cut) by up to one
        // sample: 100 s is no longer cut with a 75 s sample; 300 s is.
        let p = plan_episode(&es[1], &faults, &m, 0.5);
        assert_eq!(p.bounds, vec![t(10), t(15), t(115)]);
        let long = [fault(100, 400)];
        let q = plan_episode(&cut_episodes(&long, &m, t(10_000))[0], &long, &m, 0.5);
        assert_eq!(q.bounds, vec![t(10), t(15), t(45), t(120), t(140)]);
        assert_eq!(q.weights, vec![1.0, 1.0, 3.6, 1.0]);
    }

    #[test]
    fn tallies_scale_counts_and_latencies() {
        let mut s = RequestStats::default();
        for ms in 1..=10 {
            s.requests += 1;
            s.errors += u64::from(ms > 8);
            s.latency.record(SimDuration::from_millis(ms));
        }
        let mut t = Tally::default();
        t.add(&s, 1.0);
        t.add(&s, 2.5);
        assert_eq!((t.requests, t.errors), (35.0, 7.0));
        let sum = t.summary();
        assert_eq!((sum.requests, sum.errors), (35, 7));
        assert!((sum.error_rate - 0.2).abs() < 1e-12);
        assert!((sum.latency_mean_ms - 5.5).abs() < 0.1);
        let mut u = Tally::default();
        u.add_scaled(&t, 2.0);
        assert_eq!(u.summary().requests, 70);
        assert_eq!(u.latency.count(), 70);
    }

    #[test]
    fn expected_arrivals_follow_the_diurnal_shape() {
        let mut shape = [1.0; 24];
        shape[1] = 3.0;
        let yaml = format!(
            r#"
name: d
horizon: 2d
resources: [ {{ id: r, type: service, failure_modes: [] }} ]
handlers: [ {{ id: h, runs_on: r, operations: [ {{ name: op, steps: [] }} ] }} ]
workload: [ {{ handler: h, arrivals: {{ process: poisson, rate: 2/s }}, diurnal: {shape:?} }} ]
"#
        );
        let m = model(&yaml);
        let got = expected_arrivals(&m, 0.0, 7200.0);
        assert!((got - 2.0 * 4.0 * 3600.0).abs() < 1e-6, "{got}");
        let day = 2.0 * 26.0 * 3600.0;
        let got = expected_arrivals(&m, 1800.0, 86_400.0 + 5400.0);
        let want = day - 2.0 * 1800.0 + 2.0 * (3600.0 + 3.0 * 1800.0);
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }

    #[test]
    fn serving_logs_follow_crashes_and_partitions() {
        let m = model(
            r#"
name: s
horizon: 1h
resources:
  - id: r
    type: service
    replicas: 2
    failure_modes:
      - { mode: process_crash, time_between: { dist: exponential, mean: 1h }, repair: { dist: constant, value: 1m } }
      - { mode: process_crash, scope: resource, time_between: { dist: exponential, mean: 1h }, repair: { dist: constant, value: 1m }, injection_parameters: { replicas_affected: 1 } }
      - { mode: network_partition, time_between: { dist: exponential, mean: 1h }, repair: { dist: constant, value: 1m } }
handlers: [ { id: h, runs_on: r, operations: [ { name: op, steps: [] } ] } ]
"#,
        );
        let at = |process: usize, replica: u16, on: u64, off: u64| {
            let def = &m.faults[process];
            FaultInterval {
                resource: 0,
                effect: def.effect,
                replica,
                on: t(on),
                off: t(off),
                process: Some(process as u32),
            }
        };
        // Replica 0 down [10, 20), replica 1 down [15, 30): the resource
        // cannot serve in [15, 20). A resource-scoped crash of one replica
        // [40, 50) leaves replica 1 up. A partition [60, 70) takes it down.
        let faults = [
            at(0, 0, 10, 20),
            at(1, 1, 15, 30),
            at(2, ALL_REPLICAS, 40, 50),
            at(3, ALL_REPLICAS, 60, 70),
        ];
        let logs = serving_logs(&m, &faults);
        assert_eq!(
            logs[0],
            vec![
                (t(0), true),
                (t(15), false),
                (t(20), true),
                (t(60), false),
                (t(70), true)
            ]
        );
    }

    const TWO_CALLEES: &str = r#"
name: usage
horizon: 1d
resources:
  - { id: api, type: service, replicas: 2, concurrency: 64,
      service_time: { dist: lognormal, median: 1ms, sigma: 0.3 }, failure_modes: [] }
  - { id: db, type: database, replicas: 1, concurrency: 4,
      service_time: { dist: lognormal, median: 5ms, sigma: 0.5 },
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 6h },
                         repair: { dist: constant, value: 20s } } ] }
  - { id: cache, type: cache, concurrency: 16,
      service_time: { dist: constant, value: 1ms },
      failure_modes: [ { mode: latency_spike, time_between: { dist: exponential, mean: 6h },
                         repair: { dist: constant, value: 20s },
                         injection_parameters: { added: { dist: constant, value: 300ms } } } ] }
handlers:
  - id: h
    runs_on: api
    operations:
      - name: read
        steps:
          - { call: db, timeout: 200ms }
          - { call: cache, timeout: 100ms }
    slo: { success_rate: 0.999 }
workload:
  - { handler: h, arrivals: { process: poisson, rate: 100/s } }
"#;

    /// Requests, errors, degraded and latency count, mean and p99 of every
    /// tally of an entry.
    fn figures(e: &LibraryEntry) -> Vec<(f64, f64, f64, u64, f64, f64)> {
        e.fixed
            .iter()
            .chain(&e.sample)
            .flat_map(|(x, i)| [x, i])
            .map(|t| {
                (
                    t.requests,
                    t.errors,
                    t.degraded,
                    t.latency.count(),
                    t.latency.mean().as_millis_f64(),
                    t.latency.quantile(0.99).as_millis_f64(),
                )
            })
            .collect()
    }

    #[test]
    fn a_change_the_episode_did_not_exercise_leaves_it_exactly_as_it_was() {
        let base = model(TWO_CALLEES);
        let b = Baseline::for_variant(&base, 3, 0);
        let tasks = b.library_tasks(&base, 1);
        // One rep of each class (the db crash, the cache spike), longest duration.
        let top = |c: usize| {
            tasks
                .iter()
                .rfind(|t| t.class() == c)
                .expect("a task per class")
        };
        let (crash, spike) = (top(0), top(1));
        assert_eq!(base.resources[crash.resource()].id, "db");
        let (ec, es) = (crash.run(&base), spike.run(&base));
        // The crash fails the db call; the cache spike (300 ms against a
        // 100 ms timeout) fails the cache call; the api's 64 slots are
        // never all busy.
        assert!(ec.usage().failed(&base, 0, 0, 0) && !ec.usage().failed(&base, 0, 0, 1));
        assert!(es.usage().failed(&base, 0, 0, 1) && !es.usage().failed(&base, 0, 0, 0));
        assert!(!ec.usage().saturated(0) && !es.usage().saturated(0));
        // A fallback on the cache call: not exercised by the crash episode,
        // which is then the same to the last request; exercised by the spike's.
        let mut s: crate::spec::Scenario = serde_saphyr::from_str(TWO_CALLEES).unwrap();
        let crate::spec::Step::Call(c) = &mut s.handlers[0].operations[0].steps[1] else {
            unreachable!()
        };
        c.fallback = crate::spec::Fallback::Cached;
        let variant = crate::compile::compile(&s, &[], &crate::compile::Empirical::new()).unwrap();
        assert_eq!(figures(&crash.run(&variant)), figures(&ec));
        assert_ne!(figures(&spike.run(&variant)), figures(&es));
        // More api concurrency, never exhausted: the same in both episodes.
        let mut s: crate::spec::Scenario = serde_saphyr::from_str(TWO_CALLEES).unwrap();
        s.resources[0].concurrency = Some(128);
        let variant = crate::compile::compile(&s, &[], &crate::compile::Empirical::new()).unwrap();
        assert_eq!(figures(&crash.run(&variant)), figures(&ec));
        assert_eq!(figures(&spike.run(&variant)), figures(&es));
        // A third api replica, never full and struck by no fault: which
        // replica serves a request changes nothing. A second db replica
        // changes the db crash's episode (it strikes one of two).
        let mut s: crate::spec::Scenario = serde_saphyr::from_str(TWO_CALLEES).unwrap();
        s.resources[0].replicas = 3;
        let variant = crate::compile::compile(&s, &[], &crate::compile::Empirical::new()).unwrap();
        assert_eq!(figures(&crash.run(&variant)), figures(&ec));
        assert_eq!(figures(&spike.run(&variant)), figures(&es));
        let mut s: crate::spec::Scenario = serde_saphyr::from_str(TWO_CALLEES).unwrap();
        s.resources[1].replicas = 2;
        let variant = crate::compile::compile(&s, &[], &crate::compile::Empirical::new()).unwrap();
        assert_ne!(figures(&crash.run(&variant)), figures(&ec));
        // The union of what two simulations exercised.
        let mut u = *ec.usage();
        u.merge(es.usage());
        assert!(u.failed(&base, 0, 0, 0) && u.failed(&base, 0, 0, 1));
    }

    #[test]
    fn a_full_replica_is_recorded_as_saturation() {
        // The db's 4 slots at 100/s of 5 ms (mean 0.5 busy) fill now and
        // then; with one slot they fill all the time.
        let mut s: crate::spec::Scenario = serde_saphyr::from_str(TWO_CALLEES).unwrap();
        s.resources[1].concurrency = Some(1);
        let m = crate::compile::compile(&s, &[], &crate::compile::Empirical::new()).unwrap();
        let b = Baseline::simulate(&m, CampaignSeed::derive(1, 0, 0), d(60));
        assert!(b.counted.usage.saturated(1));
        assert!(!b.counted.usage.saturated(0) && !b.counted.usage.saturated(2));
        let w = Usage {
            composed: 0,
            ..b.counted.usage
        };
        assert!(!w.composed(0) && !w.composed(70));
        let w = Usage {
            composed: 1 << 63,
            ..w
        };
        assert!(w.composed(63) && w.composed(70) && !w.composed(0));
    }
}
