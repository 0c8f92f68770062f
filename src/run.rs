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
use sim_models::window::{Baseline, LIBRARY_REPS, run_window};

use crate::output::{CampaignRow, HandlerRow, Mode, RiskRow, RunWriter};
use crate::risk::{Decision, decide_interval, threshold_for, wilson};

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

/// How campaigns are simulated (`--scale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScaleSel {
    /// Request level up to [`TWO_SCALE_ABOVE`] expected workload requests
    /// per campaign, two-scale above.
    Auto,
    /// Every request of the whole horizon (exact; slow for long windows).
    Request,
    /// Fault timeline over the horizon, request-level episodes around the
    /// faults, and a pooled healthy baseline (see `docs/two-scale.md`).
    TwoScale,
}

/// Expected workload requests per campaign above which `--scale auto`
/// chooses the two-scale method (about 14 hours at 200 requests/s).
pub const TWO_SCALE_ABOVE: f64 = 1e7;

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
    /// Simulate campaigns by the two-scale method ([`run_window`]) rather
    /// than request by request over the whole horizon.
    pub two_scale: bool,
    /// Keep running natural campaigns, doubling their number, while some
    /// handler's risk interval straddles its threshold, up to this many
    /// campaigns per variant (`--until-decided`).
    pub until_decided: Option<u64>,
    /// What `until_decided` compares the risks with: each handler's
    /// threshold (`None`) or one value for all (the gate's).
    pub decide_at: Option<f64>,
    /// Importance sampling of rare failures (`--rare-event`): the variants'
    /// models carry the biases, and risks are weighted estimates.
    pub rare_event: Option<RareEvent>,
}

/// How failure processes are biased for `--rare-event`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RareEvent {
    /// Each rare process sped up so that about one failure is expected per
    /// campaign in all ([`sim_models::rare::auto_factors`]).
    Auto,
    /// Every process that can be biased sped up by this factor (> 1).
    Factor(f64),
}

impl std::str::FromStr for RareEvent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" {
            return Ok(RareEvent::Auto);
        }
        match s.parse::<f64>() {
            Ok(b) if b.is_finite() && b >= 1.0 => Ok(RareEvent::Factor(b)),
            _ => Err(format!(
                "expected `auto` or a speed-up factor of at least 1, got `{s}`"
            )),
        }
    }
}

/// Sets the importance-sampling bias of every failure process of `model`
/// and returns the factors, in `model.faults` order. Processes whose law
/// cannot be scaled (constant, uniform, empirical) keep 1.
pub fn apply_bias(model: &mut Model, rare: RareEvent) -> Vec<f64> {
    let means: Vec<Option<f64>> = model
        .faults
        .iter()
        .map(|f| sim_models::rare::can_bias(&f.time_between).then(|| f.time_between.mean()))
        .collect();
    let factors = match rare {
        RareEvent::Auto => sim_models::rare::auto_factors(&means, model.horizon.as_secs_f64()),
        RareEvent::Factor(b) => means
            .iter()
            .map(|m| if m.is_some() { b } else { 1.0 })
            .collect(),
    };
    for (f, b) in model.faults.iter_mut().zip(&factors) {
        f.bias = *b;
    }
    factors
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
    /// What each failure process is (`resource/mode`), in `Model::faults` order.
    pub fault_labels: Arc<[String]>,
    /// Per failure process: natural campaigns in which it was active.
    pub fault_present: Vec<u64>,
    /// Per failure process: breaches of this handler in campaigns where it was active.
    pub breaches_with: Vec<u64>,
    /// Sum of the weights of breached campaigns (importance sampling).
    pub weighted_breaches: f64,
    /// Sum of their squares.
    pub weighted_breaches_sq: f64,
}

/// A failure process's share in a handler's breaches.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Contributor {
    /// `resource/mode` of the failure process.
    pub fault: String,
    /// Breaches in campaigns where this process was active.
    pub breaches_with: u64,
    /// `breaches_with / breaches`.
    pub share_of_breaches: f64,
    /// Breach frequency in campaigns where the process was active.
    pub risk_when_active: f64,
    /// Breach frequency in campaigns where it was not.
    pub risk_when_inactive: f64,
}

impl HandlerTally {
    /// `(risk, low, high)`: the breach frequency with its 95% interval
    /// (Wilson), or under importance sampling the weighted estimate with
    /// its normal interval.
    pub fn interval(&self, weighted: bool) -> (f64, f64, f64) {
        if weighted {
            crate::risk::weighted(
                self.weighted_breaches,
                self.weighted_breaches_sq,
                self.campaigns,
            )
        } else {
            wilson(self.breaches, self.campaigns)
        }
    }

    /// The failure processes most often active when this handler breached,
    /// most first (ties: the larger difference between the risk with and
    /// without the process, then model order); at most `k`. Processes
    /// never active in a breach are left out. This is association, not
    /// proof of cause: a process that is active in most campaigns shows up
    /// in most breaches, which is why both conditional risks are given.
    pub fn top_contributors(&self, k: usize) -> Vec<Contributor> {
        let mut out: Vec<(usize, Contributor)> = self
            .breaches_with
            .iter()
            .enumerate()
            .filter(|(_, b)| **b > 0)
            .map(|(i, &b)| {
                let present = self.fault_present[i];
                let absent = self.campaigns - present;
                (
                    i,
                    Contributor {
                        fault: self.fault_labels[i].clone(),
                        breaches_with: b,
                        share_of_breaches: b as f64 / self.breaches.max(1) as f64,
                        risk_when_active: b as f64 / present.max(1) as f64,
                        risk_when_inactive: if absent == 0 {
                            f64::NAN
                        } else {
                            (self.breaches - b) as f64 / absent as f64
                        },
                    },
                )
            })
            .collect();
        let lift = |c: &Contributor| {
            let without = if c.risk_when_inactive.is_nan() {
                0.0
            } else {
                c.risk_when_inactive
            };
            c.risk_when_active - without
        };
        out.sort_by(|(ia, a), (ib, b)| {
            b.breaches_with
                .cmp(&a.breaches_with)
                .then(lift(b).total_cmp(&lift(a)))
                .then(ia.cmp(ib))
        });
        out.into_iter().take(k).map(|(_, c)| c).collect()
    }
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
    let mut total = jobs.len() as u64 * plan.campaigns;
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
        let fault_labels: Arc<[String]> = v
            .model
            .faults
            .iter()
            .map(|f| format!("{}/{}", v.model.resources[f.resource].id, f.mode))
            .collect();
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
                    fault_labels: fault_labels.clone(),
                    fault_present: vec![0; fault_labels.len()],
                    breaches_with: vec![0; fault_labels.len()],
                    weighted_breaches: 0.0,
                    weighted_breaches_sq: 0.0,
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
        // The two-scale method's healthy baseline: one per job, pooled by
        // its campaigns, seeded from the master seed and the variant only.
        // Its library of isolated-fault episodes is simulated on the pool;
        // the result does not depend on the thread count.
        let baseline = plan.two_scale.then(|| {
            let b = Baseline::for_variant(&v.model, plan.seed, v.index);
            let tasks = b.library_tasks(&v.model, LIBRARY_REPS);
            let entries = pool.install(|| tasks.par_iter().map(|t| t.run(&v.model)).collect());
            b.with_library(&v.model, LIBRARY_REPS, entries)
        });
        let mut next = 0u64;
        let mut target = plan.campaigns;
        let job_tallies = tally_base..tallies.len();
        loop {
            if next >= target {
                // Every campaign asked for so far is done. With
                // `--until-decided`, double the natural campaigns while a
                // handler's interval straddles its threshold. The decision
                // depends only on the rows so far, so the number of
                // campaigns run is the same for any thread count.
                let undecided = tallies[job_tallies.clone()].iter().any(|t| {
                    let at = plan.decide_at.unwrap_or(t.threshold);
                    let (_, low, high) = t.interval(plan.rare_event.is_some());
                    decide_interval(low, high, at) == Decision::Undecided
                });
                match plan.until_decided {
                    Some(cap) if job.mode == CampaignMode::Natural && undecided && target < cap => {
                        let grown = target.saturating_mul(2).min(cap);
                        bar.inc_length(grown - target);
                        total += grown - target;
                        tracing::info!(
                            variant = &*v.name,
                            campaigns = grown,
                            "undecided: more campaigns"
                        );
                        target = grown;
                    }
                    _ => break,
                }
            }
            let end = (next + CHUNK).min(target);
            let results: Vec<(u64, CampaignResult)> = pool.install(|| {
                (next..end)
                    .into_par_iter()
                    .map(|c| {
                        let seed = campaign_seed(plan.seed, v.index, job.scenario_id.as_deref(), c);
                        let r = match &baseline {
                            Some(b) => run_window(&v.model, seed, job.mode, b),
                            None => run_campaign(&v.model, seed, job.mode),
                        };
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
                    weight: r.weight,
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
                        if h.slo_breached {
                            t.weighted_breaches += r.weight;
                            t.weighted_breaches_sq += r.weight * r.weight;
                        }
                        for &f in &r.faults_seen {
                            t.fault_present[f as usize] += 1;
                            if h.slo_breached {
                                t.breaches_with[f as usize] += 1;
                            }
                        }
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
            let (risk, ci_low, ci_high) = t.interval(plan.rare_event.is_some());
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
