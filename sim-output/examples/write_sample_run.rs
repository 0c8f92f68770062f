//! Writes a sample run directory with every table of the contract, for the
//! reader checks in `tests/python/check_outputs.py`:
//!
//! ```text
//! cargo run -p sim-output --example write_sample_run -- /tmp/sample-run
//! .venv/bin/python tests/python/check_outputs.py /tmp/sample-run
//! ```
//!
//! The rows are synthetic (a deterministic formula, no simulation) but cover
//! what readers trip on: several row groups, nulls in the nullable columns,
//! NaN error rates of campaigns without requests, the full `u64` range, and
//! two variants. `paths.parquet` (service paths) is written too, with NaN
//! times to repair of campaigns without a repair.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use sim_output::manifest::VariantInfo;
use sim_output::{
    CampaignRow, EventRow, HandlerRow, Mode, OutputError, PathRow, RemediationRow, RiskRow,
    RunInfo, RunWriter, ScenarioRow, Severity, WriteOptions,
};

const CAMPAIGNS: u64 = 300;
const HANDLERS: [&str; 3] = ["checkout", "search", "login"];
const VARIANTS: [&str; 2] = ["base", "db-replica"];
const PATHS: [&str; 3] = ["mobile-video", "mobile-audio", "archive"];

fn main() -> ExitCode {
    let Some(out_dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: write_sample_run OUT_DIR");
        return ExitCode::from(2);
    };
    match write(&out_dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("write_sample_run: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A small deterministic hash, so the sample looks varied but never changes.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn unit(x: u64) -> f64 {
    (mix(x) >> 11) as f64 / (1u64 << 53) as f64
}

fn write(out_dir: &std::path::Path) -> Result<(), OutputError> {
    let options = WriteOptions {
        batch_rows: 100,
        row_group_rows: 256,
        ..WriteOptions::default()
    };
    let mut run = RunWriter::create_with(out_dir, options)?;
    run.enable_events()?;
    let handlers: Vec<Arc<str>> = HANDLERS.iter().map(|h| Arc::from(*h)).collect();
    let mut risk = Vec::new();
    let mut event_rows = 0u64;

    for (v, variant) in VARIANTS.iter().enumerate() {
        let variant: Arc<str> = Arc::from(*variant);
        let mut breaches = [0u64; HANDLERS.len()];
        let mut natural = 0u64;
        for campaign in 0..CAMPAIGNS {
            let key = (v as u64) << 32 | campaign;
            let targeted = campaign % 10 == 9;
            let mode = if targeted {
                Mode::Targeted
            } else {
                Mode::Natural
            };
            let scenario_id: Option<Arc<str>> =
                targeted.then(|| Arc::from(format!("s{}", campaign % 4 + 1).as_str()));
            natural += u64::from(!targeted);
            // Every 50th campaign saw no traffic: error rate NaN, written as is.
            let requests = if campaign % 50 == 7 {
                0
            } else {
                10_000 + mix(key) % 5_000
            };
            let errors = if requests == 0 {
                0
            } else {
                mix(key + 1) % (requests / 20)
            };
            let error_rate = if requests == 0 {
                f64::NAN
            } else {
                errors as f64 / requests as f64
            };
            let p50 = 5.0 + 10.0 * unit(key + 2);
            let faults = (mix(key + 3) % 4) as u32;
            let mut any_breach = false;
            for (h, handler) in handlers.iter().enumerate() {
                let hk = key * 8 + h as u64;
                let breached =
                    !targeted && unit(hk + 4) < 0.05 * (h as f64 + 1.0) / (v as f64 + 1.0);
                breaches[h] += u64::from(breached);
                any_breach |= breached;
                let h_requests = requests / HANDLERS.len() as u64;
                let h_errors = errors / HANDLERS.len() as u64;
                run.write_handler(&HandlerRow {
                    variant: variant.clone(),
                    campaign,
                    mode,
                    scenario_id: scenario_id.clone(),
                    handler: handler.clone(),
                    requests: h_requests,
                    errors: h_errors,
                    error_rate: if h_requests == 0 {
                        f64::NAN
                    } else {
                        h_errors as f64 / h_requests as f64
                    },
                    latency_mean_ms: p50 * 1.3,
                    latency_p50_ms: p50,
                    latency_p99_ms: p50 * 8.0,
                    availability: 1.0 - 0.01 * unit(hk + 5),
                    slo_breached: breached,
                    degraded: h_requests / 100,
                    seed: mix(key + 6),
                })?;
            }
            run.write_campaign(&CampaignRow {
                variant: variant.clone(),
                campaign,
                seed: mix(key + 6), // spans the whole u64 range
                mode,
                scenario_id: scenario_id.clone(),
                horizon_s: 30.0 * 86_400.0,
                requests,
                errors,
                error_rate,
                latency_mean_ms: p50 * 1.3,
                latency_p50_ms: p50,
                latency_p99_ms: p50 * 8.0,
                availability: 1.0 - 0.01 * unit(key + 7),
                slo_breached: any_breach,
                faults_injected: faults,
                rollbacks: u32::from(targeted),
                events: 40_000 + mix(key + 8) % 20_000,
                weight: 1.0,
                degraded: requests / 100,
                faults: Arc::from(if faults > 0 { "db/crash" } else { "" }),
            })?;
            for f in 0..faults {
                for kind in ["inject", "recover"] {
                    run.write_event(&EventRow {
                        variant: variant.clone(),
                        campaign,
                        campaign_mode: mode,
                        time_s: 3600.0 * (f as f64 + unit(key + 9 + f as u64)),
                        kind: Arc::from(kind),
                        target: Arc::from("db"),
                        mode: Arc::from("crash"),
                        detail: Arc::from(""),
                        replica: (kind == "inject").then_some(0),
                        duration_s: (kind == "inject").then_some(600.0),
                        error_rate: None,
                        latency_p99_ms: None,
                        detected_at_s: None,
                        breach_s: None,
                        hold_s: None,
                        detection_delay_s: None,
                    })?;
                    event_rows += 1;
                }
            }
            for (p, path) in PATHS.iter().enumerate() {
                let pk = key ^ ((p as u64 + 1) << 48);
                let sent = 2_592_000 * (p as u64 + 1) + mix(pk) % 1000;
                let lost = mix(pk + 1) % 5000;
                let repairs = (mix(pk + 2) % 3) as u32;
                let downtime_s = f64::from(repairs) * 30.0 * (0.5 + unit(pk + 3));
                run.write_path(&PathRow {
                    variant: variant.clone(),
                    campaign,
                    path: Arc::from(*path),
                    adus_sent: sent,
                    adus_delivered: sent - lost,
                    adus_lost: lost,
                    loss_rate: lost as f64 / sent as f64,
                    delay_mean_ms: 20.0 + 10.0 * unit(pk + 4),
                    delay_p99_ms: 40.0 + 20.0 * unit(pk + 5),
                    availability: 1.0 - downtime_s / (30.0 * 86_400.0),
                    repairs,
                    time_to_repair_s: if repairs == 0 {
                        f64::NAN
                    } else {
                        downtime_s / f64::from(repairs)
                    },
                    downtime_s,
                    moves_back: repairs.saturating_sub(1),
                })?;
            }
        }
        for (h, handler) in handlers.iter().enumerate() {
            let p = breaches[h] as f64 / natural as f64;
            let half = 1.96 * (p * (1.0 - p) / natural as f64).sqrt();
            risk.push(RiskRow {
                variant: variant.clone(),
                handler: handler.clone(),
                risk: p,
                ci_low: (p - half).max(0.0),
                ci_high: (p + half).min(1.0),
                campaigns: natural,
                breaches: breaches[h],
                calibrated_risk: (h != 2).then_some(p * 0.9),
                threshold: 0.05,
                over_threshold: p > 0.05,
                criticality: Arc::from(if h == 0 { "critical" } else { "normal" }),
                risk_diff: None,
                risk_diff_low: None,
                risk_diff_high: None,
                has_slo: true,
                fault_free_campaigns: 0,
                fault_free_breaches: 0,
                breached_without_faults: false,
                window_s: 300.0,
                programme_risk: None,
                programme_ci_low: None,
                programme_ci_high: None,
                programme_added: None,
                programme_added_low: None,
                programme_added_high: None,
            });
        }
    }

    let severities = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];
    let scenarios: Vec<ScenarioRow> = (1..=4u32)
        .map(|rank| ScenarioRow {
            rank,
            scenario_id: Arc::from(format!("s{rank}").as_str()),
            target: Arc::from(["db", "cache", "queue", "lb"][rank as usize - 1]),
            mode: Arc::from("crash"),
            severity: severities[rank as usize - 1],
            likelihood: 0.1 / f64::from(rank),
            impact: 1.0 / f64::from(rank),
            score: 0.1 / f64::from(rank * rank),
            duration_s: 300.0,
            rollback_plan: Arc::from("restart the target"),
            abort_error_rate: 0.05,
            abort_latency_p99_ms: 800.0,
            abort_error_rate_basis: Arc::from("between"),
            abort_latency_p99_basis: Arc::from("between"),
            healthy_error_rate: 0.0005,
            healthy_latency_p99_ms: 120.0,
            healthy_error_rate_high: 0.01,
            healthy_latency_p99_high_ms: 400.0,
            fault_error_rate_p99: 0.6,
            fault_latency_p99_ms_p99: 1500.0,
            magnitudes: sim_output::Magnitudes::default(),
            replicas: Arc::from("0"),
            error_rate_during: 0.3,
            latency_p99_during_ms: 900.0,
            recovery_s: 15.0,
            excess_errors: 2000.0,
            campaigns: 20,
            source: Arc::from("failure_mode"),
            failure_points: Arc::from("single_point_of_failure"),
        })
        .collect();
    run.write_scenarios(&scenarios)?;
    run.write_remediations(&[RemediationRow {
        variant: Arc::from("base"),
        target: Arc::from("db"),
        suggestion: Arc::from("add a second replica"),
        change: Arc::from("resources.db.replicas = 2"),
        risk_before: risk[0].risk,
        risk_after: risk[HANDLERS.len()].risk,
        handler: risk[0].handler.clone(),
        kind: Arc::from("add_replica"),
        risk_before_low: risk[0].ci_low,
        risk_before_high: risk[0].ci_high,
        risk_after_low: risk[HANDLERS.len()].ci_low,
        risk_after_high: risk[HANDLERS.len()].ci_high,
        risk_diff: risk[HANDLERS.len()].risk - risk[0].risk,
        risk_diff_low: -1.0,
        risk_diff_high: 1.0,
        campaigns: risk[0].campaigns,
        relevance: 1.0,
    }])?;

    let info = RunInfo {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        scenario: "sample (synthetic rows, no simulation)".to_owned(),
        scenario_hash: "0000000000000000".to_owned(),
        seed: 1,
        campaigns: CAMPAIGNS,
        variants: VARIANTS
            .iter()
            .enumerate()
            .map(|(index, name)| VariantInfo {
                name: (*name).to_owned(),
                index: index as u64,
                horizon_s: 30.0 * 86_400.0,
                injections: Vec::new(),
            })
            .collect(),
        threads: 1,
        ..RunInfo::default()
    };
    let summary = run.finish(&risk, info)?;

    // An executable specification: the counts are what was written.
    let variants = VARIANTS.len() as u64;
    assert_eq!(summary.campaigns, variants * CAMPAIGNS);
    assert_eq!(
        summary.handlers,
        variants * CAMPAIGNS * HANDLERS.len() as u64
    );
    assert_eq!(summary.risk, variants * HANDLERS.len() as u64);
    assert_eq!(summary.row_counts.get("events"), Some(&event_rows));
    assert_eq!(summary.row_counts.get("scenarios"), Some(&4));
    assert_eq!(
        summary.row_counts.get("paths"),
        Some(&(variants * CAMPAIGNS * PATHS.len() as u64))
    );
    println!(
        "wrote {}: {}",
        summary.out_dir.display(),
        summary
            .row_counts
            .iter()
            .map(|(table, rows)| format!("{table} {rows}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
