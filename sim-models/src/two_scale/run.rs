//! Stage 5, one campaign over the window ([`run_window`]): the fault
//! timeline, episodes simulated or composed from the library, and the
//! baseline for the healthy rest, combined into the [`CampaignResult`] a
//! request-level campaign gives.

use sim_core::{CampaignSeed, SimDuration, SimTime, splitmix64, stream_key};

use super::episodes::reachable;
use super::simulate::PooledTally;
use super::{
    Baseline, Counted, Tally, cut_episodes, expected_arrivals, fault_timeline, plan_episode_pooled,
    serving_logs, simulate_plan,
};
use crate::campaign::{
    CampaignMode, CampaignResult, FaultInterval, HandlerResult, availability, breached,
};
use crate::model::Model;
use crate::usage::Usage;

/// The seed of episode `k` of a campaign.
fn episode_seed(seed: CampaignSeed, k: usize) -> CampaignSeed {
    CampaignSeed::from_u64(splitmix64(
        seed.as_u64() ^ stream_key(&format!("episode/{k}")),
    ))
}

/// One campaign over the model's whole horizon by the two-scale method:
/// the same figures as [`crate::campaign::run_campaign`], from a fault
/// timeline, request-level episodes around its faults, and `baseline` for
/// the healthy rest. `events` counts the events of the episodes only.
pub fn run_window(
    model: &Model,
    seed: CampaignSeed,
    mode: CampaignMode,
    baseline: &Baseline,
) -> CampaignResult {
    run_window_with(model, seed, mode, baseline, EpisodeReuse::default()).result
}

/// A simulated episode of a campaign, kept ([`EpisodeReuse::keep`]) so
/// that the same campaign of another variant can take it instead of
/// simulating it again, when the episode did not exercise what that
/// variant changes ([`EpisodeReuse::prior`]): it is then, event for event,
/// what that variant would simulate. Its tallies are kept as their
/// recorded values ([`PooledTally`]): a few KiB.
#[derive(Debug, Clone)]
pub struct KeptEpisode {
    /// The episode's index in its campaign.
    k: u32,
    handlers: Vec<(PooledTally, PooledTally)>,
    openings: Vec<u32>,
    events: u64,
    hung: u64,
    refused_over_cap: u64,
    misrouted: u64,
    usage: Usage,
    settled_early: SimDuration,
}

impl KeptEpisode {
    fn of(k: usize, c: &Counted) -> KeptEpisode {
        KeptEpisode {
            k: k as u32,
            handlers: c
                .handlers
                .iter()
                .map(|(x, i)| (x.into(), i.into()))
                .collect(),
            openings: c.openings.clone(),
            events: c.events,
            hung: c.hung,
            refused_over_cap: c.refused_over_cap,
            misrouted: c.misrouted,
            usage: c.usage,
            settled_early: c.settled_early,
        }
    }

    /// The episode's figures, as simulating it gave them.
    fn counted(&self) -> Counted {
        let tally = |p: &PooledTally| {
            let mut t = Tally::default();
            t.add_pooled(p, 1.0);
            t
        };
        Counted {
            handlers: self
                .handlers
                .iter()
                .map(|(x, i)| (tally(x), tally(i)))
                .collect(),
            openings: self.openings.clone(),
            events: self.events,
            hung: self.hung,
            refused_over_cap: self.refused_over_cap,
            misrouted: self.misrouted,
            usage: self.usage,
            settled_early: self.settled_early,
            healthy_arrivals: 0.0,
        }
    }

    /// What the episode exercised.
    pub fn usage(&self) -> &Usage {
        &self.usage
    }

    /// The bytes it takes, for memory bounds.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<KeptEpisode>()
            + self.openings.capacity() * 4
            + self.handlers.capacity() * std::mem::size_of::<(PooledTally, PooledTally)>()
            + self
                .handlers
                .iter()
                .map(|(x, i)| x.latency.heap_bytes() + i.latency.heap_bytes())
                .sum::<usize>()
    }
}

/// Whether an episode that exercised a [`Usage`] is another variant's too.
pub type Unchanged<'a> = &'a (dyn Fn(&Usage) -> bool + Sync);

/// What [`run_window_with`] does with a campaign's simulated episodes
/// besides counting them.
#[derive(Clone, Copy, Default)]
pub struct EpisodeReuse<'a> {
    /// Keep every simulated episode ([`KeptEpisode`]).
    pub keep: bool,
    /// The kept episodes of the same campaign (same seed) of another
    /// variant whose fault timeline, margins and library classes are this
    /// one's, and whether an episode that exercised a [`Usage`] is this
    /// variant's too: such an episode is taken, not simulated.
    pub prior: Option<(&'a [KeptEpisode], Unchanged<'a>)>,
}

/// A campaign of [`run_window_with`].
#[derive(Debug, Clone)]
pub struct WindowRun {
    /// The campaign's figures.
    pub result: CampaignResult,
    /// Its simulated episodes (empty unless [`EpisodeReuse::keep`]).
    pub kept: Vec<KeptEpisode>,
    /// Episodes taken from [`EpisodeReuse::prior`] instead of simulated.
    pub taken: u32,
}

/// [`run_window`], keeping its simulated episodes or taking another
/// variant's ([`EpisodeReuse`]).
pub fn run_window_with(
    model: &Model,
    seed: CampaignSeed,
    mode: CampaignMode,
    baseline: &Baseline,
    reuse: EpisodeReuse<'_>,
) -> WindowRun {
    let mut kept = Vec::new();
    let mut taken = 0;
    let horizon = SimTime::ZERO + model.horizon;
    let timeline = fault_timeline(model, seed, mode);
    let reach = reachable(model);
    let relevant: Vec<FaultInterval> = timeline
        .faults
        .iter()
        .filter(|f| reach[f.resource])
        .copied()
        .collect();
    let m = &baseline.margins;
    let episodes = cut_episodes(&relevant, m, horizon);

    let nh = model.handlers.len();
    let mut tallies: Vec<(Tally, Tally)> = vec![(Tally::default(), Tally::default()); nh];
    let mut openings = vec![0u32; nh];
    let (mut events, mut hung) = (0u64, 0u64);
    // Not scaled like the figures: any misrouted message taints the campaign.
    let mut misrouted = baseline.counted.misrouted;
    let mut refused = 0.0;
    let mut covered_arrivals = 0.0;
    let mut picks = seed.stream(stream_key("library"));
    let mut usage = Usage::default();
    for (k, e) in episodes.iter().enumerate() {
        let span = |from: SimTime, to: SimTime| {
            expected_arrivals(model, from.as_secs_f64(), to.as_secs_f64())
        };
        if let Some(lib) = &baseline.library
            && let Some(c) = lib.compose(model, e, &relevant, m, horizon, &mut picks, &mut tallies)
        {
            // What the entries left to healthy time (they settled early).
            covered_arrivals += span(e.start, e.end) - c.healthy_arrivals;
            usage.composed |= c.usage.composed;
            for (h, o) in c.openings.iter().enumerate() {
                openings[h] += o;
            }
            hung += c.hung;
            refused += c.refused_over_cap as f64;
            misrouted += c.misrouted;
            continue;
        }
        let eseed = episode_seed(seed, k);
        let dither: f64 = rand::RngExt::random(&mut eseed.stream(stream_key("cut")));
        // With a library, a stretch in which one fault is active alone
        // takes its steady rest from the library's sample of that fault.
        let lib = baseline.library.as_ref();
        let (plan, rests) = plan_episode_pooled(e, &relevant, m, dither, |i| {
            lib.is_some_and(|l| l.class_of(&relevant[i]).is_some())
        });
        let prior = reuse.prior.and_then(|(episodes, same)| {
            episodes
                .iter()
                .find(|p| p.k as usize == k)
                .filter(|p| same(&p.usage))
        });
        let c = match prior {
            Some(p) => {
                taken += 1;
                p.counted()
            }
            None => simulate_plan(model, &plan, &relevant, eseed),
        };
        if reuse.keep {
            kept.push(KeptEpisode::of(k, &c));
        }
        // The settle after the last repair is simulated in full time (no
        // cut), so an early settle leaves the end of the span, in window
        // time, to healthy time.
        let settled = SimTime(e.end.0 - c.settled_early.0.min(e.end.0 - e.start.0));
        covered_arrivals += span(e.start, settled);
        for r in &rests {
            let class = lib
                .and_then(|l| {
                    l.steady(
                        model,
                        &relevant[r.fault],
                        r.from,
                        r.to,
                        &mut picks,
                        &mut tallies,
                    )
                })
                .expect("pooled only where the library holds the class");
            usage.composed |= 1 << class.min(63);
        }
        for (h, (ext, int)) in c.handlers.iter().enumerate() {
            tallies[h].0.merge(ext);
            tallies[h].1.merge(int);
            openings[h] += c.openings[h];
        }
        usage.merge(&c.usage);
        events += c.events;
        hung += c.hung;
        refused += c.refused_over_cap as f64;
        misrouted += c.misrouted;
    }
    // Healthy time: the rest of the window, in expected arrivals.
    let healthy =
        (expected_arrivals(model, 0.0, horizon.as_secs_f64()) - covered_arrivals).max(0.0);
    // The baseline's own workload requests are the unit: its per-request
    // figures are scaled to the expected healthy count (scaling by time
    // instead would carry the sample's Poisson noise into every campaign).
    let base: f64 = baseline
        .counted
        .handlers
        .iter()
        .map(|(e, _)| e.requests)
        .sum();
    let w = if base > 0.0 { healthy / base } else { 0.0 };
    for (h, (ext, int)) in baseline.counted.handlers.iter().enumerate() {
        tallies[h].0.add_scaled(ext, w);
        tallies[h].1.add_scaled(int, w);
        openings[h] += (f64::from(baseline.counted.openings[h]) * w).round() as u32;
    }
    refused += baseline.counted.refused_over_cap as f64 * w;

    let logs = serving_logs(model, &timeline.faults);
    let mut handlers = Vec::with_capacity(nh);
    let mut entry = Tally::default();
    let mut entry_path: Vec<usize> = Vec::new();
    for (i, def) in model.handlers.iter().enumerate() {
        let (ext, int) = &tallies[i];
        let mut all = ext.clone();
        all.merge(int);
        let summary = all.summary();
        let path: Vec<&[(SimTime, bool)]> =
            def.hard_path.iter().map(|r| logs[*r].as_slice()).collect();
        handlers.push(HandlerResult {
            summary,
            availability: availability(&path, horizon),
            slo_breached: breached(&summary, &def.slo),
            breaker_openings: openings[i],
        });
        if model.workloads.iter().any(|w| w.handler == i) {
            entry.merge(ext);
            entry_path.extend(&def.hard_path);
        }
    }
    entry_path.sort_unstable();
    entry_path.dedup();
    let entry_logs: Vec<&[(SimTime, bool)]> =
        entry_path.iter().map(|r| logs[*r].as_slice()).collect();
    let result = CampaignResult {
        horizon_s: model.horizon.as_secs_f64(),
        summary: entry.summary(),
        availability: availability(&entry_logs, horizon),
        slo_breached: handlers.iter().any(|h| h.slo_breached),
        faults: timeline.faults.len() as u32,
        faults_seen: {
            let mut seen: Vec<u32> = timeline.faults.iter().filter_map(|f| f.process).collect();
            seen.sort_unstable();
            seen.dedup();
            seen
        },
        weight: timeline.ln_weight.exp(),
        events,
        hung,
        refused_over_cap: refused.round() as u64,
        handlers,
        misrouted,
        usage: Some(usage),
    };
    WindowRun {
        result,
        kept,
        taken,
    }
}
