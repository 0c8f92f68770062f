//! The actors of a campaign and how they are laid out.
//!
//! Resources, links, handlers and failure processes are
//! each actors of the kernel. [`Node`] is the one actor type of the
//! simulation: an enum, so dispatch is a `match` and not a virtual call.

pub mod failure;
pub mod handler;
pub mod link;
pub mod resource;
pub mod workload;

use sim_core::{Actor, ActorId, Context};

use crate::model::{HandlerIx, LinkIx, Model, ResourceIx};
use crate::msg::Msg;

pub use failure::FailureActor;
pub use handler::{HandlerActor, RequestStats, Segments};
pub use link::LinkActor;
pub use resource::ResourceActor;
pub use workload::Arrivals;

/// Where each kind of actor starts in the actor table. Actors are added in
/// this order: resources, links, handlers, failure processes.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    links: u32,
    handlers: u32,
}

impl Layout {
    /// The layout for `model`.
    pub fn new(model: &Model) -> Self {
        let links = model.resources.len() as u32;
        let handlers = links + model.links.len() as u32;
        Layout { links, handlers }
    }

    /// The actor of resource `r`.
    #[inline]
    pub fn resource(self, r: ResourceIx) -> ActorId {
        ActorId(r as u32)
    }

    /// The actor of link `l`.
    #[inline]
    pub fn link(self, l: LinkIx) -> ActorId {
        ActorId(self.links + l as u32)
    }

    /// The actor of handler `h`.
    #[inline]
    pub fn handler(self, h: HandlerIx) -> ActorId {
        ActorId(self.handlers + h as u32)
    }
}

/// Any actor of a campaign.
// Variants differ in size (a handler carries its histograms inline). The
// actors of a campaign live in one `Vec` created once per campaign, so the
// padding costs a few hundred bytes per actor, while boxing would add a
// pointer chase to every message delivered.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum Node<'m> {
    /// A resource.
    Resource(ResourceActor<'m>),
    /// A link.
    Link(LinkActor<'m>),
    /// A handler.
    Handler(HandlerActor<'m>),
    /// A failure process or injection.
    Failure(FailureActor<'m>),
}

impl Node<'_> {
    /// Whether the actor remembers no fault at `now` (failure actors:
    /// always; whether their fault is still active shows in the actors
    /// it strikes).
    pub fn quiet(&self, now: sim_core::SimTime) -> bool {
        match self {
            Node::Resource(a) => a.quiet(),
            Node::Link(a) => a.quiet(),
            Node::Handler(a) => a.quiet(now),
            Node::Failure(_) => true,
        }
    }
}

impl Actor for Node<'_> {
    type Msg = Msg;

    #[inline]
    fn handle(&mut self, msg: Msg, ctx: &mut Context<'_, Msg>) {
        match self {
            Node::Resource(a) => a.handle(msg, ctx),
            Node::Link(a) => a.handle(msg, ctx),
            Node::Handler(a) => a.handle(msg, ctx),
            Node::Failure(a) => a.handle(msg, ctx),
        }
    }
}
