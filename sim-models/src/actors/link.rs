//! The link actor: carries calls and answers between two resources.
//!
//! Each message is delayed by a draw of the link's latency (one draw per
//! direction). A request is lost with probability `loss` (the caller only
//! learns of it through its timeout). While a network fault on the callee is
//! active, the link adds its delay (`network_latency`), drops everything in
//! both directions (`network_partition`), or answers every call with an
//! immediate refusal (`dependency_failure`).

use rand::RngExt;
use sim_core::{ActorId, Context, SimDuration};

use super::Layout;
use crate::model::{Effect, LinkDef, LinkIx, Model};
use crate::msg::{Msg, Origin};

/// A directed link between a caller resource and a callee resource.
#[derive(Clone)]
pub struct LinkActor<'m> {
    model: &'m Model,
    def: &'m LinkDef,
    to_handler: Option<ActorId>,
    to_resource: ActorId,
    active: Vec<u32>,
    partitioned: u16,
    refused: u16,
}

impl<'m> LinkActor<'m> {
    /// Whether no fault is active on the link.
    pub fn quiet(&self) -> bool {
        self.active.is_empty() && self.partitioned == 0 && self.refused == 0
    }

    /// A healthy link.
    pub fn new(model: &'m Model, ix: LinkIx, layout: Layout) -> Self {
        let def = &model.links[ix];
        LinkActor {
            model,
            def,
            to_handler: model.resources[def.to].handler.map(|h| layout.handler(h)),
            to_resource: layout.resource(def.to),
            active: Vec::new(),
            partitioned: 0,
            refused: 0,
        }
    }

    fn delay(&self, ctx: &mut Context<'_, Msg>, outbound: bool) -> SimDuration {
        let rng = ctx.rng();
        let mut d = match &self.def.latency {
            Some(l) => l.sample_secs(rng),
            None => 0.0,
        };
        if outbound {
            for &e in &self.active {
                if let Effect::NetworkLatency { added, .. } = &self.model.effects[e as usize] {
                    d += added.sample_secs(rng);
                }
            }
        }
        SimDuration::from_secs_f64(d)
    }

    /// Handles one message.
    pub fn handle(&mut self, msg: Msg, ctx: &mut Context<'_, Msg>) {
        match msg {
            Msg::Forward { call, op, poll } => {
                if self.partitioned > 0 {
                    return;
                }
                let d = self.delay(ctx, true);
                if self.refused > 0 {
                    // Connection refused: the answer comes back after the round trip.
                    let back = self.delay(ctx, false);
                    ctx.send(
                        call.caller,
                        d + back,
                        Msg::Reply {
                            req: call.req,
                            tag: call.tag,
                            ok: false,
                        },
                    );
                    return;
                }
                if self.def.loss > 0.0 && ctx.rng().random::<f64>() < self.def.loss {
                    return;
                }
                match self.to_handler {
                    Some(h) if !poll => ctx.send(
                        h,
                        d,
                        Msg::Start {
                            op,
                            origin: Origin::Call {
                                link: ctx.me(),
                                call,
                            },
                        },
                    ),
                    _ => ctx.send(
                        self.to_resource,
                        d,
                        Msg::Serve {
                            link: ctx.me(),
                            call,
                        },
                    ),
                }
            }
            Msg::Back { call, ok } => {
                if self.partitioned > 0 {
                    return;
                }
                let d = self.delay(ctx, false);
                ctx.send(
                    call.caller,
                    d,
                    Msg::Reply {
                        req: call.req,
                        tag: call.tag,
                        ok,
                    },
                );
            }
            Msg::Fault { effect, on, .. } => {
                let counter = match &self.model.effects[effect as usize] {
                    Effect::NetworkPartition { .. } => Some(&mut self.partitioned),
                    Effect::Unreachable => Some(&mut self.refused),
                    _ => None,
                };
                match counter {
                    Some(c) if on => *c += 1,
                    Some(c) => *c = c.saturating_sub(1),
                    None if on => self.active.push(effect),
                    None => {
                        if let Some(p) = self.active.iter().position(|x| *x == effect) {
                            self.active.swap_remove(p);
                        }
                    }
                }
            }
            // Not a message for a link: a routing bug. Counted by the
            // kernel (the campaign's `misrouted`), which makes the run fail
            // loudly in every build rather than drop it.
            _ => ctx.unhandled(),
        }
    }
}
