//! `telemetry:` in a run: each metric with a failure threshold is forecast
//! (`sim_forecast`), and the probability that it crosses the threshold
//! within the horizon becomes a raised hazard of the failure mode the
//! threshold means (`docs/forecast.md`, `docs/semantics.md`).
//!
//! The rule: with `p` the probability that the forecast crosses within
//! `min(horizon, risk.window)` (over sample paths, never more than
//! [`MAX_PROBABILITY`]), the resource gets one more failure process of
//! that mode: exponential times between onsets at the rate
//! `λ = −ln(1 − p) / risk.window`, so that the chance of at least one
//! telemetry onset within a risk window is `p`, with the mode's own effect
//! and repair. The process strikes the resource as a whole (every replica
//! at once): the metric describes the resource, not one replica. The
//! natural processes keep running: the raised hazard is added to theirs.
//! A run with raised hazards also runs the base without them, as the
//! variant [`WITHOUT_TELEMETRY`] on the same seeds, so that the summary can
//! say how much each risk moved.

use std::path::{Path, PathBuf};

#[cfg(test)]
use std::collections::BTreeMap;

use serde::Serialize;
use sim_forecast::{ForecastOptions, Naming, SeriesForecast, Threshold};
use sim_models::dist::Dist;
use sim_models::model::{FaultDef, FaultOrigin, FaultScope, Model};
use sim_models::spec::{DEFAULT_TELEMETRY_THRESHOLDS, FailureMode, Telemetry, TelemetryThreshold};

pub use sim_models::validate::WITHOUT_TELEMETRY;

use crate::error::Error;
use crate::scenario::Loaded;

/// The forecast horizon when `telemetry.horizon` is not given (or the risk
/// window, when shorter).
pub const DEFAULT_HORIZON_S: f64 = 86_400.0;

/// The largest crossing probability turned into a hazard: a forecast whose
/// every sample path crosses gives `−ln(1 − p)` ≈ 9.2 onsets per window
/// rather than an infinite rate.
pub const MAX_PROBABILITY: f64 = 0.9999;

/// Interval levels of the forecasts a run keeps (percent).
pub const LEVELS: [f64; 2] = [80.0, 95.0];

/// One raised hazard: a forecast series, its threshold and what it did.
#[derive(Debug, Clone, Serialize)]
pub struct Raised {
    /// The resource.
    pub resource: String,
    /// The metric.
    pub metric: String,
    /// The threshold, as `metric > value`.
    pub threshold: String,
    /// The failure mode crossing it means.
    pub mode: FailureMode,
    /// The model that forecast it.
    pub model: String,
    /// Seconds forecast ahead.
    pub horizon_s: f64,
    /// P(the metric crosses the threshold within the horizon).
    pub probability: f64,
    /// Mean seconds to the crossing over the sample paths that cross.
    pub time_to_crossing_s: Option<f64>,
    /// The hazard added, onsets per second (0 when `probability` is 0).
    pub rate_per_s: f64,
    /// The natural onsets per second of the mode on the resource (every
    /// replica's process), for comparison.
    pub natural_rate_per_s: f64,
    /// The predicted injection scenarios of the mode on the resource, with
    /// their likelihood per risk window without and with the raised hazard
    /// (`scenarios.parquet` has the latter): `(id, without, with)`.
    pub scenarios: Vec<(String, f64, f64)>,
}

/// What the telemetry of a run said, and the hazards it raised.
#[derive(Debug, Clone)]
pub struct TelemetryPlan {
    /// The file read.
    pub file: PathBuf,
    /// Its SHA-256 (`sha256:<hex>`).
    pub sha256: String,
    /// Its size, bytes.
    pub bytes: u64,
    /// One per forecast series with a threshold, in the file's order.
    pub raised: Vec<Raised>,
    /// The forecasts (for `forecast.parquet` in the run directory).
    pub forecasts: Vec<SeriesForecast>,
    /// What was read but not used, and why.
    pub notes: Vec<String>,
    /// The risk window the hazards are spread over, seconds.
    pub window_s: f64,
}

impl TelemetryPlan {
    /// Whether any hazard was raised (then the run compares with
    /// [`WITHOUT_TELEMETRY`]).
    pub fn raises(&self) -> bool {
        self.raised.iter().any(|r| r.rate_per_s > 0.0)
    }
}

/// The series of a telemetry file that a run forecasts, each with its
/// threshold ([`select`]).
#[derive(Debug, Clone)]
pub struct Selected {
    /// The file read.
    pub file: PathBuf,
    /// Its SHA-256.
    pub sha256: String,
    /// Its size, bytes.
    pub bytes: u64,
    /// How its series were named.
    pub naming: Naming,
    /// The series with a threshold, on resources with the mode it means.
    pub series: Vec<sim_forecast::Series>,
    /// Their thresholds, in the same order.
    pub thresholds: Vec<TelemetryThreshold>,
    /// Seconds forecast ahead.
    pub horizon_s: f64,
    /// What was read but not used, and why.
    pub notes: Vec<String>,
}

/// Reads and forecasts the telemetry of `loaded` (or `file`, which
/// replaces the scenario's `telemetry.file`), checked against `base`, the
/// base's compiled model. `None` when there is no telemetry.
pub fn forecast(
    loaded: &Loaded,
    file: Option<&Path>,
    base: &Model,
) -> Result<Option<TelemetryPlan>, Error> {
    let Some(sel) = select(loaded, file, base)? else {
        return Ok(None);
    };
    let window = loaded.scenario.risk.window.0;
    let opts = ForecastOptions {
        file: sel.file.clone(),
        naming: sel.naming.clone(),
        horizon_s: sel.horizon_s,
        levels: LEVELS.to_vec(),
        thresholds: sel
            .thresholds
            .iter()
            .map(|t| Threshold {
                resource: t.resource.clone(),
                metric: t.metric.clone(),
                above: t.above.is_some(),
                value: t.above.or(t.below).unwrap_or(f64::NAN),
            })
            .collect(),
        periods: None,
        fit_window: None,
        backtest: false,
    };
    let forecasts = sim_forecast::forecast_series(&sel.series, &opts)?;
    let raised = forecasts
        .iter()
        .zip(&sel.thresholds)
        .map(|(f, t)| {
            let ri = base
                .resources
                .iter()
                .position(|r| r.id == f.resource)
                .expect("select keeps series of the model's resources");
            let natural_rate_per_s = base
                .faults
                .iter()
                .filter(|g| g.resource == ri && g.mode == t.mode)
                .map(|g| 1.0 / (g.time_between.mean() + g.repair.mean()))
                .sum();
            let p = f.crossing_probability.unwrap_or(0.0);
            Raised {
                resource: f.resource.clone(),
                metric: f.metric.clone(),
                threshold: format!("{} {}", f.metric, threshold_text(t)),
                mode: t.mode,
                model: f.model.clone(),
                horizon_s: sel.horizon_s,
                probability: p,
                time_to_crossing_s: f.time_to_crossing_s,
                rate_per_s: rate(p, window),
                natural_rate_per_s,
                scenarios: Vec::new(),
            }
        })
        .collect();
    Ok(Some(TelemetryPlan {
        file: sel.file,
        sha256: sel.sha256,
        bytes: sel.bytes,
        raised,
        forecasts,
        notes: sel.notes,
        window_s: window,
    }))
}

/// Reads the telemetry of `loaded` (or `file`) and picks the series a run
/// forecasts, without forecasting them (`preflight validate` checks this
/// much). An error for a file that cannot be read or parsed, a threshold
/// of `telemetry.thresholds` that matches no series, or one whose mode the
/// resource does not have; the default thresholds only note what they skip.
pub fn select(
    loaded: &Loaded,
    file: Option<&Path>,
    base: &Model,
) -> Result<Option<Selected>, Error> {
    let spec = match (&loaded.scenario.telemetry, file) {
        (None, None) => return Ok(None),
        (Some(t), _) => t.clone(),
        (None, Some(f)) => Telemetry::file(f.display().to_string()),
    };
    let scenario = loaded.file.display();
    let path = match file {
        Some(f) => f.to_path_buf(),
        None => crate::inputs::resolve_named(&loaded.file, &spec.file, loaded.file_access)
            .map_err(|m| Error::input(format!("preflight: {scenario}: telemetry.file: {m}")))?,
    };
    let what = match file {
        Some(f) => format!("--telemetry {}", f.display()),
        None => format!("{scenario}: telemetry.file `{}`", spec.file),
    };
    let bytes = crate::inputs::read_regular(&path, crate::inputs::MAX_DATA_FILE_BYTES)
        .map_err(|m| Error::input(format!("preflight: {what}: {m}")))?;
    let naming = Naming {
        resource: spec.resource.clone(),
        metric: spec.metric.clone(),
        resource_label: spec.resource_label.clone(),
        metric_label: spec.metric_label.clone(),
    };
    let series = sim_forecast::data::read(&path, &bytes, &naming)?;
    let thresholds: Vec<TelemetryThreshold> = if spec.thresholds.is_empty() {
        DEFAULT_TELEMETRY_THRESHOLDS
            .iter()
            .map(|&(metric, above, value, mode)| TelemetryThreshold {
                resource: None,
                metric: metric.into(),
                above: above.then_some(value),
                below: (!above).then_some(value),
                mode,
            })
            .collect()
    } else {
        spec.thresholds.clone()
    };
    let explicit = !spec.thresholds.is_empty();
    let window = loaded.scenario.risk.window.0;
    let horizon = spec.horizon.map_or(DEFAULT_HORIZON_S, |h| h.0).min(window);
    let mut notes = Vec::new();
    let mut chosen = Vec::new();
    let mut modes = Vec::new();
    let mut unthresholded = Vec::new();
    for s in &series {
        // The most specific threshold: one naming the resource first.
        let Some(t) = thresholds
            .iter()
            .filter(|t| {
                t.metric == s.metric && t.resource.as_ref().is_none_or(|r| *r == s.resource)
            })
            .min_by_key(|t| t.resource.is_none())
        else {
            unthresholded.push(format!("{}/{}", s.resource, s.metric));
            continue;
        };
        let Some(ri) = base.resources.iter().position(|r| r.id == s.resource) else {
            notes.push(format!(
                "{}/{}: `{}` is not a resource of the scenario; not used",
                s.resource, s.metric, s.resource
            ));
            continue;
        };
        let has_mode = base
            .faults
            .iter()
            .any(|f| f.resource == ri && f.mode == t.mode && f.origin == FaultOrigin::FailureMode);
        if !has_mode {
            let m = format!(
                "{}/{} crossing {} means {}, but `{}` has no {} failure mode (add it to the resource's `failure_modes:` or its type's)",
                s.resource,
                s.metric,
                threshold_text(t),
                t.mode,
                s.resource,
                t.mode
            );
            if explicit {
                return Err(Error::input(format!("preflight: {what}: {m}")));
            }
            notes.push(format!("{m}; not used"));
            continue;
        }
        chosen.push(s.clone());
        modes.push(t.clone());
    }
    if explicit {
        for (i, t) in spec.thresholds.iter().enumerate() {
            let used = series.iter().any(|s| {
                s.metric == t.metric && t.resource.as_ref().is_none_or(|r| *r == s.resource)
            });
            if !used {
                return Err(Error::input(format!(
                    "preflight: {what}: telemetry.thresholds[{i}]: no series of the file is `{}{}` (it has {})",
                    t.resource
                        .as_ref()
                        .map(|r| format!("{r}/"))
                        .unwrap_or_default(),
                    t.metric,
                    series
                        .iter()
                        .map(|s| format!("{}/{}", s.resource, s.metric))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    if !unthresholded.is_empty() {
        notes.push(format!(
            "no threshold for {} (give one in telemetry.thresholds); not used",
            unthresholded.join(", ")
        ));
    }
    Ok(Some(Selected {
        file: path,
        sha256: crate::provenance::sha256(&bytes),
        bytes: bytes.len() as u64,
        naming,
        series: chosen,
        thresholds: modes,
        horizon_s: horizon,
        notes,
    }))
}

/// `> 0.95` or `< 10`.
fn threshold_text(t: &TelemetryThreshold) -> String {
    match (t.above, t.below) {
        (Some(v), _) => format!("> {v}"),
        (None, Some(v)) => format!("< {v}"),
        (None, None) => String::new(),
    }
}

/// The hazard (per second) that gives at least one onset within `window`
/// seconds with probability `p` (at most [`MAX_PROBABILITY`]).
pub fn rate(p: f64, window: f64) -> f64 {
    if p <= 0.0 || window <= 0.0 {
        return 0.0;
    }
    -(1.0 - p.min(MAX_PROBABILITY)).ln() / window
}

/// Adds the raised hazards of `plan` to `model` as failure processes of
/// origin [`FaultOrigin::Telemetry`], after every other process (so the
/// other processes keep their random streams). An error names a raised
/// mode the model no longer has (a variant that removed it).
pub fn apply(model: &mut Model, plan: &TelemetryPlan) -> Result<(), String> {
    let before = model.faults.len();
    let result = raise(model, plan);
    if result.is_err() {
        model.faults.truncate(before);
    }
    result
}

/// Fills each raised hazard's `scenarios`: the likelihood per `window`
/// seconds of the predicted scenarios of its mode and resource, in
/// `without` and in `with` (the same model with the hazards raised).
pub fn compare_likelihoods(plan: &mut TelemetryPlan, without: &Model, with: &Model, window: f64) {
    let before = crate::predict::candidates(without, window);
    let after = crate::predict::candidates(with, window);
    for r in &mut plan.raised {
        let Some(ri) = with.resources.iter().position(|x| x.id == r.resource) else {
            continue;
        };
        let mode = r.mode.to_string();
        r.scenarios = after
            .iter()
            .filter(|c| c.fault.resource == ri && c.mode == mode)
            .map(|c| {
                let old = before
                    .iter()
                    .find(|b| b.fault.id == c.fault.id)
                    .map_or(0.0, |b| b.likelihood);
                (c.fault.id.clone(), old, c.likelihood)
            })
            .collect();
    }
}

fn raise(model: &mut Model, plan: &TelemetryPlan) -> Result<(), String> {
    for r in plan.raised.iter().filter(|r| r.rate_per_s > 0.0) {
        let ri = model
            .resources
            .iter()
            .position(|x| x.id == r.resource)
            .ok_or_else(|| format!("telemetry: `{}` is not a resource here", r.resource))?;
        let natural = model
            .faults
            .iter()
            .find(|f| f.resource == ri && f.mode == r.mode && f.origin == FaultOrigin::FailureMode)
            .ok_or_else(|| {
                format!(
                    "telemetry raises {} on `{}`, which has no {} failure mode here",
                    r.mode, r.resource, r.mode
                )
            })?;
        let scope = if model.resources[ri].replicas == 1 {
            natural.scope
        } else {
            FaultScope::Resource
        };
        let def = FaultDef {
            resource: ri,
            mode: r.mode,
            effect: natural.effect,
            scope,
            time_between: Dist::exponential(1.0 / r.rate_per_s)
                .map_err(|e| format!("telemetry: {}/{}: {e}", r.resource, r.metric))?,
            repair: natural.repair.clone(),
            bias: 1.0,
            origin: FaultOrigin::Telemetry,
        };
        model.faults.push(def);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Format, load_bytes};
    use sim_models::compile::{Empirical, compile};

    fn model(replicas: u16) -> Model {
        let yaml = format!(
            r#"
name: t
horizon: 10m
resources:
  - id: db
    type: database
    replicas: {replicas}
    service_time: {{ dist: constant, value: 1ms }}
    failure_modes:
      - mode: disk_error
        time_between: {{ dist: exponential, mean: 1000h }}
        repair: {{ dist: constant, value: 1h }}
handlers:
  - {{ id: h, runs_on: db, operations: [{{ name: op, steps: [] }}] }}
workload:
  - {{ handler: h, arrivals: {{ process: poisson, rate: 1/s }} }}
risk: {{ window: 30d }}
"#
        );
        let loaded = load_bytes(yaml.as_bytes(), Format::Yaml, Path::new("t.yaml"))
            .unwrap_or_else(|e| panic!("{:?}", e.problems()));
        compile(
            &loaded.scenario,
            &crate::defaults::default_failure_modes(),
            &Empirical::default(),
        )
        .unwrap()
    }

    fn plan(p: f64, mode: FailureMode) -> TelemetryPlan {
        let window = 30.0 * 86_400.0;
        TelemetryPlan {
            file: "t.csv".into(),
            sha256: String::new(),
            bytes: 0,
            raised: vec![Raised {
                resource: "db".into(),
                metric: "disk_used_fraction".into(),
                threshold: "disk_used_fraction > 0.95".into(),
                mode,
                model: "ETS(A,A,N)".into(),
                horizon_s: 86_400.0,
                probability: p,
                time_to_crossing_s: Some(3600.0),
                rate_per_s: rate(p, window),
                natural_rate_per_s: 0.0,
                scenarios: Vec::new(),
            }],
            forecasts: Vec::new(),
            notes: Vec::new(),
            window_s: window,
        }
    }

    #[test]
    fn the_rate_gives_one_onset_or_more_per_window_with_the_crossing_probability() {
        let w = 30.0 * 86_400.0;
        for p in [0.01, 0.5, 0.9] {
            let l = rate(p, w);
            assert!((1.0 - (-l * w).exp() - p).abs() < 1e-12, "{p}");
        }
        assert_eq!(rate(0.0, w), 0.0);
        // Every path crossing is capped, not an infinite rate.
        assert!((rate(1.0, w) * w - (1.0 / (1.0 - MAX_PROBABILITY)).ln()).abs() < 1e-9);
    }

    #[test]
    fn a_raised_hazard_is_one_more_process_with_the_modes_effect_and_repair() {
        for replicas in [1, 3] {
            let mut m = model(replicas);
            let natural = m.faults.len();
            apply(&mut m, &plan(0.5, FailureMode::DiskError)).unwrap();
            assert_eq!(m.faults.len(), natural + 1);
            let (t, n) = (&m.faults[natural], &m.faults[0]);
            assert_eq!(t.origin, FaultOrigin::Telemetry);
            assert_eq!((t.effect, t.mode), (n.effect, n.mode));
            assert_eq!(t.repair.mean(), n.repair.mean());
            assert!((t.time_between.mean() - 1.0 / rate(0.5, 30.0 * 86_400.0)).abs() < 1e-6);
            // One replica: the natural process's scope; more: all at once.
            let want = if replicas == 1 {
                n.scope
            } else {
                FaultScope::Resource
            };
            assert_eq!(t.scope, want);
        }
        // A mode the resource lacks: an error, and the model unchanged.
        let mut m = model(1);
        let before = m.faults.len();
        let e = apply(&mut m, &plan(0.5, FailureMode::CpuThrottle)).unwrap_err();
        assert!(e.contains("no cpu_throttle failure mode"), "{e}");
        assert_eq!(m.faults.len(), before);
    }

    #[test]
    fn predicted_scenarios_take_the_raised_likelihood_where_its_onsets_strike() {
        let w = 30.0 * 86_400.0;
        for replicas in [1u16, 3] {
            let without = model(replicas);
            let mut with = without.clone();
            let mut p = plan(0.6, FailureMode::DiskError);
            apply(&mut with, &p).unwrap();
            compare_likelihoods(&mut p, &without, &with, w);
            let by_id: BTreeMap<&str, (f64, f64)> = p.raised[0]
                .scenarios
                .iter()
                .map(|(id, a, b)| (id.as_str(), (*a, *b)))
                .collect();
            // The telemetry makes no candidate of its own.
            assert_eq!(
                crate::predict::candidates(&with, w).len(),
                crate::predict::candidates(&without, w).len()
            );
            // Its onsets strike the whole resource: the typical scenario of
            // a single replica, the all-replicas one of three.
            let struck = if replicas == 1 {
                "db-disk-error"
            } else {
                "db-disk-error-all"
            };
            let (a, b) = by_id[struck];
            let want = 1.0 - (1.0 - a) * (1.0 - 0.6);
            assert!((b - want).abs() < 1e-3, "{struck}: {a} → {b}, want {want}");
            if replicas == 3 {
                let (a, b) = by_id["db-disk-error"];
                assert_eq!(a, b, "one replica's scenario is not what telemetry raised");
            }
        }
    }
}
