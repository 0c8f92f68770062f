//! Service paths: `operators`, `nodes`, `links` and `paths` (endpoints,
//! QoS, monitoring, repair).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::defaults::{is_false, is_zero};
use crate::spec::{Bandwidth, Distribution, Duration, Rate};
/// A strongly typed operator: turns ADUs of type `input` into type `output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    /// Unique id.
    pub id: String,
    /// The data type consumed (`video/mpeg`).
    pub input: String,
    /// The data type produced (`video/h264`).
    pub output: String,
    /// Cost per ADU, used to order logical paths.
    pub cost: f64,
    /// Compute needed per instance.
    pub cpu: f64,
    /// Time to process one ADU.
    pub service_time: Distribution,
}

/// A node operators are placed on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Unique id.
    pub id: String,
    /// Compute available.
    pub cpu: f64,
    /// The node's failure process; default: never fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<NodeFailure>,
}

/// A node's failure process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeFailure {
    /// Time between failures.
    pub time_between: Distribution,
    /// Time to repair.
    pub repair: Distribution,
}

/// A network link between two nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// One end's node id.
    pub from: String,
    /// The other end's node id.
    pub to: String,
    /// Propagation delay.
    pub delay: Duration,
    /// Bandwidth (`100Mbit/s`); default: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<Bandwidth>,
    /// Probability in [0, 1] that an ADU is lost. Default 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub loss: f64,
    /// The link's failure process (cut and repaired, like a node's); an
    /// addition to the spec. Default: never fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<NodeFailure>,
}

/// A data path from a source to a sink through typed operators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Path {
    /// Unique id.
    pub id: String,
    /// Where data enters, and its type.
    pub source: Endpoint,
    /// Where data must arrive, and the type it must have.
    pub sink: Endpoint,
    /// Application data units per second (`30/s`).
    pub adu_rate: Rate,
    /// Quality of service required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<Qos>,
    /// delay | cost | load. Default delay.
    #[serde(default)]
    pub optimise: Optimise,
    /// How the control path notices a dead node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Monitoring>,
    /// reroute | none. Default reroute.
    #[serde(default)]
    pub repair: PathRepair,
    /// Whether alternative paths are computed ahead of time. Default false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cache_paths: bool,
}

/// One end of a path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// The node id.
    pub node: String,
    /// The data type (`video/mpeg`).
    #[serde(rename = "type")]
    pub kind: String,
}

/// Quality of service required of a path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Qos {
    /// Maximum end-to-end delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<Duration>,
    /// Maximum loss fraction in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_loss: Option<f64>,
}

/// What a path's placement optimises.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Optimise {
    /// Lowest end-to-end delay (the default).
    #[default]
    Delay,
    /// Lowest operator cost.
    Cost,
    /// Lowest load on the busiest node.
    Load,
}

/// How the control path monitors a path's nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    /// Time between heartbeats.
    pub heartbeat: Duration,
    /// Missed heartbeats before a node is declared dead (≥ 1).
    #[schemars(range(min = 1))]
    pub missed: u32,
}

/// What happens to a path when one of its nodes fails.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PathRepair {
    /// The path is re-placed on healthy nodes (the default).
    #[default]
    Reroute,
    /// The path stays down until the node is repaired.
    None,
}
