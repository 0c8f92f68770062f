//! The commands behind the CLI: each returns an exit code or a [`CliError`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use sim_models::compile::{Empirical, compile};
use sim_models::spec::Scenario;

use crate::output::RunWriter;
use crate::run::{ModeSel, PreparedVariant, RunPlan, RunReport, default_out_dir, run_all};
use crate::scenario::{Loaded, apply_variant, load};

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
}

fn load_or_report(path: &Path) -> Result<Loaded, CliError> {
    load(path).map_err(|e| {
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
    })
}

/// Applies the selected variants and compiles each.
pub fn prepare_variants(
    loaded: &Loaded,
    selection: &str,
) -> Result<Vec<PreparedVariant>, CliError> {
    let base = &loaded.scenario;
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
    let loaded = load_or_report(&opts.scenario)?;
    let variants = prepare_variants(&loaded, &opts.variant)?;
    let s = &loaded.scenario;
    if s.workload.is_empty() && !s.paths.is_empty() {
        return Err(CliError::input(format!(
            "preflight: {}: paths: service paths are not simulated yet; `preflight run` needs handlers with a `workload:`",
            loaded.file.display()
        )));
    }
    if !opts.quiet {
        for note in unsupported_notes(s) {
            eprintln!("preflight: note: {}: {note}", loaded.file.display());
        }
    }
    check_size(&loaded, &variants, opts.quiet)?;
    if matches!(opts.mode, ModeSel::Targeted) && s.injections.is_empty() {
        return Err(CliError::input(format!(
            "preflight: {}: injections: --mode targeted needs at least one entry in `injections:`",
            loaded.file.display()
        )));
    }
    let plan = RunPlan {
        campaigns: opts.campaigns.or(s.campaigns).unwrap_or(1000).max(1),
        seed: opts.seed.or(s.seed).unwrap_or(0),
        threads: opts.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }),
        mode: opts.mode,
        progress: !opts.quiet,
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
    let mut writer = RunWriter::create(&out_dir)
        .map_err(|e| CliError::input(format!("preflight: --out {}: {e}", out_dir.display())))?;
    let report = run_all(&variants, &plan, &mut writer).map_err(|e| CliError {
        message: format!("preflight: run failed: {e:#}"),
        code: 3,
    })?;
    let manifest = manifest(&loaded, &variants, &plan, &report, opts);
    let summary = writer
        .finish(&report.risk, &manifest)
        .map_err(|e| CliError::input(format!("preflight: writing {}: {e}", out_dir.display())))?;
    if !opts.quiet {
        print_summary(&report, &plan);
        println!(
            "\n{} campaigns in {:.2} s ({:.0} campaigns/s, {:.1} M events/s) → {}",
            report.campaigns_run,
            report.wall_s,
            report.campaigns_run as f64 / report.wall_s.max(1e-9),
            report.events as f64 / report.wall_s.max(1e-9) / 1e6,
            summary.out_dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Workload requests per campaign above which a run is refused: at request
/// level such a campaign takes many minutes and a run of them days.
pub const MAX_REQUESTS_PER_CAMPAIGN: f64 = 1e8;

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
        return Err(CliError::input(format!(
            "preflight: {}: horizon: variant `{}` expects {:.0} million requests per campaign ({} of simulated time); \
             request-level simulation of windows this long is not practical (the two-scale method for long windows is not built yet). \
             Use a shorter `horizon:` (minutes to hours).",
            loaded.file.display(),
            v.name,
            n / 1e6,
            sim_models::spec::Duration::from_secs(v.model.horizon.as_secs_f64()),
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

/// Sections a scenario may hold that this version parses and validates but
/// does not simulate yet: said once per run, so nobody mistakes them for used.
pub fn unsupported_notes(s: &Scenario) -> Vec<&'static str> {
    let mut notes = Vec::new();
    if s.failure_injection_profile
        .as_ref()
        .is_some_and(|p| p.enabled)
    {
        notes.push("failure_injection_profile: the runtime injection module is not built yet; natural campaigns run without scheduled injections");
    }
    if s.historical_faults.is_some() {
        notes.push("historical_faults: refitting failure modes from incident history is not built yet; the file is not read");
    }
    if s.telemetry.is_some() {
        notes.push("telemetry: forecasting is not built yet; the file is not read");
    }
    if !s.paths.is_empty() {
        notes.push("paths: service paths are not simulated yet");
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
        "wall_time_s": report.wall_s,
        "campaigns_run": report.campaigns_run,
        "events": report.events,
        "risk_definition": "breaches / campaigns over natural-mode campaigns; 95% Wilson interval",
    })
}

fn fmt_f(x: f64, digits: usize) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format!("{x:.digits$}")
    }
}

/// Prints the variant × handler table, then the targeted campaigns' table.
pub fn print_summary(report: &RunReport, plan: &RunPlan) {
    print_risk(report, plan);
    if report.injections.is_empty() {
        return;
    }
    println!(
        "\ntargeted campaigns (the injection is the only fault):\n{:<14} {:<24} {:>10} {:>12} {:>14}",
        "variant", "injection", "err rate", "availability", "SLO breached"
    );
    for t in &report.injections {
        let err = if t.requests == 0 {
            f64::NAN
        } else {
            t.errors as f64 / t.requests as f64
        };
        println!(
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
        println!("(no natural-mode campaigns: no risk to report)");
        return;
    }
    println!(
        "{:<14} {:<24} {:>12} {:>10} {:>10} {:>8} {:>17} {:>9}",
        "variant", "handler", "requests", "err rate", "p99 ms", "risk", "95% CI", "threshold"
    );
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
        println!(
            "{:<14} {:<24} {:>12} {:>10} {:>10} {:>8} {:>17} {:>9}{}",
            truncate(&t.variant, 14),
            truncate(&t.handler, 24),
            t.requests,
            fmt_f(err, 5),
            fmt_f(p99, 1),
            fmt_f(r.risk, 4),
            format!("[{}, {}]", fmt_f(r.ci_low, 4), fmt_f(r.ci_high, 4)),
            fmt_f(r.threshold, 3),
            if r.over_threshold { "  OVER" } else { "" }
        );
    }
    println!(
        "risk = P(SLO breached within a campaign) over {} natural campaigns per variant (seed {}); p99 is the mean of per-campaign p99s",
        plan.campaigns, plan.seed
    );
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// `preflight validate`.
pub fn validate(path: &Path) -> Result<ExitCode, CliError> {
    let loaded = load_or_report(path)?;
    // Variants must apply and every variant must compile, too.
    let variants = prepare_variants(&loaded, "all")?;
    let s = &loaded.scenario;
    println!(
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

/// `preflight schema`.
pub fn schema() -> Result<ExitCode, CliError> {
    println!("{}", crate::scenario::json_schema());
    Ok(ExitCode::SUCCESS)
}
