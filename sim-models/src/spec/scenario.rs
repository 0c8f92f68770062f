//! The scenario file: one system, the faults it may suffer, and what to simulate.
//!
//! These are plain serde types; the field names are the binding contract of
//! `shared/spec/scenario.md`. Parsing them does not check meaning: see
//! [`crate::validate`] for the rules (references, ranges, cycles).

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::distribution::Distribution;
use super::units::{Bandwidth, Duration, Rate, Size};

fn one_replica() -> u16 {
    1
}

fn one_f64() -> f64 {
    1.0
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

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
    /// Telemetry (CSV or Parquet) used to forecast near-term failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<String>,
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

// ---------------------------------------------------------------------------
// Resources and dependencies
// ---------------------------------------------------------------------------

/// The kind of a resource; each has built-in default failure modes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    /// A virtual machine or host.
    Compute,
    /// A container (pod, task).
    Container,
    /// A serverless function.
    Function,
    /// A database.
    Database,
    /// A cache.
    Cache,
    /// A message queue.
    Queue,
    /// Object or block storage.
    Storage,
    /// A load balancer or API gateway.
    LoadBalancer,
    /// A network link.
    NetworkLink,
    /// A DNS service.
    Dns,
    /// A third-party API.
    ExternalApi,
    /// A generic service.
    Service,
}

impl ResourceType {
    /// Every resource type, in declaration order.
    pub const ALL: [ResourceType; 12] = [
        ResourceType::Compute,
        ResourceType::Container,
        ResourceType::Function,
        ResourceType::Database,
        ResourceType::Cache,
        ResourceType::Queue,
        ResourceType::Storage,
        ResourceType::LoadBalancer,
        ResourceType::NetworkLink,
        ResourceType::Dns,
        ResourceType::ExternalApi,
        ResourceType::Service,
    ];

    /// The name used in scenario files (`load_balancer`).
    pub fn as_str(&self) -> &'static str {
        match self {
            ResourceType::Compute => "compute",
            ResourceType::Container => "container",
            ResourceType::Function => "function",
            ResourceType::Database => "database",
            ResourceType::Cache => "cache",
            ResourceType::Queue => "queue",
            ResourceType::Storage => "storage",
            ResourceType::LoadBalancer => "load_balancer",
            ResourceType::NetworkLink => "network_link",
            ResourceType::Dns => "dns",
            ResourceType::ExternalApi => "external_api",
            ResourceType::Service => "service",
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

/// The code under test: what runs on a resource per request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Handler {
    /// Unique id, referenced by workloads.
    pub id: String,
    /// The id of the resource the handler runs on.
    pub runs_on: String,
    /// The operations a request may perform, drawn by weight.
    pub operations: Vec<Operation>,
    /// The handler's service level objective.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<Slo>,
}

/// One operation of a handler: a sequence of steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    /// Name, unique within the handler.
    pub name: String,
    /// Share of the handler's requests (relative weight, > 0). Default 1.
    #[serde(default = "one_f64")]
    pub weight: f64,
    /// Executed in order; a step failing fails the request.
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// A step of an operation: a call to another resource, or a polling loop.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Step {
    /// `call: X`: send a request to resource X.
    Call(CallStep),
    /// `poll: X`: call X every `interval` until it is ready or `timeout` passes.
    Poll(PollStep),
}

/// `call: X`: send a request over the link to resource X. If a handler runs on
/// X, it serves the request (the operation named by `operation`, or drawn by
/// weight); otherwise X serves it with its own `service_time`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallStep {
    /// The id of the resource called.
    pub call: String,
    /// The operation of the handler running on the target; default: drawn by weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Give up on an attempt after this long. Default: no timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Retry policy. Default: no retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Circuit breaker in front of the call. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitBreaker>,
    /// What to do when the call fails: none | cached | skip. Default none.
    #[serde(default)]
    pub fallback: Fallback,
}

/// What a step does when its call fails.
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
pub enum Fallback {
    /// The step fails, so the request fails (the default).
    #[default]
    None,
    /// A cached answer is served; the request succeeds.
    Cached,
    /// The step is skipped (soft dependency); the request succeeds.
    Skip,
}

/// A retry policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all, the first included (≥ 1; 1 means no retry).
    #[schemars(range(min = 1))]
    pub max_attempts: u32,
    /// constant | exponential. Default constant.
    #[serde(default)]
    pub backoff: Backoff,
    /// Delay before the first retry. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Duration>,
    /// Cap on the delay between attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Duration>,
    /// none | full | equal. Default none.
    #[serde(default)]
    pub jitter: Jitter,
}

/// How the delay between attempts grows.
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
pub enum Backoff {
    /// Always `base` (the default).
    #[default]
    Constant,
    /// `base · 2^(attempt-1)`, capped at `max`.
    Exponential,
}

/// Randomisation of backoff delays.
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
pub enum Jitter {
    /// The delay as computed (the default).
    #[default]
    None,
    /// Uniform in [0, delay].
    Full,
    /// delay/2 + uniform in [0, delay/2].
    Equal,
}

/// A circuit breaker: opens when too many recent calls failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreaker {
    /// Failure fraction in [0, 1] over the window that opens the breaker.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub failure_rate: f64,
    /// Calls needed in the window before the breaker may open.
    #[schemars(range(min = 1))]
    pub min_calls: u32,
    /// The sliding window over which failures are counted.
    pub window: Duration,
    /// How long the breaker stays open before letting a trial call through.
    pub open_for: Duration,
}

/// `poll: X`: a stabilisation loop, as resource handlers do after a create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PollStep {
    /// The id of the resource polled.
    pub poll: String,
    /// Time between polls.
    pub interval: Duration,
    /// How long until the polled thing is ready.
    pub ready_after: Distribution,
    /// The step fails when not ready after this long.
    pub timeout: Duration,
}

const CALL_FIELDS: &[&str] = &[
    "call",
    "operation",
    "timeout",
    "retry",
    "circuit_breaker",
    "fallback",
];
const POLL_FIELDS: &[&str] = &["poll", "interval", "ready_after", "timeout"];
const STEP_FIELDS: &[&str] = &[
    "call",
    "poll",
    "operation",
    "timeout",
    "retry",
    "circuit_breaker",
    "fallback",
    "interval",
    "ready_after",
];

/// Hand-written: a step is a call when it has `call`, a poll when it has
/// `poll`; errors name the exact field (an untagged enum would only say "data
/// did not match any variant").
impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(StepVisitor)
    }
}

struct StepVisitor;

#[derive(Default)]
struct StepFields {
    call: Option<String>,
    poll: Option<String>,
    operation: Option<String>,
    timeout: Option<Duration>,
    retry: Option<Retry>,
    circuit_breaker: Option<CircuitBreaker>,
    fallback: Option<Fallback>,
    interval: Option<Duration>,
    ready_after: Option<Distribution>,
    seen: Vec<&'static str>,
}

impl<'de> Visitor<'de> for StepVisitor {
    type Value = Step;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a step: a map with `call: <resource>` or `poll: <resource>`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Step, A::Error> {
        let mut f = StepFields::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "call" => take_field!(map, f, call),
                "poll" => take_field!(map, f, poll),
                "operation" => take_field!(map, f, operation),
                "timeout" => take_field!(map, f, timeout),
                "retry" => take_field!(map, f, retry),
                "circuit_breaker" => take_field!(map, f, circuit_breaker),
                "fallback" => take_field!(map, f, fallback),
                "interval" => take_field!(map, f, interval),
                "ready_after" => take_field!(map, f, ready_after),
                other => {
                    let expected = if f.call.is_some() {
                        CALL_FIELDS
                    } else if f.poll.is_some() {
                        POLL_FIELDS
                    } else {
                        STEP_FIELDS
                    };
                    return Err(de::Error::unknown_field(other, expected));
                }
            }
        }
        let (allowed, what) = match (&f.call, &f.poll) {
            (Some(_), Some(_)) => {
                return Err(de::Error::custom(
                    "a step has either `call` or `poll`, not both",
                ));
            }
            (Some(_), None) => (CALL_FIELDS, "call"),
            (None, Some(_)) => (POLL_FIELDS, "poll"),
            (None, None) => {
                return Err(de::Error::custom(
                    "missing field `call` (a step is `call: <resource>` or `poll: <resource>`)",
                ));
            }
        };
        if let Some(extra) = f.seen.iter().find(|s| !allowed.contains(s)) {
            return Err(de::Error::custom(format!(
                "unknown field `{extra}` for a {what} step, expected one of {}",
                super::quoted_list(allowed)
            )));
        }
        if let Some(call) = f.call {
            return Ok(Step::Call(CallStep {
                call,
                operation: f.operation,
                timeout: f.timeout,
                retry: f.retry,
                circuit_breaker: f.circuit_breaker,
                fallback: f.fallback.unwrap_or_default(),
            }));
        }
        let poll = f.poll.unwrap_or_default();
        let missing = |name: &str| {
            de::Error::custom(format!(
                "missing field `{name}` (a poll step needs `poll`, `interval`, `ready_after` and `timeout`)"
            ))
        };
        Ok(Step::Poll(PollStep {
            poll,
            interval: f.interval.ok_or_else(|| missing("interval"))?,
            ready_after: f.ready_after.ok_or_else(|| missing("ready_after"))?,
            timeout: f.timeout.ok_or_else(|| missing("timeout"))?,
        }))
    }
}

impl Step {
    /// The id of the resource this step calls or polls.
    pub fn target(&self) -> &str {
        match self {
            Step::Call(c) => &c.call,
            Step::Poll(p) => &p.poll,
        }
    }
}

/// A service level objective, judged over the risk window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Minimum fraction in [0, 1] of requests that succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub success_rate: Option<f64>,
    /// Maximum 99th-percentile end-to-end latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p99: Option<Duration>,
}

// ---------------------------------------------------------------------------
// Workload
// ---------------------------------------------------------------------------

/// Requests sent to one handler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// The id of the handler receiving the requests.
    pub handler: String,
    /// The arrival process.
    pub arrivals: Arrivals,
    /// Optional daily shape: a rate multiplier per hour of day (24 non-negative numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(equal = 24))]
    pub diurnal: Option<Vec<f64>>,
}

/// An arrival process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Arrivals {
    /// The kind of process: poisson.
    pub process: ArrivalProcess,
    /// The mean arrival rate (`200/s`).
    pub rate: Rate,
}

/// The kind of arrival process.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalProcess {
    /// Independent arrivals at a constant mean rate.
    Poisson,
}

// ---------------------------------------------------------------------------
// Failure modes
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Injection
// ---------------------------------------------------------------------------

/// How live-style injection campaigns are run in simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailureInjectionProfile {
    /// Whether injection campaigns run. Default false.
    #[serde(default)]
    pub enabled: bool,
    /// Mean time between scheduled injections during a campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injection_frequency: Option<Duration>,
    /// Inject only scenarios at or above this severity. Default low.
    #[serde(default)]
    pub severity_threshold: Severity,
    /// automatic_failover | graceful_degradation | abort. Default automatic_failover.
    #[serde(default)]
    pub rollback_policy: RollbackPolicy,
    /// The rollback trigger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_when: Option<AbortWhen>,
    /// How long monitoring takes to see a breach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_delay: Option<Duration>,
}

/// Severity of an injection scenario.
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
pub enum Severity {
    /// Low (the default).
    #[default]
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

/// What happens when an injection breaches its abort condition.
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
pub enum RollbackPolicy {
    /// Traffic fails over to healthy replicas (the default).
    #[default]
    AutomaticFailover,
    /// The system sheds load and serves degraded answers.
    GracefulDegradation,
    /// The injection is stopped at once.
    Abort,
}

/// The rollback trigger of an injection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbortWhen {
    /// Error rate in [0, 1] above which the injection is rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub error_rate: Option<f64>,
    /// p99 latency above which the injection is rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p99: Option<Duration>,
    /// How long a breach must last before the rollback.
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub for_: Option<Duration>,
}

/// An explicit injection scenario for targeted campaigns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Injection {
    /// Unique id.
    pub id: String,
    /// The id of the resource injected.
    pub target: String,
    /// The failure mode injected.
    pub mode: FailureMode,
    /// Offset into the campaign. Default 0.
    #[serde(default)]
    pub at: Duration,
    /// How long the fault lasts.
    pub duration: Duration,
    /// The fault's magnitude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injection_parameters: Option<InjectionParameters>,
}

// ---------------------------------------------------------------------------
// Risk and variants
// ---------------------------------------------------------------------------

fn default_window() -> Duration {
    Duration(30.0 * 86_400.0)
}

fn default_gate() -> f64 {
    0.05
}

/// How risk is scored and gated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Risk {
    /// Risk score = P(an SLO is breached within this window). Default 30d.
    #[serde(default = "default_window")]
    pub window: Duration,
    /// Base thresholds, scaled by criticality. Default low 0.01, medium 0.05, high 0.2.
    #[serde(default)]
    pub threshold: RiskThresholds,
    /// `preflight gate` fails when any handler's risk is above this (in [0, 1]). Default 0.05.
    #[serde(default = "default_gate")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub gate: f64,
}

impl Default for Risk {
    fn default() -> Self {
        Risk {
            window: default_window(),
            threshold: RiskThresholds::default(),
            gate: default_gate(),
        }
    }
}

/// Risk thresholds, probabilities in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskThresholds {
    /// Risk above this is at least low. Default 0.01.
    #[serde(default = "RiskThresholds::default_low")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub low: f64,
    /// Risk above this is at least medium. Default 0.05.
    #[serde(default = "RiskThresholds::default_medium")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub medium: f64,
    /// Risk above this is high. Default 0.2.
    #[serde(default = "RiskThresholds::default_high")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub high: f64,
}

impl RiskThresholds {
    fn default_low() -> f64 {
        0.01
    }
    fn default_medium() -> f64 {
        0.05
    }
    fn default_high() -> f64 {
        0.2
    }
}

impl Default for RiskThresholds {
    fn default() -> Self {
        RiskThresholds {
            low: Self::default_low(),
            medium: Self::default_medium(),
            high: Self::default_high(),
        }
    }
}

/// A what-if variant: the base scenario with changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Unique name.
    pub name: String,
    /// Changes: field path (`resources[orders-db].replicas`) -> new value.
    /// `[x]` selects an array element by `id` (or `name`), or by index when x is a number.
    #[serde(default)]
    pub set: BTreeMap<String, serde_json::Value>,
}

// ---------------------------------------------------------------------------
// Service paths
// ---------------------------------------------------------------------------

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
