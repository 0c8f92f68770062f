//! Simulating one planned episode (or the healthy baseline) at request
//! level, and the weighted tallies its counted segments give
//! ([`simulate_plan`], [`Tally`], [`Counted`]); the workload arrivals
//! expected in a stretch of window time ([`expected_arrivals`]).

use sim_core::{
    ActorId, CampaignSeed, HistogramPoints, LatencyHistogram, SimDuration, SimTime, Simulation,
};

use super::EpisodePlan;
use crate::actors::{FailureActor, Layout, Node, RequestStats, Segments};
use crate::campaign::{FaultInterval, RequestSummary, add_failure, build};
use crate::model::Model;
use crate::usage::Usage;

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

/// A [`Tally`] that many campaigns add scaled (a library entry's part),
/// with its latencies kept as their recorded values ([`HistogramPoints`]):
/// adding it then costs its few hundred distinct values instead of a walk
/// over a histogram's thousands of buckets, with exactly the same result.
#[derive(Debug, Clone, Default)]
pub struct PooledTally {
    /// Requests (weighted).
    pub requests: f64,
    /// Failed requests (weighted).
    pub errors: f64,
    /// Degraded successes (weighted).
    pub degraded: f64,
    /// Latencies.
    pub latency: HistogramPoints,
}

impl From<&Tally> for PooledTally {
    fn from(t: &Tally) -> Self {
        PooledTally {
            requests: t.requests,
            errors: t.errors,
            degraded: t.degraded,
            latency: t.latency.points(),
        }
    }
}

impl Tally {
    /// Adds a pooled tally scaled by `weight` (as [`Tally::add_scaled`]).
    pub fn add_pooled(&mut self, o: &PooledTally, weight: f64) {
        self.requests += o.requests * weight;
        self.errors += o.errors * weight;
        self.degraded += o.degraded * weight;
        self.latency.merge_points_scaled(&o.latency, weight);
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
    /// Messages delivered to an actor that does not handle them (a routing
    /// bug; see [`crate::campaign::CampaignResult::misrouted`]).
    pub misrouted: u64,
    /// What the simulation exercised.
    pub usage: Usage,
    /// How much of the counted span's end the simulation left to healthy
    /// time: arrivals stopped this long before the plan's last bound,
    /// once the system had settled ([`finish_raw`]'s early settle).
    pub settled_early: SimDuration,
    /// Workload arrivals expected in the part of the counted span left to
    /// healthy time ([`super::Library::compose`]'s early settle).
    pub healthy_arrivals: f64,
}

/// Per handler, what each segment of one simulation counted.
pub(super) struct Raw {
    /// Per handler: the segments.
    pub(super) segments: Vec<Segments>,
    pub(super) openings: Vec<u32>,
    events: u64,
    pub(super) hung: u64,
    pub(super) refused_over_cap: u64,
    pub(super) misrouted: u64,
    pub(super) usage: Usage,
    /// Where the workload arrivals stopped (simulated time): the plan's
    /// last bound, or sooner when the system settled early.
    pub(super) end: SimTime,
}

/// How often, after the last repair, whether the system has settled is
/// checked ([`finish_raw`]).
pub(super) const SETTLE_CHECK: SimDuration = SimDuration(1_000_000_000);

/// The last repair of `plan`'s faults (simulated time): from there on the
/// system may settle early ([`finish_raw`]).
pub(super) fn last_repair(plan: &EpisodePlan) -> Option<SimTime> {
    plan.faults.iter().map(|&(_, _, off)| off).max()
}

pub(super) fn simulate_raw(
    model: &Model,
    plan: &EpisodePlan,
    faults: &[FaultInterval],
    seed: CampaignSeed,
) -> Raw {
    let (sim, _) = start_raw(model, plan, faults, seed);
    finish_raw(
        model,
        sim,
        *plan.bounds.last().expect("at least two bounds"),
        last_repair(plan),
    )
}

/// The simulation of `plan` at time zero, its faults scheduled; with the
/// failure actor of each of `plan.faults`, in order.
pub(super) fn start_raw<'m>(
    model: &'m Model,
    plan: &EpisodePlan,
    faults: &[FaultInterval],
    seed: CampaignSeed,
) -> (Simulation<Node<'m>>, Vec<ActorId>) {
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
    let mut failures = Vec::with_capacity(plan.faults.len());
    for (j, &(i, on, off)) in plan.faults.iter().enumerate() {
        let f = &faults[i];
        let actor = FailureActor::scheduled(
            layout.resource(f.resource),
            f.effect as u32,
            f.replica,
            on - SimTime::ZERO,
            off - on,
        );
        failures.push(add_failure(&mut sim, actor, &format!("replay/{j}")));
    }
    (sim, failures)
}

/// Runs `sim` (arrivals stopping at `arrivals_end`) through the model's
/// drain and takes what its segments counted.
///
/// **Early settle.** The settle margin after the last repair is the
/// model's worst case (a breaker's window and open time, the slowest call
/// step, plus the lead). From `last_repair` on, every [`SETTLE_CHECK`] the
/// actors are asked whether any still remembers a fault
/// ([`Node::quiet`]: a breaker not closed or with a failure in its
/// window, a callee skipped, a replica down, out of rotation or short of
/// slots, a request queued, an effect active). At the first check at which
/// none does, a request starting then meets the system as a healthy one
/// would: the arrivals stop there (requests in flight, those caught by
/// the fault among them, run on through the drain and are counted), and
/// the rest of the counted span is healthy time, counted by the baseline.
/// The checks fall at the same times in a simulation and in a copy of it
/// taken at the repair, so a library chain's episodes stay exactly their
/// plans simulated alone.
pub(super) fn finish_raw(
    model: &Model,
    mut sim: Simulation<Node<'_>>,
    arrivals_end: SimTime,
    last_repair: Option<SimTime>,
) -> Raw {
    let layout = Layout::new(model);
    let mut end = arrivals_end;
    if let Some(from) = last_repair {
        let mut t = from + SETTLE_CHECK;
        while t < arrivals_end {
            sim.run_until(t);
            if sim.actors().iter().all(|a| a.quiet(t)) {
                for a in sim.actors_mut() {
                    if let Node::Resource(r) = a {
                        r.set_arrivals_end(t);
                    }
                }
                end = t;
                break;
            }
            t += SETTLE_CHECK;
        }
    }
    sim.run_until(end + model.drain);
    let events = sim.delivered();
    let now = sim.now();
    let mut out = Raw {
        segments: Vec::with_capacity(model.handlers.len()),
        openings: Vec::with_capacity(model.handlers.len()),
        events,
        hung: 0,
        refused_over_cap: 0,
        misrouted: sim.unhandled(),
        usage: Usage::default(),
        end,
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
        misrouted: raw.misrouted,
        usage: raw.usage,
        settled_early: *plan.bounds.last().expect("at least two bounds") - raw.end,
        healthy_arrivals: 0.0,
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

impl Tally {
    /// Adds another tally scaled by `weight`.
    pub fn add_scaled(&mut self, o: &Tally, weight: f64) {
        self.requests += o.requests * weight;
        self.errors += o.errors * weight;
        self.degraded += o.degraded * weight;
        self.latency.merge_scaled(&o.latency, weight);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::two_scale::testing::*;
    use sim_core::SimDuration;

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
}
