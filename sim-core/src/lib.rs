//! # sim-core: the discrete-event simulation kernel of Preflight
//!
//! One campaign is one single-threaded, deterministic event loop. Actors own
//! their state and handle one message at a time; they schedule messages to
//! themselves or to other actors at `now + delay`. The kernel knows nothing
//! about resources, scenario files or Parquet: it moves typed messages
//! through simulated time.
//!
//! ## Modules
//!
//! - [`time`]: simulated time ([`SimTime`], [`SimDuration`]), integer nanoseconds.
//! - [`kernel`]: the event loop ([`Simulation`]), [`Actor`], [`Context`] and timers.
//! - [`rng`]: campaign seeds, per-actor streams keyed by name, SplitMix64 and FNV-1a.
//! - [`stats`]: latency histograms, time-weighted averages and moments.
//!
//! ## Authoring a model
//!
//! A model defines one enum of messages and one type (usually an enum) of
//! actors, and implements [`Actor`] for it. Here, a source sends jobs to a
//! single server with a constant service time; the server counts what it
//! served.
//!
//! ```
//! use sim_core::{Actor, ActorId, CampaignSeed, Context, SimDuration, SimTime, Simulation};
//!
//! enum Msg { Arrive, Job, Done }
//!
//! enum Node {
//!     Source { server: ActorId, left: u32 },
//!     Server { busy: bool, queue: u32, served: u32 },
//! }
//!
//! impl Actor for Node {
//!     type Msg = Msg;
//!     fn handle(&mut self, msg: Msg, ctx: &mut Context<'_, Msg>) {
//!         match (self, msg) {
//!             (Node::Source { server, left }, Msg::Arrive) => {
//!                 ctx.send(*server, SimDuration::ZERO, Msg::Job);
//!                 *left -= 1;
//!                 if *left > 0 {
//!                     ctx.send_self(SimDuration::from_millis(10), Msg::Arrive);
//!                 }
//!             }
//!             (Node::Server { busy, queue, .. }, Msg::Job) => {
//!                 if *busy { *queue += 1 } else {
//!                     *busy = true;
//!                     ctx.send_self(SimDuration::from_millis(15), Msg::Done);
//!                 }
//!             }
//!             (Node::Server { busy, queue, served }, Msg::Done) => {
//!                 *served += 1;
//!                 if *queue > 0 {
//!                     *queue -= 1;
//!                     ctx.send_self(SimDuration::from_millis(15), Msg::Done);
//!                 } else {
//!                     *busy = false;
//!                 }
//!             }
//!             // A message this actor does not take: a routing bug of the
//!             // model. Report it; the kernel counts it.
//!             _ => ctx.unhandled(),
//!         }
//!     }
//! }
//!
//! // Assemble the bench: actors are registered with a stable stream key.
//! let mut sim = Simulation::new(CampaignSeed::derive(42, 0, 0));
//! let server = sim.add_actor(Node::Server { busy: false, queue: 0, served: 0 }, 1);
//! let source = sim.add_actor(Node::Source { server, left: 4 }, 2);
//! sim.schedule(SimTime::ZERO, source, Msg::Arrive);
//!
//! // Run it: four jobs arriving every 10 ms, each taking 15 ms, finish at 60 ms.
//! sim.run();
//! assert_eq!(sim.now(), SimTime::from_secs_f64(0.060));
//! match sim.actor(server) {
//!     Node::Server { served, .. } => assert_eq!(*served, 4),
//!     _ => unreachable!(),
//! }
//! assert_eq!(sim.unhandled(), 0); // every message reached an actor that takes it
//! ```
//!
//! ## Guarantees
//!
//! - **Ordering**: events are delivered by `(time, sequence)`; messages for
//!   the same instant arrive in the order they were scheduled (see [`kernel`]).
//! - **Causality**: a message is never delivered before the time it was sent.
//! - **Reproducibility**: every actor has its own random stream derived from
//!   the [`CampaignSeed`] and a stable key; the same seed gives the same trace.
//! - **No silent drops**: an actor that receives a message it does not
//!   handle reports it ([`Context::unhandled`]); [`Simulation::unhandled`]
//!   counts them, so a runner can refuse the figures of a misrouted model.
//! - **No I/O, no threads, no async, no locks, no globals**: a campaign is a
//!   pure function of its seed and its inputs.
#![warn(missing_docs, unreachable_pub)]

pub mod kernel;
pub mod rng;
pub mod stats;
pub mod time;

pub use kernel::{Actor, ActorId, Context, RunOutcome, Simulation, TimerKey, TraceEntry};
pub use rng::{CampaignSeed, SimRng, fnv1a, splitmix64, stream_key};
pub use stats::{HistogramPoints, LatencyHistogram, MAX_TRACKED_NANOS, Moments, TimeWeighted};
pub use time::{SimDuration, SimTime};
