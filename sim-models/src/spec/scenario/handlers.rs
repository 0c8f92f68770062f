//! Handlers: `handlers`, their operations and steps (calls with timeouts,
//! retries, breakers and fallbacks; polls), and their SLOs.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::defaults::one_f64;
use crate::spec::{Distribution, Duration};
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
    /// What to do when the call fails: none | cached | skip, or
    /// `{call: X, timeout: …}` to call another resource instead
    /// (cache-aside). Default none.
    #[serde(default)]
    #[schemars(with = "FallbackSchema")]
    pub fallback: Fallback,
}

/// What a step does when its call fails (after its retries, or at once
/// when its breaker is open).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Fallback {
    /// The step fails, so the request fails (the default).
    #[default]
    None,
    /// A cached answer is served; the request succeeds.
    Cached,
    /// The step is skipped (soft dependency); the request succeeds.
    Skip,
    /// Another resource is called instead, once, with its own timeout
    /// (cache-aside: on a cache failure, read from the database). The
    /// request goes on, degraded, when that call succeeds, and the step
    /// fails when it fails too.
    Call(FallbackCall),
}

impl Fallback {
    /// The word of a fallback that calls nothing (`none`, `cached`, `skip`);
    /// `call` for one that does.
    pub fn word(&self) -> &'static str {
        match self {
            Fallback::None => "none",
            Fallback::Cached => "cached",
            Fallback::Skip => "skip",
            Fallback::Call(_) => "call",
        }
    }

    /// The call a fallback makes, if it makes one.
    pub fn call(&self) -> Option<&FallbackCall> {
        match self {
            Fallback::Call(c) => Some(c),
            _ => None,
        }
    }
}

/// `fallback: {call: X}`: the call made when a step's own call fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FallbackCall {
    /// The id of the resource called instead.
    pub call: String,
    /// The operation of the handler running on it; default: drawn by weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Give up on the fallback call after this long. Default: no timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// `none | cached | skip`: a fallback that calls nothing.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // only its schema is used
enum FallbackWord {
    /// The step fails, so the request fails (the default).
    None,
    /// A cached answer is served; the request succeeds.
    Cached,
    /// The step is skipped (soft dependency); the request succeeds.
    Skip,
}

/// The JSON Schema of [`Fallback`]: a word, or the call made instead.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only its schema is used
enum FallbackSchema {
    /// none | cached | skip.
    Word(FallbackWord),
    /// Call another resource instead (cache-aside).
    Call(FallbackCall),
}

impl Serialize for Fallback {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Fallback::Call(c) => c.serialize(s),
            other => s.serialize_str(other.word()),
        }
    }
}

/// Hand-written: a word or a map, each with an error that says which.
impl<'de> Deserialize<'de> for Fallback {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FallbackVisitor)
    }
}

struct FallbackVisitor;

impl<'de> Visitor<'de> for FallbackVisitor {
    type Value = Fallback;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`none`, `cached`, `skip`, or a call made instead (`{call: <resource>, timeout: <duration>}`)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Fallback, E> {
        match v {
            "none" => Ok(Fallback::None),
            "cached" => Ok(Fallback::Cached),
            "skip" => Ok(Fallback::Skip),
            other => Err(E::custom(format!(
                "unknown fallback `{other}`, expected `none`, `cached`, `skip`, or a map `{{call: <resource>, timeout: <duration>}}` to call another resource instead"
            ))),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Fallback, A::Error> {
        FallbackCall::deserialize(de::value::MapAccessDeserializer::new(map)).map(Fallback::Call)
    }
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
                crate::spec::quoted_list(allowed)
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
