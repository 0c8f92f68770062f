//! The commands behind the CLI: each returns an exit code or a [`CliError`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use sim_models::compile::{Empirical, compile};
use sim_models::spec::Scenario;

use crate::output::RunWriter;
use crate::risk::{Decision, campaigns_to_decide, decide};
use crate::run::{
    ModeSel, PreparedVariant, RareEvent, RunPlan, RunReport, ScaleSel, TWO_SCALE_ABOVE, apply_bias,
    default_out_dir, run_all,
};
use crate::scenario::{FileAccess, Loaded, apply_variant, load_with};
use crate::timing::{Mark, Phases};

/// An error that ends a command, with the exit code it deserves.
#[derive(Debug)]
pub struct CliError {
    /// The whole message, ready to print (may span several lines).
    pub message: String,
    /// 2 for bad input or usage; anything else is a bug.
    pub code: u8,
}

impl CliError {
    /// Bad input or usage (exit code 2).
    pub fn input(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: 2,
        }
    }

    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Options of `preflight run`, after parsing.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Scenario file.
    pub scenario: PathBuf,
    /// Campaigns per variant and injection.
    pub campaigns: Option<u64>,
    /// Master seed.
    pub seed: Option<u64>,
    /// Worker threads.
    pub threads: Option<usize>,
    /// `all`, `base` or a variant name.
    pub variant: String,
    /// Natural, targeted or both.
    pub mode: ModeSel,
    /// Run directory.
    pub out: Option<PathBuf>,
    /// No progress bar, no summary.
    pub quiet: bool,
    /// `--until-decided`: the most natural campaigns per variant to run
    /// while some risk is undecided.
    pub until_decided: Option<u64>,
    /// Decide risks against `risk.gate` rather than each handler's threshold.
    pub against_gate: bool,
    /// `--rare-event`: importance sampling of rare failures.
    pub rare_event: Option<RareEvent>,
    /// `--calibration FILE`: the recalibration map to apply.
    pub calibration: Option<PathBuf>,
    /// `--no-calibration`: apply none, even the default one.
    pub no_calibration: bool,
    /// `--max-memory`: bytes the run may use (default: a share of the
    /// machine's memory; see `crate::limits`).
    pub max_memory: Option<u64>,
    /// `--events`: write the injection log (`events.parquet`).
    pub events: bool,
    /// Apply an enabled `failure_injection_profile` (live injections in
    /// natural campaigns); `gate` turns it off.
    pub live_injection: bool,
    /// `--scenario-campaigns`: targeted campaigns per predicted scenario.
    pub scenario_campaigns: Option<u64>,
    /// Request-level, two-scale, or chosen by size (`--scale`).
    pub scale: ScaleSel,
    /// `--independent-streams`: seed each variant apart instead of reusing
    /// the base's seeds (common random numbers).
    pub independent_streams: bool,
    /// Re-simulate at most this many remediation candidates when a handler
    /// of the base is over its threshold (`--remediate-max`); `None`: no
    /// remediation (`--no-remediate`, and always for `gate`).
    pub remediate: Option<usize>,
    /// Simulate the scenario's service paths (`paths:`) too; `gate`, which
    /// decides on handler risks only, does not.
    pub service_paths: bool,
    /// Where the files the scenario names may be (`--allow-external-files`).
    pub file_access: FileAccess,
}

/// An error writing the run directory: exit 2 when the output path is the
/// user's to fix, 3 when the environment failed (disk full, permissions).
fn output_error(context: &str, e: &crate::output::OutputError) -> CliError {
    CliError {
        message: format!("preflight: {context}: {e}"),
        code: if e.is_usage() { 2 } else { 3 },
    }
}

/// Loads a scenario, or the error listing every problem (exit code 2).
/// Warnings (a YAML tag Preflight ignores) go to stderr.
pub fn load_or_report(path: &Path, access: FileAccess) -> Result<Loaded, CliError> {
    let loaded = load_with(path, access).map_err(|e| {
        let mut msg = String::new();
        for p in e.problems() {
            msg.push_str(&format!("preflight: {p}\n"));
        }
        let n = e.problems().len();
        msg.push_str(&format!(
            "preflight: {} has {n} problem{}",
            path.display(),
            if n == 1 { "" } else { "s" }
        ));
        CliError::input(msg)
    })?;
    for w in &loaded.warnings {
        eprintln!("preflight: warning: {w}");
    }
    Ok(loaded)
}

/// Applies the selected variants and compiles each.
pub fn prepare_variants(
    loaded: &Loaded,
    selection: &str,
) -> Result<Vec<PreparedVariant>, CliError> {
    // `historical_faults:` refits the base scenario's failure modes first;
    // variants then apply to the refitted base.
    let (refitted, refit) =
        crate::fit::refit_scenario(&loaded.scenario, &loaded.file, loaded.file_access)?;
    for note in &refit.notes {
        tracing::info!("{}: historical_faults: {note}", loaded.file.display());
    }
    let base = &refitted;
    let empirical: Empirical = loaded
        .empirical
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let defaults = crate::defaults::default_failure_modes();
    let build = |name: &str, index: u64, scenario: Scenario| -> Result<PreparedVariant, CliError> {
        let model = compile(&scenario, &defaults, &empirical).map_err(|errs| {
            let lines: Vec<String> = errs
                .iter()
                .map(|e| {
                    format!(
                        "preflight: {}: variant `{name}`: {e}",
                        loaded.file.display()
                    )
                })
                .collect();
            CliError::input(lines.join("\n"))
        })?;
        Ok(PreparedVariant {
            name: Arc::from(name),
            index,
            scenario,
            model,
        })
    };
    let mut out = vec![build("base", 0, base.clone())?];
    let wanted: Vec<(usize, &sim_models::spec::Variant)> = match selection {
        "all" => base.variants.iter().enumerate().collect(),
        "base" => Vec::new(),
        name => {
            let found: Vec<_> = base
                .variants
                .iter()
                .enumerate()
                .filter(|(_, v)| v.name == name)
                .collect();
            if found.is_empty() {
                let names: Vec<&str> = base.variants.iter().map(|v| v.name.as_str()).collect();
                return Err(CliError::input(format!(
                    "preflight: --variant {name}: {} has no such variant (it has: all, base{}{})",
                    loaded.file.display(),
                    if names.is_empty() { "" } else { ", " },
                    names.join(", ")
                )));
            }
            found
        }
    };
    for (i, v) in wanted {
        let scenario = apply_variant(base, v).map_err(|problems| {
            let lines: Vec<String> = problems
                .iter()
                .map(|p| format!("preflight: {}: {p}", loaded.file.display()))
                .collect();
            CliError::input(lines.join("\n"))
        })?;
        out.push(build(&v.name, i as u64 + 1, scenario)?);
    }
    Ok(out)
}

/// `preflight run`.
pub fn run(opts: &RunOptions) -> Result<ExitCode, CliError> {
    let done = execute(opts)?;
    if !opts.quiet {
        if done.handler_campaigns {
            print_summary(&done.report, &done.plan);
        }
        crate::paths_run::print_summary(&done.paths);
        crate::scenarios::print_top(&done.predicted, 10);
        if let Some(rem) = &done.remediation {
            crate::remediate::print(rem, done.report.base.as_ref());
        }
        print_footer(&done);
    }
    Ok(ExitCode::SUCCESS)
}

/// A finished run: what was run and what came out.
struct Executed {
    plan: RunPlan,
    report: RunReport,
    out_dir: PathBuf,
    gate: f64,
    /// Ranked injection scenarios (empty when none were predicted).
    predicted: Vec<crate::output::ScenarioRow>,
    /// Remediation, when it ran (`run` with natural campaigns).
    remediation: Option<crate::remediate::Remediation>,
    /// Whether handler campaigns ran (not for a scenario with service
    /// paths and no workload).
    handler_campaigns: bool,
    /// Service paths: one summary per variant × path (empty without `paths:`).
    paths: Vec<crate::paths_run::PathSummary>,
    /// Wall time of the service-path campaigns, seconds.
    paths_wall_s: f64,
}

fn print_footer(done: &Executed) {
    let report = &done.report;
    if done.handler_campaigns {
        crate::outln!(
            "\n{} campaigns in {:.2} s ({:.0} campaigns/s, {:.1} M events/s) → {}",
            report.campaigns_run,
            report.wall_s,
            report.campaigns_run as f64 / report.wall_s.max(1e-9),
            report.events as f64 / report.wall_s.max(1e-9) / 1e6,
            done.out_dir.display()
        );
    }
    if let Some(first) = done.paths.first() {
        let variants = done.paths.iter().filter(|p| p.path == first.path).count();
        let campaigns = first.campaigns * variants as u64;
        crate::outln!(
            "{}{} service-path campaigns in {:.2} s ({:.1} campaigns/s) → {}",
            if done.handler_campaigns { "" } else { "\n" },
            campaigns,
            done.paths_wall_s,
            campaigns as f64 / done.paths_wall_s.max(1e-9),
            done.out_dir.display()
        );
    }
    if let Some(rem) = done.remediation.as_ref().filter(|r| r.campaigns_run > 0) {
        crate::outln!(
            "remediation: {} more campaigns in {:.2} s (not written to campaigns/handlers.parquet)",
            rem.campaigns_run,
            rem.wall_s
        );
    }
}

/// Loads, checks, runs every campaign and writes the run directory.
///
/// Every phase's wall and CPU time goes into the manifest's `phases`, and
/// `wall_time_s` is their total (`docs/results.md`).
fn execute(opts: &RunOptions) -> Result<Executed, CliError> {
    let start = Mark::now();
    let mut mark = start;
    let mut phases = Phases::default();
    let loaded = load_or_report(&opts.scenario, opts.file_access)?;
    let mut variants = prepare_variants(&loaded, &opts.variant)?;
    let s = &loaded.scenario;
    // A scenario of service paths alone (no workload) runs path campaigns
    // only: handler campaigns would simulate nothing.
    let handler_campaigns = !s.workload.is_empty() || s.paths.is_empty();
    if !opts.quiet {
        for note in unsupported_notes(s) {
            eprintln!("preflight: note: {}: {note}", loaded.file.display());
        }
    }
    let two_scale = choose_two_scale(opts.scale, &variants);
    if two_scale {
        crate::limits::check_two_scale_work(&variants)
            .map_err(|m| CliError::input(format!("preflight: {}: {m}", loaded.file.display())))?;
    } else {
        check_size(&loaded, &variants, opts.quiet)?;
    }
    if let Some(rare) = opts.rare_event {
        for v in &mut variants {
            let factors = apply_bias(&mut v.model, rare);
            for (f, b) in v.model.faults.iter().zip(&factors) {
                tracing::info!(
                    variant = &*v.name,
                    resource = %v.model.resources[f.resource].id,
                    mode = %f.mode,
                    factor = b,
                    "failure biasing"
                );
            }
            if !opts.quiet && factors.iter().all(|b| *b == 1.0) {
                eprintln!(
                    "preflight: note: {}: --rare-event: no failure process of variant `{}` is rare enough to bias (or its law cannot be scaled); the run is plain Monte Carlo",
                    loaded.file.display(),
                    v.name
                );
            }
        }
    }
    if matches!(opts.mode, ModeSel::Targeted)
        && s.injections.is_empty()
        && variants[0].model.faults.is_empty()
    {
        return Err(CliError::input(format!(
            "preflight: {}: injections: --mode targeted has nothing to inject: no entry in `injections:` and no failure mode to predict scenarios from",
            loaded.file.display()
        )));
    }
    let threads = opts.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    // Memory: every campaign's bound, for the threads that run at once,
    // within --max-memory (docs/limits.md). Sets the in-flight caps.
    let memory = crate::limits::plan_memory(
        &mut variants,
        two_scale,
        crate::limits::MaxMemory::resolve(opts.max_memory),
        threads,
    )
    .map_err(|m| CliError::input(format!("preflight: {}: {m}", loaded.file.display())))?;
    if !opts.quiet {
        if memory.threads < threads {
            eprintln!(
                "preflight: note: {}: {} campaigns at once instead of {threads}: each may hold {}, and the memory limit is {} ({}); results do not depend on it",
                loaded.file.display(),
                memory.threads,
                crate::limits::fmt_bytes(memory.per_campaign),
                crate::limits::fmt_bytes(memory.max.bytes),
                memory.max.source
            );
        }
        for (name, cap, _) in &memory.variants {
            if memory.max.explicit && *cap < default_cap_of(&variants, name) {
                eprintln!(
                    "preflight: note: {}: variant `{name}`: at most {cap} requests in flight per campaign (--max-memory {}); requests over it are refused as errors",
                    loaded.file.display(),
                    crate::limits::fmt_bytes(memory.max.bytes),
                );
            }
        }
    }
    let plan = RunPlan {
        campaigns: opts.campaigns.or(s.campaigns).unwrap_or(1000).max(1),
        seed: opts.seed.or(s.seed).unwrap_or(0),
        threads: memory.threads,
        mode: opts.mode,
        progress: !opts.quiet,
        two_scale,
        until_decided: opts.until_decided,
        decide_at: opts.against_gate.then_some(s.risk.gate),
        rare_event: opts.rare_event,
        independent_streams: opts.independent_streams,
        live: None,
        events: opts.events,
    };
    let out_dir = opts.out.clone().unwrap_or_else(|| default_out_dir(s));
    tracing::info!(
        scenario = %loaded.file.display(),
        variants = variants.len(),
        campaigns = plan.campaigns,
        seed = plan.seed,
        threads = plan.threads,
        out = %out_dir.display(),
        "run"
    );
    // The recalibration map of `preflight calibrate`, read before any
    // campaign runs so that a broken file costs nothing.
    let calibration = find_calibration(opts, s, &loaded)?;
    let out_flag = if opts.out.is_some() {
        "--out".to_string()
    } else {
        "the default output directory (reports/<scenario name>; choose one with --out)".to_string()
    };
    let mut writer = RunWriter::create(&out_dir).map_err(|e| output_error(&out_flag, &e))?;
    phases.lap("load", &mut mark);
    // Predicted injection scenarios: in targeted mode, and for the live
    // injections of an enabled `failure_injection_profile`.
    // (The gate decides on natural risk: no live injection there.)
    let profile = s
        .failure_injection_profile
        .as_ref()
        .filter(|p| p.enabled && opts.live_injection);
    let predicting = matches!(opts.mode, ModeSel::Targeted | ModeSel::Both) || profile.is_some();
    let predicted = if predicting {
        crate::scenarios::predict(
            &variants[0],
            crate::scenarios::PredictOptions {
                campaigns: opts.scenario_campaigns.unwrap_or(20),
                seed: plan.seed,
                threads: plan.threads,
                progress: !opts.quiet,
            },
        )
        .map_err(|e| CliError {
            message: format!("preflight: predicting injection scenarios failed: {e:#}"),
            code: 3,
        })?
    } else {
        Vec::new()
    };
    if !predicted.is_empty() {
        let rows: Vec<_> = predicted.iter().map(|p| p.row.clone()).collect();
        writer
            .write_scenarios(&rows)
            .map_err(|e| output_error(&format!("writing {}", out_dir.display()), &e))?;
    }
    phases.lap(if predicting { "scenarios" } else { "load" }, &mut mark);
    let mut plan = plan;
    if let Some(p) = profile {
        if plan.two_scale {
            if !opts.quiet {
                eprintln!(
                    "preflight: note: {}: failure_injection_profile: live injections run in request-level campaigns only; this run uses the two-scale method (--scale), so natural campaigns get none",
                    loaded.file.display()
                );
            }
        } else {
            plan.live = crate::scenarios::live_spec(p, &predicted);
        }
    }
    if opts.events {
        if plan.live.is_none() && !opts.quiet {
            eprintln!(
                "preflight: note: {}: --events: no live injection in this run (enable `failure_injection_profile`); events.parquet will be empty",
                loaded.file.display()
            );
        }
        writer
            .enable_events()
            .map_err(|e| output_error(&format!("writing {}", out_dir.display()), &e))?;
    }
    let mut report = if handler_campaigns {
        run_all(&variants, &plan, &mut writer).map_err(|e| CliError {
            message: format!("preflight: run failed: {e:#}"),
            code: 3,
        })?
    } else {
        RunReport::default()
    };
    // The runner's own phases (baseline, library, campaigns); the setup
    // around it counts as campaigns.
    let run_span = mark.elapsed();
    phases.merge(&report.phases);
    let mut rest = run_span;
    rest.wall_s -= report.phases.sum().wall_s;
    rest.cpu_s = rest
        .cpu_s
        .zip(report.phases.sum().cpu_s)
        .map(|(a, b)| (a - b).max(0.0));
    phases.add("campaigns", rest);
    mark = Mark::now();
    // Service paths: their own campaigns, after the handlers' (same seeds).
    let paths_start = std::time::Instant::now();
    let paths = if opts.service_paths
        && crate::paths_run::has_paths(&variants)
        && plan.mode != ModeSel::Targeted
    {
        writer
            .enable_paths()
            .map_err(|e| output_error(&format!("writing {}", out_dir.display()), &e))?;
        let empirical: Empirical = loaded
            .empirical
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        crate::paths_run::run_paths(&variants, &empirical, &plan, &mut writer).map_err(|e| {
            CliError {
                message: format!("preflight: service paths failed: {e:#}"),
                code: 3,
            }
        })?
    } else {
        Vec::new()
    };
    let paths_wall_s = paths_start.elapsed().as_secs_f64();
    if !paths.is_empty() {
        phases.lap("paths", &mut mark);
    }
    if let Some((_, c)) = &calibration {
        for r in &mut report.risk {
            let calibrated = c.map.apply(r.risk);
            r.calibrated_risk = Some(calibrated);
            r.over_threshold = calibrated > r.threshold;
        }
    }
    // Remediation: candidates re-simulated on the base's campaigns. The file
    // is written whenever remediation is on and natural campaigns ran
    // (empty when no handler is over its threshold).
    let remediation = match opts.remediate {
        Some(max) if plan.mode != ModeSel::Targeted && handler_campaigns => {
            let rem = crate::remediate::remediate(&loaded, &variants[0], &report, &plan, max)
                .map_err(|e| CliError {
                    message: format!("preflight: remediation failed: {e:#}"),
                    code: 3,
                })?;
            writer
                .write_remediations(&rem.rows())
                .map_err(|e| output_error(&format!("writing {}", out_dir.display()), &e))?;
            Some(rem)
        }
        _ => None,
    };
    if report.refused_over_cap > 0 {
        eprintln!(
            "preflight: warning: {}: {} requests were refused because a campaign held as many requests as its in-flight cap allows ({} in flight; docs/limits.md): the system is overloaded, and they count as errors",
            loaded.file.display(),
            report.refused_over_cap,
            memory
                .variants
                .iter()
                .map(|(n, c, _)| format!("`{n}`: {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if remediation.is_some() {
        phases.lap("remediation", &mut mark);
    }
    let mut manifest = manifest(&loaded, &variants, &plan, &report, opts);
    manifest["limits"] = memory.manifest(report.refused_over_cap);
    if !handler_campaigns {
        manifest["handler_campaigns"] = serde_json::json!(false);
    }
    if !paths.is_empty() {
        // NaN (no ADU delivered, no outage ended) is written as null.
        manifest["paths"] = serde_json::json!({
            "campaigns": plan.campaigns,
            "wall_s": paths_wall_s,
            "summary": paths
                .iter()
                .map(|p| serde_json::json!({
                    "variant": &*p.variant,
                    "path": &*p.path,
                    "campaigns": p.campaigns,
                    "horizon_s": p.horizon_s,
                    "availability": p.availability,
                    "availability_low": p.availability_low,
                    "availability_high": p.availability_high,
                    "loss_rate": p.loss_rate,
                    "delay_p99_ms": p.delay_p99_ms,
                    "repairs_per_campaign": p.repairs_per_campaign,
                    "time_to_repair_s": p.time_to_repair_s,
                }))
                .collect::<Vec<_>>(),
        });
    }
    if let Some(rem) = &remediation {
        manifest["remediation"] = serde_json::json!({
            "over_threshold": rem.over.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
            "proposed": rem.proposed,
            "simulated": rem.verified.len(),
            "max": opts.remediate,
            "campaigns_run": rem.campaigns_run,
            "sequential": rem.sequential.map(|q| q.to_json()),
            "candidates": rem
                .verified
                .iter()
                .map(|v| serde_json::json!({
                    "name": v.candidate.name,
                    "campaigns": v.campaigns,
                    "campaigns_simulated": v.simulated,
                    "library_simulated": v.library.map(|l| l.0),
                    "library_shared": v.library.map(|l| l.1),
                }))
                .collect::<Vec<_>>(),
            "phases": rem.phases.to_json(rem.phases.sum()),
            "rejected": rem
                .rejected
                .iter()
                .map(|(n, why)| serde_json::json!({ "name": n, "why": why }))
                .collect::<Vec<_>>(),
        });
    }
    if let Some((path, c)) = &calibration {
        manifest["calibration"] = serde_json::json!({
            "file": path.display().to_string(),
            "method": c.method,
            "history": c.history,
            "backtest_brier": c.brier,
            "backtest_ece": c.ece,
            "predictions": c.predictions,
        });
    }
    let summary = writer
        .finish_with(&report.risk, &manifest, |m| {
            phases.lap("write", &mut mark);
            let total = start.to(&mark);
            phases.log("run", total);
            m.insert("wall_time_s".to_owned(), serde_json::json!(total.wall_s));
            m.insert("phases".to_owned(), phases.to_json(total));
        })
        .map_err(|e| output_error(&format!("writing {}", out_dir.display()), &e))?;
    Ok(Executed {
        plan,
        report,
        out_dir: summary.out_dir,
        gate: s.risk.gate,
        predicted: predicted.into_iter().map(|p| p.row).collect(),
        remediation,
        handler_campaigns,
        paths,
        paths_wall_s,
    })
}

/// Where `preflight calibrate` keeps the map of a scenario by default:
/// beside its default run directory, `reports/<name>.calibration.json`.
pub fn default_calibration_path(s: &Scenario) -> PathBuf {
    let dir = default_out_dir(s);
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    dir.with_file_name(format!("{name}.calibration.json"))
}

/// The calibration map to apply: `--calibration FILE` (which must exist),
/// else the default file when it exists; none with `--no-calibration`.
fn find_calibration(
    opts: &RunOptions,
    s: &Scenario,
    loaded: &Loaded,
) -> Result<Option<(PathBuf, crate::calibration::CalibrationFile)>, CliError> {
    let path = match &opts.calibration {
        Some(p) => p.clone(),
        None => {
            let p = default_calibration_path(s);
            if opts.no_calibration || !p.is_file() {
                return Ok(None);
            }
            p
        }
    };
    if opts.no_calibration {
        return Ok(None);
    }
    let c = crate::calibration::CalibrationFile::read(&path)
        .map_err(|e| CliError::input(format!("preflight: --calibration: {e}")))?;
    if !opts.quiet {
        eprintln!(
            "preflight: note: calibrated_risk from {} (backtest of {} predictions on {}{})",
            path.display(),
            c.predictions,
            c.history,
            if c.scenario_hash == loaded.source_hash {
                ""
            } else {
                "; the scenario file has changed since"
            }
        );
    }
    Ok(Some((path, c)))
}

/// `preflight gate`: runs natural campaigns and fails (exit 1) when any
/// handler's risk is above `risk.gate`. The calibrated risk is used where
/// one exists. Prints a verdict per handler with its interval and top
/// failure contributors, or the same as JSON with `json`.
pub fn gate(opts: &RunOptions, json: bool) -> Result<ExitCode, CliError> {
    let opts = RunOptions {
        mode: ModeSel::Natural,
        quiet: opts.quiet || json,
        against_gate: true,
        remediate: None,
        live_injection: false,
        service_paths: false,
        ..opts.clone()
    };
    let done = execute(&opts)?;
    let mut failed = false;
    let mut rows = Vec::new();
    for (t, r) in done.report.tallies.iter().zip(&done.report.risk) {
        let risk = r.calibrated_risk.unwrap_or(r.risk);
        let fail = risk > done.gate;
        failed |= fail;
        let decision = decide(t.breaches, t.campaigns, done.gate);
        rows.push(serde_json::json!({
            "variant": &*t.variant,
            "handler": &*t.handler,
            "verdict": if fail { "fail" } else { "pass" },
            "risk": r.risk,
            "calibrated_risk": r.calibrated_risk,
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "campaigns": t.campaigns,
            "breaches": t.breaches,
            "gate": done.gate,
            "decided": decision != Decision::Undecided,
            "campaigns_to_decide": (decision == Decision::Undecided)
                .then(|| campaigns_to_decide(r.risk, done.gate))
                .flatten(),
            "threshold": r.threshold,
            "criticality": &*r.criticality,
            "top_contributors": t.top_contributors(3),
        }));
    }
    if json {
        let out = serde_json::json!({
            "scenario": opts.scenario.display().to_string(),
            "verdict": if failed { "fail" } else { "pass" },
            "gate": done.gate,
            "seed": done.plan.seed,
            "campaigns_run": done.report.campaigns_run,
            "run_dir": done.out_dir.display().to_string(),
            "handlers": rows,
        });
        let text = serde_json::to_string_pretty(&out).expect("JSON of plain values");
        crate::outln!("{text}");
    } else {
        print_gate(&done, &rows);
        if !opts.quiet {
            print_footer(&done);
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_gate(done: &Executed, rows: &[serde_json::Value]) {
    crate::outln!(
        "{:<14} {:<24} {:>7} {:>8} {:>17} {:>7} {:>9}  top failure contributors (share of breaches)",
        "variant",
        "handler",
        "verdict",
        "risk",
        "95% CI",
        "gate",
        "threshold"
    );
    for (t, row) in done.report.tallies.iter().zip(rows) {
        let f = |k: &str| row[k].as_f64().unwrap_or(f64::NAN);
        let contributors: Vec<String> = t
            .top_contributors(3)
            .iter()
            .map(|c| format!("{} {:.0}%", c.fault, 100.0 * c.share_of_breaches))
            .collect();
        crate::outln!(
            "{:<14} {:<24} {:>7} {:>8} {:>17} {:>7} {:>9}  {}",
            truncate(&t.variant, 14),
            truncate(&t.handler, 24),
            if row["verdict"] == "fail" {
                "FAIL"
            } else {
                "pass"
            },
            fmt_f(f("risk"), 4),
            format!("[{}, {}]", fmt_f(f("ci_low"), 4), fmt_f(f("ci_high"), 4)),
            fmt_f(done.gate, 3),
            fmt_f(f("threshold"), 3),
            if contributors.is_empty() {
                "-".to_string()
            } else {
                contributors.join(", ")
            }
        );
        if let Some(c) = row["calibrated_risk"].as_f64() {
            crate::outln!(
                "{:<40} calibrated risk {} (the verdict uses it)",
                "",
                fmt_f(c, 4)
            );
        }
        if let Some(n) = row["campaigns_to_decide"].as_u64() {
            crate::outln!(
                "{:<40} the interval straddles the gate: about {n} campaigns would decide it (--until-decided)",
                ""
            );
        }
    }
    let failed = rows.iter().filter(|r| r["verdict"] == "fail").count();
    if failed > 0 {
        crate::outln!(
            "gate: FAIL ({failed} handler(s) with risk above {})",
            done.gate
        );
    } else {
        crate::outln!(
            "gate: pass (every handler's risk is at or below {})",
            done.gate
        );
    }
}

/// Workload requests per campaign above which a run is refused: at request
/// level such a campaign takes many minutes and a run of them days.
pub const MAX_REQUESTS_PER_CAMPAIGN: f64 = sim_models::limits::MAX_REQUESTS_PER_SIMULATION;

/// Expected workload requests in one campaign of `model`.
pub fn expected_requests(model: &sim_models::model::Model) -> f64 {
    let horizon = model.horizon.as_secs_f64();
    model
        .workloads
        .iter()
        .map(|w| {
            let shape = w
                .diurnal
                .map(|d| d.iter().sum::<f64>() / 24.0)
                .unwrap_or(1.0);
            w.rate * shape * horizon
        })
        .sum()
}

/// Whether campaigns run by the two-scale method: as asked, or with
/// `--scale auto` when some variant expects more than
/// [`TWO_SCALE_ABOVE`] workload requests per campaign.
pub fn choose_two_scale(scale: ScaleSel, variants: &[PreparedVariant]) -> bool {
    match scale {
        ScaleSel::Request => false,
        ScaleSel::TwoScale => true,
        ScaleSel::Auto => variants
            .iter()
            .any(|v| expected_requests(&v.model) > TWO_SCALE_ABOVE),
    }
}

/// Refuses campaigns too large for request-level simulation, and says when a
/// campaign is large enough to take a while.
fn check_size(loaded: &Loaded, variants: &[PreparedVariant], quiet: bool) -> Result<(), CliError> {
    let Some((v, n)) = variants
        .iter()
        .rev() // on ties, `max_by` keeps the last: report the first variant
        .map(|v| (v, expected_requests(&v.model)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return Ok(());
    };
    if n > MAX_REQUESTS_PER_CAMPAIGN {
        // Recommend the two-scale method only where it can finish.
        let instead = match crate::limits::check_two_scale_work(variants) {
            Ok(()) => {
                "Use `--scale two-scale` (or `auto`), or a shorter `horizon:` (minutes to hours)."
                    .to_string()
            }
            Err(why) => format!(
                "The two-scale method cannot take it either ({}). Use a shorter `horizon:` or a lower rate.",
                why.trim_end_matches('.')
            ),
        };
        return Err(CliError::input(format!(
            "preflight: {}: horizon: variant `{}` expects {:.0} million requests per campaign ({} of simulated time); \
             request-level simulation is limited to {:.0} million (docs/limits.md). {instead}",
            loaded.file.display(),
            v.name,
            n / 1e6,
            sim_models::spec::Duration::from_secs(v.model.horizon.as_secs_f64()),
            MAX_REQUESTS_PER_CAMPAIGN / 1e6,
        )));
    }
    if n > 1e7 && !quiet {
        eprintln!(
            "preflight: note: {}: about {:.0} million requests per campaign; each campaign may take several seconds",
            loaded.file.display(),
            n / 1e6
        );
    }
    Ok(())
}

/// The default in-flight cap of the variant called `name`.
fn default_cap_of(variants: &[PreparedVariant], name: &str) -> u64 {
    variants
        .iter()
        .find(|v| &*v.name == name)
        .map(|v| sim_models::limits::default_cap(&v.model))
        .unwrap_or(0)
}

/// Sections a scenario may hold that this version parses and validates but
/// does not simulate yet: said once per run, so nobody mistakes them for used.
pub fn unsupported_notes(s: &Scenario) -> Vec<&'static str> {
    let mut notes = Vec::new();
    if s.telemetry.is_some() {
        notes.push("telemetry: forecasting is not built yet; the file is not read");
    }
    notes
}

fn manifest(
    loaded: &Loaded,
    variants: &[PreparedVariant],
    plan: &RunPlan,
    report: &RunReport,
    opts: &RunOptions,
) -> serde_json::Value {
    serde_json::json!({
        "tool": "preflight",
        "tool_version": env!("CARGO_PKG_VERSION"),
        "scenario": loaded.scenario.name,
        "scenario_file": loaded.file.display().to_string(),
        "scenario_hash": loaded.source_hash,
        "seed": plan.seed,
        "campaigns": plan.campaigns,
        "mode": format!("{:?}", opts.mode).to_lowercase(),
        "variants": variants.iter().map(|v| serde_json::json!({
            "name": &*v.name,
            "index": v.index,
            "horizon_s": v.model.horizon.as_secs_f64(),
            "injections": v.model.injections.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "threads": plan.threads,
        "campaigns_run": report.campaigns_run,
        "events": report.events,
        "risk_definition": "breaches / campaigns over natural-mode campaigns; 95% Wilson interval",
        "until_decided": plan.until_decided,
        "scale": if plan.two_scale { "two-scale" } else { "request" },
        "streams": if plan.independent_streams { "independent" } else { "common" },
    })
}

fn fmt_f(x: f64, digits: usize) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format!("{x:.digits$}")
    }
}

/// Prints the variant × handler table, the what-if differences of the
/// variants, then the targeted campaigns' table.
pub fn print_summary(report: &RunReport, plan: &RunPlan) {
    print_risk(report, plan);
    print_what_if(report, plan);
    if report.injections.is_empty() {
        return;
    }
    crate::outln!(
        "\ntargeted campaigns (the injection is the only fault):\n{:<14} {:<24} {:>10} {:>12} {:>14}",
        "variant",
        "injection",
        "err rate",
        "availability",
        "SLO breached"
    );
    for t in &report.injections {
        let err = if t.requests == 0 {
            f64::NAN
        } else {
            t.errors as f64 / t.requests as f64
        };
        crate::outln!(
            "{:<14} {:<24} {:>10} {:>12} {:>14}",
            truncate(&t.variant, 14),
            truncate(&t.scenario_id, 24),
            fmt_f(err, 5),
            fmt_f(t.availability_sum / t.campaigns.max(1) as f64, 4),
            format!("{}/{}", t.breaches, t.campaigns)
        );
    }
}

fn print_risk(report: &RunReport, plan: &RunPlan) {
    if report.tallies.is_empty() {
        crate::outln!("(no natural-mode campaigns: no risk to report)");
        return;
    }
    crate::outln!(
        "{:<14} {:<24} {:>12} {:>10} {:>10} {:>8} {:>17} {:>9} {:>9}",
        "variant",
        "handler",
        "requests",
        "err rate",
        "p99 ms",
        "risk",
        "95% CI",
        "threshold",
        "decision"
    );
    let mut undecided = Vec::new();
    for (t, r) in report.tallies.iter().zip(&report.risk) {
        let err = if t.requests == 0 {
            f64::NAN
        } else {
            t.errors as f64 / t.requests as f64
        };
        let p99 = if t.p99_n == 0 {
            f64::NAN
        } else {
            t.p99_sum_ms / t.p99_n as f64
        };
        let decision = decide(t.breaches, t.campaigns, r.threshold);
        if decision == Decision::Undecided {
            undecided.push((t, campaigns_to_decide(r.risk, r.threshold)));
        }
        crate::outln!(
            "{:<14} {:<24} {:>12} {:>10} {:>10} {:>8} {:>17} {:>9} {:>9}",
            truncate(&t.variant, 14),
            truncate(&t.handler, 24),
            t.requests,
            fmt_f(err, 5),
            fmt_f(p99, 1),
            fmt_f(r.risk, 4),
            format!("[{}, {}]", fmt_f(r.ci_low, 4), fmt_f(r.ci_high, 4)),
            fmt_f(r.threshold, 3),
            decision.as_str().to_uppercase()
        );
        if let Some(c) = r.calibrated_risk {
            crate::outln!("{:<40} calibrated risk {}", "", fmt_f(c, 4));
        }
    }
    let campaigns: Vec<u64> = report.tallies.iter().map(|t| t.campaigns).collect();
    let (lo, hi) = (
        campaigns.iter().min().copied().unwrap_or(0),
        campaigns.iter().max().copied().unwrap_or(0),
    );
    crate::outln!(
        "risk = P(SLO breached within a campaign) over {} natural campaigns per variant (seed {}); p99 is the mean of per-campaign p99s",
        if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}–{hi}")
        },
        plan.seed
    );
    crate::outln!(
        "decision: OVER/UNDER when the whole 95% interval lies above / at or below the threshold; UNDECIDED when it straddles it"
    );
    for (t, need) in undecided {
        let need = match need {
            Some(n) => format!(
                "about {n} campaigns in all would decide it (`--until-decided` runs until it is)"
            ),
            None => {
                "its risk sits on the threshold, where no number of campaigns decides it".into()
            }
        };
        crate::outln!(
            "  {} / {}: undecided after {} campaigns; {need}",
            t.variant,
            t.handler,
            t.campaigns
        );
    }
}

/// The variants' risk differences with the base, paired campaign by
/// campaign, with their 95% intervals.
fn print_what_if(report: &RunReport, plan: &RunPlan) {
    let rows: Vec<_> = report
        .tallies
        .iter()
        .zip(&report.risk)
        .filter_map(|(t, r)| t.paired.filter(|p| p.campaigns > 0).map(|p| (t, r, p)))
        .collect();
    if rows.is_empty() {
        return;
    }
    crate::outln!(
        "\nwhat-if ({}): risk(variant) − risk(base) over the same campaigns",
        if plan.independent_streams {
            "independent streams: each variant seeded apart"
        } else {
            "common random numbers: each variant reuses the base's campaign seeds"
        }
    );
    crate::outln!(
        "{:<14} {:<24} {:>9} {:>12} {:>10} {:>19} {:>11}",
        "variant",
        "handler",
        "base risk",
        "variant risk",
        "difference",
        "95% CI",
        "significant"
    );
    for (t, r, p) in rows {
        let (d, lo, hi) = (
            r.risk_diff.unwrap_or(f64::NAN),
            r.risk_diff_low.unwrap_or(f64::NAN),
            r.risk_diff_high.unwrap_or(f64::NAN),
        );
        crate::outln!(
            "{:<14} {:<24} {:>9} {:>12} {:>10} {:>19} {:>11}",
            truncate(&t.variant, 14),
            truncate(&t.handler, 24),
            fmt_f(p.base_risk(plan.rare_event.is_some()), 4),
            fmt_f(r.risk, 4),
            fmt_f(d, 4),
            format!("[{}, {}]", fmt_f(lo, 4), fmt_f(hi, 4)),
            if crate::risk::significant(lo, hi) {
                "yes"
            } else {
                "no"
            }
        );
    }
    crate::outln!(
        "interval: {}",
        if plan.rare_event.is_some() {
            "normal interval of the mean paired weighted difference (importance sampling)"
        } else {
            "Newcombe's paired score interval (method 10); significant when it excludes 0"
        }
    );
}

pub(crate) fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// `preflight validate`.
pub fn validate(path: &Path, access: FileAccess) -> Result<ExitCode, CliError> {
    let loaded = load_or_report(path, access)?;
    // Variants must apply and every variant must compile, too.
    let variants = prepare_variants(&loaded, "all")?;
    let s = &loaded.scenario;
    crate::outln!(
        "{}: ok — {} resources, {} dependencies, {} handlers, {} workloads, {} injections, {} variants",
        path.display(),
        s.resources.len(),
        s.dependencies.len(),
        s.handlers.len(),
        s.workload.len(),
        s.injections.len(),
        variants.len() - 1
    );
    for note in unsupported_notes(s) {
        eprintln!("preflight: note: {}: {note}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `preflight analyze`: the static failure points of the selected variants
/// (`crate::analyze`), as a table or, with `json`, a JSON array on stdout.
/// Advisory: exit 0 whatever it finds; 2 on bad input.
pub fn analyze(
    path: &Path,
    selection: &str,
    json: bool,
    access: FileAccess,
) -> Result<ExitCode, CliError> {
    let loaded = load_or_report(path, access)?;
    let mut findings = Vec::new();
    for v in prepare_variants(&loaded, selection)? {
        findings.extend(crate::analyze::analyze(&v.model).into_iter().map(|mut f| {
            f.variant = v.name.to_string();
            f
        }));
    }
    crate::analyze::sort(&mut findings);
    let text = if json {
        crate::analyze::render_json(&findings)
    } else {
        crate::analyze::render_table(&findings)
    };
    crate::outln!("{}", text.trim_end());
    Ok(ExitCode::SUCCESS)
}

/// `preflight paths`: for each service path, the `k` cheapest compositions
/// and the placement chosen (`crate::paths`) with the nodes of `down`
/// failed, as a table or, with `json`, a JSON array on stdout. Advisory:
/// exit 0 even when a path misses its QoS; 2 on bad input.
pub fn paths(
    path: &Path,
    k: usize,
    down: &[String],
    json: bool,
    access: FileAccess,
) -> Result<ExitCode, CliError> {
    let loaded = load_or_report(path, access)?;
    let empirical: Empirical = loaded
        .empirical
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let model =
        sim_models::paths::PathModel::compile(&loaded.scenario, &empirical).map_err(|errs| {
            let lines: Vec<String> = errs
                .iter()
                .map(|e| format!("preflight: {}: {e}", path.display()))
                .collect();
            CliError::input(lines.join("\n"))
        })?;
    let down = crate::paths::exclusions(&model, down)
        .map_err(|m| CliError::input(format!("preflight: {}: {m}", path.display())))?;
    let outcomes = crate::paths::report(&model, k, &down);
    let text = if json {
        crate::paths::render_json(&model, &outcomes)
    } else {
        crate::paths::render_text(&model, k, &down, &outcomes)
    };
    crate::outln!("{}", text.trim_end());
    Ok(ExitCode::SUCCESS)
}

/// `preflight schema`.
pub fn schema() -> Result<ExitCode, CliError> {
    crate::outln!("{}", crate::scenario::json_schema());
    Ok(ExitCode::SUCCESS)
}
