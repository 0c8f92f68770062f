//! Injection: `failure_injection_profile` (live-style injections, severity,
//! abort thresholds, rollback) and `injections` (one explicit fault).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::failure_modes::{FailureMode, InjectionParameters};
use crate::spec::Duration;
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
