//! The campaign runner: variants × modes × campaigns, in parallel, into a run directory.
//!
//! Campaigns are identified by index and seeded from
//! `(master seed, variant, campaign index)`, so a campaign's rows do not
//! depend on the thread that ran it. Work is cut into chunks of
//! [`CHUNK`] campaigns; a chunk runs in parallel on the rayon pool and its
//! results are collected *in index order*, then written and folded into the
//! risk counters in that order. So the output files are byte-for-byte the
//! same whatever the thread count, and memory stays bounded by one chunk
//! however many campaigns run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use sim_core::{CampaignSeed, splitmix64, stream_key};
use sim_models::campaign::{CampaignMode, CampaignResult, run_campaign};
use sim_models::model::Model;
use sim_models::spec::{Criticality, Scenario};

use crate::output::{CampaignRow, HandlerRow, Mode, RiskRow, RunWriter};
use crate::risk::{threshold_for, wilson};

/// Campaigns per parallel chunk: results of one chunk are held in memory at once.
pub const CHUNK: u64 = 2048;

/// Which campaigns to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeSel {
    /// The natural failure processes.
    Natural,
    /// One set of campaigns per explicit injection.
    Targeted,
    /// Both.
    Both,
}

/// A variant ready to run: its name, its index (0 = base) and its model.
#[derive(Debug)]
pub struct PreparedVariant {
    /// `base`, or the variant's name.
    pub name: Arc<str>,
    /// 0 for the base, 1.. for `variants:` in file order (seeds derive from it).
    pub index: u64,
    /// The scenario after the variant's changes.
    pub scenario: Scenario,
    /// Its compiled model.
    pub model: Model,
}

/// Everything a run needs besides the variants.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// Campaigns per variant and per injection.
    pub campaigns: u64,
    /// Master seed.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
    /// Natural, targeted or both.
    pub mode: ModeSel,
    /// Show a progress bar (only on a terminal).
    pub progress: bool,
}

/// The risk of one handler under one variant, with the figures the summary prints.
#[derive(Debug, Clone)]
pub struct HandlerTally {
    /// Variant name.
    pub variant: Arc<str>,
    /// Handler id.
    pub handler: Arc<str>,
    /// Criticality of the resource the handler runs on.
    pub criticality: Criticality,
    /// The handler's risk threshold (see [`crate::risk`]).
    pub threshold: f64,
    /// Natural campaigns.
    pub campaigns: u64,
    /// Natural campaigns with an SLO breach.
    pub breaches: u64,
    /// Requests over natural campaigns.
    pub requests: u64,
    /// Errors over natural campaigns.
    pub errors: u64,
    /// Sum of per-campaign p99 (for the mean p99).
    pub p99_sum_ms: f64,
    /// Campaigns with requests (denominator of the mean p99).
    pub p99_n: u64,
}

/// The figures of one injection's targeted campaigns, for the summary.
#[derive(Debug, Clone)]
pub struct InjectionTally {
    /// Variant name.
    pub variant: Arc<str>,
    /// Injection id.
    pub scenario_id: Arc<str>,
    /// Campaigns run.
    pub campaigns: u64,
    /// Campaigns in which some SLO was breached.
    pub breaches: u64,
    /// Workload requests.
    pub requests: u64,
    /// Failed workload requests.
    pub errors: u64,
    /// Sum of per-campaign availability.
    pub availability_sum: f64,
}

/// What a finished run reports.
#[derive(Debug)]
pub struct RunReport {
    /// Risk rows as written.
    pub risk: Vec<RiskRow>,
    /// Per variant × handler tallies, for the summary table.
    pub tallies: Vec<HandlerTally>,
    /// Per variant × injection tallies of targeted campaigns.
    pub injections: Vec<InjectionTally>,
    /// Campaigns run in all.
    pub campaigns_run: u64,
    /// Wall time.
    pub wall_s: f64,
    /// Kernel events delivered in all.
    pub events: u64,
}

/// The seed of campaign `campaign` of a job (variant, and injection when targeted).
pub fn campaign_seed(
    master: u64,
    variant: u64,
    injection: Option<&str>,
    campaign: u64,
) -> CampaignSeed {
    let job = match injection {
        None => variant,
        Some(id) => splitmix64(variant ^ stream_key(id)),
    };
    CampaignSeed::derive(master, job, campaign)
}

struct Job<'a> {
    variant: &'a PreparedVariant,
    mode: CampaignMode,
    scenario_id: Option<Arc<str>>,
}

/// Runs every campaign of every variant and writes rows to `writer`.
pub fn run_all(
    variants: &[PreparedVariant],
    plan: &RunPlan,
    writer: &mut RunWriter,
) -> anyhow::Result<RunReport> {
    let start = Instant::now();
    let mut jobs: Vec<Job<'_>> = Vec::new();
    for v in variants {
        if matches!(plan.mode, ModeSel::Natural | ModeSel::Both) {
            jobs.push(Job {
                variant: v,
                mode: CampaignMode::Natural,
                scenario_id: None,
            });
        }
        if matches!(plan.mode, ModeSel::Targeted | ModeSel::Both) {
            for (k, inj) in v.model.injections.iter().enumerate() {
                jobs.push(Job {
                    variant: v,
                    mode: CampaignMode::Targeted(k),
                    scenario_id: Some(Arc::from(inj.id.as_str())),
                });
            }
        }
    }
    let total = jobs.len() as u64 * plan.campaigns;
    let bar = progress_bar(total, plan.progress);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(plan.threads.max(1))
        .thread_name(|i| format!("preflight-worker-{i}"))
        .build()?;

    let mut tallies: Vec<HandlerTally> = Vec::new();
    let mut injections: Vec<InjectionTally> = Vec::new();
    let mut events = 0u64;
    for job in &jobs {
        let v = job.variant;
        let handler_names: Vec<Arc<str>> = v
            .model
            .handlers
            .iter()
            .map(|h| Arc::from(h.id.as_str()))
            .collect();
        let tally_base = tallies.len();
        if job.mode == CampaignMode::Natural {
            for (h, name) in v.model.handlers.iter().zip(&handler_names) {
                let criticality = v.model.resources[h.resource].criticality;
                tallies.push(HandlerTally {
                    variant: v.name.clone(),
                    handler: name.clone(),
                    criticality,
                    threshold: threshold_for(&v.scenario.risk, criticality),
                    campaigns: 0,
                    breaches: 0,
                    requests: 0,
                    errors: 0,
                    p99_sum_ms: 0.0,
                    p99_n: 0,
                });
            }
        }
        tracing::info!(
            variant = &*v.name,
            mode = ?job.mode,
            injection = job.scenario_id.as_deref(),
            campaigns = plan.campaigns,
            horizon_s = v.model.horizon.as_secs_f64(),
            "job"
        );
        let row_mode = match job.mode {
            CampaignMode::Targeted(_) => Mode::Targeted,
            _ => Mode::Natural,
        };
        if let (CampaignMode::Targeted(_), Some(id)) = (job.mode, &job.scenario_id) {
            injections.push(InjectionTally {
                variant: v.name.clone(),
                scenario_id: id.clone(),
                campaigns: 0,
                breaches: 0,
                requests: 0,
                errors: 0,
                availability_sum: 0.0,
            });
        }
        let mut next = 0u64;
        while next < plan.campaigns {
            let end = (next + CHUNK).min(plan.campaigns);
            let results: Vec<(u64, CampaignResult)> = pool.install(|| {
                (next..end)
                    .into_par_iter()
                    .map(|c| {
                        let seed = campaign_seed(plan.seed, v.index, job.scenario_id.as_deref(), c);
                        let r = run_campaign(&v.model, seed, job.mode);
                        bar.inc(1);
                        (seed.as_u64(), r)
                    })
                    .collect()
            });
            for (i, (seed, r)) in results.into_iter().enumerate() {
                let campaign = next + i as u64;
                events += r.events;
                if let (CampaignMode::Targeted(_), Some(t)) = (job.mode, injections.last_mut()) {
                    t.campaigns += 1;
                    t.breaches += u64::from(r.slo_breached);
                    t.requests += r.summary.requests;
                    t.errors += r.summary.errors;
                    t.availability_sum += r.availability;
                }
                writer.write_campaign(&CampaignRow {
                    variant: v.name.clone(),
                    campaign,
                    seed,
                    mode: row_mode,
                    scenario_id: job.scenario_id.clone(),
                    horizon_s: r.horizon_s,
                    requests: r.summary.requests,
                    errors: r.summary.errors,
                    error_rate: r.summary.error_rate,
                    latency_mean_ms: r.summary.latency_mean_ms,
                    latency_p50_ms: r.summary.latency_p50_ms,
                    latency_p99_ms: r.summary.latency_p99_ms,
                    availability: r.availability,
                    slo_breached: r.slo_breached,
                    faults_injected: r.faults,
                    rollbacks: 0,
                    events: r.events,
                })?;
                for (hi, h) in r.handlers.iter().enumerate() {
                    writer.write_handler(&HandlerRow {
                        variant: v.name.clone(),
                        campaign,
                        mode: row_mode,
                        scenario_id: job.scenario_id.clone(),
                        handler: handler_names[hi].clone(),
                        requests: h.summary.requests,
                        errors: h.summary.errors,
                        error_rate: h.summary.error_rate,
                        latency_mean_ms: h.summary.latency_mean_ms,
                        latency_p50_ms: h.summary.latency_p50_ms,
                        latency_p99_ms: h.summary.latency_p99_ms,
                        availability: h.availability,
                        slo_breached: h.slo_breached,
                    })?;
                    if job.mode == CampaignMode::Natural {
                        let t = &mut tallies[tally_base + hi];
                        t.campaigns += 1;
                        t.breaches += u64::from(h.slo_breached);
                        t.requests += h.summary.requests;
                        t.errors += h.summary.errors;
                        if h.summary.requests > 0 {
                            t.p99_sum_ms += h.summary.latency_p99_ms;
                            t.p99_n += 1;
                        }
                    }
                }
            }
            tracing::debug!(variant = &*v.name, done = end, "chunk written");
            next = end;
        }
    }
    bar.finish_and_clear();

    let risk = tallies
        .iter()
        .map(|t| {
            let (risk, ci_low, ci_high) = wilson(t.breaches, t.campaigns);
            RiskRow {
                variant: t.variant.clone(),
                handler: t.handler.clone(),
                risk,
                ci_low,
                ci_high,
                campaigns: t.campaigns,
                breaches: t.breaches,
                calibrated_risk: None,
                threshold: t.threshold,
                over_threshold: risk > t.threshold,
                criticality: Arc::from(criticality_str(t.criticality)),
            }
        })
        .collect();
    Ok(RunReport {
        risk,
        tallies,
        injections,
        campaigns_run: total,
        wall_s: start.elapsed().as_secs_f64(),
        events,
    })
}

/// The scenario's name for a criticality.
pub fn criticality_str(c: Criticality) -> &'static str {
    match c {
        Criticality::Low => "low",
        Criticality::Medium => "medium",
        Criticality::High => "high",
        Criticality::Critical => "critical",
    }
}

fn progress_bar(total: u64, enabled: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} campaigns {pos}/{len} [{bar:30}] {per_sec} eta {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar
}

/// The default output directory for a scenario: `reports/<scenario name>`.
pub fn default_out_dir(scenario: &Scenario) -> PathBuf {
    let safe: String = scenario
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from("reports").join(if safe.is_empty() { "run".into() } else { safe })
}
