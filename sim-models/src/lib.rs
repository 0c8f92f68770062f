//! # sim-models: Preflight's domain
//!
//! The scenario format ([`spec`]), its compiled form ([`model`]) and the
//! actors that simulate it on the `sim-core` kernel ([`actors`]): resources
//! with replicas, slots and queues; links with latency and loss; handlers
//! running operations with timeouts, retries, circuit breakers, fallbacks and
//! polling; Poisson workloads; failure processes started in equilibrium; and
//! explicit injections. [`campaign::run_campaign`] runs one campaign and
//! summarises it.
//!
//! The crate does no I/O: files named by a scenario (empirical samples) are
//! read by the caller and handed in.
#![warn(missing_docs, unreachable_pub)]

pub mod actors;
pub mod campaign;
pub mod compile;
pub mod dist;
pub mod in_flight;
pub mod limits;
pub mod live;
pub mod model;
pub mod msg;
pub mod paths;
pub mod rare;
pub mod spec;
pub mod two_scale;
pub mod usage;
pub mod validate;
