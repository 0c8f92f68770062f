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
//!
//! ## Modules
//!
//! - [`spec`]: the scenario format as serde types, one file per section, units and distributions.
//! - [`validate`]: the semantic checks of a parsed scenario, with field paths.
//! - [`compile`]: `Scenario` → [`model::Model`] (names → indices, distributions → samplers).
//! - [`model`]: the compiled, immutable model shared by all campaigns.
//! - [`dist`]: samplers, the forward-recurrence draw and residual lives.
//! - [`msg`]: the one message enum of the actors.
//! - [`actors`]: resources, links, handlers, workload arrivals and failure processes.
//! - [`in_flight`]: the in-flight budget the resources of one simulation share.
//! - [`limits`]: bounds on what one simulation may hold and do.
//! - [`campaign`]: one request-level campaign, built, run and summarised.
//! - [`live`]: live-style injection inside a campaign, with monitoring and rollback.
//! - [`two_scale`]: the two-scale method for long windows, one file per stage.
//! - [`usage`]: what request-level simulations exercised, for remediation's reuse.
//! - [`rare`]: importance sampling by failure biasing.
//! - [`paths`]: service paths: compositions, placement, the path cache and path campaigns.
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
