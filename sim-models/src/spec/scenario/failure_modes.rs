//! Failure modes: `failure_modes` per resource type, the modes, their
//! scope and injection parameters.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::resource_type::ResourceType;
use crate::spec::Distribution;
/// The failure modes of one resource type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceTypeFailureModes {
    /// The resource type these modes apply to.
    pub resource_type: ResourceType,
    /// What can go wrong with resources of this type.
    pub failure_modes: Vec<FailureModeSpec>,
}

/// What goes wrong with a resource while a fault is active.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// One replica down; requests to it fail until repair or restart (`replicas_affected`).
    ProcessCrash,
    /// Added delay on every request served (`added`).
    LatencySpike,
    /// A fraction of requests fail with the given code (`code`, `error_fraction`).
    ErrorCode,
    /// Service rate reduced (`percent`).
    CpuThrottle,
    /// Concurrency reduced; at the limit, crash (OOM) (`percent`).
    MemoryStarvation,
    /// A fraction of I/O-bound requests fail; the rest slow down (`error_fraction`, `slowdown`).
    DiskError,
    /// I/O-bound service time multiplied (`slowdown`).
    DiskIoStarvation,
    /// Added delay on the links into the resource (`added`).
    NetworkLatency,
    /// Links into the resource drop everything (`links`).
    NetworkPartition,
    /// The resource is unreachable for its callers.
    DependencyFailure,
}

impl FailureMode {
    /// Every failure mode, in declaration order.
    pub const ALL: [FailureMode; 10] = [
        FailureMode::ProcessCrash,
        FailureMode::LatencySpike,
        FailureMode::ErrorCode,
        FailureMode::CpuThrottle,
        FailureMode::MemoryStarvation,
        FailureMode::DiskError,
        FailureMode::DiskIoStarvation,
        FailureMode::NetworkLatency,
        FailureMode::NetworkPartition,
        FailureMode::DependencyFailure,
    ];

    /// The name used in scenario files (`process_crash`).
    pub fn as_str(&self) -> &'static str {
        match self {
            FailureMode::ProcessCrash => "process_crash",
            FailureMode::LatencySpike => "latency_spike",
            FailureMode::ErrorCode => "error_code",
            FailureMode::CpuThrottle => "cpu_throttle",
            FailureMode::MemoryStarvation => "memory_starvation",
            FailureMode::DiskError => "disk_error",
            FailureMode::DiskIoStarvation => "disk_io_starvation",
            FailureMode::NetworkLatency => "network_latency",
            FailureMode::NetworkPartition => "network_partition",
            FailureMode::DependencyFailure => "dependency_failure",
        }
    }

    /// The `injection_parameters` fields that mean something for this mode.
    pub fn parameters(&self) -> &'static [&'static str] {
        match self {
            FailureMode::ProcessCrash => &["replicas_affected"],
            FailureMode::LatencySpike => &["added"],
            FailureMode::ErrorCode => &["code", "error_fraction"],
            FailureMode::CpuThrottle => &["percent"],
            FailureMode::MemoryStarvation => &["percent"],
            FailureMode::DiskError => &["error_fraction", "slowdown"],
            FailureMode::DiskIoStarvation => &["slowdown"],
            FailureMode::NetworkLatency => &["added", "links"],
            FailureMode::NetworkPartition => &["links"],
            FailureMode::DependencyFailure => &[],
        }
    }
}

impl fmt::Display for FailureMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a failure hits one replica or all of them.
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
pub enum Scope {
    /// Each replica fails and is repaired independently (the default).
    #[default]
    Replica,
    /// All replicas fail at once (a common-cause failure).
    Resource,
}

/// One failure process: how often a mode strikes and how long repair takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailureModeSpec {
    /// The failure mode.
    pub mode: FailureMode,
    /// Time between failures (of one replica, or of the resource with `scope: resource`).
    pub time_between: Distribution,
    /// Time to repair.
    pub repair: Distribution,
    /// replica | resource. Default replica.
    #[serde(default)]
    pub scope: Scope,
    /// The fault's magnitude; which fields apply depends on the mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injection_parameters: Option<InjectionParameters>,
}

/// The magnitude of a fault; which fields apply depends on the mode.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InjectionParameters {
    /// `process_crash`: replicas taken down (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub replicas_affected: Option<u32>,
    /// `latency_spike`, `network_latency`: the added delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<Distribution>,
    /// `error_code`: the error code returned (e.g. 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// `error_code`, `disk_error`: fraction in [0, 1] of requests that fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub error_fraction: Option<f64>,
    /// `cpu_throttle`, `memory_starvation`: percentage in [0, 100] of capacity removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub percent: Option<f64>,
    /// `disk_error`, `disk_io_starvation`: service-time multiplier (≥ 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1.0))]
    pub slowdown: Option<f64>,
    /// `network_latency`, `network_partition`: ids of the calling resources whose
    /// links into the target are affected (default: all links into it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<String>>,
}
