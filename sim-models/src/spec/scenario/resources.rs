//! Resources and dependencies: `resources` (type, replicas, concurrency,
//! queue, capacity, failure modes), `dependencies` and `network`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::defaults::{is_zero, one_replica};
use super::failure_modes::FailureModeSpec;
use super::resource_type::ResourceType;
use crate::spec::{Distribution, Duration, Size};
/// How much a resource matters; scales the risk thresholds.
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
pub enum Criticality {
    /// Low.
    Low,
    /// Medium (the default).
    #[default]
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

/// A thing that can fail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// Unique id, referenced by dependencies, handlers, calls and injections.
    pub id: String,
    /// The resource type (`database`, `load_balancer`, ...).
    #[serde(rename = "type")]
    pub kind: ResourceType,
    /// Number of replicas (1 to 65535); each fails and is repaired independently. Default 1.
    #[serde(default = "one_replica")]
    #[schemars(range(min = 1))]
    pub replicas: u16,
    /// How much the resource matters: low | medium | high | critical. Default medium.
    #[serde(default)]
    pub criticality: Criticality,
    /// Requests served at once per replica (≥ 1); the rest queue. Default: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub concurrency: Option<u32>,
    /// Requests waiting in the resource's one shared queue (in front of all replicas) beyond which new requests are rejected (error). Default: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_limit: Option<u32>,
    /// Time to serve one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_time: Option<Distribution>,
    /// Capacity of one replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    /// Health-check interval: the router notices a dead replica only after this delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Duration>,
    /// Age at the start of a campaign (overrides the equilibrium start of failure processes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<Duration>,
    /// Per-resource override of the type's failure modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_modes: Option<Vec<FailureModeSpec>>,
    /// Where the resource really is, for `preflight export` (live
    /// injectors and monitoring); the simulation does not use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
}

/// Where a resource really runs: what live fault injectors and monitoring
/// address it by. Every part is optional; an export uses what is there and
/// writes an obvious placeholder (with a warning) for what it needs and
/// lacks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// On AWS (AWS FIS; CloudWatch alarms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsTarget>,
    /// On Kubernetes (Chaos Mesh, Litmus, Chaos Toolkit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesTarget>,
    /// An HTTP endpoint that answers 2xx while the resource is healthy
    /// (HTTP probes and status checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpTarget>,
    /// Its metrics in Prometheus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusTarget>,
}

/// An AWS resource: by ARN, or by tags with its FIS resource type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsTarget {
    /// The resource's ARN (`arn:aws:rds:eu-west-1:123456789012:db:orders`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Tags that select the resources (`{ app: orders }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<std::collections::BTreeMap<String, String>>,
    /// The AWS FIS resource type (`aws:ecs:task`, `aws:ec2:instance`,
    /// `aws:rds:db`, `aws:eks:pod`…); taken from the ARN when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// ECS cluster or EKS cluster ARN, for task and pod targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

/// Pods on Kubernetes: a namespace and a label selector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesTarget {
    /// The namespace (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels the pods carry (`{ app: orders-db }`).
    #[serde(default)]
    pub selector: std::collections::BTreeMap<String, String>,
    /// The container in the pod, where a fault acts on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// An HTTP endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpTarget {
    /// `http://` or `https://` URL.
    pub url: String,
}

/// The resource's series in Prometheus.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusTarget {
    /// A label matcher, braces included (`{job="orders-db"}`).
    pub selector: String,
}

/// Capacity of one replica of a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// CPU cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    /// Memory (`16GiB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Size>,
    /// I/O operations per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<u64>,
}

/// How a caller depends on a callee.
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
pub enum DependencyKind {
    /// The caller fails if the callee fails (the default).
    #[default]
    Hard,
    /// The caller degrades if the callee fails.
    Soft,
}

/// An edge of the resource dependency map: `from` calls `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    /// The caller's resource id.
    pub from: String,
    /// The callee's resource id.
    pub to: String,
    /// hard | soft. Default hard.
    #[serde(default)]
    pub kind: DependencyKind,
    /// The network between caller and callee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
}

/// A network link between two resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// One-way delay per message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Distribution>,
    /// Probability in [0, 1] that a message is lost. Default 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub loss: f64,
}
