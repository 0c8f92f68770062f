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
use sim_core::{ActorId, Context, SimDuration, SimTime};

use crate::model::{FaultDef, FaultScope, InjectionDef};
use crate::msg::{ALL_REPLICAS, Msg};

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
        }
    }

    /// Schedules the first transition.
    pub fn start(&mut self, ctx: &mut Context<'_, Msg>) {
        match self.kind {
            Kind::Window { at, .. } => ctx.send_self(at, Msg::FailNow),
            Kind::Process {
                def,
                age: Some(age),
            } => {
                let rest = def.time_between.sample_residual_after(age, ctx.rng());
                ctx.send_self(SimDuration::from_secs_f64(rest), Msg::FailNow);
            }
            Kind::Process { def, age: None } => {
                let up = def.time_between.mean();
                let rep = def.repair.mean();
                let p_down = if up + rep > 0.0 {
                    rep / (up + rep)
                } else {
                    0.0
                };
                if ctx.rng().random::<f64>() < p_down {
                    // Down at time zero: the fault is already active.
                    self.down_at_start = true;
                    self.set(true, ctx);
                    let rest = def.repair.sample_forward_recurrence(ctx.rng());
                    ctx.send_self(rest, Msg::RepairNow);
                } else {
                    let rest = def.time_between.sample_forward_recurrence(ctx.rng());
                    ctx.send_self(rest, Msg::FailNow);
                }
            }
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
                self.set(true, ctx);
                let d = match self.kind {
                    Kind::Window { duration, .. } => duration,
                    Kind::Process { def, .. } => def.repair.sample(ctx.rng()),
                };
                ctx.send_self(d, Msg::RepairNow);
            }
            Msg::RepairNow => {
                if !self.down {
                    return;
                }
                self.set(false, ctx);
                if let Kind::Process { def, .. } = self.kind {
                    let d = def.time_between.sample(ctx.rng());
                    ctx.send_self(d, Msg::FailNow);
                }
            }
            _ => debug_assert!(false, "failure process got {msg:?}"),
        }
    }
}
