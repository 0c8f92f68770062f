//! `--format thresholds`: every number a live experiment needs, per
//! exported scenario, as JSON (`thresholds.json`, its schema from
//! `preflight schema --exports`) and Parquet (`thresholds.parquet`, one row
//! per scenario).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use schemars::JsonSchema;
use serde::Serialize;
use sim_engine::error::Error;
use sim_models::spec::Target;

use crate::read::{Predicted, Run};
use crate::select::{Chosen, Selection, Threshold};
use crate::{Provenance, finite};

/// `thresholds.json`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsFile {
    /// Which run and scenario ranks these numbers came from.
    pub provenance: Provenance,
    /// The span the likelihoods are per (the scenario's `risk.window`), seconds.
    pub risk_window_s: f64,
    /// The handlers with a workload: their SLO breach levels and the base's
    /// natural risk.
    pub handlers: Vec<HandlerSlo>,
    /// The exported scenarios, best rank first.
    pub scenarios: Vec<ScenarioThresholds>,
}

/// A workload handler's SLO and risk.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HandlerSlo {
    /// The handler's id.
    pub handler: String,
    /// The resource it runs on.
    pub runs_on: String,
    /// Its SLO is breached at this error rate (`1 − success_rate`).
    pub breach_error_rate: Option<f64>,
    /// Its SLO is breached at this p99, ms.
    pub breach_latency_p99_ms: Option<f64>,
    /// The base's natural risk: P(the SLO is breached within one campaign).
    pub risk: Option<f64>,
}

/// One exported scenario.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioThresholds {
    /// 1 = most worth injecting.
    pub rank: i32,
    /// `scenarios.parquet`'s `scenario_id`.
    pub scenario_id: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// P(at least one natural occurrence within the risk window).
    pub likelihood: f64,
    /// Workload errors one occurrence causes, as a fraction of the window's error budget.
    pub impact: f64,
    /// likelihood × impact.
    pub score: f64,
    /// `failure_mode` (from the failure modes) or `failure_point` (from `analyze`).
    pub source: String,
    /// The resource struck and where it really is (its `target:`).
    pub target: TargetRef,
    /// The failure mode injected.
    pub failure_mode: String,
    /// How hard.
    pub magnitude: Magnitude,
    /// How long to inject, seconds.
    pub duration_s: f64,
    /// What a live run should see with no fault (one-second figures).
    pub healthy: Healthy,
    /// What the simulation saw while the fault was on.
    pub during_fault: DuringFault,
    /// When to stop a live experiment.
    pub abort: Abort,
    /// How to stop it, and the recovery to expect.
    pub rollback_plan: String,
}

/// The resource and its `target:`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetRef {
    /// The resource's id in the scenario.
    pub resource: String,
    /// Its `target:` (absent when the scenario gives none).
    pub real: Option<Target>,
}

/// The injection's parameters, where its failure mode has them.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Magnitude {
    /// Mean added latency, ms.
    pub added_latency_ms: Option<f64>,
    /// Fraction of requests failed.
    pub error_fraction: Option<f64>,
    /// Status code of the failed requests.
    pub status_code: Option<i32>,
    /// Service-time multiplier.
    pub slowdown: Option<f64>,
    /// Share of concurrency lost, percent.
    pub concurrency_lost_percent: Option<f64>,
    /// The replica struck (an index) or `all`.
    pub replicas: String,
}

/// The healthy steady state.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Healthy {
    /// Errors / requests.
    pub error_rate: f64,
    /// 99.9th percentile of one-second error rates (the noise).
    pub error_rate_high: f64,
    /// Median one-second p99, ms.
    pub latency_p99_ms: f64,
    /// 99.9th percentile of one-second p99s, ms.
    pub latency_p99_high_ms: f64,
}

/// The workload while the fault was on.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DuringFault {
    /// Mean error rate over the campaigns.
    pub error_rate: f64,
    /// Mean p99 over the campaigns, ms.
    pub latency_p99_ms: f64,
    /// 99th percentile of one-second error rates.
    pub error_rate_p99: f64,
    /// 99th percentile of one-second p99s, ms.
    pub latency_p99_ms_p99: f64,
    /// p90 seconds from the fault's end until every SLO held again (null:
    /// not always within the minute watched).
    pub recovery_s: Option<f64>,
    /// Workload errors per occurrence above the background rate.
    pub excess_errors: f64,
    /// Targeted campaigns that measured it.
    pub campaigns: i64,
}

/// The abort thresholds.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Abort {
    /// On the one-second error rate.
    pub error_rate: AbortThreshold,
    /// On the one-second p99, ms.
    pub latency_p99_ms: AbortThreshold,
}

/// One abort threshold and the bounds it lies between.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbortThreshold {
    /// Stop when the one-second figure reaches this.
    pub value: Option<f64>,
    /// `between` (halfway from the healthy bound to the breach level),
    /// `healthy` (the healthy bound) or `no_slo` (twice the healthy bound).
    pub basis: String,
    /// The healthy steady state it lies above.
    pub healthy: f64,
    /// The SLO's breach level it lies below (null: no SLO on this figure).
    pub breach: Option<f64>,
    /// Whether the tools' exports use it (it lies strictly between).
    pub exported: bool,
    /// Why not, when not.
    pub refused: Option<String>,
}

fn abort(t: &Threshold) -> AbortThreshold {
    AbortThreshold {
        value: finite(t.value),
        basis: t.basis.clone(),
        healthy: t.healthy,
        breach: t.breach,
        exported: t.usable(),
        refused: t.refused.clone(),
    }
}

fn scenario(run: &Run, c: &Chosen) -> ScenarioThresholds {
    let p: &Predicted = &c.row;
    ScenarioThresholds {
        rank: p.rank,
        scenario_id: p.scenario_id.clone(),
        severity: p.severity.clone(),
        likelihood: p.likelihood,
        impact: p.impact,
        score: p.score,
        source: p.source.clone(),
        target: TargetRef {
            resource: p.target.clone(),
            real: run.target(&p.target).cloned(),
        },
        failure_mode: p.failure_mode.clone(),
        magnitude: Magnitude {
            added_latency_ms: p.added_latency_ms,
            error_fraction: p.error_fraction,
            status_code: p.status_code,
            slowdown: p.slowdown,
            concurrency_lost_percent: p.concurrency_lost_percent,
            replicas: p.replicas.clone(),
        },
        duration_s: p.duration_s,
        healthy: Healthy {
            error_rate: p.healthy_error_rate,
            error_rate_high: p.healthy_error_rate_high,
            latency_p99_ms: p.healthy_latency_p99_ms,
            latency_p99_high_ms: p.healthy_latency_p99_high_ms,
        },
        during_fault: DuringFault {
            error_rate: p.error_rate_during,
            latency_p99_ms: p.latency_p99_during_ms,
            error_rate_p99: p.fault_error_rate_p99,
            latency_p99_ms_p99: p.fault_latency_p99_ms_p99,
            recovery_s: finite(p.recovery_s),
            excess_errors: p.excess_errors,
            campaigns: p.campaigns,
        },
        abort: Abort {
            error_rate: abort(&c.abort_error_rate),
            latency_p99_ms: abort(&c.abort_latency_p99_ms),
        },
        rollback_plan: p.rollback_plan.clone(),
    }
}

/// The document of `thresholds.json`.
pub fn document(run: &Run, sel: &Selection, provenance: Provenance) -> ThresholdsFile {
    ThresholdsFile {
        provenance,
        risk_window_s: run.manifest.run.scenario_risk_window_s,
        handlers: run
            .handlers
            .iter()
            .map(|h| HandlerSlo {
                handler: h.id.clone(),
                runs_on: h.runs_on.clone(),
                breach_error_rate: h.breach_error_rate,
                breach_latency_p99_ms: h.breach_latency_p99_ms,
                risk: h.risk,
            })
            .collect(),
        scenarios: sel.chosen.iter().map(|c| scenario(run, c)).collect(),
    }
}

/// The JSON Schema of `thresholds.json` (`preflight schema --exports`).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ThresholdsFile);
    serde_json::to_string_pretty(&schema).expect("a schema serialises") + "\n"
}

/// Writes `thresholds.parquet`: one row per scenario, the JSON's numbers
/// flattened.
pub fn write_parquet(path: &Path, doc: &ThresholdsFile) -> Result<(), Error> {
    let s = &doc.scenarios;
    let f64s = |f: &dyn Fn(&ScenarioThresholds) -> Option<f64>| -> ArrayRef {
        Arc::new(s.iter().map(f).collect::<Float64Array>())
    };
    let strs = |f: &dyn Fn(&ScenarioThresholds) -> String| -> ArrayRef {
        Arc::new(s.iter().map(|r| Some(f(r))).collect::<StringArray>())
    };
    let bools = |f: &dyn Fn(&ScenarioThresholds) -> bool| -> ArrayRef {
        Arc::new(s.iter().map(|r| Some(f(r))).collect::<BooleanArray>())
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "rank",
            Arc::new(s.iter().map(|r| Some(r.rank)).collect::<Int32Array>()),
        ),
        ("scenario_id", strs(&|r| r.scenario_id.clone())),
        ("target", strs(&|r| r.target.resource.clone())),
        ("failure_mode", strs(&|r| r.failure_mode.clone())),
        ("severity", strs(&|r| r.severity.clone())),
        ("likelihood", f64s(&|r| Some(r.likelihood))),
        ("score", f64s(&|r| Some(r.score))),
        ("duration_s", f64s(&|r| Some(r.duration_s))),
        ("added_latency_ms", f64s(&|r| r.magnitude.added_latency_ms)),
        ("error_fraction", f64s(&|r| r.magnitude.error_fraction)),
        (
            "status_code",
            Arc::new(
                s.iter()
                    .map(|r| r.magnitude.status_code)
                    .collect::<Int32Array>(),
            ),
        ),
        ("slowdown", f64s(&|r| r.magnitude.slowdown)),
        (
            "concurrency_lost_percent",
            f64s(&|r| r.magnitude.concurrency_lost_percent),
        ),
        ("replicas", strs(&|r| r.magnitude.replicas.clone())),
        ("healthy_error_rate", f64s(&|r| Some(r.healthy.error_rate))),
        (
            "healthy_error_rate_high",
            f64s(&|r| Some(r.healthy.error_rate_high)),
        ),
        (
            "healthy_latency_p99_ms",
            f64s(&|r| Some(r.healthy.latency_p99_ms)),
        ),
        (
            "healthy_latency_p99_high_ms",
            f64s(&|r| Some(r.healthy.latency_p99_high_ms)),
        ),
        (
            "error_rate_during",
            f64s(&|r| Some(r.during_fault.error_rate)),
        ),
        (
            "latency_p99_during_ms",
            f64s(&|r| Some(r.during_fault.latency_p99_ms)),
        ),
        ("abort_error_rate", f64s(&|r| r.abort.error_rate.value)),
        (
            "abort_error_rate_exported",
            bools(&|r| r.abort.error_rate.exported),
        ),
        ("breach_error_rate", f64s(&|r| r.abort.error_rate.breach)),
        (
            "abort_latency_p99_ms",
            f64s(&|r| r.abort.latency_p99_ms.value),
        ),
        (
            "abort_latency_p99_exported",
            bools(&|r| r.abort.latency_p99_ms.exported),
        ),
        (
            "breach_latency_p99_ms",
            f64s(&|r| r.abort.latency_p99_ms.breach),
        ),
    ];
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, a)| {
                let nullable = !matches!(a.data_type(), DataType::Int32 | DataType::Boolean)
                    || *name == "status_code";
                Field::new(*name, a.data_type().clone(), nullable)
            })
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .map_err(|e| Error::Internal(format!("preflight: export: thresholds.parquet: {e}")))?;
    sim_output::write_table(path, schema, [batch])
        .map(|_| ())
        .map_err(|e| Error::output("writing thresholds.parquet", e))
}
