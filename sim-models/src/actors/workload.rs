//! Workload arrivals: Poisson, optionally shaped by hour of day.
//!
//! A handler owns the arrival processes of the workloads that feed it, so an
//! arrival starts a request directly, without a hand-off message. Each
//! process draws from its own random stream (keyed by the handler and the
//! workload's position), so its arrival times do not depend on what the
//! handler itself draws.
//!
//! A non-homogeneous Poisson process is drawn by thinning: candidate
//! arrivals come at the peak rate and each is kept with probability
//! `shape(hour) / peak shape`.
//!
//! Gaps are drawn [`BLOCK`] at a time into a small buffer. One exponential
//! draw is a chain of dependent steps (generator, ziggurat, scaling,
//! conversion to nanoseconds) that the processor cannot overlap with the
//! event it is scheduling; a block of independent draws it can, which
//! roughly halves their cost on the M/M/1 benchmark (`docs/performance.md`).
//! The gaps are the same numbers in the same order as one at a time, until
//! a diurnal shape's thinning draw is taken from the same stream.

use rand::RngExt;
use rand_distr::{Distribution, Exp1};
use sim_core::{SimDuration, SimRng, SimTime};

use crate::model::WorkloadDef;

/// Gaps drawn at a time.
pub const BLOCK: usize = 32;

/// One workload's arrival process.
#[derive(Clone)]
pub struct Arrivals {
    /// Mean time between candidate arrivals, seconds (0: no arrivals).
    mean_gap: f64,
    shape: Option<[f64; 24]>,
    peak_shape: f64,
    horizon: SimTime,
    /// Seconds of the day-clock at simulated time zero (for the diurnal shape).
    clock_offset: f64,
    rng: SimRng,
    /// Gaps drawn ahead, in nanoseconds; `next` is the first unused.
    gaps: [u64; BLOCK],
    next: usize,
}

impl Arrivals {
    /// The arrival process of `def`, stopping at `horizon`, drawing from `rng`.
    pub fn new(def: &WorkloadDef, rng: SimRng, horizon: SimTime) -> Self {
        let peak_shape = def
            .diurnal
            .map(|d| d.iter().copied().fold(0.0_f64, f64::max))
            .unwrap_or(1.0);
        let peak_rate = def.rate * peak_shape;
        Arrivals {
            mean_gap: if peak_rate > 0.0 {
                1.0 / peak_rate
            } else {
                0.0
            },
            shape: def.diurnal,
            peak_shape,
            horizon,
            clock_offset: 0.0,
            rng,
            gaps: [0; BLOCK],
            next: BLOCK,
        }
    }

    /// The same process in a simulation whose time zero is `secs` into the
    /// window (an episode of the two-scale method): the diurnal shape follows
    /// window time.
    pub fn with_clock_offset(mut self, secs: f64) -> Self {
        self.clock_offset = secs;
        self
    }

    /// Stops the process at `horizon` instead.
    pub(crate) fn set_horizon(&mut self, horizon: SimTime) {
        self.horizon = horizon;
    }

    /// The time to the next candidate arrival (`None`: the workload is empty).
    #[inline]
    pub fn gap(&mut self) -> Option<SimDuration> {
        if self.mean_gap <= 0.0 {
            return None;
        }
        if self.next == BLOCK {
            self.refill();
        }
        let g = self.gaps[self.next];
        self.next += 1;
        Some(SimDuration(g))
    }

    #[inline(never)]
    fn refill(&mut self) {
        let mean = self.mean_gap;
        for g in &mut self.gaps {
            let e: f64 = Exp1.sample(&mut self.rng);
            *g = SimDuration::from_secs_f64(e * mean).0;
        }
        self.next = 0;
    }

    /// A candidate arrival at `now`: whether it is kept, or
    /// `None` once the horizon is reached (the process stops).
    pub fn arrive(&mut self, now: SimTime) -> Option<bool> {
        if now >= self.horizon {
            return None;
        }
        let keep = match &self.shape {
            None => true,
            Some(s) => {
                let hour =
                    (((now.as_secs_f64() + self.clock_offset) / 3600.0) as u64 % 24) as usize;
                self.rng.random::<f64>() * self.peak_shape < s[hour]
            }
        };
        Some(keep)
    }
}
