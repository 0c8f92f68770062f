//! The commands behind the CLI: each runs the engine and prints what it
//! returns; errors go back to `main`, which maps them to exit codes.

use std::path::Path;
use std::process::ExitCode;

use sim_engine::Error;
use sim_engine::gate::Verdict;
use sim_engine::job::{RunOptions, RunOutcome, execute};
use sim_engine::prepare::{load, prepare_variants};
use sim_engine::risk::{Decision, campaigns_to_decide, decide};
use sim_engine::run::{CampaignModes, RunPlan, RunReport};
use sim_engine::scenario::FileAccess;
use sim_engine::telemetry::WITHOUT_TELEMETRY;
use sim_engine::text::{fmt_f, fmt_span, truncate};

/// `preflight run`.
pub fn run(opts: &RunOptions, with_report: bool) -> Result<ExitCode, Error> {
    let done = execute(opts)?;
    report(opts, &done);
    if with_report {
        run_report(opts, &done)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `run --report`: the run directory's `report.html`.
fn run_report(opts: &RunOptions, done: &sim_engine::job::RunOutcome) -> Result<(), Error> {
    let Some(dir) = &done.out_dir else {
        return Ok(());
    };
    let out = dir.join(sim_report::REPORT_FILE);
    let bytes = sim_report::write(dir, &out).map_err(report_error)?;
    if !opts.quiet {
        crate::outln!(
            "report: {} ({})",
            out.display(),
            sim_engine::limits::fmt_bytes(bytes)
        );
    }
    Ok(())
}

fn report_error(e: sim_report::Error) -> Error {
    match e {
        sim_report::Error::Input(m) => Error::Input(m),
        sim_report::Error::Environment(m) => Error::Environment(m),
        sim_report::Error::Internal(m) => Error::Internal(m),
    }
}

/// `preflight report RUN_DIR`.
pub fn report_cmd(args: &crate::args::ReportArgs) -> Result<ExitCode, Error> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.run_dir.join(sim_report::REPORT_FILE));
    let start = std::time::Instant::now();
    let bytes = sim_report::write(&args.run_dir, &out).map_err(report_error)?;
    crate::outln!(
        "report: {} ({}, {:.2} s)",
        out.display(),
        sim_engine::limits::fmt_bytes(bytes),
        start.elapsed().as_secs_f64()
    );
    if args.open {
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        if let Err(e) = std::process::Command::new(opener)
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            eprintln!(
                "preflight: report: --open: {opener}: {e}; open {} yourself",
                out.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The summary of a finished run, unless quiet.
fn report(opts: &RunOptions, done: &sim_engine::job::RunOutcome) {
    if !opts.quiet {
        if done.handler_campaigns {
            print_summary(&done.report, &done.plan);
        }
        if let Some(t) = &done.telemetry {
            print_telemetry(t, &done.report);
        }
        let mut text = String::new();
        sim_engine::service_paths::campaigns::render_summary(&done.paths, &mut text);
        sim_engine::predict::render_top(&done.predicted, 10, &mut text);
        if let Some(rem) = &done.remediation {
            sim_engine::remediate::render(rem, done.report.base.as_ref(), &mut text);
        }
        crate::console::write_str(&text);
        print_footer(done);
    }
}

/// `run --shard I/N|auto`: runs one shard's ranges and writes their parts.
pub fn shard(opts: &RunOptions, shard: &str) -> Result<ExitCode, Error> {
    let (index, count) = parse_shard(shard)?;
    let done = sim_engine::shard::execute_shard(opts, index, count)?;
    if !opts.quiet {
        println!(
            "shard {}/{}: {} of the run's {} ranges are this shard's; {} run now ({} campaigns), {} found done → {}",
            done.shard.0,
            done.shard.1,
            done.owned,
            done.ranges,
            done.ran,
            done.campaigns,
            done.kept,
            done.dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `I/N`, or `auto`: the array task's index and count from the batch
/// scheduler's environment (Slurm arrays; Kubernetes Indexed Jobs, whose
/// completions the job passes as `PREFLIGHT_SHARDS`).
fn parse_shard(s: &str) -> Result<(u64, u64), Error> {
    let bad = |why: String| Error::input(format!("preflight: --shard {s}: {why}"));
    let num = |name: &str, v: &str| {
        v.trim()
            .parse::<u64>()
            .map_err(|_| bad(format!("{name}={v:?} is not a whole number")))
    };
    if s != "auto" {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| bad("expected I/N (shard I of N, from 0) or `auto`".into()))?;
        return Ok((num("I", i)?, num("N", n)?));
    }
    let var = |k: &str| std::env::var(k).ok();
    if let Some(i) = var("SLURM_ARRAY_TASK_ID") {
        let n = var("SLURM_ARRAY_TASK_COUNT").ok_or_else(|| {
            bad("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not".into())
        })?;
        let min = var("SLURM_ARRAY_TASK_MIN").map_or(Ok(0), |m| num("SLURM_ARRAY_TASK_MIN", &m))?;
        let i = num("SLURM_ARRAY_TASK_ID", &i)?;
        return Ok((i.saturating_sub(min), num("SLURM_ARRAY_TASK_COUNT", &n)?));
    }
    if let Some(i) = var("JOB_COMPLETION_INDEX") {
        let n = var("PREFLIGHT_SHARDS").ok_or_else(|| {
            bad("JOB_COMPLETION_INDEX is set but PREFLIGHT_SHARDS (the Indexed Job's completions) is not; see deploy/kubernetes/indexed-job.yaml".into())
        })?;
        return Ok((
            num("JOB_COMPLETION_INDEX", &i)?,
            num("PREFLIGHT_SHARDS", &n)?,
        ));
    }
    Err(bad(
        "no batch array here: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set; give I/N".into(),
    ))
}

/// `run --cluster ADDR`: coordinates a worker pool, then prints the run
/// as `run` does.
pub fn cluster(
    opts: &RunOptions,
    mut cluster: sim_cluster::ClusterOptions,
    secret_file: Option<&std::path::Path>,
    with_report: bool,
) -> Result<ExitCode, Error> {
    cluster.secret = sim_cluster::read_secret(secret_file)?;
    let done = sim_cluster::run(opts, &cluster)?;
    report(opts, &done);
    if with_report {
        run_report(opts, &done)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `preflight worker --connect ADDR`.
pub fn worker(args: &crate::args::WorkerArgs) -> Result<ExitCode, Error> {
    let opts = sim_cluster::WorkerOptions {
        connect: args.connect,
        secret: sim_cluster::read_secret(args.secret_file.as_deref())?,
        threads: args.threads.map(|t| t as usize),
        quiet: args.quiet,
        tls: args.tls_ca.clone().map(|ca| sim_cluster::ClientTls {
            ca,
            name: args.tls_name.clone(),
        }),
    };
    sim_cluster::work(&opts)?;
    Ok(ExitCode::SUCCESS)
}

/// `preflight merge DIR… --out RUN_DIR`.
pub fn merge(args: &crate::args::MergeArgs) -> Result<ExitCode, Error> {
    let spec = sim_engine::shard::read_specs(&args.dirs)?;
    let mut opts = sim_engine::shard::merge_options(spec, args.dirs.clone(), args.out.clone())?;
    opts.threads = args.threads.map(|t| t as usize);
    opts.quiet = args.quiet;
    opts.command_line = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    run(&opts, false)
}

/// Where the time went, from the phases `manifest.json` records: one line.
fn time_line(p: &sim_output::manifest::Phases) -> Option<String> {
    let total = *p.wall_s.get("total")?;
    let parts: Vec<String> = p
        .order
        .iter()
        .filter_map(|n| {
            let s = *p.wall_s.get(n)?;
            (s >= 0.05).then(|| format!("{n} {s:.1} s"))
        })
        .collect();
    let cpu = p
        .cpu_s
        .as_ref()
        .and_then(|c| c.get("total").copied().flatten())
        .map_or(String::new(), |c| format!(", {c:.1} s of CPU"));
    Some(format!(
        "time: {} (total {total:.1} s wall{cpu}; manifest.json phases)",
        parts.join(", ")
    ))
}

/// Where the results went, for the footer.
fn out_dir(done: &RunOutcome) -> String {
    done.out_dir.as_ref().map_or_else(
        || "no run directory (--out DIR keeps one)".to_owned(),
        |d| d.display().to_string(),
    )
}

fn print_footer(done: &RunOutcome) {
    let report = &done.report;
    if done.handler_campaigns {
        crate::outln!(
            "\n{} campaigns in {:.2} s ({:.0} campaigns/s, {:.1} M events/s) → {}",
            report.campaigns_run,
            report.wall_s,
            report.campaigns_run as f64 / report.wall_s.max(1e-9),
            report.events as f64 / report.wall_s.max(1e-9) / 1e6,
            out_dir(done)
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
            out_dir(done)
        );
    }
    if let Some(line) = time_line(&done.phases) {
        crate::outln!("{line}");
    }
    if let Some(rem) = done.remediation.as_ref().filter(|r| r.campaigns_run > 0) {
        crate::outln!(
            "remediation: {} more campaigns in {:.2} s (not written to campaigns/handlers.parquet)",
            rem.campaigns_run,
            rem.wall_s
        );
    }
}

/// `preflight gate`: runs natural campaigns and decides per handler on the
/// risk's interval against `risk.gate` (`sim_engine::gate`): fail when it
/// lies above, pass when at or below, undecided when it still straddles the
/// gate at the campaign cap (which fails unless `undecided_passes`). The
/// calibrated risk and interval are used where a map exists. Prints a
/// verdict per handler with its interval and top failure contributors, or
/// the same as JSON with `json`. Exit 1 when the gate fails.
pub fn gate(opts: &RunOptions, json: bool, undecided_passes: bool) -> Result<ExitCode, Error> {
    let opts = RunOptions {
        mode: CampaignModes::Natural,
        quiet: opts.quiet || json,
        against_gate: true,
        remediate: None,
        live_injection: false,
        service_paths: false,
        // No run directory unless asked for.
        write: opts.out.is_some(),
        ..opts.clone()
    };
    let done = execute(&opts)?;
    let weighted = done.plan.rare_event.is_some();
    let z = done.plan.decide_z;
    let level = sim_engine::gate::level_of(z);
    let mut rows = Vec::new();
    let mut counts = [0usize; 3];
    for (t, r) in done.report.tallies.iter().zip(&done.report.risk) {
        if !r.has_slo {
            // No objective, nothing to decide: listed, never counted.
            rows.push(serde_json::json!({
                "variant": &*t.variant,
                "handler": &*t.handler,
                "verdict": "no_slo",
                "campaigns": t.campaigns,
                "decided": false,
            }));
            continue;
        }
        let v =
            sim_engine::gate::verdict(t, r, done.gate, z, weighted, done.calibration_map.as_ref());
        counts[match v.verdict {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Undecided => 2,
        }] += 1;
        rows.push(serde_json::json!({
            "variant": &*t.variant,
            "handler": &*t.handler,
            "verdict": v.verdict.as_str(),
            "risk": r.risk,
            "calibrated_risk": r.calibrated_risk,
            "ci_low": v.interval.0,
            "ci_high": v.interval.1,
            "campaigns": t.campaigns,
            "breaches": t.breaches,
            "gate": done.gate,
            "decided": v.verdict != Verdict::Undecided,
            "campaigns_to_decide": (v.verdict == Verdict::Undecided)
                .then(|| campaigns_to_decide(v.risk, done.gate))
                .flatten(),
            "threshold": r.threshold,
            "breached_without_faults": r.breached_without_faults,
            "fault_free_campaigns": r.fault_free_campaigns,
            "fault_free_breaches": r.fault_free_breaches,
            "criticality": &*r.criticality,
            "top_contributors": t.top_contributors(3),
        }));
    }
    let [pass, fail, undecided] = counts;
    let window_s = done.report.risk.first().map_or(0.0, |r| r.window_s);
    let failed = fail > 0 || (undecided > 0 && !undecided_passes);
    let verdict = if fail > 0 {
        "fail"
    } else if undecided > 0 {
        "undecided"
    } else {
        "pass"
    };
    if json {
        let out = serde_json::json!({
            "scenario": opts.scenario.display().to_string(),
            "verdict": verdict,
            "exit_code": u8::from(failed),
            "undecided_policy": if undecided_passes { "pass" } else { "fail" },
            "gate": done.gate,
            "interval_level": level,
            "window_s": window_s,
            "risk_window_s": done.report.risk_window_s,
            "window_note": window_note(window_s, done.report.risk_window_s),
            "seed": done.plan.seed,
            "campaigns_run": done.report.campaigns_run,
            "run_dir": done.out_dir.as_ref().map(|d| d.display().to_string()),
            "handlers": rows,
            "telemetry": done.telemetry.as_ref().map(|t| serde_json::json!({
                "file": t.file.display().to_string(),
                "raised": t.raised,
                "notes": t.notes,
            })),
        });
        let text = serde_json::to_string_pretty(&out).expect("JSON of plain values");
        crate::outln!("{text}");
    } else {
        print_gate(&done, &rows, level);
        for t in done
            .report
            .tallies
            .iter()
            .filter(|t| t.breaches_without_faults())
        {
            crate::outln!("{}", no_fault_line(t));
        }
        crate::outln!(
            "risk = P(SLO breached within {}, one campaign), natural faults only",
            fmt_span(window_s)
        );
        if let Some(note) = window_note(window_s, done.report.risk_window_s) {
            crate::outln!("{note}");
        }
        crate::outln!(
            "gate: {} ({pass} pass, {fail} fail, {undecided} undecided{})",
            if failed { "FAIL" } else { "pass" },
            if undecided > 0 {
                if undecided_passes {
                    "; undecided passes (--undecided pass)"
                } else {
                    "; undecided fails (--undecided pass to let it through)"
                }
            } else {
                ""
            }
        );
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

fn print_gate(done: &RunOutcome, rows: &[serde_json::Value], level: f64) {
    crate::outln!(
        "{:<14} {:<24} {:>9} {:>8} {:>17} {:>7} {:>9}  top failure contributors (share of breaches)",
        "variant",
        "handler",
        "verdict",
        "risk",
        format!("{:.1}% CI", 100.0 * level),
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
            "{:<14} {:<24} {:>9} {:>8} {:>17} {:>7} {:>9}  {}",
            truncate(&t.variant, 14),
            truncate(&t.handler, 24),
            match row["verdict"].as_str() {
                Some("fail") => "FAIL",
                Some("undecided") => "UNDECIDED",
                Some("no_slo") => "no SLO",
                _ => "pass",
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
                "{:<40} the interval straddles the gate after {} campaigns: about {n} would decide it (--until-decided CAP)",
                "",
                t.campaigns
            );
        }
    }
}

/// Prints the variant × handler table, the what-if differences of the
/// variants, then the targeted campaigns' table.
pub fn print_summary(report: &RunReport, plan: &RunPlan) {
    print_risk(report, plan);
    print_programme(report);
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
        if !r.has_slo {
            // Nothing can breach: no risk, no decision.
            crate::outln!(
                "{:<14} {:<24} {:>12} {:>10} {:>10} {:>8} {:>17} {:>9} {:>9}",
                truncate(&t.variant, 14),
                truncate(&t.handler, 24),
                t.requests,
                fmt_f(err, 5),
                fmt_f(p99, 1),
                "-",
                "no SLO",
                "-",
                "-"
            );
            continue;
        }
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
    let horizon = report.risk.first().map_or(0.0, |r| r.window_s);
    crate::outln!(
        "risk = P(SLO breached within {}, one campaign) over {} natural campaigns per variant (seed {}), natural faults only; p99 is the mean of per-campaign p99s",
        fmt_span(horizon),
        if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}–{hi}")
        },
        plan.seed
    );
    if let Some(note) = window_note(horizon, report.risk_window_s) {
        crate::outln!("{note}");
    }
    crate::outln!(
        "decision: OVER/UNDER when the whole 95% interval lies above / at or below the threshold; UNDECIDED when it straddles it"
    );
    for t in report
        .tallies
        .iter()
        .filter(|t| t.breaches_without_faults())
    {
        crate::outln!("{}", no_fault_line(t));
    }
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

/// What a handler whose SLO is breached with no fault at all is told.
fn no_fault_line(t: &sim_engine::run::HandlerTally) -> String {
    let (err, p99) = t.fault_free_figures();
    format!(
        "  {} / {}: the SLO is breached with no fault at all ({} of {} fault-free campaigns; healthy error rate {}, p99 {} ms): a capacity or objective problem, not a resilience one. Add capacity (replicas, concurrency) or revisit the objective; remediation tries capacity changes only",
        t.variant,
        t.handler,
        t.fault_free_breaches,
        t.fault_free,
        fmt_f(err, 5),
        fmt_f(p99, 1)
    )
}

/// What a risk over campaigns of `horizon_s` is not, when the scenario's
/// `risk.window` is longer: said on every output that names the window.
pub fn window_note(horizon_s: f64, risk_window_s: f64) -> Option<String> {
    (horizon_s > 0.0 && horizon_s + 1e-9 < risk_window_s).then(|| {
        format!(
            "note: this risk is per {h} (the campaign horizon), not per the scenario's risk.window of {w}: the thresholds and the likelihoods of scenarios.parquet are per {w}. For risk per {w}, set `horizon: {w}` (the two-scale method runs it; docs/two-scale.md).",
            h = fmt_span(horizon_s),
            w = fmt_span(risk_window_s)
        )
    })
}

/// The risk with the injection programme running, and what it adds to
/// the natural risk over the same campaigns.
fn print_programme(report: &RunReport) {
    let rows: Vec<_> = report
        .tallies
        .iter()
        .zip(&report.risk)
        .filter(|(_, r)| r.programme_risk.is_some() && r.has_slo)
        .collect();
    if rows.is_empty() {
        return;
    }
    crate::outln!(
        "
with the injection programme running (failure_injection_profile, on the same campaigns): risk added by running it"
    );
    crate::outln!(
        "{:<14} {:<24} {:>9} {:>14} {:>10} {:>19}",
        "variant",
        "handler",
        "natural",
        "with programme",
        "added",
        "95% CI"
    );
    let f = |x: Option<f64>| x.unwrap_or(f64::NAN);
    for (t, r) in rows {
        crate::outln!(
            "{:<14} {:<24} {:>9} {:>14} {:>10} {:>19}",
            truncate(&t.variant, 14),
            truncate(&t.handler, 24),
            fmt_f(r.risk, 4),
            fmt_f(f(r.programme_risk), 4),
            fmt_f(f(r.programme_added), 4),
            format!(
                "[{}, {}]",
                fmt_f(f(r.programme_added_low), 4),
                fmt_f(f(r.programme_added_high), 4)
            )
        );
    }
    crate::outln!(
        "the headline risk and the gate are natural faults only; programme campaigns are mode `programme` in campaigns.parquet, their events in events.parquet"
    );
}

/// The variants' risk differences with the base, paired campaign by
/// campaign, with their 95% intervals.
/// What the telemetry said, the hazards it raised, and how much each risk
/// moved: the base against [`WITHOUT_TELEMETRY`] on the same campaigns.
fn print_telemetry(t: &sim_engine::telemetry::TelemetryPlan, report: &RunReport) {
    let window = fmt_span(t.window_s);
    crate::outln!(
        "\ntelemetry ({}): forecast {} ahead; a crossing raises its failure mode's hazard over the {window} risk window",
        t.file.display(),
        fmt_span(t.raised.first().map_or(0.0, |r| r.horizon_s))
    );
    if t.raised.is_empty() {
        crate::outln!("  no series with a threshold on a resource of the scenario: nothing raised");
    }
    for r in &t.raised {
        crate::outln!(
            "  {}/{} → {}: P(crosses within the horizon) {}{}; model {}; {} per {window} (natural: {})",
            r.resource,
            r.threshold,
            r.mode,
            fmt_f(r.probability, 3),
            r.time_to_crossing_s
                .map(|s| format!(", in {} on average when it does", fmt_span(s)))
                .unwrap_or_default(),
            r.model,
            if r.rate_per_s > 0.0 {
                format!("adds {} onsets", fmt_f(r.rate_per_s * t.window_s, 3))
            } else {
                "adds no onset".to_string()
            },
            fmt_f(r.natural_rate_per_s * t.window_s, 3)
        );
        for (id, without, with) in &r.scenarios {
            crate::outln!(
                "    scenario {id}: likelihood per {window} {} → {}",
                fmt_f(*without, 3),
                fmt_f(*with, 3)
            );
        }
    }
    let moved: Vec<_> = report
        .tallies
        .iter()
        .zip(&report.risk)
        .filter(|(tally, r)| &*tally.variant == WITHOUT_TELEMETRY && r.has_slo)
        .collect();
    if moved.is_empty() {
        return;
    }
    crate::outln!(
        "risk moved by telemetry: risk(base) − risk(base without the raised hazards), same campaigns\n  {:<24} {:>9} {:>9} {:>9} {:>19} {:>11}",
        "handler",
        "without",
        "with",
        "moved",
        "95% CI",
        "significant"
    );
    for (tally, r) in moved {
        let with = report
            .risk
            .iter()
            .find(|b| &*b.variant == "base" && b.handler == r.handler)
            .map_or(f64::NAN, |b| b.risk);
        let (d, lo, hi) = (
            0.0 - r.risk_diff.unwrap_or(f64::NAN),
            0.0 - r.risk_diff_high.unwrap_or(f64::NAN),
            0.0 - r.risk_diff_low.unwrap_or(f64::NAN),
        );
        crate::outln!(
            "  {:<24} {:>9} {:>9} {:>9} {:>19} {:>11}",
            truncate(&tally.handler, 24),
            fmt_f(r.risk, 4),
            fmt_f(with, 4),
            fmt_f(d, 4),
            format!("[{}, {}]", fmt_f(lo, 4), fmt_f(hi, 4)),
            if sim_engine::risk::significant(lo, hi) {
                "yes"
            } else {
                "no"
            }
        );
    }
}

fn print_what_if(report: &RunReport, plan: &RunPlan) {
    let rows: Vec<_> = report
        .tallies
        .iter()
        .zip(&report.risk)
        // The comparison with the telemetry's hazards has its own section.
        .filter(|(t, _)| &*t.variant != WITHOUT_TELEMETRY)
        // A handler without an SLO has no risk to compare.
        .filter(|(_, r)| r.has_slo)
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
            if sim_engine::risk::significant(lo, hi) {
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

/// `preflight validate`.
pub fn validate(path: &Path, access: FileAccess) -> Result<ExitCode, Error> {
    let loaded = load(path, access)?;
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
    if let Some(t) = sim_engine::telemetry::select(&loaded, None, &variants[0].model)? {
        crate::outln!(
            "{}: telemetry {}: {} series forecast before a run ({}), over {}",
            path.display(),
            t.file.display(),
            t.series.len(),
            t.series
                .iter()
                .zip(&t.thresholds)
                .map(|(s, th)| format!("{}/{} → {}", s.resource, s.metric, th.mode))
                .collect::<Vec<_>>()
                .join(", "),
            sim_engine::text::fmt_span(t.horizon_s)
        );
        for note in &t.notes {
            eprintln!("preflight: note: {}: telemetry: {note}", path.display());
        }
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
    fail_on: Option<sim_engine::analyze::Level>,
    access: FileAccess,
) -> Result<ExitCode, Error> {
    let mut notes = Vec::new();
    let loaded = match sim_import::is_importable(path) {
        None => load(path, access)?,
        Some(source) => {
            // A template, not a scenario: import it first, and say so.
            let imported = sim_import::import(&[path.to_path_buf()], Some(source))?;
            eprintln!(
                "preflight: analyze: {} is a {} input, not a scenario: imported first (`preflight import {}` prints the scenario analysed)",
                path.display(),
                source.name(),
                path.display()
            );
            for n in imported.graph.nodes.values() {
                for note in &n.notes {
                    notes.push(format!(
                        "{} ({}, {}:{}): {note}",
                        n.id, n.kind, n.file, n.line
                    ));
                }
            }
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "imported".into());
            let text = sim_import::scenario(&imported, &stem);
            sim_engine::scenario::load_bytes(
                text.as_bytes(),
                sim_engine::scenario::Format::Yaml,
                &path.with_extension("imported.yaml"),
            )
            .map_err(|e| {
                Error::Internal(format!(
                    "preflight: analyze: the scenario imported from {} does not validate:\n{e}",
                    path.display()
                ))
            })?
        }
    };
    let mut findings = Vec::new();
    for v in prepare_variants(&loaded, selection)? {
        findings.extend(
            sim_engine::analyze::analyze(&v.model)
                .into_iter()
                .map(|mut f| {
                    f.variant = v.name.to_string();
                    f
                }),
        );
    }
    sim_engine::analyze::sort(&mut findings);
    let text = if json {
        sim_engine::analyze::render_json(&findings)
    } else {
        sim_engine::analyze::render_table(&findings)
    };
    crate::outln!("{}", text.trim_end());
    if !notes.is_empty() && !json {
        crate::outln!("\nfrom the template itself:");
        for n in &notes {
            crate::outln!("  {n}");
        }
    }
    // Levels are ordered most severe first.
    let failing = fail_on.map_or(0, |at| findings.iter().filter(|f| f.severity <= at).count());
    if failing > 0 {
        if !json {
            crate::outln!(
                "analyze: {failing} finding(s) at `{}` or above (--fail-on)",
                fail_on.map_or("", |l| l.as_str())
            );
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON object `gate --json` prints on stdout when it cannot decide:
/// `{"verdict": "error", "exit_code": n, "error": {"kind", "message"}}`.
pub fn print_json_error(e: &Error, exit_code: u8) {
    let kind = match e {
        Error::Input(_) => "input",
        Error::Output { .. } => "output",
        Error::Environment(_) => "environment",
        Error::Internal(_) => "internal",
    };
    let out = serde_json::json!({
        "verdict": "error",
        "exit_code": exit_code,
        "error": { "kind": kind, "message": e.to_string() },
    });
    crate::outln!(
        "{}",
        serde_json::to_string_pretty(&out).expect("JSON of plain values")
    );
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
) -> Result<ExitCode, Error> {
    let loaded = load(path, access)?;
    let empirical = loaded.empirical_tables();
    let model =
        sim_models::paths::PathModel::compile(&loaded.scenario, &empirical).map_err(|errs| {
            let lines: Vec<String> = errs
                .iter()
                .map(|e| format!("preflight: {}: {e}", path.display()))
                .collect();
            Error::input(lines.join("\n"))
        })?;
    let down = sim_engine::service_paths::solve::exclusions(&model, down)
        .map_err(|m| Error::input(format!("preflight: {}: {m}", path.display())))?;
    let outcomes = sim_engine::service_paths::solve::report(&model, k, &down);
    let text = if json {
        sim_engine::service_paths::solve::render_json(&model, &outcomes)
    } else {
        sim_engine::service_paths::solve::render_text(&model, k, &down, &outcomes)
    };
    crate::outln!("{}", text.trim_end());
    Ok(ExitCode::SUCCESS)
}

/// `preflight schema [--exports]`.
pub fn schema(exports: bool) -> Result<ExitCode, Error> {
    if exports {
        crate::outln!("{}", sim_export::thresholds_schema().trim_end());
    } else {
        crate::outln!("{}", sim_engine::scenario::json_schema());
    }
    Ok(ExitCode::SUCCESS)
}

/// `preflight forecast TELEMETRY`.
pub fn forecast(args: &crate::args::ForecastArgs) -> Result<ExitCode, Error> {
    let opts = sim_forecast::ForecastOptions {
        file: args.telemetry.clone(),
        naming: sim_forecast::Naming {
            resource: args.resource.clone(),
            metric: args.metric.clone(),
            resource_label: args.resource_label.clone(),
            metric_label: args.metric_label.clone(),
        },
        horizon_s: args.horizon.secs(),
        levels: {
            let mut l = args.level.clone();
            l.sort_by(f64::total_cmp);
            l.dedup();
            l
        },
        thresholds: args.threshold.clone(),
        periods: args
            .season
            .clone()
            .map(|s| s.into_iter().filter(|p| *p > 1).collect()),
        fit_window: args.fit_window,
        backtest: args.backtest,
    };
    if let Some(out) = &args.out
        && out.exists()
    {
        let same = std::fs::canonicalize(out).ok() == std::fs::canonicalize(&args.telemetry).ok();
        if same || !sim_forecast::is_forecast_parquet(out) {
            return Err(Error::input(format!(
                "preflight: forecast: --out {}: the file exists and is not a forecast.parquet written earlier{}; not replaced (remove it or choose another path)",
                out.display(),
                if same {
                    " (it is the telemetry itself)"
                } else {
                    ""
                }
            )));
        }
    }
    let bytes =
        sim_engine::inputs::read_regular(&args.telemetry, sim_engine::inputs::MAX_DATA_FILE_BYTES)
            .map_err(|e| {
                Error::input(format!(
                    "preflight: forecast: {}: {e}",
                    args.telemetry.display()
                ))
            })?;
    let results = sim_forecast::run(&opts, &bytes)?;
    if let Some(out) = &args.out {
        let dir = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
            Error::environment(format!("preflight: forecast: {}: {e}", dir.display()))
        })?;
        sim_forecast::write_parquet(tmp.path(), &results, &opts.levels)?;
        tmp.persist(out).map_err(|e| {
            Error::environment(format!("preflight: forecast: {}: {e}", out.display()))
        })?;
    }
    if args.json {
        let json = serde_json::to_string_pretty(&results)
            .map_err(|e| Error::Internal(format!("preflight: forecast: {e}")))?;
        crate::outln!("{json}");
    } else {
        crate::out!("{}", sim_forecast::table(&results));
    }
    Ok(ExitCode::SUCCESS)
}

/// `preflight import FILE...`.
pub fn import(args: &crate::args::ImportArgs) -> Result<ExitCode, Error> {
    let imported = sim_import::import(&args.files, args.from)?;
    for (file, source, inferred) in &imported.files {
        if *inferred {
            eprintln!(
                "preflight: import: {}: read as {} (inferred from its content; --from to say otherwise)",
                file.display(),
                source.name()
            );
        }
    }
    for w in &imported.graph.warnings {
        eprintln!("preflight: import: warning: {w}");
    }
    if args.graph {
        if args.json {
            let json = serde_json::to_string_pretty(&imported.graph)
                .map_err(|e| Error::Internal(format!("preflight: import: {e}")))?;
            crate::outln!("{json}");
        } else {
            crate::outln!("{}", imported.graph.table().trim_end());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let name = args.name.clone().unwrap_or_else(|| {
        args.files[0]
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "imported".into())
    });
    let text = sim_import::scenario(&imported, &name);
    // What is written must load: a skeleton that does not is a bug.
    let check = args
        .out
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("imported.yaml"));
    if let Err(e) = sim_engine::scenario::load_bytes(
        text.as_bytes(),
        sim_engine::scenario::Format::Yaml,
        &check,
    ) {
        return Err(Error::Internal(format!(
            "preflight: import: the scenario written from {} does not validate:\n{e}",
            imported.graph.sources.join(", ")
        )));
    }
    match &args.out {
        None => crate::out!("{text}"),
        Some(out) => {
            if out.exists() {
                let head = std::fs::read_to_string(out).unwrap_or_default();
                if !head.starts_with("# Imported by `preflight import`") {
                    return Err(Error::input(format!(
                        "preflight: import: --out {}: the file exists and an import did not write it; not replaced (remove it or choose another path)",
                        out.display()
                    )));
                }
            }
            sim_output::write_file_atomic(out, text.as_bytes()).map_err(|e| {
                Error::environment(format!("preflight: import: {}: {e}", out.display()))
            })?;
            eprintln!(
                "preflight: import: {} resources, {} dependencies → {} (check every `# guess`; `preflight validate` and `preflight run` take it as it is)",
                imported
                    .graph
                    .nodes
                    .values()
                    .filter(|n| n.runtime.is_some() && n.folded_into.is_none())
                    .count(),
                sim_import::skeleton::dependencies(&imported.graph).0.len(),
                out.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `preflight export RUN_DIR --format F`.
pub fn export(args: &crate::args::ExportArgs) -> Result<ExitCode, Error> {
    let defaults = sim_export::Metrics::default();
    let opts = sim_export::ExportOptions {
        run_dir: args.run_dir.clone(),
        format: args.format,
        filter: sim_export::Filter {
            top: args.top,
            min_severity: args.min_severity.clone(),
            scenarios: args.scenario.clone(),
        },
        out: args.out.clone(),
        strict: args.strict,
        metrics: sim_export::Metrics {
            prometheus_url: args
                .prometheus_url
                .clone()
                .unwrap_or(defaults.prometheus_url),
            requests: args.requests_metric.clone().unwrap_or(defaults.requests),
            errors: args.errors_matcher.clone().unwrap_or(defaults.errors),
            duration: args.duration_metric.clone().unwrap_or(defaults.duration),
            window: args.rate_window.clone().unwrap_or(defaults.window),
        },
        fis_role_arn: args.fis_role_arn.clone(),
    };
    let done = sim_export::export(&opts)?;
    for w in &done.warnings {
        eprintln!("preflight: export: warning: {w}");
    }
    for (id, why) in &done.skipped {
        eprintln!("preflight: export: skipped {id}: {why}");
    }
    if !args.quiet {
        crate::outln!(
            "{}: {} scenario(s) exported as {} in {} file(s); {} skipped, {} warning(s) (index.json says which and why)",
            done.dir.display(),
            done.exported.len(),
            args.format.name(),
            done.files.len(),
            done.skipped.len(),
            done.warnings.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `preflight fit`.
pub fn fit(opts: &sim_engine::fit::FitOptions) -> Result<ExitCode, Error> {
    crate::console::write_str(&sim_engine::fit::fit(opts)?);
    Ok(ExitCode::SUCCESS)
}

/// `preflight synth`: the history goes to `--out`, else to stdout.
pub fn synth(opts: &sim_engine::synth::SynthOptions) -> Result<ExitCode, Error> {
    if let Some(text) = sim_engine::synth::synth(opts)? {
        crate::console::write_str(&text);
    }
    Ok(ExitCode::SUCCESS)
}

/// `preflight calibrate`.
pub fn calibrate(opts: &sim_engine::calibrate::CalibrateOptions) -> Result<ExitCode, Error> {
    crate::console::write_str(&sim_engine::calibrate::calibrate(opts)?);
    Ok(ExitCode::SUCCESS)
}

/// `preflight replay`: one campaign re-run from a run directory, its cells
/// beside the run's; exit 1 when any differs.
pub fn replay(args: &crate::args::ReplayArgs) -> Result<ExitCode, Error> {
    let opts = sim_engine::replay::ReplayOptions::from(args);
    let mut done = sim_engine::replay::replay(&opts)?;
    for w in &done.warnings {
        eprintln!("preflight: warning: replay: {w}");
    }
    if !args.events {
        done.events.clear();
    }
    crate::outln!("{}", sim_engine::replay::render(&done, &opts).trim_end());
    Ok(if done.identical() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
