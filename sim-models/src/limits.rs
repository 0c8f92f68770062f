//! Bounds on what one simulation may hold and do (`docs/limits.md`).
//!
//! Memory of a request-level simulation grows with the requests in flight:
//! queued at a resource, holding a slot, waiting in a handler's table, and
//! the events they have scheduled. Every campaign, two-scale episode,
//! healthy baseline and library episode therefore runs under an
//! **in-flight cap** ([`Model::in_flight_cap`]): the requests held by all
//! resources of the simulation together (queued or in a slot). A request
//! that arrives at a resource when the cap is reached is rejected at once,
//! as a `queue_limit` rejects it (an error for whoever sent it, the way a
//! real server out of memory or connections refuses work), and counted in
//! [`InFlight::refused`](crate::in_flight::InFlight::refused). Below the cap nothing changes, so results of every
//! scenario that never reaches it are exactly what they were without it.
//!
//! [`CampaignMemory::of`] is the documented function of the model that
//! bounds the bytes one simulation holds; the runner compares it with
//! `--max-memory` before anything runs.

use sim_core::{LatencyHistogram, Simulation};

use crate::actors::Node;
use crate::model::{Model, StepDef};

/// The largest in-flight cap: requests held at once by the resources of
/// one simulation.
pub const DEFAULT_IN_FLIGHT_CAP: u64 = 1 << 20;

/// The memory one campaign's requests in flight and actors may take when
/// `--max-memory` asks for nothing less: the default in-flight cap of a
/// model is the most requests that fit in it ([`default_cap`]), at most
/// [`DEFAULT_IN_FLIGHT_CAP`]. A function of the scenario alone, so results
/// do not depend on the machine.
pub const CAMPAIGN_BUDGET: u64 = 1 << 30;

/// The smallest in-flight cap the runner accepts: below it, even modest
/// systems would be refused work they can hold.
pub const MIN_IN_FLIGHT_CAP: u64 = 1024;

/// Most attempts a call step may make (`retry.max_attempts`): beyond it a
/// scenario is refused by validation. Each attempt can leave work at the
/// callee and messages in transit, so the attempts bound the work and the
/// events one request can cause.
pub const MAX_RETRY_ATTEMPTS: u32 = 100;

/// Most polls one poll step may send (`timeout / interval`).
pub const MAX_POLLS_PER_STEP: f64 = 1e6;

/// Expected workload requests one simulation may hold (request level:
/// rate × horizon; two-scale: one episode, the baseline, one library
/// episode). Above it a run is refused before it starts.
pub const MAX_REQUESTS_PER_SIMULATION: f64 = 1e8;

/// Workload requests the two-scale healthy baseline is cut to at high
/// rates (its 30-minute floor would otherwise hold billions).
pub const BASELINE_MAX_REQUESTS: f64 = 2e7;

/// Expected faults per campaign above which the two-scale method is refused
/// (its timeline and episode segments grow with them).
pub const MAX_FAULTS_PER_CAMPAIGN: f64 = 1e5;

/// The largest `max_attempts` of any call step of the model.
pub fn max_attempts(model: &Model) -> u32 {
    model
        .handlers
        .iter()
        .flat_map(|h| h.ops.iter())
        .flat_map(|o| o.steps.iter())
        .map(|s| match s {
            StepDef::Call(c) => c.retry.max_attempts + u32::from(c.fallback_call.is_some()),
            StepDef::Poll(_) => 1,
        })
        .max()
        .unwrap_or(1)
}

/// Events one request in flight may have queued at once: its service
/// time, its timer, a message on its way, and for every attempt of a call
/// that was given up on (a timeout) the attempt's messages still in transit
/// and a cancelled timer not yet swept.
pub fn events_per_in_flight(model: &Model) -> u64 {
    4 + 2 * u64::from(max_attempts(model).saturating_sub(1))
}

/// Bytes one request in flight may hold, vectors' growth by doubling
/// included (×2): its place in a resource's queue, its slot, its entry in a
/// handler's table and its queued events.
pub fn bytes_per_in_flight(model: &Model) -> u64 {
    let own = crate::actors::resource::OCCUPANT_BYTES
        + crate::actors::resource::SLOT_BYTES
        + crate::actors::handler::REQ_BYTES;
    let events = events_per_in_flight(model) * Simulation::<Node<'_>>::bytes_per_event();
    2 * (own + events)
}

/// What one simulation of a model holds besides its requests in flight:
/// its actors and their random streams, two latency histograms per
/// handler (workload and calls) and the event queue's time buckets.
pub fn simulation_fixed_bytes(model: &Model) -> u64 {
    let actors =
        model.resources.len() + model.links.len() + model.handlers.len() + model.faults.len();
    let per_actor = std::mem::size_of::<Node<'_>>() as u64 + 64 + 256;
    let replicas: u64 = model
        .resources
        .iter()
        .map(|r| u64::from(r.replicas) * 64)
        .sum();
    actors as u64 * per_actor
        + replicas
        + model.handlers.len() as u64 * 2 * hist_bytes()
        + Simulation::<Node<'_>>::queue_fixed_bytes()
        + 64 * 1024
}

/// Bytes of one latency histogram (with its counters).
pub fn hist_bytes() -> u64 {
    LatencyHistogram::heap_bytes() + std::mem::size_of::<LatencyHistogram>() as u64
}

/// Expected faults of one campaign of the model (natural mode): per failure
/// process, one per mean cycle (up + repair) over the horizon, plus one for
/// a process down at the start.
pub fn expected_faults(model: &Model) -> f64 {
    let horizon = model.horizon.as_secs_f64();
    model
        .faults
        .iter()
        .map(|f| {
            // A process biased for importance sampling fails `bias` times
            // as often.
            let cycle = f.time_between.mean() / f.bias.max(1.0) + f.repair.mean();
            if cycle > 0.0 && cycle.is_finite() {
                horizon / cycle + 1.0
            } else if cycle.is_finite() {
                f64::INFINITY
            } else {
                1.0
            }
        })
        .sum()
}

/// A high bound on the faults of one campaign: the expected count plus six
/// of its Poisson standard deviations, plus ten.
pub fn faults_bound(model: &Model) -> f64 {
    let f = expected_faults(model);
    f + 6.0 * f.sqrt() + 10.0
}

/// The bytes one campaign of a model may hold, term by term.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CampaignMemory {
    /// Actors, streams, per-handler histograms: [`simulation_fixed_bytes`].
    pub fixed: u64,
    /// The in-flight cap times [`bytes_per_in_flight`].
    pub in_flight: u64,
    /// Two-scale only: the fault timeline and the per-segment histograms of
    /// its episodes, for [`faults_bound`] faults.
    pub episodes: u64,
    /// Two-scale only: a second simulation (`fixed` and `in_flight` again):
    /// a library rep runs its longest fault and, at once, a copy taken at
    /// a shorter duration's repair ([`crate::two_scale::LibraryChain`]).
    pub copy: u64,
}

impl CampaignMemory {
    /// The bound for one campaign of `model` with in-flight cap `cap`, by
    /// the two-scale method when `two_scale`.
    pub fn of(model: &Model, cap: u64, two_scale: bool) -> CampaignMemory {
        let episodes = if two_scale {
            // Each fault adds at most four segments (its onset and recovery
            // each cut a stretch into a transient and a sample), each with
            // two histograms per handler; the timeline holds the faults.
            let f = faults_bound(model);
            let segments = 2.0 + 4.0 * f;
            let per = 2.0 * model.handlers.len() as f64 * hist_bytes() as f64;
            (segments * per + f * 64.0).min(u64::MAX as f64) as u64
        } else {
            0
        };
        let fixed = simulation_fixed_bytes(model);
        let in_flight = cap.saturating_mul(bytes_per_in_flight(model));
        CampaignMemory {
            fixed,
            in_flight,
            episodes,
            copy: if two_scale {
                fixed.saturating_add(in_flight)
            } else {
                0
            },
        }
    }

    /// The sum of the terms.
    pub fn total(&self) -> u64 {
        self.fixed
            .saturating_add(self.in_flight)
            .saturating_add(self.episodes)
            .saturating_add(self.copy)
    }

    /// The largest term: `(name, bytes)`.
    pub fn dominant(&self) -> (&'static str, u64) {
        // The copy holds in-flight requests, actors and histograms again.
        let twice = if self.copy > 0 { 2 } else { 1 };
        [
            ("in-flight requests", self.in_flight.saturating_mul(twice)),
            ("episode segments", self.episodes),
            ("actors and histograms", self.fixed.saturating_mul(twice)),
        ]
        .into_iter()
        .max_by_key(|t| t.1)
        .expect("three terms")
    }
}

/// The in-flight cap of `model` when nothing else is asked: the most
/// requests whose bound fits in [`CAMPAIGN_BUDGET`] with the model's fixed
/// part, at most [`DEFAULT_IN_FLIGHT_CAP`] and at least [`MIN_IN_FLIGHT_CAP`].
pub fn default_cap(model: &Model) -> u64 {
    cap_within(model, CAMPAIGN_BUDGET, false).unwrap_or(MIN_IN_FLIGHT_CAP)
}

/// The in-flight cap that keeps one campaign of `model` within `budget`
/// bytes, at most [`DEFAULT_IN_FLIGHT_CAP`]; `None` when even
/// [`MIN_IN_FLIGHT_CAP`] does not fit.
pub fn cap_within(model: &Model, budget: u64, two_scale: bool) -> Option<u64> {
    let rest = CampaignMemory::of(model, 0, two_scale).total();
    // Two-scale: every request in flight may be held twice (`copy`).
    let per = bytes_per_in_flight(model).max(1) * if two_scale { 2 } else { 1 };
    let cap = budget.saturating_sub(rest) / per;
    (cap >= MIN_IN_FLIGHT_CAP && rest < budget).then_some(cap.min(DEFAULT_IN_FLIGHT_CAP))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::{CampaignMode, run_campaign, start};
    use sim_core::{CampaignSeed, SimTime};

    fn model(yaml: &str) -> Model {
        let s: crate::spec::Scenario = serde_saphyr::from_str(yaml).expect("parses");
        crate::compile::compile(&s, &[], &crate::compile::Empirical::new()).expect("compiles")
    }

    /// An M/M/1 queue arriving 50 times faster than it serves.
    const OVERLOADED: &str = r#"
name: overloaded
horizon: 2s
resources:
  - { id: server, type: service, concurrency: 1, failure_modes: [],
      service_time: { dist: exponential, mean: 1ms } }
handlers:
  - { id: queue, runs_on: server, operations: [ { name: serve, steps: [] } ] }
workload:
  - { handler: queue, arrivals: { process: poisson, rate: 50000/s } }
"#;

    #[test]
    fn overloaded_queue_is_bounded_not_killed() {
        let mut m = model(OVERLOADED);
        m.in_flight_cap = 5_000;
        let seed = CampaignSeed::derive(3, 0, 0);
        let (_, mut sim) = start(&m, seed, CampaignMode::Natural);
        sim.run_until(SimTime::ZERO + m.horizon);
        let Node::Resource(r) = &sim.actors()[0] else {
            unreachable!("resources come first")
        };
        let budget = r.in_flight().clone();
        assert_eq!(
            budget.peak(),
            5_000,
            "the queue filled up to the cap, no further"
        );
        assert!(budget.refused() > 80_000, "{}", budget.refused());
        // The whole campaign: every arrival is counted, those refused as errors.
        let r = run_campaign(&m, seed, CampaignMode::Natural);
        assert!(r.refused_over_cap > 80_000);
        assert!(r.summary.requests > 95_000, "{}", r.summary.requests);
        assert!(r.summary.errors >= r.refused_over_cap);
    }

    #[test]
    fn cap_not_reached_changes_nothing() {
        let mut m = model(&OVERLOADED.replace("50000/s", "800/s"));
        let seed = CampaignSeed::derive(3, 0, 1);
        let a = run_campaign(&m, seed, CampaignMode::Natural);
        m.in_flight_cap = u64::MAX;
        let b = run_campaign(&m, seed, CampaignMode::Natural);
        assert_eq!(a, b);
        assert_eq!(a.refused_over_cap, 0);
    }

    #[test]
    fn default_cap_fits_the_campaign_budget() {
        let m = model(OVERLOADED);
        assert_eq!(m.in_flight_cap, DEFAULT_IN_FLIGHT_CAP);
        assert!(CampaignMemory::of(&m, m.in_flight_cap, false).total() <= CAMPAIGN_BUDGET);
        // Retries multiply a request's queued events: the cap shrinks to fit.
        let retried = model(
            r#"
name: retried
horizon: 2s
resources:
  - { id: server, type: service, concurrency: 4, failure_modes: [] }
  - { id: db, type: database, concurrency: 1, failure_modes: [] }
handlers:
  - id: h
    runs_on: server
    operations:
      - { name: op, steps: [ { call: db, timeout: 1ms, retry: { max_attempts: 100 } } ] }
workload:
  - { handler: h, arrivals: { process: poisson, rate: 10/s } }
"#,
        );
        assert_eq!(events_per_in_flight(&retried), 4 + 2 * 99);
        assert!(retried.in_flight_cap < DEFAULT_IN_FLIGHT_CAP);
        assert!(retried.in_flight_cap >= MIN_IN_FLIGHT_CAP);
        let total = CampaignMemory::of(&retried, retried.in_flight_cap, false).total();
        assert!(total <= CAMPAIGN_BUDGET, "{total}");
        assert!(
            cap_within(&retried, 1 << 20, false).is_none(),
            "1 MiB holds too few"
        );
    }
}
