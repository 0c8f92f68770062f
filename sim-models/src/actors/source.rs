//! The workload source: Poisson arrivals, optionally shaped by hour of day.
//!
//! A non-homogeneous Poisson process is drawn by thinning: candidate
//! arrivals come at the peak rate and each is kept with probability
//! `shape(hour) / peak shape`.

use rand::RngExt;
use rand_distr::{Distribution, Exp1};
use sim_core::{ActorId, Context, SimDuration, SimTime};

use crate::model::{ANY_OP, WorkloadDef};
use crate::msg::{Msg, Origin};

/// Generates a handler's requests until the horizon.
pub struct SourceActor {
    handler: ActorId,
    peak_rate: f64,
    shape: Option<[f64; 24]>,
    peak_shape: f64,
    horizon: SimTime,
    /// Requests sent.
    pub sent: u64,
}

impl SourceActor {
    /// A source for `def`, stopping at `horizon`.
    pub fn new(def: &WorkloadDef, handler: ActorId, horizon: SimTime) -> Self {
        let peak_shape = def
            .diurnal
            .map(|d| d.iter().copied().fold(0.0_f64, f64::max))
            .unwrap_or(1.0);
        SourceActor {
            handler,
            peak_rate: def.rate * peak_shape,
            shape: def.diurnal,
            peak_shape,
            horizon,
            sent: 0,
        }
    }

    /// Schedules the first candidate arrival.
    pub fn start(&mut self, ctx: &mut Context<'_, Msg>) {
        if self.peak_rate > 0.0 {
            let gap = self.gap(ctx);
            ctx.send_self(gap, Msg::Arrive);
        }
    }

    fn gap(&self, ctx: &mut Context<'_, Msg>) -> SimDuration {
        let e: f64 = Exp1.sample(ctx.rng());
        SimDuration::from_secs_f64(e / self.peak_rate)
    }

    /// Handles one message.
    pub fn handle(&mut self, msg: Msg, ctx: &mut Context<'_, Msg>) {
        debug_assert!(matches!(msg, Msg::Arrive));
        let now = ctx.now();
        if now >= self.horizon {
            return;
        }
        let keep = match &self.shape {
            None => true,
            Some(s) => {
                let hour = ((now.as_secs_f64() / 3600.0) as u64 % 24) as usize;
                ctx.rng().random::<f64>() * self.peak_shape < s[hour]
            }
        };
        if keep {
            self.sent += 1;
            ctx.send(
                self.handler,
                SimDuration::ZERO,
                Msg::Start {
                    op: ANY_OP,
                    origin: Origin::External,
                },
            );
        }
        let gap = self.gap(ctx);
        ctx.send_self(gap, Msg::Arrive);
    }
}
