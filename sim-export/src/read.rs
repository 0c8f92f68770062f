//! What an export reads from a run directory: its manifest, the scenario
//! copy (for `target:`, the handlers and their SLOs), `scenarios.parquet`
//! and `risk.parquet`. Every number an export writes comes from these
//! files.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sim_engine::error::Error;
use sim_models::spec::{Scenario, Target};
use sim_output::Manifest;

/// One row of `scenarios.parquet`: a predicted injection scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Predicted {
    /// 1 = most worth injecting.
    pub rank: i32,
    /// `<resource>-<mode>[-long|-all|-point]`.
    pub scenario_id: String,
    /// The resource struck.
    pub target: String,
    /// The failure mode injected.
    pub failure_mode: String,
    /// `low`..`critical`.
    pub severity: String,
    /// P(at least one natural occurrence within the risk window).
    pub likelihood: f64,
    /// Errors per occurrence as a fraction of the window's error budget.
    pub impact: f64,
    /// likelihood × impact.
    pub score: f64,
    /// How long to inject, seconds.
    pub duration_s: f64,
    /// How to stop it.
    pub rollback_plan: String,
    /// Abort thresholds and where each came from.
    pub abort_error_rate: f64,
    /// …
    pub abort_latency_p99_ms: f64,
    /// `between`, `healthy` or `no_slo`.
    pub abort_error_rate_basis: String,
    /// As `abort_error_rate_basis`.
    pub abort_latency_p99_basis: String,
    /// The healthy steady state over one-second ticks.
    pub healthy_error_rate: f64,
    /// Median one-second p99, ms.
    pub healthy_latency_p99_ms: f64,
    /// 99.9th percentile of one-second error rates.
    pub healthy_error_rate_high: f64,
    /// 99.9th percentile of one-second p99s, ms.
    pub healthy_latency_p99_high_ms: f64,
    /// 99th percentile of one-second error rates while the fault was on.
    pub fault_error_rate_p99: f64,
    /// 99th percentile of one-second p99s while the fault was on, ms.
    pub fault_latency_p99_ms_p99: f64,
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
    /// Workload error rate while the fault was on (mean over campaigns).
    pub error_rate_during: f64,
    /// Workload p99 while the fault was on, ms.
    pub latency_p99_during_ms: f64,
    /// p90 seconds from the fault's end until the SLOs held again.
    pub recovery_s: f64,
    /// Workload errors per occurrence above the background.
    pub excess_errors: f64,
    /// Targeted campaigns that measured it.
    pub campaigns: i64,
    /// `failure_mode` or `failure_point`.
    pub source: String,
}

/// A workload handler and its SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct Handler {
    /// Its id.
    pub id: String,
    /// The resource it runs on.
    pub runs_on: String,
    /// `1 − success_rate`, when the SLO has one.
    pub breach_error_rate: Option<f64>,
    /// The SLO's p99 in ms, when it has one.
    pub breach_latency_p99_ms: Option<f64>,
    /// The base's natural risk (`risk.parquet`).
    pub risk: Option<f64>,
}

/// A run directory, as an export sees it.
#[derive(Debug, Clone)]
pub struct Run {
    /// The directory.
    pub dir: PathBuf,
    /// Its `manifest.json`.
    pub manifest: Manifest,
    /// `sha256:…` of `manifest.json`'s bytes: which run an export came from.
    pub manifest_sha256: String,
    /// The scenario the run ran (its copy in the directory).
    pub scenario: Scenario,
    /// `scenarios.parquet`, by rank.
    pub predicted: Vec<Predicted>,
    /// The handlers with a workload, in the scenario's order.
    pub handlers: Vec<Handler>,
}

impl Run {
    /// The `target:` of resource `id`, if it has one.
    pub fn target(&self, id: &str) -> Option<&Target> {
        self.scenario
            .resources
            .iter()
            .find(|r| r.id == id)
            .and_then(|r| r.target.as_ref())
    }

    /// The strictest SLO breach levels of the workload handlers: what the
    /// abort thresholds of `scenarios.parquet` lie below.
    pub fn breach(&self) -> (Option<f64>, Option<f64>) {
        let min = |f: fn(&Handler) -> Option<f64>| {
            self.handlers
                .iter()
                .filter_map(f)
                .min_by(|a, b| a.total_cmp(b))
        };
        (
            min(|h| h.breach_error_rate),
            min(|h| h.breach_latency_p99_ms),
        )
    }
}

fn input(dir: &Path, what: impl std::fmt::Display) -> Error {
    Error::input(format!("preflight: export: {}: {what}", dir.display()))
}

/// Reads the run directory `dir`.
pub fn read_run(dir: &Path) -> Result<Run, Error> {
    let manifest_path = dir.join("manifest.json");
    if !manifest_path.is_file() {
        return Err(input(
            dir,
            "not a run directory (no manifest.json): give the --out of a `preflight run`",
        ));
    }
    let bytes = sim_engine::inputs::read_regular(&manifest_path, 64 << 20)
        .map_err(|e| input(&manifest_path, e))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| input(&manifest_path, format!("not a run's manifest: {e}")))?;
    if manifest.tool != sim_output::manifest::TOOL {
        return Err(input(&manifest_path, "not a run's manifest"));
    }
    let manifest_sha256 = sim_engine::provenance::sha256(&bytes);
    let copy = dir.join(&manifest.run.scenario_copy);
    let text = sim_engine::inputs::read_regular(&copy, sim_engine::inputs::MAX_SCENARIO_BYTES)
        .map_err(|e| input(&copy, e))?;
    let format = sim_engine::scenario::Format::from_path(&copy).map_err(|e| input(&copy, e))?;
    // Resolved as where the scenario was when it ran, so that files it
    // names (empirical distributions) are found as they were.
    let original = PathBuf::from(&manifest.run.scenario_path);
    let loaded = sim_engine::scenario::load_bytes_with(
        &text,
        format,
        &original,
        sim_engine::inputs::FileAccess::ScenarioFolder,
    )
    .map_err(|e| {
        input(
            &copy,
            format!("the run's copy of the scenario does not load:\n{e}"),
        )
    })?;
    let scenario = loaded.scenario;
    let scenarios_path = dir.join("scenarios.parquet");
    if !scenarios_path.is_file() {
        return Err(input(
            dir,
            "has no scenarios.parquet: the run predicted no injection scenarios; run with `--mode targeted` or `--mode both`, or enable `failure_injection_profile`",
        ));
    }
    let mut predicted = read_predicted(&scenarios_path)?;
    predicted.sort_by_key(|p| p.rank);
    let risks = read_risk(&dir.join("risk.parquet"))?;
    let workload: Vec<&str> = scenario
        .workload
        .iter()
        .map(|w| w.handler.as_str())
        .collect();
    let handlers = scenario
        .handlers
        .iter()
        .filter(|h| workload.contains(&h.id.as_str()))
        .map(|h| Handler {
            id: h.id.clone(),
            runs_on: h.runs_on.clone(),
            breach_error_rate: h.slo.as_ref().and_then(|s| s.success_rate).map(|s| 1.0 - s),
            breach_latency_p99_ms: h
                .slo
                .as_ref()
                .and_then(|s| s.latency_p99)
                .map(|d| d.secs() * 1000.0),
            risk: risks
                .iter()
                .find(|(handler, _)| **handler == *h.id)
                .map(|(_, r)| *r),
        })
        .collect();
    Ok(Run {
        dir: dir.to_path_buf(),
        manifest,
        manifest_sha256,
        scenario,
        predicted,
        handlers,
    })
}

/// The batches of a Parquet file.
fn batches(path: &Path) -> Result<Vec<RecordBatch>, Error> {
    let bad = |e: String| input(path, format!("cannot be read as Parquet: {e}"));
    let file = File::open(path).map_err(|e| bad(e.to_string()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| bad(e.to_string()))?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))
}

/// Typed access to one batch's columns by name, with a clear error for a
/// file of another version.
struct Columns<'a> {
    batch: &'a RecordBatch,
    path: &'a Path,
}

impl Columns<'_> {
    fn get<T: Array + 'static>(&self, name: &str) -> Result<&T, Error> {
        self.batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<T>())
            .ok_or_else(|| {
                input(
                    self.path,
                    format!("has no column `{name}` of the expected type: written by another version of Preflight? Run again"),
                )
            })
    }
    fn f64(&self, name: &str, row: usize) -> Result<f64, Error> {
        let a = self.get::<Float64Array>(name)?;
        Ok(if a.is_null(row) {
            f64::NAN
        } else {
            a.value(row)
        })
    }
    fn opt_f64(&self, name: &str, row: usize) -> Result<Option<f64>, Error> {
        let a = self.get::<Float64Array>(name)?;
        Ok((!a.is_null(row))
            .then(|| a.value(row))
            .filter(|v| !v.is_nan()))
    }
    fn str(&self, name: &str, row: usize) -> Result<String, Error> {
        let a = self.get::<StringArray>(name)?;
        Ok(if a.is_null(row) {
            String::new()
        } else {
            a.value(row).to_owned()
        })
    }
}

fn read_predicted(path: &Path) -> Result<Vec<Predicted>, Error> {
    let mut out = Vec::new();
    for batch in batches(path)? {
        let c = Columns {
            batch: &batch,
            path,
        };
        for row in 0..batch.num_rows() {
            let status = c.get::<Int32Array>("status_code")?;
            out.push(Predicted {
                rank: c.get::<Int32Array>("rank")?.value(row),
                scenario_id: c.str("scenario_id", row)?,
                target: c.str("target", row)?,
                failure_mode: c.str("failure_mode", row)?,
                severity: c.str("severity", row)?,
                likelihood: c.f64("likelihood", row)?,
                impact: c.f64("impact", row)?,
                score: c.f64("score", row)?,
                duration_s: c.f64("duration_s", row)?,
                rollback_plan: c.str("rollback_plan", row)?,
                abort_error_rate: c.f64("abort_error_rate", row)?,
                abort_latency_p99_ms: c.f64("abort_latency_p99_ms", row)?,
                abort_error_rate_basis: c.str("abort_error_rate_basis", row)?,
                abort_latency_p99_basis: c.str("abort_latency_p99_basis", row)?,
                healthy_error_rate: c.f64("healthy_error_rate", row)?,
                healthy_latency_p99_ms: c.f64("healthy_latency_p99_ms", row)?,
                healthy_error_rate_high: c.f64("healthy_error_rate_high", row)?,
                healthy_latency_p99_high_ms: c.f64("healthy_latency_p99_high_ms", row)?,
                fault_error_rate_p99: c.f64("fault_error_rate_p99", row)?,
                fault_latency_p99_ms_p99: c.f64("fault_latency_p99_ms_p99", row)?,
                added_latency_ms: c.opt_f64("added_latency_ms", row)?,
                error_fraction: c.opt_f64("error_fraction", row)?,
                status_code: (!status.is_null(row)).then(|| status.value(row)),
                slowdown: c.opt_f64("slowdown", row)?,
                concurrency_lost_percent: c.opt_f64("concurrency_lost_percent", row)?,
                replicas: c.str("replicas", row)?,
                error_rate_during: c.f64("error_rate_during", row)?,
                latency_p99_during_ms: c.f64("latency_p99_during_ms", row)?,
                recovery_s: c.f64("recovery_s", row)?,
                excess_errors: c.f64("excess_errors", row)?,
                campaigns: c.get::<Int64Array>("campaigns")?.value(row),
                source: c.str("source", row)?,
            });
        }
    }
    Ok(out)
}

/// `(handler, risk)` of the base variant's rows of `risk.parquet`.
fn read_risk(path: &Path) -> Result<Vec<(Arc<str>, f64)>, Error> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for batch in batches(path)? {
        let c = Columns {
            batch: &batch,
            path,
        };
        for row in 0..batch.num_rows() {
            if c.str("variant", row)? == "base" {
                out.push((c.str("handler", row)?.into(), c.f64("risk", row)?));
            }
        }
    }
    Ok(out)
}
