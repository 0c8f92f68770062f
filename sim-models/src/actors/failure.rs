//! Failure processes and injections.
//!
//! A failure process alternates up times (`time_between`) and repair times
//! (`repair`): an alternating renewal process. A campaign starts it *in
//! equilibrium*, because nobody knows how old a component is when the
//! window opens: with probability `E[repair] / (E[up] + E[repair])` the
//! component is down at time zero with a forward-recurrence draw of its
//! remaining repair, otherwise up with a forward-recurrence draw of its
//! remaining life (see [`crate::dist`]). With `age:` on the resource, the
//! component starts up and its first failure is drawn from the residual life
//! at that age instead.
//!
//! An injection is a single fault window at a fixed time.

use rand::RngExt;
use sim_core::{ActorId, Context, SimDuration, SimRng, SimTime};

use crate::model::{FaultDef, FaultScope, InjectionDef};
use crate::msg::{ALL_REPLICAS, Msg};
use crate::rare::{PathWeight, Start};

#[derive(Debug, Clone, Copy)]
enum Kind<'m> {
    Process {
        def: &'m FaultDef,
        age: Option<f64>,
    },
    Window {
        at: SimDuration,
        duration: SimDuration,
    },
}

/// One failure process or one injection.
#[derive(Clone)]
pub struct FailureActor<'m> {
    kind: Kind<'m>,
    resource: ActorId,
    effect: u32,
    replica: u16,
    horizon: SimTime,
    down: bool,
    /// Faults that started during the campaign (before the horizon).
    pub onsets: u32,
    /// Whether the component was down at time zero.
    pub down_at_start: bool,
    /// The likelihood ratio of the path so far (1 unless the process is
    /// biased for importance sampling; see [`crate::rare`]).
    pub weight: PathWeight,
}

impl<'m> FailureActor<'m> {
    /// A natural failure process on `resource`.
    pub fn process(
        def: &'m FaultDef,
        resource: ActorId,
        age: Option<f64>,
        horizon: SimTime,
    ) -> Self {
        let replica = match def.scope {
            FaultScope::Replica(r) => r,
            FaultScope::Resource => ALL_REPLICAS,
        };
        FailureActor {
            kind: Kind::Process { def, age },
            resource,
            effect: def.effect as u32,
            replica,
            horizon,
            down: false,
            onsets: 0,
            down_at_start: false,
            weight: PathWeight::default(),
        }
    }

    /// An explicit injection on `resource`.
    pub fn injection(def: &InjectionDef, resource: ActorId, horizon: SimTime) -> Self {
        FailureActor {
            kind: Kind::Window {
                at: def.at,
                duration: def.duration,
            },
            resource,
            effect: def.effect as u32,
            replica: ALL_REPLICAS,
            horizon,
            down: false,
            onsets: 0,
            down_at_start: false,
            weight: PathWeight::default(),
        }
    }

    /// A fault replayed at fixed times: on at `at` for `duration`, on
    /// `replica` of `resource` (or [`ALL_REPLICAS`]). The two-scale method
    /// replays a campaign's fault timeline this way inside each episode.
    pub fn scheduled(
        resource: ActorId,
        effect: u32,
        replica: u16,
        at: SimDuration,
        duration: SimDuration,
    ) -> Self {
        FailureActor {
            kind: Kind::Window { at, duration },
            resource,
            effect,
            replica,
            horizon: SimTime::MAX,
            down: false,
            onsets: 0,
            down_at_start: false,
            weight: PathWeight::default(),
        }
    }

    /// Schedules the first transition.
    pub fn start(&mut self, ctx: &mut Context<'_, Msg>) {
        match self.kind {
            Kind::Window { at, .. } => ctx.send_self(at, Msg::FailNow),
            Kind::Process { def, age } => match first_transition(def, age, ctx.rng()) {
                FirstTransition::RepairIn(rest) => {
                    // Down at time zero: the fault is already active.
                    self.down_at_start = true;
                    self.weight.initial_state(def, true);
                    self.set(true, ctx);
                    ctx.send_self(rest, Msg::RepairNow);
                }
                FirstTransition::FailIn(rest) => {
                    match age {
                        Some(a) => self.weight.up_from(0.0, Start::Aged(a)),
                        None => {
                            self.weight.initial_state(def, false);
                            self.weight.up_from(0.0, Start::Equilibrium);
                        }
                    }
                    ctx.send_self(rest, Msg::FailNow)
                }
            },
        }
    }

    fn set(&mut self, on: bool, ctx: &mut Context<'_, Msg>) {
        self.down = on;
        ctx.send(
            self.resource,
            SimDuration::ZERO,
            Msg::Fault {
                effect: self.effect,
                replica: self.replica,
                on,
            },
        );
    }

    /// Handles one message.
    pub fn handle(&mut self, msg: Msg, ctx: &mut Context<'_, Msg>) {
        match msg {
            Msg::FailNow => {
                if self.down || ctx.now() >= self.horizon {
                    return; // nothing starts after the horizon
                }
                self.onsets += 1;
                if let Kind::Process { def, .. } = self.kind {
                    self.weight.failed_at(def, ctx.now().as_secs_f64());
                }
                self.set(true, ctx);
                let d = match self.kind {
                    Kind::Window { duration, .. } => duration,
                    Kind::Process { def, .. } => repair_time(def, ctx.rng()),
                };
                ctx.send_self(d, Msg::RepairNow);
            }
            Msg::RepairNow => {
                if !self.down {
                    return;
                }
                self.set(false, ctx);
                if let Kind::Process { def, .. } = self.kind {
                    self.weight.up_from(ctx.now().as_secs_f64(), Start::Fresh);
                    let d = up_time(def, ctx.rng());
                    ctx.send_self(d, Msg::FailNow);
                }
            }
            // Not a message for a failure process: a routing bug. Counted by the
            // kernel (the campaign's `misrouted`), which makes the run fail
            // loudly in every build rather than drop it.
            _ => ctx.unhandled(),
        }
    }
}

impl FailureActor<'_> {
    /// Closes the path's weight at the horizon (call once, after the run).
    pub fn finish(&mut self) {
        if let Kind::Process { def, .. } = self.kind {
            self.weight.end(def, self.horizon.as_secs_f64());
        }
    }
}

/// How a failure process begins at time zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstTransition {
    /// Up at time zero; the first failure comes after this long.
    FailIn(SimDuration),
    /// Down at time zero (already failed); repaired after this long.
    RepairIn(SimDuration),
}

/// The state of a failure process at time zero and the time to its first
/// transition: in equilibrium (see the module documentation), or, with a
/// known `age` (seconds), up with the residual life at that age.
///
/// This and [`repair_time`] / [`up_time`] are the only draws a failure
/// process makes, in this order on its own stream, so the two-scale fault
/// timeline ([`crate::two_scale`]) reproduces the request-level process exactly.
pub fn first_transition(def: &FaultDef, age: Option<f64>, rng: &mut SimRng) -> FirstTransition {
    if let Some(age) = age {
        let rest = def.time_between.sample_residual_after(age, rng);
        return FirstTransition::FailIn(SimDuration::from_secs_f64(rest / def.bias));
    }
    // Under importance sampling the up-times are `bias` times shorter, and
    // so is the mean that sets the chance of starting down.
    let up = def.time_between.mean() / def.bias;
    let rep = def.repair.mean();
    let p_down = if up + rep > 0.0 {
        rep / (up + rep)
    } else {
        0.0
    };
    if rng.random::<f64>() < p_down {
        FirstTransition::RepairIn(def.repair.sample_forward_recurrence(rng))
    } else {
        FirstTransition::FailIn(scaled(
            def.time_between.sample_forward_recurrence_secs(rng),
            def.bias,
        ))
    }
}

/// `secs / bias` as a duration; exactly the unbiased conversion when
/// `bias == 1`.
#[inline]
fn scaled(secs: f64, bias: f64) -> SimDuration {
    if bias == 1.0 {
        SimDuration::from_secs_f64(secs)
    } else {
        SimDuration::from_secs_f64(secs / bias)
    }
}

/// One repair time of a failure process.
#[inline]
pub fn repair_time(def: &FaultDef, rng: &mut SimRng) -> SimDuration {
    def.repair.sample(rng)
}

/// One up time (time between a repair and the next failure).
#[inline]
pub fn up_time(def: &FaultDef, rng: &mut SimRng) -> SimDuration {
    if def.bias == 1.0 {
        def.time_between.sample(rng)
    } else {
        scaled(def.time_between.sample_secs(rng), def.bias)
    }
}
