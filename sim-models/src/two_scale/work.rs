//! What the two-scale method will simulate for a model, estimated before
//! anything runs ([`Work`], `docs/limits.md`).

use sim_core::SimDuration;

use super::episodes::reachable;
use super::library::GRID;
use super::{Baseline, LIBRARY_REPS, Margins, expected_arrivals};
use crate::model::{EffectIx, FaultScope, Model, ResourceIx};

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
    /// handler, two histograms for the baseline and, per library episode,
    /// four tallies whose latencies are kept as points (at most a pair per
    /// bucket: [`sim_core::HistogramPoints::max_bytes`]).
    pub fn pooled_bytes(&self, model: &Model) -> u64 {
        let handlers = model.handlers.len() as u64;
        let points = sim_core::HistogramPoints::max_bytes();
        2 * handlers * crate::limits::hist_bytes()
            + self.library_episodes as u64 * 4 * handlers * points
    }
}
