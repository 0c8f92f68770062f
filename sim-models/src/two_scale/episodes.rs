//! Stage 2, episodes: the margins around faults derived from the model,
//! faults grouped into episodes ([`cut_episodes`]), and each episode's plan
//! ([`plan_episode`]): long steady stretches cut to a weighted sample.

use sim_core::{SimDuration, SimTime};

use crate::campaign::FaultInterval;
use crate::model::{Model, StepDef};

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
pub(super) struct Waits {
    /// Longest time one call step can take: timeout × attempts plus backoffs.
    pub(super) call: SimDuration,
    /// Longest poll timeout.
    pub(super) poll: SimDuration,
    /// Longest breaker window + open time.
    pub(super) breaker: SimDuration,
    /// Longest breaker window alone.
    breaker_window: SimDuration,
    /// Longest health-check delay.
    pub(super) health: SimDuration,
}

impl Waits {
    pub(super) fn of(model: &Model) -> Waits {
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
                            if let Some(f) = &c.fallback_call {
                                total = total + f.timeout.unwrap_or_default();
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
    /// [`super::LEAD_QUANTILE`] of the [`super::Baseline`]'s latencies).
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
    plan_episode_pooled(e, faults, m, dither, |_| false).0
}

/// The steady rest of a cut stretch taken from a pool instead of
/// simulated ([`plan_episode_pooled`]): fault `fault` is the only one
/// active, and the pool's steady state of that fault stands for window
/// time `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PooledRest {
    /// The fault active alone, as an index into the list of faults.
    pub fault: usize,
    /// Window time the pooled steady state stands for.
    pub from: SimTime,
    /// End of that window time.
    pub to: SimTime,
}

/// [`plan_episode`], where a cut stretch in which one fault `i` is active
/// alone and `pooled(i)` holds takes its steady rest from a pool (the
/// library's steady sample of that fault's class, as an isolated fault
/// longer than the library's grid does): only its `transient` and a part
/// of `sample × dither` are simulated (the dither keeps the stretch's end
/// at a random phase of the fault's cycles), and the rest of the stretch
/// is returned as a [`PooledRest`]. Stretches with several faults active
/// are cut as [`plan_episode`] cuts them.
pub fn plan_episode_pooled(
    e: &Episode,
    faults: &[FaultInterval],
    m: &Margins,
    dither: f64,
    pooled: impl Fn(usize) -> bool,
) -> (EpisodePlan, Vec<PooledRest>) {
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
    let mut rests = Vec::new();
    let dithered = SimDuration((m.sample.0 as f64 * dither.clamp(0.0, 1.0)) as u64);
    for w in cuts.windows(2) {
        let len = w[1] - w[0];
        let alone = {
            let mut active = e
                .faults
                .iter()
                .copied()
                .filter(|&i| faults[i].on <= w[0] && faults[i].off > w[0]);
            match (active.next(), active.next()) {
                (Some(i), None) if pooled(i) => Some(i),
                _ => None,
            }
        };
        if let (Some(i), true) = (alone, len > full && sample > SimDuration::ZERO) {
            let head = m.transient + dithered;
            t += head;
            bounds.push(t);
            weights.push(1.0);
            rests.push(PooledRest {
                fault: i,
                from: w[0] + head,
                to: w[1],
            });
        } else if len > full && sample > SimDuration::ZERO {
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
    (
        EpisodePlan {
            origin,
            bounds,
            weights,
            faults: plan_faults,
        },
        rests,
    )
}

/// Resources some handler can reach (its own, and every call or poll
/// target): faults elsewhere cannot change any request.
pub(super) fn reachable(model: &Model) -> Vec<bool> {
    let mut r = vec![false; model.resources.len()];
    for h in &model.handlers {
        r[h.resource] = true;
        for op in &h.ops {
            for s in &op.steps {
                let l = match s {
                    StepDef::Call(c) => {
                        if let Some(f) = &c.fallback_call {
                            r[model.links[f.link].to] = true;
                        }
                        c.link
                    }
                    StepDef::Poll(p) => p.link,
                };
                r[model.links[l].to] = true;
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::two_scale::testing::*;

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
    fn a_fault_alone_takes_its_steady_rest_from_the_pool() {
        let m = margins();
        // A from 100 to 400, B from 200 to 230 inside it: stretches lead
        // [95, 100), A alone [100, 200), both [200, 230), A alone
        // [230, 400), settle [400, 420).
        let faults = [fault(100, 400), fault(200, 230)];
        let e = &cut_episodes(&faults, &m, t(10_000))[0];
        assert_eq!(
            (e.start, e.end, e.faults.clone()),
            (t(95), t(420), vec![0, 1])
        );
        let (p, rests) = plan_episode_pooled(e, &faults, &m, 0.0, |i| i == 0);
        // Each stretch of A alone: its 30 s transient simulated, the rest pooled.
        assert_eq!(p.origin, t(85));
        assert_eq!(p.bounds, vec![t(10), t(15), t(45), t(75), t(105), t(125)]);
        assert_eq!(p.weights, vec![1.0; 5]);
        assert_eq!(p.faults, vec![(0, t(15), t(105)), (1, t(45), t(75))]);
        let rest = |from, to| PooledRest {
            fault: 0,
            from: t(from),
            to: t(to),
        };
        assert_eq!(rests, vec![rest(130, 200), rest(260, 400)]);
        // The dither adds up to a sample to what is simulated (and so to
        // the cut's length: 100 s is no longer cut with a 75 s sample).
        let (p, rests) = plan_episode_pooled(e, &faults, &m, 0.5, |i| i == 0);
        assert_eq!(p.bounds, vec![t(10), t(15), t(115), t(145), t(200), t(220)]);
        assert_eq!(rests, vec![rest(285, 400)]);
        // Without a pool for A, its stretches keep their weighted sample.
        let (p, rests) = plan_episode_pooled(e, &faults, &m, 0.0, |i| i == 1);
        assert_eq!(p, plan_episode(e, &faults, &m, 0.0));
        assert!(rests.is_empty());
        assert_eq!(p.weights, vec![1.0, 1.0, 1.4, 1.0, 1.0, 2.8, 1.0]);
        // Both active is never pooled: B over [200, 400) inside A.
        let faults = [fault(100, 500), fault(200, 400)];
        let e = &cut_episodes(&faults, &m, t(10_000))[0];
        let (p, rests) = plan_episode_pooled(e, &faults, &m, 0.0, |_| true);
        assert_eq!(rests, vec![rest(130, 200), rest(430, 500)]);
        assert_eq!(p.weights, vec![1.0, 1.0, 1.0, 3.4, 1.0, 1.0]);
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
}
