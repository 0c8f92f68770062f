//! Service-path campaigns of `preflight run`: for every variant whose
//! scenario has `paths:`, `plan.campaigns` campaigns of
//! [`sim_models::paths::sim::run_path_campaign`] over the variant's horizon,
//! one `paths.parquet` row per campaign × path, and a summary per variant ×
//! path for the table `run` prints.
//!
//! Campaign `c` of a variant uses the seed `campaign_seed(seed,
//! plan.stream_index(v), None, c)`: the same seed as the variant's natural
//! handler campaign `c` (common random numbers across variants unless
//! `--independent-streams`), and the path actors draw from their own named
//! streams (`path-node/<id>`, `path/<id>`), so they share no numbers with the
//! handler campaigns' actors. Campaigns run in chunks on a rayon pool of
//! `plan.threads` threads; each chunk's results are collected in campaign
//! order and folded in that order, so the rows and the summaries are the
//! same for any thread count.
//!
//! Every worker thread keeps its own [`PathCache`] per variant: the cache is
//! a pure memo (a placement depends only on its key), so it saves solving
//! time without changing any outcome, whichever thread runs which campaign.
//! It is not shared across variants, whose models may differ.
//!
//! Path campaigns are natural: `--mode targeted` runs none. `--rare-event`,
//! `--until-decided` and the two-scale method concern the handler campaigns
//! and do not apply here.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;
use sim_core::Moments;
use sim_models::compile::Empirical;
use sim_models::paths::PathCache;
use sim_models::paths::PathModel;
use sim_models::paths::sim::{PathCampaign, PathOutcome, run_path_campaign};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::prepare::PreparedVariant;
use crate::run::{CHUNK, RowSink, RunPlan, campaign_seed};
use sim_output::PathRow;

/// One variant × path, over all its campaigns.
#[derive(Debug, Clone, PartialEq)]
pub struct PathSummary {
    /// Variant name.
    pub variant: Arc<str>,
    /// The path's id.
    pub path: Arc<str>,
    /// Campaigns simulated.
    pub campaigns: u64,
    /// Simulated time per campaign, seconds.
    pub horizon_s: f64,
    /// Mean availability over the campaigns.
    pub availability: f64,
    /// Lower bound of its 95% interval (Student's t over the campaigns,
    /// clamped to [0, 1]; NaN with fewer than two campaigns).
    pub availability_low: f64,
    /// Upper bound of that interval.
    pub availability_high: f64,
    /// ADUs sent over all campaigns.
    pub adus_sent: u64,
    /// ADUs lost over all campaigns.
    pub adus_lost: u64,
    /// `adus_lost / adus_sent` over all campaigns (NaN when nothing was sent).
    pub loss_rate: f64,
    /// Mean over the campaigns that delivered ADUs of their delay p99, ms
    /// (NaN when none did).
    pub delay_p99_ms: f64,
    /// Mean over the same campaigns of their mean delay, ms.
    pub delay_mean_ms: f64,
    /// Repairs per campaign.
    pub repairs_per_campaign: f64,
    /// Moves back per campaign.
    pub moves_back_per_campaign: f64,
    /// Mean downtime per campaign, seconds.
    pub downtime_s: f64,
    /// Mean time to repair over every outage that ended within a horizon,
    /// all campaigns pooled, seconds (NaN when none ended).
    pub time_to_repair_s: f64,
}

/// What is added up per variant × path while the campaigns are folded.
#[derive(Debug, Default)]
struct Acc {
    campaigns: u64,
    availability: Moments,
    sent: u64,
    lost: u64,
    p99: Moments,
    mean_delay: Moments,
    repairs: u64,
    moves_back: u64,
    downtime: Moments,
    ttr_sum: f64,
    outages_ended: u64,
}

impl Acc {
    fn add(&mut self, o: &PathOutcome) {
        self.campaigns += 1;
        self.availability.add(o.availability);
        self.sent += o.adus_sent;
        self.lost += o.adus_lost;
        if o.delay_p99_ms.is_finite() {
            self.p99.add(o.delay_p99_ms);
        }
        if o.delay_mean_ms.is_finite() {
            self.mean_delay.add(o.delay_mean_ms);
        }
        self.repairs += u64::from(o.repairs);
        self.moves_back += u64::from(o.moves_back);
        self.downtime.add(o.downtime_s);
        if o.outages_ended > 0 && o.time_to_repair_mean_s.is_finite() {
            self.ttr_sum += o.time_to_repair_mean_s * f64::from(o.outages_ended);
            self.outages_ended += u64::from(o.outages_ended);
        }
    }

    fn summary(&self, variant: Arc<str>, path: Arc<str>, horizon_s: f64) -> PathSummary {
        let (low, high) = mean_interval(&self.availability);
        let n = self.campaigns.max(1) as f64;
        PathSummary {
            variant,
            path,
            campaigns: self.campaigns,
            horizon_s,
            availability: self.availability.mean(),
            availability_low: low.max(0.0),
            availability_high: high.min(1.0),
            adus_sent: self.sent,
            adus_lost: self.lost,
            loss_rate: ratio(self.lost, self.sent),
            delay_p99_ms: self.p99.mean(),
            delay_mean_ms: self.mean_delay.mean(),
            repairs_per_campaign: self.repairs as f64 / n,
            moves_back_per_campaign: self.moves_back as f64 / n,
            downtime_s: self.downtime.mean(),
            time_to_repair_s: if self.outages_ended == 0 {
                f64::NAN
            } else {
                self.ttr_sum / self.outages_ended as f64
            },
        }
    }
}

/// `a / b`, NaN when `b` is 0.
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

/// The 95% Student's t interval of the mean (NaN bounds with fewer than two
/// observations). A sample with no spread (every campaign fully available)
/// gives the mean itself at both ends.
fn mean_interval(m: &Moments) -> (f64, f64) {
    let n = m.count();
    if n < 2 {
        return (f64::NAN, f64::NAN);
    }
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .map(|d| d.inverse_cdf(0.975))
        .unwrap_or(1.959_963_984_540_054);
    let half = t * m.std_error();
    (m.mean() - half, m.mean() + half)
}

/// The row of `paths.parquet` for one campaign's outcome of one path.
pub fn path_row(variant: &Arc<str>, campaign: u64, path: &Arc<str>, o: &PathOutcome) -> PathRow {
    PathRow {
        variant: variant.clone(),
        campaign,
        path: path.clone(),
        adus_sent: o.adus_sent,
        adus_delivered: o.adus_delivered,
        adus_lost: o.adus_lost,
        loss_rate: ratio(o.adus_lost, o.adus_sent),
        delay_mean_ms: o.delay_mean_ms,
        delay_p99_ms: o.delay_p99_ms,
        availability: o.availability,
        repairs: o.repairs,
        time_to_repair_s: o.time_to_repair_mean_s,
        downtime_s: o.downtime_s,
        moves_back: o.moves_back,
    }
}

/// Compiles the service paths of every variant that has some, before any
/// campaign runs: `(variant index, model)`.
fn compile_all(
    variants: &[PreparedVariant],
    empirical: &Empirical,
) -> anyhow::Result<Vec<(usize, PathModel)>> {
    variants
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.scenario.paths.is_empty())
        .map(|(i, v)| {
            PathModel::compile(&v.scenario, empirical)
                .map(|m| (i, m))
                .map_err(|errs| {
                    let lines: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
                    anyhow::anyhow!("variant `{}`: service paths: {}", v.name, lines.join("; "))
                })
        })
        .collect()
}

/// Whether any of `variants` has service paths to simulate.
pub fn has_paths(variants: &[PreparedVariant]) -> bool {
    variants.iter().any(|v| !v.scenario.paths.is_empty())
}

/// Runs `plan.campaigns` service-path campaigns of every variant with
/// `paths:` (none in `--mode targeted`), sends one row per campaign × path
/// to `sink` (variant order, then campaign order, then the paths' file
/// order), and returns a summary per variant × path in the same order.
/// `empirical` holds the samples of empirical distributions, as for
/// [`PathModel::compile`].
pub fn run_paths<S: RowSink + ?Sized>(
    variants: &[PreparedVariant],
    empirical: &Empirical,
    plan: &RunPlan,
    sink: &mut S,
) -> anyhow::Result<Vec<PathSummary>> {
    if plan.mode == crate::run::CampaignModes::Targeted {
        return Ok(Vec::new());
    }
    let models = compile_all(variants, empirical)?;
    if models.is_empty() {
        return Ok(Vec::new());
    }
    let threads = plan.threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("preflight-paths-{i}"))
        .build()?;
    let bar = crate::run::progress_bar(models.len() as u64 * plan.campaigns, plan.progress);
    let mut out = Vec::new();
    for (vi, model) in &models {
        let v = &variants[*vi];
        let start = Instant::now();
        let horizon = v.model.horizon;
        let names: Vec<Arc<str>> = model
            .paths
            .iter()
            .map(|p| Arc::from(p.id.as_str()))
            .collect();
        let mut acc: Vec<Acc> = names.iter().map(|_| Acc::default()).collect();
        // One cache per worker thread (index `threads` for a caller outside
        // the pool, which `install` never gives, but costs nothing).
        let caches: Vec<Mutex<PathCache>> = (0..=threads)
            .map(|_| Mutex::new(PathCache::new()))
            .collect();
        tracing::info!(
            variant = &*v.name,
            paths = names.len(),
            campaigns = plan.campaigns,
            horizon_s = horizon.as_secs_f64(),
            "path campaigns"
        );
        let mut next = 0u64;
        while next < plan.campaigns {
            let end = (next + CHUNK).min(plan.campaigns);
            let results: Vec<PathCampaign> = pool.install(|| {
                (next..end)
                    .into_par_iter()
                    .map(|c| {
                        let seed = campaign_seed(plan.seed, plan.stream_index(v), None, c);
                        let slot = rayon::current_thread_index().unwrap_or(threads);
                        let mut cache = caches[slot.min(threads)]
                            .lock()
                            .unwrap_or_else(|e| e.into_inner());
                        let r = run_path_campaign(model, seed, horizon, &mut cache);
                        bar.inc(1);
                        r
                    })
                    .collect()
            });
            for (
                i,
                PathCampaign {
                    outcomes,
                    misrouted,
                },
            ) in results.into_iter().enumerate()
            {
                let campaign = next + i as u64;
                crate::error::check_routed(misrouted, || {
                    format!(
                        "variant `{}`, service-path campaign {campaign} (--seed {})",
                        v.name, plan.seed
                    )
                })?;
                anyhow::ensure!(
                    outcomes.len() == names.len(),
                    "variant `{}`, campaign {campaign}: {} path outcomes for {} paths",
                    v.name,
                    outcomes.len(),
                    names.len()
                );
                for (p, o) in outcomes.iter().enumerate() {
                    sink.path(&path_row(&v.name, campaign, &names[p], o))?;
                    acc[p].add(o);
                }
            }
            next = end;
        }
        let stats = caches.iter().fold((0u64, 0u64), |(h, m), c| {
            let s = c.lock().unwrap_or_else(|e| e.into_inner()).stats();
            (h + s.placement_hits, m + s.placement_misses)
        });
        tracing::info!(
            variant = &*v.name,
            wall_s = start.elapsed().as_secs_f64(),
            cache_hits = stats.0,
            cache_misses = stats.1,
            "path campaigns done"
        );
        let horizon_s = horizon.as_secs_f64();
        out.extend(
            acc.iter()
                .zip(&names)
                .map(|(a, n)| a.summary(v.name.clone(), n.clone(), horizon_s)),
        );
    }
    bar.finish_and_clear();
    Ok(out)
}

/// Renders the "service paths" table of `preflight run`.
pub fn render_summary(rows: &[PathSummary], out: &mut String) {
    if rows.is_empty() {
        return;
    }
    crate::textln!(
        out,
        "\nservice paths ({} campaigns of {} each):",
        rows[0].campaigns,
        sim_models::spec::Duration::from_secs(rows[0].horizon_s)
    );
    crate::textln!(
        out,
        "{:<14} {:<18} {:>12} {:>21} {:>10} {:>10} {:>12} {:>10} {:>10}",
        "variant",
        "path",
        "availability",
        "95% CI",
        "loss rate",
        "p99 ms",
        "repairs/camp",
        "MTTR s",
        "moves back"
    );
    for r in rows {
        let ci = if r.availability_low.is_nan() {
            "-".to_string()
        } else {
            format!("[{:.6}, {:.6}]", r.availability_low, r.availability_high)
        };
        crate::textln!(
            out,
            "{:<14} {:<18} {:>12} {:>21} {:>10} {:>10} {:>12} {:>10} {:>10}",
            crate::text::truncate(&r.variant, 14),
            crate::text::truncate(&r.path, 18),
            format!("{:.6}", r.availability),
            ci,
            crate::text::fmt_f(r.loss_rate, 6),
            crate::text::fmt_f(r.delay_p99_ms, 2),
            crate::text::fmt_f(r.repairs_per_campaign, 2),
            crate::text::fmt_f(r.time_to_repair_s, 1),
            crate::text::fmt_f(r.moves_back_per_campaign, 2),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_of_the_mean() {
        let mut m = Moments::default();
        for x in [0.9, 1.0, 0.95, 1.0] {
            m.add(x);
        }
        let (low, high) = mean_interval(&m);
        // mean 0.9625, s = 0.04787, t(0.975, 3) = 3.1824
        let half = 3.182_446_305_284_263 * 0.047_871_355_387_816_9 / 2.0;
        assert!((low - (0.9625 - half)).abs() < 1e-9, "{low}");
        assert!((high - (0.9625 + half)).abs() < 1e-9, "{high}");
        let mut one = Moments::default();
        one.add(1.0);
        assert!(mean_interval(&one).0.is_nan());
    }

    #[test]
    fn loss_rate_and_mttr_are_pooled() {
        let outcome = |sent, lost, ttr: f64, ended| PathOutcome {
            path: "p".into(),
            adus_sent: sent,
            adus_delivered: sent - lost,
            adus_lost: lost,
            adus_in_flight: 0,
            delay: sim_core::LatencyHistogram::new(),
            delay_mean_ms: 20.0,
            delay_p99_ms: 30.0,
            availability: 1.0,
            downtime_s: ttr * f64::from(ended),
            outages: ended,
            repairs: ended,
            time_to_repair_mean_s: ttr,
            outages_ended: ended,
            moves_back: 0,
        };
        let mut a = Acc::default();
        a.add(&outcome(1000, 10, 4.0, 1));
        a.add(&outcome(3000, 0, f64::NAN, 0));
        a.add(&outcome(1000, 30, 1.0, 3));
        let s = a.summary(Arc::from("base"), Arc::from("p"), 60.0);
        assert_eq!(s.campaigns, 3);
        assert!((s.loss_rate - 40.0 / 5000.0).abs() < 1e-15);
        // (4 × 1 + 1 × 3) / 4 outages
        assert!((s.time_to_repair_s - 7.0 / 4.0).abs() < 1e-15);
        assert!((s.repairs_per_campaign - 4.0 / 3.0).abs() < 1e-15);
        assert_eq!((s.availability_low, s.availability_high), (1.0, 1.0));
    }
}
