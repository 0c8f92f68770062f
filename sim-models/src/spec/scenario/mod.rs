//! The scenario file: one system, the faults it may suffer, and what to simulate.
//!
//! These are plain serde types; the field names are the binding contract of
//! `shared/spec/scenario.md`. Parsing them does not check meaning: see
//! [`crate::validate`] for the rules (references, ranges, cycles).
//!
//! One file per section of the format:
//!
//! | file | sections |
//! | --- | --- |
//! | `resource_type.rs` | resource types (`type:`, keys of `failure_modes`) |
//! | `resources.rs` | `resources`, `dependencies`, `network` |
//! | `handlers.rs` | `handlers` (operations, call and poll steps, SLOs) |
//! | `workload.rs` | `workload` |
//! | `failure_modes.rs` | `failure_modes` |
//! | `injection.rs` | `failure_injection_profile`, `injections` |
//! | `risk.rs` | `risk`, `variants` |
//! | `telemetry.rs` | `telemetry` |
//! | `paths.rs` | `operators`, `nodes`, `links`, `paths` |
//! | `defaults.rs` | serde defaults and skip predicates |

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::Duration;

mod defaults;
mod failure_modes;
mod handlers;
mod injection;
mod paths;
mod resource_type;
mod resources;
mod risk;
mod telemetry;
mod workload;

pub use failure_modes::*;
pub use handlers::*;
pub use injection::*;
pub use paths::*;
pub use resource_type::*;
pub use resources::*;
pub use risk::*;
pub use telemetry::*;
pub use workload::*;

/// A whole scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The scenario's name (used in reports and run directories).
    pub name: String,
    /// What the scenario describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Master seed: every result is a pure function of (file, seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Monte Carlo campaigns per variant (the command line can override).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaigns: Option<u64>,
    /// Simulated time per campaign; defaults to `risk.window`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon: Option<Duration>,
    /// Things that can fail.
    #[serde(default)]
    pub resources: Vec<Resource>,
    /// The resource dependency map: caller -> callee.
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
    /// The code under test: what runs on a resource per request.
    #[serde(default)]
    pub handlers: Vec<Handler>,
    /// Request arrivals per handler.
    #[serde(default)]
    pub workload: Vec<Workload>,
    /// What can go wrong, per resource type (may be overridden per resource).
    #[serde(default)]
    pub resource_failure_modes: Vec<ResourceTypeFailureModes>,
    /// How live-style injection campaigns are run in simulation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_injection_profile: Option<FailureInjectionProfile>,
    /// Explicit injection scenarios for targeted campaigns, besides the predicted ones.
    #[serde(default)]
    pub injections: Vec<Injection>,
    /// Incident history (CSV or Parquet) used to refit `time_between` / `repair`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub historical_faults: Option<String>,
    /// Telemetry forecast before a run: crossings of its thresholds raise
    /// the hazard of the failure modes they mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<Telemetry>,
    /// How risk is scored and gated.
    #[serde(default)]
    pub risk: Risk,
    /// What-if analysis: each variant is the base file with changes.
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// Service paths: typed operators.
    #[serde(default)]
    pub operators: Vec<Operator>,
    /// Service paths: nodes operators are placed on.
    #[serde(default)]
    pub nodes: Vec<Node>,
    /// Service paths: links between nodes.
    #[serde(default)]
    pub links: Vec<Link>,
    /// Service paths: data paths from a source to a sink.
    #[serde(default)]
    pub paths: Vec<Path>,
}
