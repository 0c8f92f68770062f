//! Memory and work bounds of a run, checked before anything runs
//! (`docs/limits.md`).
//!
//! Every campaign holds at most [`CampaignMemory::total`] bytes, a function
//! of its model ([`sim_models::limits`]); the run holds at most
//! [`RUN_FIXED_BYTES`] besides, plus the two-scale method's pooled baseline
//! and library of the variant being run. The sum for the threads that run
//! at once must fit in `--max-memory` (default: [`DEFAULT_SHARE`] of the
//! machine's memory). When it does not:
//!
//! 1. fewer threads run at once (results do not depend on the thread count);
//! 2. with an explicit `--max-memory`, when even one campaign does not fit,
//!    the in-flight cap of the variants is lowered until it does (results
//!    change only for campaigns that reach the cap; the cap is in the
//!    manifest);
//! 3. otherwise the run is refused (exit 2) with the numbers.

use sim_models::limits::{
    CampaignMemory, MAX_FAULTS_PER_CAMPAIGN, MAX_REQUESTS_PER_SIMULATION, MIN_IN_FLIGHT_CAP,
    bytes_per_in_flight, cap_within, default_cap,
};
use sim_models::two_scale::Work;

use crate::prepare::PreparedVariant;

/// What a run holds besides its campaigns and pooled episodes: the program,
/// the Parquet writers' buffers, one chunk of campaign results.
pub const RUN_FIXED_BYTES: u64 = 64 << 20;

/// Most bytes of the base's simulated two-scale episodes kept for
/// remediation ([`crate::run::BaseOutcomes`]); never more than the memory
/// limit leaves beside the run's bound ([`kept_episodes_room`]).
pub const KEPT_EPISODES_MAX_BYTES: u64 = 64 << 20;

/// The bytes of the base's simulated episodes a run may keep for
/// remediation: [`KEPT_EPISODES_MAX_BYTES`], or what the memory limit
/// leaves beside the run's bound when that is less. Past it, the rest are
/// not kept, and remediation simulates them (the same figures, slower).
pub fn kept_episodes_room(plan: &MemoryPlan) -> u64 {
    KEPT_EPISODES_MAX_BYTES.min(plan.max.bytes.saturating_sub(plan.total))
}

/// The share of the machine's memory a run may use when `--max-memory` is
/// not given.
pub const DEFAULT_SHARE: f64 = 0.5;

/// Memory assumed when the machine's cannot be read (not Linux).
pub const FALLBACK_MEMORY: u64 = 4 << 30;

/// The memory limit of a run and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct MaxMemory {
    /// Bytes.
    pub bytes: u64,
    /// Given with `--max-memory` (it may then lower the in-flight cap).
    pub explicit: bool,
    /// Where the value came from, for messages and the manifest.
    pub source: String,
}

impl MaxMemory {
    /// `--max-memory` when given, else [`DEFAULT_SHARE`] of the machine's memory.
    pub fn resolve(given: Option<u64>) -> MaxMemory {
        match given {
            Some(bytes) => MaxMemory {
                bytes,
                explicit: true,
                source: "--max-memory".into(),
            },
            None => {
                let (total, from) = match machine_memory() {
                    Some(m) => m,
                    None => (FALLBACK_MEMORY, "assumed (the machine's memory is unknown)"),
                };
                MaxMemory {
                    bytes: (total as f64 * DEFAULT_SHARE) as u64,
                    explicit: false,
                    source: format!(
                        "{:.0}% of {} {from}",
                        DEFAULT_SHARE * 100.0,
                        fmt_bytes(total)
                    ),
                }
            }
        }
    }
}

/// The machine's memory: `MemTotal` of `/proc/meminfo`, or the cgroup's
/// `memory.max` when it is lower (a container).
pub fn machine_memory() -> Option<(u64, &'static str)> {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    match (total, cgroup) {
        (Some(t), Some(c)) if c < t => Some((c, "(cgroup memory.max)")),
        (Some(t), _) => Some((t, "(physical memory)")),
        (None, Some(c)) => Some((c, "(cgroup memory.max)")),
        (None, None) => None,
    }
}

/// `1.5 GiB`, `512 MiB`, `12 KiB`, `100 B`.
pub fn fmt_bytes(b: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (u, n) in UNITS {
        if b >= n {
            return format!("{:.1} {u}", b as f64 / n as f64);
        }
    }
    format!("{b} B")
}

/// How a run fits in its memory limit.
#[derive(Debug, Clone)]
pub struct MemoryPlan {
    /// The limit.
    pub max: MaxMemory,
    /// Per variant (in order): its in-flight cap and its campaign bound.
    pub variants: Vec<(String, u64, CampaignMemory)>,
    /// The largest campaign bound of any variant.
    pub per_campaign: u64,
    /// The largest pooled two-scale baseline and library of any variant.
    pub pooled: u64,
    /// Threads that run campaigns at once.
    pub threads: usize,
    /// The whole run's bound: fixed + pooled + threads × per campaign.
    pub total: u64,
}

impl MemoryPlan {
    /// The manifest's `limits` entry.
    pub fn manifest(&self, refused_over_cap: u64) -> sim_output::manifest::Limits {
        sim_output::manifest::Limits {
            max_memory: self.max.bytes,
            max_memory_source: self.max.source.clone(),
            memory_bound: self.total,
            memory_bound_per_campaign: self.per_campaign,
            memory_pooled: self.pooled,
            threads_at_once: self.threads as u64,
            in_flight_cap: self
                .variants
                .iter()
                .map(|(n, c, _)| sim_output::manifest::InFlightCap {
                    variant: n.clone(),
                    cap: *c,
                    bytes_per_request: (*c > 0)
                        .then(|| self.bound_of(n).map(|m| m.in_flight / c))
                        .flatten(),
                })
                .collect(),
            refused_over_cap,
        }
    }

    fn bound_of(&self, name: &str) -> Option<CampaignMemory> {
        self.variants.iter().find(|v| v.0 == name).map(|v| v.2)
    }
}

/// Fits the run in `max`: sets every variant's in-flight cap and returns
/// the plan (threads at once may be fewer than `threads`), or the message
/// of a refusal.
pub fn plan_memory(
    variants: &mut [PreparedVariant],
    two_scale: bool,
    max: MaxMemory,
    threads: usize,
) -> Result<MemoryPlan, String> {
    let pooled = if two_scale {
        variants
            .iter()
            .map(|v| Work::of(&v.model).pooled_bytes(&v.model))
            .max()
            .unwrap_or(0)
    } else {
        0
    };
    let room = max.bytes.saturating_sub(RUN_FIXED_BYTES + pooled);
    if room == 0 || pooled > max.bytes {
        let v = variants
            .iter()
            .max_by_key(|v| Work::of(&v.model).pooled_bytes(&v.model))
            .expect("the base");
        let w = Work::of(&v.model);
        return Err(format!(
            "memory: variant `{}`: the two-scale library of isolated faults holds {} ({} episodes × {} handlers × 4 latency tallies of at most {}), and the run {} more; --max-memory is {} ({}). \
             Give a larger --max-memory, fewer failure modes on the resources the handlers reach, or use `--scale request` with a shorter `horizon:`.",
            v.name,
            fmt_bytes(pooled),
            w.library_episodes,
            v.model.handlers.len(),
            fmt_bytes(sim_core::HistogramPoints::max_bytes()),
            fmt_bytes(RUN_FIXED_BYTES),
            fmt_bytes(max.bytes),
            max.source
        ));
    }
    let mut out = Vec::with_capacity(variants.len());
    for v in variants.iter_mut() {
        let mut cap = default_cap(&v.model);
        let mut m = CampaignMemory::of(&v.model, cap, two_scale);
        if m.total() > room {
            match (max.explicit, cap_within(&v.model, room, two_scale)) {
                (true, Some(c)) => {
                    cap = c;
                    m = CampaignMemory::of(&v.model, cap, two_scale);
                }
                _ => return Err(refusal(v, cap, &m, &max, room, two_scale)),
            }
        }
        v.model.in_flight_cap = cap;
        out.push((v.name.to_string(), cap, m));
    }
    let per_campaign = out.iter().map(|v| v.2.total()).max().unwrap_or(0).max(1);
    let fit = (room / per_campaign).max(1) as usize;
    let threads = threads.clamp(1, fit);
    Ok(MemoryPlan {
        total: RUN_FIXED_BYTES + pooled + threads as u64 * per_campaign,
        max,
        variants: out,
        per_campaign,
        pooled,
        threads,
    })
}

fn refusal(
    v: &PreparedVariant,
    cap: u64,
    m: &CampaignMemory,
    max: &MaxMemory,
    room: u64,
    two_scale: bool,
) -> String {
    let (term, _) = m.dominant();
    let per = bytes_per_in_flight(&v.model);
    let advice = match term {
        "in-flight requests" if max.explicit => format!(
            "even the smallest in-flight cap ({MIN_IN_FLIGHT_CAP} requests) does not fit: give a larger --max-memory"
        ),
        "in-flight requests" => format!(
            "give --max-memory (the in-flight cap is then lowered to fit, down to {MIN_IN_FLIGHT_CAP} requests; requests over it are refused as errors), or lower `retry.max_attempts` (each attempt adds queued events to a request's cost)"
        ),
        "episode segments" => "use fewer or rarer failure modes, a shorter window, or `--scale request` with a shorter `horizon:`".to_string(),
        _ => "use fewer resources, handlers or failure modes, or give a larger --max-memory".to_string(),
    };
    format!(
        "memory: variant `{}`: one campaign{} may hold {} — in-flight requests {} ({} requests × {} each), episode segments {}, actors and histograms {}{} — more than the {} that --max-memory {} ({}) leaves after {} for the run; the largest term is {term}: {advice}.",
        v.name,
        if two_scale { " (two-scale)" } else { "" },
        fmt_bytes(m.total()),
        fmt_bytes(m.in_flight),
        cap,
        fmt_bytes(per),
        fmt_bytes(m.episodes),
        fmt_bytes(m.fixed),
        if m.copy > 0 {
            format!(
                ", and the copy a library episode runs beside them {}",
                fmt_bytes(m.copy)
            )
        } else {
            String::new()
        },
        fmt_bytes(room),
        fmt_bytes(max.bytes),
        max.source,
        fmt_bytes(RUN_FIXED_BYTES),
    )
}

/// Refuses a two-scale run that cannot finish in bounded work: the healthy
/// baseline, one episode, one library episode or one campaign's episodes
/// would simulate more than [`MAX_REQUESTS_PER_SIMULATION`] workload
/// requests, or a campaign expects more than [`MAX_FAULTS_PER_CAMPAIGN`]
/// faults.
pub fn check_two_scale_work(variants: &[PreparedVariant]) -> Result<(), String> {
    let lim = MAX_REQUESTS_PER_SIMULATION;
    for v in variants {
        let w = Work::of(&v.model);
        let m = |x: f64| x / 1e6;
        let what = if w.baseline_requests > lim {
            Some(format!(
                "its healthy baseline alone simulates {:.0} million requests ({:.0} requests/s over a warm-up of {} and a span of {})",
                m(w.baseline_requests),
                w.rate,
                sim_models::spec::Duration::from_secs(
                    sim_models::two_scale::Baseline::warmup(&v.model).as_secs_f64()
                ),
                sim_models::spec::Duration::from_secs(
                    sim_models::two_scale::Baseline::default_span(&v.model).as_secs_f64()
                ),
            ))
        } else if w.faults > MAX_FAULTS_PER_CAMPAIGN {
            Some(format!(
                "a campaign expects {:.0} faults (at most {MAX_FAULTS_PER_CAMPAIGN:.0})",
                w.faults
            ))
        } else if w.episode_requests > lim || w.library_episode_requests > lim {
            Some(format!(
                "one episode around a fault simulates at least {:.0} million requests ({:.0} requests/s over its warm-up, lead and settle margins)",
                m(w.episode_requests.max(w.library_episode_requests)),
                w.rate
            ))
        } else if w.campaign_requests > lim {
            Some(format!(
                "a campaign's episodes simulate about {:.0} million requests ({:.1} faults expected per campaign at {:.0} requests/s)",
                m(w.campaign_requests),
                w.faults,
                w.rate
            ))
        } else {
            None
        };
        if let Some(what) = what {
            return Err(format!(
                "horizon: variant `{}`: the two-scale method cannot finish in bounded work: {what}; the limit is {:.0} million requests per simulation. \
                 Lower the workload's rate (or model a fraction of the traffic), or use rarer failure modes.",
                v.name,
                m(lim)
            ));
        }
    }
    Ok(())
}
