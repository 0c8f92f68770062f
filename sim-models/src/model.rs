//! The compiled model: a scenario resolved into indices and samplers.
//!
//! [`crate::compile`] turns a validated [`crate::spec::Scenario`] into a
//! [`Model`]: names become indices, durations become [`SimDuration`]s,
//! distributions become [`Dist`] samplers and failure-mode parameters become
//! [`Effect`]s. The model is immutable and shared (by reference) by every
//! campaign of a variant, on every thread.

use crate::dist::Dist;
use crate::spec::{Backoff, Criticality, FailureMode, Fallback, Jitter, ResourceType};
use sim_core::SimDuration;

/// Index of a resource in [`Model::resources`].
pub type ResourceIx = usize;
/// Index of a link in [`Model::links`].
pub type LinkIx = usize;
/// Index of a handler in [`Model::handlers`].
pub type HandlerIx = usize;
/// Index of an effect in [`Model::effects`].
pub type EffectIx = usize;

/// Marks "any operation: draw one by weight".
pub const ANY_OP: u16 = u16::MAX;

/// A whole system, ready to simulate.
#[derive(Debug, Clone)]
pub struct Model {
    /// Resources, in scenario order.
    pub resources: Vec<ResourceDef>,
    /// Links between resources: every declared dependency, plus one implicit
    /// (zero-latency, lossless) link for every call or poll that has none.
    pub links: Vec<LinkDef>,
    /// Handlers, in scenario order.
    pub handlers: Vec<HandlerDef>,
    /// Workload generators.
    pub workloads: Vec<WorkloadDef>,
    /// Every effect any fault or injection can have.
    pub effects: Vec<Effect>,
    /// Natural failure processes.
    pub faults: Vec<FaultDef>,
    /// Explicit injections (targeted mode).
    pub injections: Vec<InjectionDef>,
    /// Simulated time per campaign (arrivals stop here).
    pub horizon: SimDuration,
    /// Time after the horizon during which requests already in flight may finish.
    pub drain: SimDuration,
    /// Most requests the resources of one simulation hold at once (queued
    /// or in a slot); more are rejected (see [`crate::limits`]).
    pub in_flight_cap: u64,
}

/// A resource: replicas serving requests, each with `concurrency` slots.
#[derive(Debug, Clone)]
pub struct ResourceDef {
    /// Scenario id.
    pub id: String,
    /// Resource type.
    pub kind: ResourceType,
    /// How critical the resource is (scales the risk threshold).
    pub criticality: Criticality,
    /// Number of replicas.
    pub replicas: u16,
    /// Requests served at once per replica.
    pub concurrency: u32,
    /// Requests that may wait for a slot; beyond this they are rejected.
    pub queue_limit: u32,
    /// Service time per request (zero when absent).
    pub service: Option<Dist>,
    /// How long the router takes to notice that a replica died.
    pub health_check: SimDuration,
    /// Known age of the replicas at the start (seconds); `None`: in equilibrium.
    pub age: Option<f64>,
    /// Links that lead into this resource.
    pub in_links: Vec<LinkIx>,
    /// The handler running on this resource, if any.
    pub handler: Option<HandlerIx>,
}

/// A network link from a caller resource to a callee resource.
#[derive(Debug, Clone)]
pub struct LinkDef {
    /// Caller resource.
    pub from: ResourceIx,
    /// Callee resource.
    pub to: ResourceIx,
    /// One-way latency, drawn per message (zero when absent).
    pub latency: Option<Dist>,
    /// Probability that a request is lost on the way.
    pub loss: f64,
    /// Whether the caller can do without the callee.
    pub soft: bool,
    /// Declared in the scenario (false for an implicit link).
    pub declared: bool,
}

/// A handler: the code that runs on a resource for each request.
#[derive(Debug, Clone)]
pub struct HandlerDef {
    /// Scenario id.
    pub id: String,
    /// The resource the handler runs on.
    pub resource: ResourceIx,
    /// Operations.
    pub ops: Vec<OpDef>,
    /// Cumulative normalised weights of `ops`, for drawing one.
    pub cumulative_weights: Vec<f64>,
    /// Service-level objective.
    pub slo: SloDef,
    /// Resources whose loss makes the handler unable to serve (for availability).
    pub hard_path: Vec<ResourceIx>,
    /// Number of circuit breakers (one per call step that has one).
    pub breakers: usize,
}

/// An objective a handler must meet over a campaign.
#[derive(Debug, Clone, Copy, Default)]
pub struct SloDef {
    /// Minimum fraction of successful requests.
    pub success_rate: Option<f64>,
    /// Maximum 99th-percentile latency.
    pub latency_p99: Option<SimDuration>,
}

/// One operation of a handler.
#[derive(Debug, Clone)]
pub struct OpDef {
    /// Operation name.
    pub name: String,
    /// Steps executed in order.
    pub steps: Vec<StepDef>,
}

/// One step of an operation.
#[derive(Debug, Clone)]
pub enum StepDef {
    /// A call to another resource or handler.
    Call(CallDef),
    /// A stabilisation loop.
    Poll(PollDef),
}

/// A call step.
#[derive(Debug, Clone)]
pub struct CallDef {
    /// The link the call travels over.
    pub link: LinkIx,
    /// The operation of the target's handler ([`ANY_OP`]: drawn by weight).
    pub op: u16,
    /// Per-attempt timeout.
    pub timeout: Option<SimDuration>,
    /// Retry policy (one attempt when absent in the scenario).
    pub retry: RetryDef,
    /// Circuit breaker, with its index among the handler's breakers.
    pub breaker: Option<(usize, BreakerDef)>,
    /// What happens when the call finally fails.
    pub fallback: Fallback,
    /// The call made instead when this one finally fails (`fallback:
    /// {call: X}`), compiled.
    pub fallback_call: Option<FallbackCallDef>,
    /// Whether a final failure lets the request go on at once (`cached` or
    /// `skip`, or a soft dependency). A fallback call is not: the request
    /// goes on only if that call succeeds.
    pub tolerate_failure: bool,
}

impl CallDef {
    /// Whether this call failing fails the request by itself: no `cached`
    /// or `skip` fallback, no fallback call, not a soft dependency.
    pub fn hard(&self) -> bool {
        !self.tolerate_failure && self.fallback_call.is_none()
    }
}

/// The call a step makes when its own call finally fails: one attempt, no
/// breaker, its own timeout.
#[derive(Debug, Clone, Copy)]
pub struct FallbackCallDef {
    /// The link the fallback call travels over.
    pub link: LinkIx,
    /// The operation of the target's handler ([`ANY_OP`]: drawn by weight).
    pub op: u16,
    /// The fallback call's timeout.
    pub timeout: Option<SimDuration>,
}

/// Retry policy of a call.
#[derive(Debug, Clone, Copy)]
pub struct RetryDef {
    /// Attempts in all, including the first (at least 1).
    pub max_attempts: u32,
    /// Backoff shape.
    pub backoff: Backoff,
    /// First backoff.
    pub base: SimDuration,
    /// Largest backoff.
    pub max: SimDuration,
    /// Jitter.
    pub jitter: Jitter,
}

impl RetryDef {
    /// A single attempt, no retry.
    pub const NONE: RetryDef = RetryDef {
        max_attempts: 1,
        backoff: Backoff::Constant,
        base: SimDuration::ZERO,
        max: SimDuration(u64::MAX),
        jitter: Jitter::None,
    };
}

/// Circuit breaker parameters.
#[derive(Debug, Clone, Copy)]
pub struct BreakerDef {
    /// Failure fraction over the window that opens the breaker.
    pub failure_rate: f64,
    /// Calls needed in the window before the breaker may open.
    pub min_calls: u32,
    /// Sliding window.
    pub window: SimDuration,
    /// How long the breaker stays open before letting a trial call through.
    pub open_for: SimDuration,
}

/// A poll step: ask the target every `interval` until it is ready or `timeout` passes.
#[derive(Debug, Clone)]
pub struct PollDef {
    /// The link the polls travel over.
    pub link: LinkIx,
    /// Time between polls.
    pub interval: SimDuration,
    /// How long the target takes to become ready.
    pub ready_after: Dist,
    /// Give up after this long.
    pub timeout: SimDuration,
}

/// A workload generator feeding a handler.
#[derive(Debug, Clone)]
pub struct WorkloadDef {
    /// Its id (`spec::workload_ids`): its arrivals draw from the stream
    /// `workload/<id>`.
    pub id: String,
    /// The handler requests go to.
    pub handler: HandlerIx,
    /// Mean arrivals per second (before the diurnal shape).
    pub rate: f64,
    /// Multiplier per hour of day.
    pub diurnal: Option<[f64; 24]>,
}

/// What a fault does while it is active.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Replicas down (process crash). `replicas` applies to resource-scoped faults.
    Crash {
        /// How many replicas a resource-scoped crash takes down (`None`: all).
        replicas: Option<u16>,
    },
    /// Added delay on every request served.
    Latency {
        /// The added delay.
        added: Dist,
    },
    /// A fraction of requests fail.
    ErrorCode {
        /// Fraction failing.
        fraction: f64,
        /// HTTP-like code, for reports.
        code: u16,
    },
    /// Service time multiplied by `factor` (= 1 / (1 − percent/100)).
    CpuThrottle {
        /// Service-time multiplier.
        factor: f64,
    },
    /// Concurrency reduced by `percent`; at 100% the replica crashes.
    MemoryStarvation {
        /// Percent of concurrency lost.
        percent: f64,
    },
    /// A fraction of requests fail; the rest are slowed.
    DiskError {
        /// Fraction failing.
        fraction: f64,
        /// Service-time multiplier of the rest.
        slowdown: f64,
    },
    /// Service time multiplied.
    DiskIoStarvation {
        /// Service-time multiplier.
        slowdown: f64,
    },
    /// Added delay on the links into the resource.
    NetworkLatency {
        /// The added delay.
        added: Dist,
        /// Only these links (`None`: all links into the resource).
        links: Option<Vec<LinkIx>>,
    },
    /// Links into the resource drop everything.
    NetworkPartition {
        /// Only these links (`None`: all).
        links: Option<Vec<LinkIx>>,
    },
    /// The resource refuses connections from every caller.
    Unreachable,
}

impl Effect {
    /// Whether the effect acts on links rather than on replicas.
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            Effect::NetworkLatency { .. } | Effect::NetworkPartition { .. } | Effect::Unreachable
        )
    }

    /// Whether the effect applies to `link` (network effects only).
    pub fn applies_to_link(&self, link: LinkIx) -> bool {
        match self {
            Effect::NetworkLatency { links, .. } | Effect::NetworkPartition { links } => {
                links.as_ref().is_none_or(|l| l.contains(&link))
            }
            Effect::Unreachable => true,
            _ => false,
        }
    }

    /// Whether the effect makes the whole resource unable to serve anyone
    /// (counts against availability).
    pub fn takes_resource_down(&self) -> bool {
        matches!(
            self,
            Effect::Unreachable | Effect::NetworkPartition { links: None }
        )
    }
}

/// Which replicas a failure process acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultScope {
    /// One replica; the process runs independently for each.
    Replica(u16),
    /// The whole resource at once (common cause).
    Resource,
}

/// A natural failure process: alternating up and down times.
#[derive(Debug, Clone)]
pub struct FaultDef {
    /// The resource it strikes.
    pub resource: ResourceIx,
    /// Failure mode (for reports).
    pub mode: FailureMode,
    /// What it does while active.
    pub effect: EffectIx,
    /// Replica or whole resource.
    pub scope: FaultScope,
    /// Time from repair to the next failure.
    pub time_between: Dist,
    /// Time to repair.
    pub repair: Dist,
    /// Importance-sampling time scale of the up-times (1: the true process;
    /// see [`crate::rare`]). Set by the runner for `--rare-event`, never by
    /// the scenario.
    pub bias: f64,
    /// Why the process runs.
    pub origin: FaultOrigin,
}

/// Why a failure process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOrigin {
    /// A failure mode of the scenario (or of its resource type's defaults).
    FailureMode,
    /// A hazard raised by a telemetry forecast (`telemetry:`): the mode's
    /// effect and repair, at the rate the forecast's crossing probability
    /// gives (`docs/forecast.md`).
    Telemetry,
}

/// An explicit injection: one fault, at a fixed time, for a fixed duration.
#[derive(Debug, Clone)]
pub struct InjectionDef {
    /// Scenario id (written as `scenario_id`).
    pub id: String,
    /// The resource it strikes.
    pub resource: ResourceIx,
    /// Failure mode.
    pub mode: FailureMode,
    /// What it does while active.
    pub effect: EffectIx,
    /// Start, from the campaign start.
    pub at: SimDuration,
    /// How long it lasts.
    pub duration: SimDuration,
}
