//! Stage 4, the library ([`Library`]): pooled request-level episodes of
//! isolated faults per class of fault and duration of a grid
//! ([`LibraryTask`], [`LibraryEntry`]), from which a campaign's isolated
//! faults are composed instead of simulated.

use std::sync::Arc;

use sim_core::{CampaignSeed, SimDuration, SimTime};

use super::simulate::{PooledTally, Raw, finish_raw, last_repair, start_raw};
use super::{Counted, Episode, EpisodePlan, Margins, Tally, expected_arrivals};
use crate::actors::Node;
use crate::campaign::FaultInterval;
use crate::campaign::fork;
use crate::model::{EffectIx, Model, ResourceIx};
use crate::msg::ALL_REPLICAS;
use crate::msg::Msg;
use crate::usage::Usage;

/// Episodes per class of fault and duration in the runner's [`Library`].
pub const LIBRARY_REPS: usize = 8;

/// Durations every rep of a [`Library`] holds, in seconds: short faults,
/// where an episode's figures jump (a crash kills what is in flight, a
/// breaker opens after a few seconds), are sampled densely.
pub(super) const FIXED_GRID_S: [u64; 5] = [0, 1, 2, 4, 8];
/// Shifted durations per rep between the last fixed one and the top.
pub(super) const SHIFTED: usize = 8;
/// Durations per rep: the fixed ones, the shifted ones, the top.
pub(super) const GRID: usize = FIXED_GRID_S.len() + SHIFTED + 1;

/// Faults a library episode can stand for: the same effect on the same
/// resource, on one replica (any: replicas are interchangeable) or on all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ClassKey {
    pub(super) resource: ResourceIx,
    pub(super) effect: EffectIx,
    pub(super) per_replica: bool,
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
    pub(super) fixed: Vec<(PooledTally, PooledTally)>,
    pub(super) sample: Vec<(PooledTally, PooledTally)>,
    /// Workload requests counted in the fixed part and in the sample.
    fixed_arrivals: f64,
    sample_arrivals: f64,
    /// How long after the repair the arrivals ran: the settle margin, or
    /// less when the system settled early (`finish_raw`).
    settle: SimDuration,
    openings: Vec<u32>,
    hung: u64,
    refused_over_cap: u64,
    misrouted: u64,
    /// What the episode exercised.
    usage: Usage,
}

impl LibraryEntry {
    /// What the episode exercised (see [`Usage`]).
    pub fn usage(&self) -> &Usage {
        &self.usage
    }

    /// Messages the episode delivered to an actor that does not handle
    /// them (a routing bug; see [`crate::campaign::CampaignResult::misrouted`]).
    pub fn misrouted(&self) -> u64 {
        self.misrouted
    }
}

/// One episode the library needs: group them into chains
/// ([`LibraryTask::chains`]), run the chains in any order, on any thread
/// ([`LibraryChain::run`]), then hand the entries in task order to
/// [`super::Baseline::with_library`].
#[derive(Debug, Clone)]
pub struct LibraryTask {
    pub(super) plan: EpisodePlan,
    pub(super) fault: FaultInterval,
    /// The class of fault, as an index into the library's classes.
    pub(super) class: usize,
    pub(super) seed: CampaignSeed,
    /// Whether this is the grid's longest duration (its sample is kept apart).
    pub(super) top: bool,
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

    /// Groups `tasks`, listed as [`super::Baseline::library_tasks`] lists them
    /// (each rep's durations in order, its longest last), into one
    /// [`LibraryChain`] per class and rep of which some task `k` is
    /// `wanted(k)`.
    pub fn chains(tasks: &[LibraryTask], wanted: impl Fn(usize) -> bool) -> Vec<LibraryChain> {
        let mut out = Vec::new();
        let mut first = 0;
        for (k, t) in tasks.iter().enumerate() {
            if !t.top {
                continue;
            }
            let rep = first..=k;
            debug_assert!(tasks[rep.clone()].iter().all(|u| {
                (u.class, u.seed, u.fault.replica, u.fault.on)
                    == (t.class, t.seed, t.fault.replica, t.fault.on)
            }));
            let wanted: Vec<(usize, LibraryTask)> = rep
                .filter(|&j| wanted(j))
                .map(|j| (j, tasks[j].clone()))
                .collect();
            if !wanted.is_empty() {
                out.push(LibraryChain {
                    top: t.clone(),
                    wanted,
                });
            }
            first = k + 1;
        }
        debug_assert_eq!(
            first,
            tasks.len(),
            "every rep ends with its longest duration"
        );
        out
    }

    /// The library entry of what simulating this task counted.
    fn entry(&self, model: &Model, raw: Raw) -> LibraryEntry {
        let mut e = LibraryEntry {
            openings: raw.openings,
            hung: raw.hung,
            refused_over_cap: raw.refused_over_cap,
            misrouted: raw.misrouted,
            usage: raw.usage,
            settle: raw.end - last_repair(&self.plan).expect("a library episode has its fault"),
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
            e.fixed.push(((&ext).into(), (&int).into()));
            e.sample.push(((&sx).into(), (&si).into()));
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

/// The episodes of one class and rep of a library that are wanted,
/// simulated as one ([`LibraryChain::run`]): the rep's episodes differ
/// only in when their fault is repaired, so they share one simulation up
/// to each repair. It runs with the rep's longest fault; at each shorter
/// duration a copy of it is taken (the same state, the same future
/// draws), the fault is repaired in the copy, and the copy runs on through
/// the settle margin. Each episode is then exactly the simulation of its
/// own plan from the rep's seed, with the fault's repair at its time; the
/// rep's durations share their path up to each repair (what makes the
/// interpolation between two of them smooth), and reps stay independent.
#[derive(Debug, Clone)]
pub struct LibraryChain {
    /// The rep's longest duration: the simulation the others are taken from.
    top: LibraryTask,
    /// The wanted episodes: (index in the task list, task), by duration.
    wanted: Vec<(usize, LibraryTask)>,
}

impl LibraryChain {
    /// The episodes it gives: (index in the task list, entry), by duration.
    pub fn run(&self, model: &Model) -> Vec<(usize, LibraryEntry)> {
        let top = &self.top;
        let (mut sim, failures) =
            start_raw(model, &top.plan, std::slice::from_ref(&top.fault), top.seed);
        let mut out = Vec::with_capacity(self.wanted.len());
        for (k, t) in &self.wanted {
            let end = *t.plan.bounds.last().expect("at least two bounds");
            if t.top {
                // The longest is the simulation itself, run to its end.
                let raw = finish_raw(model, sim, end, last_repair(&t.plan));
                out.push((*k, t.entry(model, raw)));
                break;
            }
            sim.run_until(t.fault.off);
            let mut copy = fork(&sim);
            copy.schedule(t.fault.off, failures[0], Msg::RepairNow);
            // The copy keeps the longest fault's segment bounds: a shorter
            // duration's entry sums its segments after the warm-up, which
            // start at the same time.
            for a in copy.actors_mut() {
                if let Node::Resource(r) = a {
                    r.set_arrivals_end(end);
                }
            }
            let raw = finish_raw(model, copy, end, last_repair(&t.plan));
            out.push((*k, t.entry(model, raw)));
        }
        out
    }

    /// How many episodes it gives.
    pub fn len(&self) -> usize {
        self.wanted.len()
    }

    /// Whether it gives none (never, as [`LibraryTask::chains`] makes them).
    pub fn is_empty(&self) -> bool {
        self.wanted.is_empty()
    }
}

/// Pooled request-level episodes of isolated faults, shared by every
/// campaign of a variant (like the [`super::Baseline`]): per class of fault
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
    pub(super) classes: Vec<ClassKey>,
    /// `[(class × reps + rep) × GRID + g]`; shared, not copied, when
    /// another variant's library reuses them ([`Baseline::shared_entries`]).
    pub(super) entries: Vec<Arc<LibraryEntry>>,
}

impl Library {
    /// The class of fault `f` in this library, if it holds it.
    pub(super) fn class_of(&self, f: &FaultInterval) -> Option<usize> {
        self.classes.iter().position(|k| *k == ClassKey::of(f))
    }

    /// A rep for fault `f`, drawn from `picks`. Rep j struck replica
    /// j mod replicas: pick among the reps that struck this fault's replica
    /// (replicas are not interchangeable: the router breaks ties by index).
    fn pick_rep(&self, model: &Model, f: &FaultInterval, picks: &mut sim_core::SimRng) -> usize {
        let n = usize::from(model.resources[f.resource].replicas);
        if f.replica != ALL_REPLICAS && self.reps >= n {
            let r = usize::from(f.replica);
            r + n * rand::RngExt::random_range(picks, 0..(self.reps - r).div_ceil(n))
        } else {
            rand::RngExt::random_range(picks, 0..self.reps)
        }
    }

    /// The steady state of fault `f` active alone for window time
    /// `[from, to)`, per handler, from the steady sample of a rep's longest
    /// episode (picked from `picks`) scaled to the workload arrivals
    /// expected in that time, as an isolated fault longer than the grid is
    /// composed; with the class it came from. `None` when the library does
    /// not hold the fault's class.
    pub(super) fn steady(
        &self,
        model: &Model,
        f: &FaultInterval,
        from: SimTime,
        to: SimTime,
        picks: &mut sim_core::SimRng,
        into: &mut [(Tally, Tally)],
    ) -> Option<usize> {
        let c = self.class_of(f)?;
        let rep = self.pick_rep(model, f, picks);
        let en = &self.entries[(c * self.reps + rep) * GRID + GRID - 1];
        let want = expected_arrivals(model, from.as_secs_f64(), to.as_secs_f64());
        let w = if en.sample_arrivals > 0.0 {
            want / en.sample_arrivals
        } else {
            0.0
        };
        for ((ext, int), (x, i)) in into.iter_mut().zip(&en.sample) {
            ext.add_pooled(x, w);
            int.add_pooled(i, w);
        }
        Some(c)
    }

    /// The figures of episode `e` composed from the library, or `None` when
    /// it must be simulated (several faults, a fault at the window's edges,
    /// or a fault of a class the library does not hold). The per-handler
    /// figures are added to `into` (and left out of the result); nothing
    /// is added when `None`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn compose(
        &self,
        model: &Model,
        e: &Episode,
        faults: &[FaultInterval],
        m: &Margins,
        horizon: SimTime,
        picks: &mut sim_core::SimRng,
        into: &mut [(Tally, Tally)],
    ) -> Option<Counted> {
        let [i] = e.faults[..] else { return None };
        let f = &faults[i];
        if f.on < SimTime::ZERO + m.warmup + m.lead || f.off + m.settle > horizon {
            return None;
        }
        let c = self.class_of(f)?;
        let rep = self.pick_rep(model, f, picks);
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
        // The part of the counted span an entry left to healthy time (it
        // settled early: `finish_raw`), in expected arrivals.
        let mut healthy = 0.0;
        // (grid index, weight of its fixed part, weight of its sample)
        let parts: Vec<(usize, f64, f64)> = if d >= grid[top] {
            let en = entry(top);
            let head = f.on + m.transient;
            let settled = f.off + en.settle.min(e.end - f.off);
            let fixed = secs(e.start, head) + secs(f.off, settled);
            let sample = secs(head, f.off);
            healthy += secs(settled, e.end);
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
            // (lead + its duration + its settle), then the two are
            // interpolated.
            [(k, 1.0 - a), (k + 1, a)]
                .into_iter()
                .map(|(g, w)| {
                    let en = entry(g);
                    let repair = e.start + m.lead + grid[g];
                    let want = secs(e.start, repair + en.settle.min(m.settle));
                    healthy += w * (secs(e.start, repair + m.settle) - want);
                    let x = w * per(want, en.fixed_arrivals + en.sample_arrivals);
                    (g, x, x)
                })
                .collect()
        };
        let nh = model.handlers.len();
        let mut out = Counted {
            handlers: Vec::new(),
            openings: vec![0; nh],
            events: 0,
            hung: 0,
            refused_over_cap: 0,
            misrouted: 0,
            usage: Usage {
                composed: 1 << c.min(63),
                ..Usage::default()
            },
            settled_early: SimDuration::ZERO,
            healthy_arrivals: 0.0,
        };
        let mut hung = 0.0;
        let mut refused = 0.0;
        // Latencies go straight into `into`; counts are summed over the
        // parts first, then added (so they round as one composed episode).
        let mut counts = vec![[[0.0f64; 3]; 2]; nh];
        for (g, wf, ws) in parts {
            let en = entry(g);
            for h in 0..nh {
                for (part, w) in [(&en.fixed[h], wf), (&en.sample[h], ws)] {
                    for (k, t) in [&part.0, &part.1].into_iter().enumerate() {
                        let c = &mut counts[h][k];
                        c[0] += t.requests * w;
                        c[1] += t.errors * w;
                        c[2] += t.degraded * w;
                    }
                    into[h].0.latency.merge_points_scaled(&part.0.latency, w);
                    into[h].1.latency.merge_points_scaled(&part.1.latency, w);
                }
                out.openings[h] += (f64::from(en.openings[h]) * wf).round() as u32;
            }
            hung += en.hung as f64 * wf;
            refused += en.refused_over_cap as f64 * wf;
            // Not scaled: any misrouted message taints the composition.
            out.misrouted += en.misrouted;
        }
        for ((ext, int), [cx, ci]) in into.iter_mut().zip(&counts) {
            for (t, c) in [(ext, cx), (int, ci)] {
                t.requests += c[0];
                t.errors += c[1];
                t.degraded += c[2];
            }
        }
        out.hung = hung.round() as u64;
        out.refused_over_cap = refused.round() as u64;
        out.healthy_arrivals = healthy;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::{LibraryEntry, LibraryTask};
    use crate::model::Model;
    use crate::two_scale::Baseline;
    use crate::two_scale::testing::*;

    #[test]
    fn misrouted_messages_of_the_baseline_or_any_library_episode_are_counted() {
        use crate::campaign::CampaignMode;
        use crate::two_scale::run_window;
        use sim_core::CampaignSeed;
        let m = model(TWO_CALLEES);
        let mut b = Baseline::for_variant(&m, 3, 0);
        let seed = CampaignSeed::derive(3, 0, 1);
        assert_eq!(b.misrouted(), 0);
        assert_eq!(run_window(&m, seed, CampaignMode::Natural, &b).misrouted, 0);
        // The healthy sample every campaign scales: each campaign counts it.
        b.counted.misrouted = 2;
        assert_eq!(run_window(&m, seed, CampaignMode::Natural, &b).misrouted, 2);
        assert_eq!(b.misrouted(), 2);
        // A library episode, used by a campaign or not.
        let n = b.library_tasks(&m, 1).len();
        let mut entries = vec![super::LibraryEntry::default(); n];
        entries[n - 1].misrouted = 3;
        let b = b.with_library(&m, 1, entries);
        assert_eq!(b.misrouted(), 5);
    }

    /// The episode of a rep's longest duration, alone.
    fn run_top(t: &LibraryTask, m: &Model) -> LibraryEntry {
        let chains = LibraryTask::chains(std::slice::from_ref(t), |_| true);
        chains[0].run(m).pop().expect("one episode").1
    }

    /// Every episode of two reps of every class of `yaml` (workload
    /// `rate` per second), chained; checks what every chained episode
    /// must hold and returns them with their tasks.
    fn chained_episodes(yaml: &str, rate: f64) -> (Baseline, Vec<(LibraryTask, LibraryEntry)>) {
        let m = model(yaml);
        let b = Baseline::for_variant(&m, 5, 0);
        let tasks = b.library_tasks(&m, 2);
        let chains = LibraryTask::chains(&tasks, |_| true);
        // Every class × two reps, every duration of each.
        assert_eq!(chains.len(), tasks.len() / super::GRID);
        assert!(chains.iter().all(|c| c.len() == super::GRID));
        let all: Vec<(usize, LibraryEntry)> = chains.iter().flat_map(|c| c.run(&m)).collect();
        assert_eq!(
            all.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            (0..tasks.len()).collect::<Vec<_>>()
        );
        let mg = &b.margins;
        for ((k, e), t) in all.iter().zip(&tasks) {
            // Every workload request of the episode's own span, lead to
            // its settle (early or not), is counted once: arrivals stop at
            // its own end, and what the longer fault counted before the
            // copy moved to it.
            assert!(e.settle <= mg.settle, "task {k}: settle {:?}", e.settle);
            let span = mg.lead + (t.fault.off - t.fault.on) + e.settle;
            let want = rate * span.as_secs_f64();
            let got = e.fixed_arrivals + e.sample_arrivals;
            assert!(
                (got - want).abs() < 5.0 * want.sqrt(),
                "task {k}: {got} requests, {want} expected"
            );
            assert_eq!(e.sample_arrivals > 0.0, t.top, "task {k}");
        }
        // Each episode is the same whichever others are simulated with it
        // (remediation simulates only some).
        for k in [0, 3, super::GRID + 7, tasks.len() - 1] {
            let alone = LibraryTask::chains(&tasks, |j| j == k);
            let (j, e) = alone[0].run(&m).pop().expect("one episode");
            assert_eq!(j, k);
            assert_eq!(figures(&e), figures(&all[k].1), "task {k}");
            assert_eq!(e.settle, all[k].1.settle, "task {k}");
            assert_eq!(e.usage(), all[k].1.usage());
        }
        // Each is the episode its own plan simulates alone: the copy's
        // path is the plan's up to the repair, and after it the same
        // events follow (its fault repaired, its arrivals stopped, the
        // same checks of whether it has settled).
        for ((k, e), t) in all.iter().zip(&tasks) {
            let raw = crate::two_scale::simulate::simulate_raw(
                &m,
                &t.plan,
                std::slice::from_ref(&t.fault),
                t.seed,
            );
            let alone = t.entry(&m, raw);
            assert_eq!(figures(e), figures(&alone), "task {k}");
            assert_eq!(e.settle, alone.settle, "task {k}");
        }
        let out = tasks.into_iter().zip(all.into_iter().map(|(_, e)| e));
        (b, out.collect())
    }

    #[test]
    fn a_rep_taken_from_one_simulation_counts_each_episode_as_its_own_plan() {
        chained_episodes(TWO_CALLEES, 100.0);
        chained_episodes(BREAKER, 20.0);
    }

    #[test]
    fn an_episode_settles_early_once_nothing_remembers_its_fault() {
        let (b, episodes) = chained_episodes(BREAKER, 20.0);
        let m = model(BREAKER);
        let mg = &b.margins;
        // The worst case: the breaker's window and open time, plus the lead.
        assert_eq!(mg.settle, d(25) + mg.lead);
        let mut early = [0usize; 2];
        for (t, e) in &episodes {
            let class = &m.resources[t.resource()].id;
            let opened = e.openings.iter().sum::<u32>() > 0;
            if e.settle < mg.settle {
                early[usize::from(class == "db")] += 1;
            }
            if class == "db" && opened {
                // Open (or half-open, its trial failing) until the repair:
                // quiet only once a trial succeeds, at most `open_for`
                // after the repair, never at the repair's first check.
                assert!(e.settle > d(1), "{:?}", e.settle);
                assert!(e.settle <= d(16), "{:?}", e.settle);
            }
            if class == "api" {
                // One api replica crashed: nothing else remembers it once
                // it is back (no breaker between the workload and the api).
                assert!(!opened);
                assert_eq!(e.settle, d(1), "{:?}", t.fault);
            }
        }
        // Both classes settle early, the db's long crashes included.
        assert!(early[0] > 0 && early[1] > 0, "{early:?}");
        assert!(
            episodes
                .iter()
                .any(|(t, e)| e.openings.iter().sum::<u32>() > 0
                    && e.settle < mg.settle
                    && m.resources[t.resource()].id == "db")
        );
    }

    #[test]
    fn a_window_counts_its_requests_whatever_its_episodes_left_to_healthy_time() {
        use crate::campaign::CampaignMode;
        use crate::two_scale::run_window;
        use sim_core::CampaignSeed;
        // A day of the breaker model: every fault composed from the
        // library (episodes that settled early leave the end of their span
        // to the baseline) or simulated (one that settles early does too).
        let (m, b) = window_model(BREAKER, 1, 4);
        let lib = b.library.as_ref().expect("a library");
        assert!(lib.entries.iter().any(|e| e.settle < b.margins.settle));
        let want = 20.0 * m.horizon.as_secs_f64();
        let mut composed = 0;
        let mut simulated = Vec::new();
        for c in 0..48 {
            let r = run_window(&m, CampaignSeed::derive(9, 0, c), CampaignMode::Natural, &b);
            assert!(r.faults > 0);
            let got = r.summary.requests as f64;
            if r.events == 0 {
                // Composed only: every part scaled to its expected arrivals.
                composed += 1;
                assert!((got - want).abs() <= 1.0, "campaign {c}: {got} vs {want}");
            } else {
                // Simulated episodes count their own Poisson arrivals.
                simulated.push(got - want);
            }
        }
        assert!(
            composed > 0 && simulated.len() > 5,
            "{composed} / {simulated:?}"
        );
        let n = simulated.len() as f64;
        let mean = simulated.iter().sum::<f64>() / n;
        let var = simulated.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        assert!(
            mean.abs() < 4.0 * (var / n).sqrt() + 1.0,
            "simulated campaigns: {mean} requests off on average, {simulated:?}"
        );
    }

    /// `yaml` over `days`, with a two-scale baseline and library of `reps`.
    fn window_model(yaml: &str, days: u64, reps: usize) -> (Model, Baseline) {
        let mut m = model(yaml);
        m.horizon = d(days * 86_400);
        let b = Baseline::for_variant(&m, 5, 0);
        let tasks = b.library_tasks(&m, reps);
        let entries: Vec<LibraryEntry> = LibraryTask::chains(&tasks, |_| true)
            .iter()
            .flat_map(|c| c.run(&m))
            .map(|(_, e)| e)
            .collect();
        let b = b.with_library(&m, reps, entries);
        (m, b)
    }

    #[test]
    fn a_variant_takes_exactly_the_base_episodes_its_change_did_not_touch() {
        use crate::campaign::CampaignMode;
        use crate::two_scale::{EpisodeReuse, run_window, run_window_with};
        use crate::usage::Usage;
        use sim_core::CampaignSeed;
        // A cached fallback on the db call: it changes an episode only
        // where a db call failed (the api's crashes alone fail none).
        let (base, b) = window_model(BREAKER, 20, 2);
        let with_fallback = BREAKER.replace(
            "            timeout: 500ms\n",
            "            timeout: 500ms\n            fallback: cached\n",
        );
        assert_ne!(with_fallback, BREAKER);
        let (var, vb) = window_model(&with_fallback, 20, 2);
        assert_eq!(b.margins, vb.margins);
        let untouched = |u: &Usage| !u.failed(&var, 0, 0, 0);
        let anything = |_: &Usage| true;
        let (mut taken, mut kept, mut wrong) = (0, 0, 0);
        for c in 0..16 {
            let seed = CampaignSeed::derive(9, 0, c);
            let keep = EpisodeReuse {
                keep: true,
                prior: None,
            };
            let first = run_window_with(&base, seed, CampaignMode::Natural, &b, keep);
            assert_eq!(
                first.result,
                run_window(&base, seed, CampaignMode::Natural, &b)
            );
            kept += first.kept.len();
            let alone = run_window(&var, seed, CampaignMode::Natural, &vb);
            let take = |same: crate::two_scale::Unchanged<'_>| {
                let reuse = EpisodeReuse {
                    keep: false,
                    prior: Some((&first.kept, same)),
                };
                run_window_with(&var, seed, CampaignMode::Natural, &vb, reuse)
            };
            let w = take(&untouched);
            assert_eq!(w.result, alone, "campaign {c}");
            taken += w.taken;
            // Taking the episodes the change did touch gives other figures.
            wrong += u32::from(take(&anything).result != alone);
        }
        assert!(taken > 0 && (taken as usize) < kept, "{taken} of {kept}");
        assert!(wrong > 0);
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
        let (ec, es) = (run_top(crash, &base), run_top(spike, &base));
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
        assert_eq!(figures(&run_top(crash, &variant)), figures(&ec));
        assert_ne!(figures(&run_top(spike, &variant)), figures(&es));
        // More api concurrency, never exhausted: the same in both episodes.
        let mut s: crate::spec::Scenario = serde_saphyr::from_str(TWO_CALLEES).unwrap();
        s.resources[0].concurrency = Some(128);
        let variant = crate::compile::compile(&s, &[], &crate::compile::Empirical::new()).unwrap();
        assert_eq!(figures(&run_top(crash, &variant)), figures(&ec));
        assert_eq!(figures(&run_top(spike, &variant)), figures(&es));
        // A third api replica, never full and struck by no fault: which
        // replica serves a request changes nothing. A second db replica
        // changes the db crash's episode (it strikes one of two).
        let mut s: crate::spec::Scenario = serde_saphyr::from_str(TWO_CALLEES).unwrap();
        s.resources[0].replicas = 3;
        let variant = crate::compile::compile(&s, &[], &crate::compile::Empirical::new()).unwrap();
        assert_eq!(figures(&run_top(crash, &variant)), figures(&ec));
        assert_eq!(figures(&run_top(spike, &variant)), figures(&es));
        let mut s: crate::spec::Scenario = serde_saphyr::from_str(TWO_CALLEES).unwrap();
        s.resources[1].replicas = 2;
        let variant = crate::compile::compile(&s, &[], &crate::compile::Empirical::new()).unwrap();
        assert_ne!(figures(&run_top(crash, &variant)), figures(&ec));
        // The union of what two simulations exercised.
        let mut u = *ec.usage();
        u.merge(es.usage());
        assert!(u.failed(&base, 0, 0, 0) && u.failed(&base, 0, 0, 1));
    }
}
