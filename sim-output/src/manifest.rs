//! `manifest.json`: what a run was, how it ran, and which files it wrote.
//!
//! The schema is these types: the engine fills a [`RunInfo`], and
//! [`RunWriter::finish`](crate::RunWriter::finish) adds what only the
//! writer knows (the `tool` marker, `row_counts`, `files`) and writes the
//! whole [`Manifest`]. Field names are part of the user-facing contract
//! (`docs/results.md`); a notebook reads the file with `json.load` and
//! [`Manifest::read`] reads it back in Rust.
//!
//! Figures that may be undefined (an interval from one campaign, a delay
//! when nothing was delivered) are `f64` NaN in memory and `null` in the
//! file; reading `null` back gives NaN.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

/// The value of `tool` in every manifest a run writes; with `files` and
/// `row_counts` it marks a directory as one a run wrote (so that a later
/// run may replace it).
pub const TOOL: &str = "preflight";

/// The whole `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`TOOL`].
    pub tool: String,
    /// What the run was and how it ran.
    #[serde(flatten)]
    pub run: RunInfo,
    /// Rows per table (file stem → rows), read back from every Parquet
    /// footer after writing.
    pub row_counts: BTreeMap<String, u64>,
    /// Every file in the run directory except `manifest.json`, sorted.
    pub files: Vec<String>,
}

impl Manifest {
    /// Reads and parses a `manifest.json`.
    pub fn read(path: &Path) -> Result<Manifest, crate::OutputError> {
        let bytes = std::fs::read(path).map_err(|e| crate::OutputError::io("read", path, e))?;
        serde_json::from_slice(&bytes).map_err(|source| crate::OutputError::Json {
            action: "parse",
            path: path.to_owned(),
            source,
        })
    }
}

/// The part of the manifest the engine knows: the scenario, the options
/// that shaped the run, what it did and how long it took.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunInfo {
    /// The version of Preflight that ran.
    pub tool_version: String,
    /// The commit it was built from (`unknown` outside a git checkout).
    pub tool_commit: String,
    /// The command line, one argument per entry (empty when the run was
    /// started from the library).
    pub command_line: Vec<String>,
    /// The scenario's `name:`.
    pub scenario: String,
    /// The scenario file as given on the command line.
    pub scenario_file: String,
    /// The scenario file's absolute path.
    pub scenario_path: String,
    /// Content hash of the scenario file, its algorithm named
    /// (`sha256:<64 hex digits>`).
    pub scenario_hash: String,
    /// The copy of the scenario file in the run directory (`scenario.yaml`,
    /// `.json` or `.toml`, as the original).
    pub scenario_copy: String,
    /// Every other file the run read, with its content hash.
    pub inputs: Vec<InputInfo>,
    /// Every option that can change results, as given.
    pub options: OptionsInfo,
    /// The run's seed.
    pub seed: u64,
    /// Campaigns per variant and mode asked for.
    pub campaigns: u64,
    /// Which campaigns ran: `natural`, `targeted` or `both`.
    pub mode: String,
    /// The variants, in the order their rows are written.
    pub variants: Vec<VariantInfo>,
    /// Worker threads.
    pub threads: u64,
    /// Campaigns simulated, all variants and modes.
    pub campaigns_run: u64,
    /// Events the kernel delivered, all campaigns.
    pub events: u64,
    /// How `risk.parquet`'s `risk` is computed.
    pub risk_definition: String,
    /// The span `risk` covers, in seconds: one campaign's horizon (the
    /// base's), as `risk.parquet`'s `window_s`.
    #[serde(default)]
    pub risk_window_s: f64,
    /// The scenario's `risk.window` in seconds: the span its thresholds and
    /// the likelihoods of `scenarios.parquet` are per.
    #[serde(default)]
    pub scenario_risk_window_s: f64,
    /// The scenario's `risk.gate`: `preflight gate` fails a handler whose
    /// risk interval lies above it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_gate: Option<f64>,
    /// Whether programme campaigns ran (natural campaigns with the
    /// live-injection programme on top; `programme_*` columns of
    /// `risk.parquet`).
    #[serde(default)]
    pub programme: bool,
    /// `--until-decided N`: the most campaigns per variant it may run.
    pub until_decided: Option<u64>,
    /// How campaigns were simulated: `request` or `two-scale`.
    pub scale: String,
    /// Random streams across variants: `common` or `independent`.
    pub streams: String,
    /// Whether handler campaigns ran (false for a scenario of service
    /// paths with no workload, which runs path campaigns only).
    pub handler_campaigns: bool,
    /// The memory limit and the bounds the run planned within it.
    pub limits: Limits,
    /// Service paths, when the scenario has `paths:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<PathsInfo>,
    /// Remediation, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<RemediationInfo>,
    /// The calibration map applied to `calibrated_risk`, when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationInfo>,
    /// What the telemetry forecast and the hazards it raised, when the run
    /// had telemetry (`docs/forecast.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<TelemetryInfo>,
    /// The whole run's wall time, seconds (the total of `phases`).
    pub wall_time_s: f64,
    /// Wall and CPU time of each phase.
    pub phases: Phases,
}

/// The telemetry of a run: the file and, per forecast series with a
/// threshold, the crossing probability and the hazard it raised.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TelemetryInfo {
    /// The file, as an absolute path.
    pub file: String,
    /// Its SHA-256 (`sha256:<hex>`).
    pub sha256: String,
    /// Seconds forecast ahead.
    pub horizon_s: f64,
    /// Whether the run also ran the base without the raised hazards (the
    /// variant `without-telemetry`).
    pub compared: bool,
    /// One per forecast series with a threshold.
    pub raised: Vec<RaisedInfo>,
    /// What was read but not used, and why.
    pub notes: Vec<String>,
}

/// One series of [`TelemetryInfo`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RaisedInfo {
    /// The resource.
    pub resource: String,
    /// The metric.
    pub metric: String,
    /// `metric > value`.
    pub threshold: String,
    /// The failure mode crossing it means.
    pub mode: String,
    /// The forecasting model.
    pub model: String,
    /// P(crossing within the horizon).
    pub probability: f64,
    /// Mean seconds to the crossing over the sample paths that cross.
    pub time_to_crossing_s: Option<f64>,
    /// The hazard added, onsets per second.
    pub rate_per_s: f64,
    /// The mode's natural onsets per second on the resource.
    pub natural_rate_per_s: f64,
    /// The predicted scenarios of the mode on the resource: their
    /// likelihood per risk window without and with the raised hazard.
    #[serde(default)]
    pub scenarios: Vec<ScenarioLikelihood>,
}

/// A predicted scenario's likelihood without and with what telemetry raised.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScenarioLikelihood {
    /// `scenario_id` of `scenarios.parquet`.
    pub scenario_id: String,
    /// Per risk window, without the raised hazard.
    pub without: f64,
    /// Per risk window, with it (as `scenarios.parquet` has it).
    pub with: f64,
}

/// A file the run read besides the scenario.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InputInfo {
    /// What it was: `empirical` (samples of a distribution),
    /// `historical_faults` (incident history refitted into the failure
    /// modes) or `calibration` (the map behind `calibrated_risk`).
    pub role: String,
    /// Its absolute path.
    pub path: String,
    /// Its content hash (`sha256:…`; empty if it could not be read again
    /// after the run).
    pub sha256: String,
    /// Its size, bytes.
    pub bytes: u64,
}

/// The options of the run that can change its rows, as given (`null`:
/// not given, the default applied). `preflight replay` rebuilds the run
/// from them and the manifest's effective `seed`, `campaigns`, `scale`,
/// `threads` and `limits.max_memory`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OptionsInfo {
    /// `--campaigns`.
    pub campaigns: Option<u64>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--variant`: `all`, `base` or a variant's name.
    pub variant: String,
    /// `--mode`: `natural`, `targeted` or `both`.
    pub mode: String,
    /// `--until-decided`.
    pub until_decided: Option<u64>,
    /// Risks decided against `risk.gate` (`preflight gate`).
    pub against_gate: bool,
    /// `--rare-event`: `auto` or a speed-up factor.
    pub rare_event: Option<String>,
    /// `--calibration`.
    pub calibration: Option<String>,
    /// `--no-calibration`.
    pub no_calibration: bool,
    /// `--max-memory`, bytes.
    pub max_memory: Option<u64>,
    /// `--events`.
    pub events: bool,
    /// An enabled `failure_injection_profile` applied to natural campaigns
    /// (`preflight gate` does not).
    pub live_injection: bool,
    /// `--scenario-campaigns`.
    pub scenario_campaigns: Option<u64>,
    /// `--scale`: `auto`, `request` or `two-scale`.
    pub scale: String,
    /// `--independent-streams`.
    pub independent_streams: bool,
    /// `--remediate-max` (`null` with `--no-remediate`).
    pub remediate: Option<u64>,
    /// Service paths simulated (`preflight gate` does not).
    pub service_paths: bool,
    /// `--allow-external-files`.
    pub allow_external_files: bool,
    /// `--remediation-rows`.
    #[serde(default)]
    pub remediation_rows: bool,
    /// `--telemetry`, as an absolute path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<String>,
}

/// One variant of the scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantInfo {
    /// Its name (`base` for the scenario as written).
    pub name: String,
    /// Its index in the scenario (0 for the base).
    pub index: u64,
    /// Simulated time per campaign, seconds.
    pub horizon_s: f64,
    /// Ids of its injections, in scenario order.
    pub injections: Vec<String>,
}

/// The manifest's `limits`: the memory limit and the bounds within it
/// (`docs/limits.md`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Limits {
    /// The limit, bytes.
    pub max_memory: u64,
    /// Where the limit came from (`--max-memory`, or a share of physical
    /// memory).
    pub max_memory_source: String,
    /// The run's memory bound, bytes: fixed + pooled + threads × per
    /// campaign.
    pub memory_bound: u64,
    /// The largest bound of one campaign, bytes.
    pub memory_bound_per_campaign: u64,
    /// Memory shared by all campaigns (two-scale baselines and libraries),
    /// bytes.
    pub memory_pooled: u64,
    /// Threads that ran campaigns at once (may be fewer than `threads`).
    pub threads_at_once: u64,
    /// Per variant: its in-flight cap.
    pub in_flight_cap: Vec<InFlightCap>,
    /// Requests refused because a campaign held as many as its cap allows.
    pub refused_over_cap: u64,
}

/// A variant's in-flight cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InFlightCap {
    /// The variant.
    pub variant: String,
    /// Requests a campaign may hold at once (0: no workload).
    pub cap: u64,
    /// Bytes per request in flight the cap was computed with (`null` when
    /// the cap is 0).
    pub bytes_per_request: Option<u64>,
}

/// The manifest's `paths`: service paths simulated beside the campaigns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathsInfo {
    /// Campaigns per variant.
    pub campaigns: u64,
    /// Wall time of the path campaigns, seconds.
    pub wall_s: f64,
    /// One entry per variant × path.
    pub summary: Vec<PathInfo>,
}

/// One variant × service path, over all its campaigns (`null` where a
/// figure is undefined).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathInfo {
    /// Variant name.
    pub variant: String,
    /// The path's id.
    pub path: String,
    /// Campaigns simulated.
    pub campaigns: u64,
    /// Simulated time per campaign, seconds.
    pub horizon_s: f64,
    /// Mean availability.
    #[serde(deserialize_with = "nan_if_null")]
    pub availability: f64,
    /// Lower bound of its 95% interval.
    #[serde(deserialize_with = "nan_if_null")]
    pub availability_low: f64,
    /// Upper bound of its 95% interval.
    #[serde(deserialize_with = "nan_if_null")]
    pub availability_high: f64,
    /// ADUs lost over ADUs sent.
    #[serde(deserialize_with = "nan_if_null")]
    pub loss_rate: f64,
    /// Mean delay p99 of the campaigns that delivered ADUs, ms.
    #[serde(deserialize_with = "nan_if_null")]
    pub delay_p99_ms: f64,
    /// Repairs per campaign.
    #[serde(deserialize_with = "nan_if_null")]
    pub repairs_per_campaign: f64,
    /// Mean time to repair of the outages that ended, seconds.
    #[serde(deserialize_with = "nan_if_null")]
    pub time_to_repair_s: f64,
}

/// The manifest's `remediation`: which candidates were proposed, which
/// were re-simulated and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemediationInfo {
    /// Handlers whose risk was over their threshold.
    pub over_threshold: Vec<String>,
    /// Candidates the rules proposed.
    pub proposed: u64,
    /// Candidates re-simulated.
    pub simulated: u64,
    /// `--remediate-max N`: the most candidates re-simulated.
    pub max: u64,
    /// Campaigns simulated for the candidates (others were taken from the
    /// base's campaigns).
    pub campaigns_run: u64,
    /// The sequential stopping rule (`null` when nothing was re-simulated).
    pub sequential: Option<SequentialRule>,
    /// Each re-simulated candidate.
    pub candidates: Vec<CandidateInfo>,
    /// Wall and CPU time of each remediation phase.
    pub phases: Phases,
    /// Candidates that did not apply or compile, and why.
    pub rejected: Vec<Rejected>,
}

/// The sequential rule that decides how many campaigns a candidate needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialRule {
    /// Campaigns of the first stage.
    pub first: u64,
    /// Factor between stages.
    pub growth: u64,
    /// The most campaigns (the base's).
    pub max: u64,
    /// Stages at most.
    pub stages: u32,
    /// Overall error rate, split over the stages.
    pub alpha: f64,
    /// The two-sided z of each stage.
    pub z: f64,
    /// The difference too small to matter.
    pub negligible: String,
}

/// A re-simulated candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateInfo {
    /// Its name (as in `remediations.parquet`).
    pub name: String,
    /// Campaigns it was compared over.
    pub campaigns: u64,
    /// Of those, campaigns simulated (the rest were the base's).
    pub campaigns_simulated: u64,
    /// Two-scale: library episodes simulated for it.
    pub library_simulated: Option<u64>,
    /// Two-scale: library episodes taken from the base's.
    pub library_shared: Option<u64>,
    /// Two-scale: episodes of several faults in its simulated campaigns
    /// taken from the base's same campaigns (they exercised nothing the
    /// change acts on) instead of simulated.
    #[serde(default)]
    pub episodes_shared: Option<u64>,
}

/// A candidate that was not simulated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    /// The candidate.
    pub name: String,
    /// Why it was not simulated.
    pub why: String,
}

/// The manifest's `calibration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationInfo {
    /// The calibration file.
    pub file: String,
    /// Its method (`isotonic`).
    pub method: String,
    /// The history it was backtested on.
    pub history: String,
    /// Brier score of the backtest.
    #[serde(deserialize_with = "nan_if_null")]
    pub backtest_brier: f64,
    /// Expected calibration error of the backtest.
    #[serde(deserialize_with = "nan_if_null")]
    pub backtest_ece: f64,
    /// Predictions in the backtest.
    pub predictions: u64,
}

/// Wall and CPU time per phase, seconds rounded to the millisecond.
///
/// JSON objects do not keep their keys' order: `order` lists the phases
/// in the order they first ran; `wall_s` and `cpu_s` also hold `total`.
/// `cpu_s` is `null` where the CPU time cannot be read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Phases {
    /// Phase names in the order they first ran.
    pub order: Vec<String>,
    /// Wall time per phase and `total`.
    pub wall_s: BTreeMap<String, f64>,
    /// CPU time per phase and `total` (a phase's entry is `null` when its
    /// CPU time is unknown).
    pub cpu_s: Option<BTreeMap<String, Option<f64>>>,
}

/// `null` → NaN, for figures that may be undefined.
fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            tool: TOOL.to_owned(),
            run: RunInfo {
                scenario: "checkout".to_owned(),
                seed: 42,
                paths: Some(PathsInfo {
                    campaigns: 2,
                    wall_s: 0.5,
                    summary: vec![PathInfo {
                        variant: "base".to_owned(),
                        path: "uplink".to_owned(),
                        campaigns: 2,
                        horizon_s: 60.0,
                        availability: 1.0,
                        availability_low: f64::NAN,
                        availability_high: f64::NAN,
                        loss_rate: 0.0,
                        delay_p99_ms: 3.5,
                        repairs_per_campaign: 0.0,
                        time_to_repair_s: f64::NAN,
                    }],
                }),
                ..RunInfo::default()
            },
            row_counts: BTreeMap::from([("campaigns".to_owned(), 2)]),
            files: vec!["campaigns.parquet".to_owned()],
        }
    }

    #[test]
    fn the_run_info_sits_at_the_top_level_and_absent_sections_are_left_out() {
        let json = serde_json::to_value(sample()).unwrap();
        assert_eq!(json["tool"], "preflight");
        assert_eq!(json["scenario"], "checkout");
        assert_eq!(json["seed"], 42);
        assert_eq!(json["row_counts"]["campaigns"], 2);
        assert!(json.get("run").is_none(), "flattened, not nested");
        assert!(json.get("remediation").is_none());
        assert!(json.get("calibration").is_none());
        // An undefined figure is written as null.
        assert!(json["paths"]["summary"][0]["availability_low"].is_null());
    }

    #[test]
    fn a_written_manifest_reads_back_with_null_as_nan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        let m = sample();
        std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        let back = Manifest::read(&path).unwrap();
        let p = &back.run.paths.as_ref().unwrap().summary[0];
        assert!(p.availability_low.is_nan() && p.time_to_repair_s.is_nan());
        assert_eq!(p.delay_p99_ms, 3.5);
        // Everything else is what was written.
        let mut expected = m;
        expected.run.paths = None;
        let mut got = back;
        got.run.paths = None;
        assert_eq!(got, expected);
    }

    #[test]
    fn reading_a_file_that_is_not_a_manifest_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        std::fs::write(&path, r#"{"manifest_version": 3}"#).unwrap();
        let err = Manifest::read(&path).unwrap_err().to_string();
        assert!(
            err.contains("manifest.json") && err.contains("cannot parse"),
            "{err}"
        );
    }
}
