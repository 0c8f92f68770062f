//! Stage 3, the healthy baseline ([`Baseline`]): one request-level sample
//! of healthy time per variant, pooled by all its campaigns, the margins
//! derived from it, and the building of its [`Library`].

use std::sync::Arc;

use sim_core::{CampaignSeed, SimDuration, SimTime, splitmix64, stream_key};

use super::episodes::{Waits, reachable};
use super::library::{ClassKey, FIXED_GRID_S, GRID, SHIFTED};
use super::{
    Counted, EpisodePlan, Library, LibraryEntry, LibraryTask, Margins, expected_arrivals,
    simulate_plan,
};
use crate::campaign::FaultInterval;
use crate::model::{FaultScope, Model};
use crate::msg::ALL_REPLICAS;

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
    /// the sample did not exercise ([`crate::usage::Usage`]). The margins are `model`'s.
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

    /// Messages delivered to an actor that does not handle them in the
    /// healthy sample and in every library episode (a routing bug; see
    /// [`crate::campaign::CampaignResult::misrouted`]). Campaigns count
    /// the sample's and the episodes they compose from; this counts the
    /// episodes no campaign may use as well.
    pub fn misrouted(&self) -> u64 {
        let library: u64 = self
            .library
            .iter()
            .flat_map(|l| l.entries.iter())
            .map(|e| e.misrouted())
            .sum();
        self.counted.misrouted + library
    }

    /// The baseline of variant `variant` under master seed `master`, with
    /// the default span: its seed is campaign `u64::MAX` of the variant, a
    /// campaign index no run reaches.
    pub fn for_variant(model: &Model, master: u64, variant: u64) -> Baseline {
        let seed = CampaignSeed::derive(master, variant, u64::MAX);
        Baseline::simulate(model, seed, Baseline::default_span(model))
    }
}

/// The quantile of healthy latency used as the lead before an onset.
pub const LEAD_QUANTILE: f64 = 0.999;

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
                        // One seed per class and rep: its durations are
                        // one simulation ([`super::LibraryChain`]).
                        seed: CampaignSeed::from_u64(splitmix64(
                            self.seed.as_u64() ^ stream_key(&format!("library/{c}/{rep}")),
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
        let tasks = self.library_tasks(model, reps);
        let mut entries = Vec::with_capacity(tasks.len());
        for chain in LibraryTask::chains(&tasks, |_| true) {
            entries.extend(chain.run(model).into_iter().map(|(_, e)| e));
        }
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
