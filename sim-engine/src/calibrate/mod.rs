//! `preflight calibrate`: a rolling-origin backtest of predicted risk
//! against an incident history, and the isotonic recalibration map.
//!
//! The history's observation window is cut into consecutive risk windows
//! (`risk.window`, or `--window`). After a warm-up share of the history,
//! each window start `t` is an *origin*:
//!
//! 1. **Fit** the scenario's failure modes on the incidents before `t`
//!    (exactly as `historical_faults:` does, the window ending at `t`), every
//!    `--refit-every` windows (refitting at every origin changes little and
//!    costs a full prediction each time).
//! 2. **Predict** each handler's breach probability for `[t, t + window]`:
//!    `--campaigns` natural campaigns of the refitted scenario with the
//!    window as horizon, started in equilibrium.
//! 3. **Observe**: replay the incidents that overlap `[t, t + window]` on the
//!    scenario (request level, the incidents as scheduled faults, no other
//!    failure) and record whether each handler's SLO was breached.
//!
//! The (prediction, outcome) pairs of every window and handler give the
//! Brier score, the expected calibration error and the reliability diagram
//! (see [`map`]), and the isotonic map fitted to them is
//! saved; `preflight run` and `gate` apply it to `calibrated_risk`.
//!
//! Incidents map to the scenario by resource id (`ID#K` is replica K of
//! resource ID; without `#K`, replica 0 for per-replica failure modes and the
//! whole resource for `scope: resource`), else by type when the scenario has
//! exactly one resource of that type; an incident whose mode the resource
//! does not have is not replayed (the count is reported).

pub mod map;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sim_core::{CampaignSeed, SimDuration, SimTime};
use sim_models::campaign::FaultInterval;
use sim_models::campaign::{CampaignMode, CampaignResult, run_campaign, run_replay};
use sim_models::model::{FaultScope, Model};
use sim_models::msg::ALL_REPLICAS;
use sim_models::spec::Scenario;

use crate::calibrate::map::{
    Bin, CalibrationFile, IsotonicMap, brier, ece, reliability, reliability_svg,
};
use crate::error::Error;
use crate::fit::history::{History, Mapping, load_history};
use crate::fit::{history_error, parse_mode, refit_with_history};
use crate::prepare::{default_calibration_path, load as load_or_report, prepare_variants};

/// Options of `preflight calibrate`.
#[derive(Debug, Clone)]
pub struct CalibrateOptions {
    /// Scenario file (.yaml, .yml, .toml or .json).
    pub scenario: PathBuf,
    /// Where the files the scenario names may be (`--allow-external-files`).
    pub file_access: crate::inputs::FileAccess,
    /// Incident history (CSV or Parquet with the canonical columns, see
    /// `preflight fit`).
    pub history: PathBuf,
    /// Risk window (default: the scenario's `risk.window`), e.g. `1d`.
    pub window: Option<String>,
    /// Natural campaigns per prediction.
    pub campaigns: u64,
    /// Refit (and predict anew) every N windows (default: about ten refits).
    pub refit_every: Option<u64>,
    /// Share of the history used only for fitting before the first origin.
    pub warmup: f64,
    /// Predict with the scenario's own failure modes instead of fitting them
    /// (how well the model as written predicts the history).
    pub no_refit: bool,
    /// Master seed (default: the scenario's `seed`, else 0).
    pub seed: Option<u64>,
    /// Worker threads (default: all cores). Results do not depend on it.
    pub threads: Option<u64>,
    /// Where to save the map (default: `reports/<scenario name>.calibration.json`).
    pub map: Option<PathBuf>,
    /// Reliability diagram, SVG (default: the map's path with `.svg`).
    pub diagram: Option<PathBuf>,
    /// Print the figures as JSON on stdout.
    pub json: bool,
}

/// One window of the backtest.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowResult {
    /// Start, seconds since the epoch.
    pub start: f64,
    /// Per handler: predicted breach probability.
    pub predicted: Vec<f64>,
    /// Per handler: whether the replayed window breached.
    pub breached: Vec<bool>,
    /// Incidents replayed in the window.
    pub incidents: usize,
}

/// The whole backtest.
#[derive(Debug, Clone)]
pub struct Backtest {
    /// Handler ids, in model order.
    pub handlers: Vec<String>,
    /// Window length, seconds.
    pub window_s: f64,
    /// Every window, in time order.
    pub windows: Vec<WindowResult>,
    /// Incidents that could not be replayed (no such resource or mode).
    pub unmapped: usize,
    /// Refits done.
    pub refits: usize,
}

impl Backtest {
    /// Every (prediction, outcome) pair, window by window, handler by handler.
    pub fn pairs(&self) -> Vec<(f64, bool)> {
        self.windows
            .iter()
            .flat_map(|w| w.predicted.iter().copied().zip(w.breached.iter().copied()))
            .collect()
    }
}

/// How a backtest runs.
#[derive(Debug, Clone)]
pub struct BacktestPlan {
    /// Window length.
    pub window: SimDuration,
    /// Campaigns per prediction.
    pub campaigns: u64,
    /// Windows between refits.
    pub refit_every: Option<u64>,
    /// Share of the history before the first origin.
    pub warmup: f64,
    /// Predict with the scenario as written.
    pub no_refit: bool,
    /// Master seed.
    pub seed: u64,
}

/// Maps an incident to a fault of `model`: (resource, effect, replica).
fn map_incident(
    model: &Model,
    resource: &str,
    kind: Option<&str>,
    mode: &str,
) -> Option<(usize, usize, u16)> {
    let mode = parse_mode(mode)?;
    let (id, replica) = match resource.split_once('#') {
        Some((id, k)) => (id, k.parse::<u16>().ok()),
        None => (resource, None),
    };
    let r = match model.resources.iter().position(|r| r.id == id) {
        Some(r) => r,
        None => {
            let of_type: Vec<usize> = model
                .resources
                .iter()
                .enumerate()
                .filter(|(_, r)| kind.is_some_and(|k| r.kind.as_str() == k))
                .map(|(i, _)| i)
                .collect();
            match of_type.as_slice() {
                [one] => *one,
                _ => return None,
            }
        }
    };
    let def = model
        .faults
        .iter()
        .find(|f| f.resource == r && f.mode == mode)?;
    let replica = match (def.scope, replica) {
        (FaultScope::Resource, _) => ALL_REPLICAS,
        (FaultScope::Replica(_), Some(k)) if k < model.resources[r].replicas => k,
        (FaultScope::Replica(_), Some(_)) => return None,
        (FaultScope::Replica(_), None) => 0,
    };
    Some((r, def.effect, replica))
}

/// A backtest needs incidents it can replay: when no row of the history
/// maps to a fault of the scenario, every window would be healthy and the
/// figures meaningless (Brier 0), so that is bad input, with what each side
/// names.
fn check_history_maps(
    model: &Model,
    history: &History,
    history_file: &std::path::Path,
    scenario_file: &std::path::Path,
) -> Result<(), Error> {
    let mapped = history.incidents.iter().any(|i| {
        let mode = i.mode.as_deref().unwrap_or(crate::fit::DEFAULT_MODE);
        map_incident(model, &i.resource, i.resource_type.as_deref(), mode).is_some()
    });
    if mapped {
        return Ok(());
    }
    let mut named: std::collections::BTreeMap<String, usize> = Default::default();
    for i in &history.incidents {
        let mode = i.mode.as_deref().unwrap_or(crate::fit::DEFAULT_MODE);
        let label: String = format!("{} ({mode})", i.resource)
            .chars()
            .take(60)
            .collect();
        *named.entry(label).or_default() += 1;
    }
    let mut shown: Vec<(String, usize)> = named.into_iter().collect();
    shown.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let listed: Vec<String> = shown
        .iter()
        .take(5)
        .map(|(k, n)| format!("`{k}` × {n}"))
        .collect();
    let resources: Vec<String> = model
        .resources
        .iter()
        .take(20)
        .map(|r| format!("`{}` ({})", r.id, r.kind.as_str()))
        .collect();
    Err(Error::input(format!(
        "preflight: --history {}: none of its {} incidents maps to a failure mode of {}: an incident \
         names a resource by id (`ID` or `ID#K` for replica K), or a `resource_type` the scenario has \
         exactly one resource of, and a `mode` that resource has. The history names {}{}; the scenario has {}",
        history_file.display(),
        history.incidents.len(),
        scenario_file.display(),
        if listed.is_empty() {
            "no incidents".to_string()
        } else {
            listed.join(", ")
        },
        if shown.len() > 5 {
            format!(" and {} more", shown.len() - 5)
        } else {
            String::new()
        },
        resources.join(", ")
    )))
}

/// Per handler, the breach frequency over `campaigns` natural campaigns;
/// [`Error::Internal`] when one delivered a message to an actor that does
/// not handle it.
fn predict(
    model: &Model,
    seed: u64,
    job: u64,
    campaigns: u64,
    progress: &crate::progress::Task,
) -> Result<Vec<f64>, Error> {
    let results: Vec<CampaignResult> = (0..campaigns)
        .into_par_iter()
        .map(|c| {
            let r = run_campaign(
                model,
                CampaignSeed::derive(seed, job, c),
                CampaignMode::Natural,
            );
            progress.inc(1);
            r
        })
        .collect();
    for (c, r) in results.iter().enumerate() {
        crate::error::check_routed(r.misrouted, || {
            format!("backtest prediction {job}, campaign {c} (--seed {seed})")
        })?;
    }
    Ok((0..model.handlers.len())
        .map(|h| {
            results
                .iter()
                .filter(|r| r.handlers[h].slo_breached)
                .count() as f64
                / campaigns as f64
        })
        .collect())
}

/// The history cut at `t`: incidents that began before it, the window
/// ending there (incidents still open at `t` are censored by the fit).
fn before(history: &History, t: f64) -> History {
    let mut h = history.clone();
    h.incidents.retain(|i| i.start < t);
    h.to = t;
    h.notes.clear();
    h
}

/// Runs the backtest of `scenario` (`structure`: its compiled form, used
/// for the replays) on `history`.
pub fn backtest(
    scenario: &Scenario,
    structure: &Model,
    history: &History,
    plan: &BacktestPlan,
    compile_at: &(dyn Fn(&Scenario) -> Result<Model, Error> + Sync),
) -> Result<Backtest, Error> {
    let w = plan.window.as_secs_f64();
    let span = history.to - history.from;
    let first = history.from + plan.warmup.clamp(0.0, 0.95) * span;
    let mut origins = Vec::new();
    let mut t = first;
    while t + w <= history.to + 1e-9 {
        origins.push(t);
        t += w;
    }
    if origins.len() < 2 {
        return Err(Error::input(format!(
            "preflight: --history {}: the history ({:.1} days after the warm-up) holds fewer than two windows of {}; give a longer history or a shorter --window",
            history.file.display(),
            (history.to - first) / 86_400.0,
            crate::fit::fmt_duration(w)
        )));
    }
    let refit_every = plan
        .refit_every
        .unwrap_or_else(|| (origins.len() as u64).div_ceil(10))
        .max(1) as usize;

    // Predictions, once per refit group.
    let mut predictions: Vec<Vec<f64>> = Vec::with_capacity(origins.len());
    let mut refits = 0;
    let mut current: Option<Vec<f64>> = None;
    let groups = origins.len().div_ceil(refit_every) as u64;
    let progress = crate::progress::Task::start(
        "calibrate: predicting",
        groups.saturating_mul(plan.campaigns),
        true,
    );
    for (k, &o) in origins.iter().enumerate() {
        if k % refit_every == 0 || current.is_none() {
            let s = if plan.no_refit {
                scenario.clone()
            } else {
                refit_with_history(scenario, &before(history, o)).0
            };
            let mut model = compile_at(&s)?;
            model.horizon = plan.window;
            current = Some(predict(
                &model,
                plan.seed,
                1 + k as u64,
                plan.campaigns,
                &progress,
            )?);
            refits += 1;
        }
        predictions.push(current.clone().expect("set above"));
    }
    progress.finish_and_clear();

    // Outcomes: every window replayed.
    let mut replay_model = structure.clone();
    replay_model.horizon = plan.window;
    let mut unmapped = 0;
    let mut per_window: Vec<Vec<FaultInterval>> = vec![Vec::new(); origins.len()];
    for i in &history.incidents {
        let end = i.end.unwrap_or(f64::INFINITY);
        let mode = i.mode.as_deref().unwrap_or(crate::fit::DEFAULT_MODE);
        let Some((resource, effect, replica)) =
            map_incident(structure, &i.resource, i.resource_type.as_deref(), mode)
        else {
            unmapped += 1;
            continue;
        };
        for (k, &o) in origins.iter().enumerate() {
            if i.start < o + w && end > o {
                let on = (i.start - o).max(0.0);
                let off = if end.is_finite() { end - o } else { w * 2.0 };
                per_window[k].push(FaultInterval {
                    resource,
                    effect,
                    replica,
                    on: SimTime::from_secs_f64(on),
                    off: SimTime::from_secs_f64(off),
                    process: None,
                });
            }
        }
    }
    let progress =
        crate::progress::Task::start("calibrate: replaying windows", origins.len() as u64, true);
    let windows: Vec<WindowResult> = origins
        .par_iter()
        .enumerate()
        .map(|(k, &o)| {
            let faults = &per_window[k];
            let r = run_replay(
                &replay_model,
                CampaignSeed::derive(plan.seed, 0, k as u64),
                faults,
            );
            progress.inc(1);
            crate::error::check_routed(r.misrouted, || {
                format!("backtest replay of window {k} (--seed {})", plan.seed)
            })?;
            Ok(WindowResult {
                start: o,
                predicted: predictions[k].clone(),
                breached: r.handlers.iter().map(|h| h.slo_breached).collect(),
                incidents: faults.len(),
            })
        })
        .collect::<Vec<Result<WindowResult, Error>>>()
        .into_iter()
        .collect::<Result<_, _>>()?;
    progress.finish_and_clear();
    Ok(Backtest {
        handlers: structure.handlers.iter().map(|h| h.id.clone()).collect(),
        window_s: w,
        windows,
        unmapped,
        refits,
    })
}

/// The figures of a backtest, before and after recalibration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figures {
    /// Brier score of the predictions.
    pub brier: f64,
    /// Expected calibration error of the predictions.
    pub ece: f64,
    /// Brier score after the isotonic map (in sample).
    pub brier_recalibrated: f64,
    /// ECE after the map (in sample).
    pub ece_recalibrated: f64,
    /// Pairs.
    pub predictions: u64,
    /// Of which breached.
    pub breaches: u64,
    /// Mean prediction.
    pub mean_predicted: f64,
    /// Reliability bins.
    pub bins: Vec<Bin>,
}

/// Brier, ECE and the map of `pairs`.
pub fn figures(pairs: &[(f64, bool)]) -> (Figures, IsotonicMap) {
    let map = IsotonicMap::fit(pairs);
    let after: Vec<(f64, bool)> = pairs.iter().map(|(p, o)| (map.apply(*p), *o)).collect();
    let n = pairs.len().max(1) as f64;
    (
        Figures {
            brier: brier(pairs),
            ece: ece(pairs),
            brier_recalibrated: brier(&after),
            ece_recalibrated: ece(&after),
            predictions: pairs.len() as u64,
            breaches: pairs.iter().filter(|p| p.1).count() as u64,
            mean_predicted: pairs.iter().map(|p| p.0).sum::<f64>() / n,
            bins: reliability(pairs),
        },
        map,
    )
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .and_then(|()| sim_output::write_file_atomic(path, bytes))
        .map_err(|e| Error::environment(format!("preflight: writing {}: {e}", path.display())))
}

/// `preflight calibrate`.
pub fn calibrate(opts: &CalibrateOptions) -> Result<String, Error> {
    if !(0.0..0.95).contains(&opts.warmup) {
        return Err(Error::input(format!(
            "preflight: --warmup: expected a share of the history in [0, 0.95), got {}",
            opts.warmup
        )));
    }
    let loaded = load_or_report(&opts.scenario, opts.file_access)?;
    let window = match &opts.window {
        Some(text) => {
            let d: sim_models::spec::Duration = text
                .parse()
                .map_err(|e| Error::input(format!("preflight: --window: {e}")))?;
            SimDuration::from_secs_f64(d.secs())
        }
        None => SimDuration::from_secs_f64(loaded.scenario.risk.window.secs()),
    };
    if window == SimDuration::ZERO {
        return Err(Error::input(
            "preflight: --window: must be longer than zero",
        ));
    }
    let history = load_history(&opts.history, &Mapping::default())
        .map_err(|e| history_error(e, "--history: "))?;
    // The scenario as written (no `historical_faults:` refit: the backtest
    // does its own, window by window).
    let mut as_written = loaded.clone();
    as_written.scenario.historical_faults = None;
    let base = prepare_variants(&as_written, "base")?;
    let structure = base[0].model.clone();
    check_history_maps(&structure, &history, &opts.history, &loaded.file)?;
    let expected = crate::prepare::expected_requests(&structure)
        / structure.horizon.as_secs_f64().max(1e-9)
        * window.as_secs_f64();
    if expected > crate::prepare::TWO_SCALE_ABOVE {
        return Err(Error::input(format!(
            "preflight: {}: a window of {} holds about {expected:.2e} requests; the backtest simulates windows request by request, so use a shorter --window",
            loaded.file.display(),
            crate::fit::fmt_duration(window.as_secs_f64())
        )));
    }
    let seed = opts.seed.or(loaded.scenario.seed).unwrap_or(0);
    let plan = BacktestPlan {
        window,
        campaigns: opts.campaigns,
        refit_every: opts.refit_every,
        warmup: opts.warmup,
        no_refit: opts.no_refit,
        seed,
    };
    let file = loaded.file.clone();
    let empirical = loaded.empirical_tables();
    let defaults = crate::defaults::default_failure_modes();
    let compile_at = |s: &Scenario| -> Result<Model, Error> {
        sim_models::compile::compile(s, &defaults, &empirical).map_err(|errs| {
            Error::input(
                errs.iter()
                    .map(|e| format!("preflight: {}: after refitting: {e}", file.display()))
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })
    };
    let threads = opts.threads.map(|t| t as usize).unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::environment(format!("preflight: threads: {e}")))?;
    let bt =
        pool.install(|| backtest(&loaded.scenario, &structure, &history, &plan, &compile_at))?;
    let pairs = bt.pairs();
    let (fig, map) = figures(&pairs);

    let map_path = opts
        .map
        .clone()
        .unwrap_or_else(|| default_calibration_path(&loaded.scenario));
    let diagram = opts
        .diagram
        .clone()
        .unwrap_or_else(|| map_path.with_extension("svg"));
    let svg = reliability_svg(
        &fig.bins,
        &format!("{}: {} windows", loaded.scenario.name, bt.windows.len()),
    )
    .map_err(|e| Error::environment(format!("preflight: drawing the diagram: {e}")))?;
    let stored = CalibrationFile {
        method: "isotonic".into(),
        scenario: loaded.scenario.name.clone(),
        scenario_hash: loaded.source_hash.clone(),
        history: opts.history.display().to_string(),
        map: map.clone(),
        brier: fig.brier,
        ece: fig.ece,
        predictions: fig.predictions,
        breaches: fig.breaches,
        // Empty bins have no means (NaN, which JSON cannot hold).
        bins: fig.bins.iter().filter(|b| b.n > 0).copied().collect(),
    };
    let text = serde_json::to_string_pretty(&stored).expect("JSON of plain values");
    write_atomic(&diagram, svg.as_bytes())?;
    write_atomic(&map_path, text.as_bytes())?;

    let mut out = String::new();
    if opts.json {
        let json = serde_json::json!({
            "scenario": loaded.scenario.name,
            "history": opts.history.display().to_string(),
            "window_s": bt.window_s,
            "windows": bt.windows.len(),
            "handlers": bt.handlers,
            "refits": bt.refits,
            "unmapped_incidents": bt.unmapped,
            "figures": fig,
            "map": map,
            "map_file": map_path.display().to_string(),
            "diagram": diagram.display().to_string(),
        });
        crate::textln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json).expect("JSON")
        );
    } else {
        render_backtest(&bt, &fig, &map_path, &diagram, &mut out);
    }
    Ok(out)
}

fn render_backtest(bt: &Backtest, fig: &Figures, map: &Path, diagram: &Path, out: &mut String) {
    let by_handler: BTreeMap<&str, (usize, usize, f64)> = bt
        .handlers
        .iter()
        .enumerate()
        .map(|(h, id)| {
            let n = bt.windows.len();
            let b = bt.windows.iter().filter(|w| w.breached[h]).count();
            let p = bt.windows.iter().map(|w| w.predicted[h]).sum::<f64>() / n.max(1) as f64;
            (id.as_str(), (n, b, p))
        })
        .collect();
    crate::textln!(
        out,
        "backtest: {} windows of {}, {} refits, {} predictions ({} breached){}",
        bt.windows.len(),
        crate::fit::fmt_duration(bt.window_s),
        bt.refits,
        fig.predictions,
        fig.breaches,
        if bt.unmapped > 0 {
            format!(
                "; {} incidents not replayed (no such resource or mode in the scenario)",
                bt.unmapped
            )
        } else {
            String::new()
        }
    );
    crate::textln!(
        out,
        "{:<24} {:>8} {:>9} {:>14}",
        "handler",
        "windows",
        "breached",
        "mean predicted"
    );
    for (h, (n, b, p)) in by_handler {
        crate::textln!(out, "{h:<24} {n:>8} {b:>9} {p:>14.4}");
    }
    crate::textln!(
        out,
        "Brier score {:.4} (after recalibration {:.4}); expected calibration error {:.4} (after {:.4}, in sample)",
        fig.brier,
        fig.brier_recalibrated,
        fig.ece,
        fig.ece_recalibrated
    );
    crate::textln!(
        out,
        "{:>12} {:>6} {:>10} {:>10}",
        "bin",
        "n",
        "predicted",
        "observed"
    );
    for b in fig.bins.iter().filter(|b| b.n > 0) {
        crate::textln!(
            out,
            "{:>12} {:>6} {:>10.4} {:>10.4}",
            format!("[{:.1}, {:.1})", b.from, b.to),
            b.n,
            b.mean_predicted,
            b.observed
        );
    }
    crate::textln!(
        out,
        "map → {}; reliability diagram → {}",
        map.display(),
        diagram.display()
    );
}
