//! The rows of the run directory's tables, one struct per table.
//!
//! These are plain values that the campaign runner fills in; how they map to
//! Parquet columns lives in [`tables`](super::tables), one definition per
//! table. Field names are the column names of `shared/spec/outputs.md`.
//!
//! Strings are `Arc<str>` so that a runner can share one allocation of a
//! variant or handler name across millions of rows.

use std::fmt;
use std::sync::Arc;

/// How a campaign chose its faults. Written as `"natural"`, `"programme"`
/// or `"targeted"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// Faults drawn from the failure processes alone; the campaigns that
    /// `risk` is computed from.
    Natural,
    /// The natural campaign of the same index and seed with the
    /// live-injection programme (`failure_injection_profile`) running on top:
    /// the campaigns the programme's added risk is computed from.
    Programme,
    /// A ranked injection scenario was injected on purpose.
    Targeted,
    /// A campaign that measured a predicted injection scenario
    /// (`scenarios.parquet`): a healthy warm-up, the injection, the
    /// recovery; its `scenario_id` is the scenario's.
    Predicted,
    /// A natural campaign of a remediation candidate (`run
    /// --remediation-rows`): its `variant` is the candidate's name, its
    /// index and seed the base's natural campaign it is paired with.
    Remediation,
}

impl Mode {
    /// The value written to the `mode` column: `"natural"`, `"programme"`
    /// or `"targeted"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Natural => "natural",
            Mode::Programme => "programme",
            Mode::Predicted => "predicted",
            Mode::Targeted => "targeted",
            Mode::Remediation => "remediation",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad an injection scenario is: the scenario format's own
/// severity (`severity_threshold:`), written as `"low"` .. `"critical"`
/// ([`severity_str`]).
pub use sim_models::spec::Severity;

/// The value written to the `severity` column.
pub const fn severity_str(s: Severity) -> &'static str {
    match s {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// One campaign: a row of `campaigns.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRow {
    /// Scenario variant name (`base` or a what-if variant).
    pub variant: Arc<str>,
    /// Campaign index within the variant; campaigns are seeded from it.
    pub campaign: u64,
    /// The campaign's own seed (derived from master seed, variant, index).
    pub seed: u64,
    /// Natural or targeted campaign.
    pub mode: Mode,
    /// The injection scenario of a targeted campaign; `None` for natural ones.
    pub scenario_id: Option<Arc<str>>,
    /// Simulated time the row covers, in seconds.
    pub horizon_s: f64,
    /// Requests issued by the workload.
    pub requests: u64,
    /// Requests that failed.
    pub errors: u64,
    /// `errors / requests`; NaN (or 0) when there were no requests, written as given.
    pub error_rate: f64,
    /// Mean end-to-end latency over all requests, in milliseconds.
    pub latency_mean_ms: f64,
    /// Median end-to-end latency, in milliseconds.
    pub latency_p50_ms: f64,
    /// 99th percentile end-to-end latency, in milliseconds.
    pub latency_p99_ms: f64,
    /// Fraction of simulated time during which the system could serve (time-based).
    pub availability: f64,
    /// Whether any SLO was breached in this campaign.
    pub slo_breached: bool,
    /// Faults injected or drawn during the campaign.
    pub faults_injected: u32,
    /// Injections rolled back (abort thresholds crossed or injection ended).
    pub rollbacks: u32,
    /// Simulation events processed.
    pub events: u64,
    /// Importance-sampling weight (likelihood ratio, true over biased): 1
    /// unless the run used `--rare-event`. Weighted means (`Σ w·x / n`)
    /// estimate the true model's means.
    pub weight: f64,
    /// Of `requests`, those that succeeded degraded: served by a fallback
    /// or with a soft dependency skipped (they count as successes).
    pub degraded: u64,
    /// The natural failure processes active during the campaign (failed in
    /// it or down at its start), as `resource/mode`, comma-separated in the
    /// model's order; empty when none was (and in targeted campaigns, whose
    /// fault is `scenario_id`).
    pub faults: Arc<str>,
}

/// One handler within one campaign: a row of `handlers.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerRow {
    /// Scenario variant name.
    pub variant: Arc<str>,
    /// Campaign index within the variant.
    pub campaign: u64,
    /// Natural or targeted campaign.
    pub mode: Mode,
    /// The injection scenario of a targeted campaign; `None` for natural ones.
    pub scenario_id: Option<Arc<str>>,
    /// Handler name.
    pub handler: Arc<str>,
    /// Requests to this handler.
    pub requests: u64,
    /// Requests to this handler that failed.
    pub errors: u64,
    /// `errors / requests`; NaN (or 0) when there were no requests, written as given.
    pub error_rate: f64,
    /// Mean end-to-end latency, in milliseconds.
    pub latency_mean_ms: f64,
    /// Median end-to-end latency, in milliseconds.
    pub latency_p50_ms: f64,
    /// 99th percentile end-to-end latency, in milliseconds.
    pub latency_p99_ms: f64,
    /// Fraction of simulated time during which the handler could serve.
    pub availability: f64,
    /// Whether this handler's SLO was breached in this campaign.
    pub slo_breached: bool,
    /// Of `requests`, those that succeeded degraded (fallback or soft
    /// dependency skipped).
    pub degraded: u64,
    /// The campaign's seed, as in `campaigns.parquet`.
    pub seed: u64,
}

/// The risk of one handler under one variant: a row of `risk.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskRow {
    /// Scenario variant name.
    pub variant: Arc<str>,
    /// Handler name.
    pub handler: Arc<str>,
    /// `breaches / campaigns` over natural-mode campaigns.
    pub risk: f64,
    /// Lower bound of the confidence interval of `risk`.
    pub ci_low: f64,
    /// Upper bound of the confidence interval of `risk`.
    pub ci_high: f64,
    /// Natural-mode campaigns the risk is computed from.
    pub campaigns: u64,
    /// Of those, campaigns in which the handler's SLO was breached.
    pub breaches: u64,
    /// `risk` passed through the stored recalibration map, when there is one.
    pub calibrated_risk: Option<f64>,
    /// The risk gate's threshold for this handler.
    pub threshold: f64,
    /// Whether the (calibrated, when present) risk exceeds `threshold`.
    pub over_threshold: bool,
    /// The handler's criticality as declared in the scenario.
    pub criticality: Arc<str>,
    /// For a variant: `risk` minus the base's risk over the same (paired)
    /// campaigns; `None` for the base and for handlers the base lacks.
    pub risk_diff: Option<f64>,
    /// Lower bound of the 95% interval of `risk_diff` (Newcombe's paired
    /// interval; under importance sampling, the normal one).
    pub risk_diff_low: Option<f64>,
    /// Upper bound of the 95% interval of `risk_diff`.
    pub risk_diff_high: Option<f64>,
    /// Whether the handler has an SLO (`slo:` with a success rate or a p99
    /// objective). Without one nothing can breach: `risk` is 0 and the
    /// handler is left out of every decision (`over_threshold` false, the
    /// gate, `--until-decided`, remediation).
    pub has_slo: bool,
    /// Natural campaigns in which no fault at all was active.
    pub fault_free_campaigns: u64,
    /// Of those, campaigns in which the handler's SLO was breached.
    pub fault_free_breaches: u64,
    /// The SLO is breached with no fault at all (in more than half of at
    /// least 3 fault-free campaigns): a capacity or objective problem,
    /// which remediation answers with capacity changes only.
    pub breached_without_faults: bool,
    /// The time span `risk` covers, in seconds: one campaign's horizon.
    /// `risk` is P(the SLO is breached within `window_s`); it is a risk
    /// per `risk.window` only where the horizon is that window.
    pub window_s: f64,
    /// With the live-injection programme (`failure_injection_profile`)
    /// running on top of the natural faults: P(breach within `window_s`),
    /// over the programme campaigns (null without a programme).
    pub programme_risk: Option<f64>,
    /// Lower bound of the interval of `programme_risk`.
    pub programme_ci_low: Option<f64>,
    /// Upper bound of the interval of `programme_risk`.
    pub programme_ci_high: Option<f64>,
    /// The risk the programme adds: `programme_risk − risk` over the same
    /// (paired) campaigns, natural faults alike.
    pub programme_added: Option<f64>,
    /// Lower bound of the 95% paired interval of `programme_added`.
    pub programme_added_low: Option<f64>,
    /// Upper bound of the 95% paired interval of `programme_added`.
    pub programme_added_high: Option<f64>,
}

/// One ranked injection scenario: a row of `scenarios.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioRow {
    /// Rank, 1 = most worth injecting.
    pub rank: u32,
    /// Stable identifier of the scenario (referenced by targeted campaigns).
    pub scenario_id: Arc<str>,
    /// The resource or link the fault is injected into.
    pub target: Arc<str>,
    /// The failure mode injected (e.g. `crash`, `latency`).
    pub mode: Arc<str>,
    /// How bad the outcome is.
    pub severity: Severity,
    /// Probability that this fault happens naturally within the risk window.
    pub likelihood: f64,
    /// Impact of the fault on the SLOs.
    pub impact: f64,
    /// Ranking score (combines likelihood and impact).
    pub score: f64,
    /// Safe duration of the injection, in seconds.
    pub duration_s: f64,
    /// How to roll the injection back.
    pub rollback_plan: Arc<str>,
    /// Abort the live experiment when the one-second workload error rate
    /// reaches this: strictly between the healthy bound
    /// (`healthy_error_rate_high`) and the SLO's breach level where both
    /// exist and are ordered (see `abort_error_rate_basis`).
    pub abort_error_rate: f64,
    /// Abort the live experiment when the one-second p99 reaches this, ms
    /// (see `abort_latency_p99_basis`).
    pub abort_latency_p99_ms: f64,
    /// Where `abort_error_rate` came from: `between` (halfway from the
    /// healthy bound to the SLO's breach level), `healthy` (the healthy
    /// bound: one-second noise already reaches the SLO's level) or `no_slo`
    /// (no SLO on the figure: twice the healthy bound).
    pub abort_error_rate_basis: Arc<str>,
    /// Where `abort_latency_p99_ms` came from, as `abort_error_rate_basis`.
    pub abort_latency_p99_basis: Arc<str>,
    /// The healthy workload error rate (no fault), over one-second ticks.
    pub healthy_error_rate: f64,
    /// The healthy workload's median one-second p99, ms.
    pub healthy_latency_p99_ms: f64,
    /// The healthy 99.9th percentile of one-second error rates: the noise
    /// an abort threshold must stay above.
    pub healthy_error_rate_high: f64,
    /// The healthy 99.9th percentile of one-second p99s, ms.
    pub healthy_latency_p99_high_ms: f64,
    /// The fault's 99th percentile of one-second error rates while on.
    pub fault_error_rate_p99: f64,
    /// The fault's 99th percentile of one-second p99s while on, ms.
    pub fault_latency_p99_ms_p99: f64,
    /// The injection's parameters.
    pub magnitudes: Magnitudes,
    /// Replicas struck: an index, or `all`.
    pub replicas: Arc<str>,
    /// Workload error rate while the fault was on (mean over campaigns).
    pub error_rate_during: f64,
    /// Workload p99 latency while the fault was on, ms (mean over campaigns).
    pub latency_p99_during_ms: f64,
    /// Seconds from the end of the fault until the SLOs held again (p90
    /// over campaigns; NaN when some campaign did not recover while watched).
    pub recovery_s: f64,
    /// Workload errors caused by one occurrence (mean over campaigns,
    /// against a healthy run with the same seed).
    pub excess_errors: f64,
    /// Targeted campaigns simulated for this scenario.
    pub campaigns: u64,
    /// `failure_mode` or `failure_point` (see `docs/injection.md`).
    pub source: Arc<str>,
    /// Kinds of static failure points on the target (`preflight analyze`), comma-separated.
    pub failure_points: Arc<str>,
}

/// An injection's parameters, each where its failure mode has it (null
/// elsewhere): the columns a live injector is configured with.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Magnitudes {
    /// Mean latency added to each request (or link), ms.
    pub added_latency_ms: Option<f64>,
    /// Fraction of requests that fail (1 for a partition or an unreachable target).
    pub error_fraction: Option<f64>,
    /// The status code failed requests get.
    pub status_code: Option<u32>,
    /// Service-time multiplier (CPU throttling, slow disk).
    pub slowdown: Option<f64>,
    /// Share of concurrency lost, percent (memory starvation).
    pub concurrency_lost_percent: Option<f64>,
}

/// One remediation candidate checked against one handler over its
/// threshold: a row of `remediations.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct RemediationRow {
    /// The name the candidate was simulated as (the `name:` of the variant
    /// to paste); its changes apply to the base scenario.
    pub variant: Arc<str>,
    /// The resource, handler or link to change.
    pub target: Arc<str>,
    /// The suggestion in words.
    pub suggestion: Arc<str>,
    /// The change as a `set:` expression.
    pub change: Arc<str>,
    /// Risk before the change.
    pub risk_before: f64,
    /// Risk after the change (verified by simulation).
    pub risk_after: f64,
    /// The handler over its threshold whose risk is compared.
    pub handler: Arc<str>,
    /// What kind of change (`add_replica`, `add_timeout`, ...).
    pub kind: Arc<str>,
    /// Lower bound of the 95% interval of `risk_before`.
    pub risk_before_low: f64,
    /// Upper bound of the 95% interval of `risk_before`.
    pub risk_before_high: f64,
    /// Lower bound of the 95% interval of `risk_after`.
    pub risk_after_low: f64,
    /// Upper bound of the 95% interval of `risk_after`.
    pub risk_after_high: f64,
    /// `risk_after − risk_before` over the paired campaigns.
    pub risk_diff: f64,
    /// Lower bound of the 95% paired interval of `risk_diff`.
    pub risk_diff_low: f64,
    /// Upper bound of the 95% paired interval of `risk_diff`.
    pub risk_diff_high: f64,
    /// Campaigns behind each risk (the same, paired, campaigns before and after).
    pub campaigns: u64,
    /// Relevance score the candidate was ranked by (`docs/remediation.md`).
    pub relevance: f64,
}

/// One injection-log event: a row of `events.parquet` (written with `--events`).
///
/// Every column is required by the contract, so fields that do not apply to
/// an event kind are empty strings rather than nulls.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Scenario variant name.
    pub variant: Arc<str>,
    /// Campaign index within the variant.
    pub campaign: u64,
    /// The campaign's mode ([`Mode::Programme`]: live injection runs in
    /// programme campaigns); written as `mode` and, as the campaign's job
    /// name, `scenario_id`, the join keys of `campaigns.parquet`.
    pub campaign_mode: Mode,
    /// Simulated time of the event, in seconds.
    pub time_s: f64,
    /// `inject`, `rollback`, `recover`, `breach`, `reroute`, ...
    pub kind: Arc<str>,
    /// The resource, link or handler concerned.
    pub target: Arc<str>,
    /// The failure mode concerned, or empty.
    pub mode: Arc<str>,
    /// Free-form detail, or empty.
    pub detail: Arc<str>,
    /// `inject`: the replica injected (null: all replicas).
    pub replica: Option<u32>,
    /// `inject`: the planned duration, seconds.
    pub duration_s: Option<f64>,
    /// `breach`: the error rate over the monitoring tick that breached.
    pub error_rate: Option<f64>,
    /// `breach`: the p99 latency over that tick, ms.
    pub latency_p99_ms: Option<f64>,
    /// `breach`: when monitoring sees it, seconds.
    pub detected_at_s: Option<f64>,
    /// `recover`: how long the breach lasted; `rollback`: when the breach
    /// it answers began; seconds.
    pub breach_s: Option<f64>,
    /// `rollback`: how long a breach must hold first, seconds.
    pub hold_s: Option<f64>,
    /// `rollback`: the monitoring's detection delay, seconds.
    pub detection_delay_s: Option<f64>,
}

/// One service path in one campaign: a row of `paths.parquet` (scenarios
/// with `paths:`).
///
/// ADUs are counted at the source (`adus_sent`) and at the sink
/// (`adus_delivered`); `adus_lost` were sent but not delivered (lost on a
/// link, or sent while the path was down or being repaired).
#[derive(Debug, Clone, PartialEq)]
pub struct PathRow {
    /// Scenario variant name.
    pub variant: Arc<str>,
    /// Campaign index within the variant.
    pub campaign: u64,
    /// The path's id.
    pub path: Arc<str>,
    /// ADUs the source emitted.
    pub adus_sent: u64,
    /// ADUs that reached the sink.
    pub adus_delivered: u64,
    /// ADUs that did not.
    pub adus_lost: u64,
    /// `adus_lost / adus_sent` (NaN when nothing was sent).
    pub loss_rate: f64,
    /// Mean end-to-end delay of the delivered ADUs, milliseconds (NaN when none).
    pub delay_mean_ms: f64,
    /// 99th percentile of that delay, milliseconds (NaN when none).
    pub delay_p99_ms: f64,
    /// Fraction of the horizon during which the path was up (placed and
    /// every node and link it uses alive).
    pub availability: f64,
    /// Repairs: re-placements after a failure of one of its nodes or links.
    pub repairs: u32,
    /// Mean time from a failure to the path working again, seconds (NaN
    /// when there was no repair).
    pub time_to_repair_s: f64,
    /// Simulated time the path was down, seconds.
    pub downtime_s: f64,
    /// Times the path moved back to a better placement after a recovery.
    pub moves_back: u32,
}
