//! The campaign runner: variants × modes × campaigns, in parallel, into a run directory.
//!
//! Campaigns are identified by index and seeded from
//! `(master seed, campaign index)` (and the injection of targeted
//! campaigns), so a campaign's rows do not depend on the thread that ran
//! it. By default every variant reuses the base's seeds (*common random
//! numbers*): campaign `c` of a variant draws, for everything it shares with
//! the base, the same numbers as campaign `c` of the base, so differences
//! between variants are measured on paired campaigns ([`PairedTally`],
//! `docs/what-if.md`); `--independent-streams` seeds each variant apart. Work is cut into chunks of
//! [`CHUNK`] campaigns; a chunk runs in parallel on the rayon pool and its
//! results are collected *in index order*, then written and folded into the
//! risk counters in that order. So the output files are byte-for-byte the
//! same whatever the thread count, and memory stays bounded by one chunk
//! however many campaigns run.

use std::sync::Arc;

use rayon::prelude::*;
use sim_core::{CampaignSeed, splitmix64, stream_key};
use sim_models::campaign::{CampaignMode, CampaignResult, run_campaign};
use sim_models::live::{LiveEvent, run_live};
use sim_models::model::Model;
use sim_models::spec::Criticality;
use sim_models::two_scale::{
    Baseline, EpisodeReuse, KeptEpisode, LIBRARY_REPS, LibraryEntry, LibraryTask, run_window_with,
};
use sim_models::usage::Usage;

use crate::error::{Error, check_routed};
use crate::prepare::PreparedVariant;
use crate::risk::{
    Decision, criticality_str, decide_interval, newcombe_paired, paired_weighted, threshold_for,
    wilson,
};
use crate::timing::{Mark, Phases};
use sim_output::{
    CampaignRow, EventRow, HandlerRow, Mode, OutputError, PathRow, RiskRow, RunWriter,
};

/// Campaigns per parallel chunk: results of one chunk are held in memory at once.
pub const CHUNK: u64 = 2048;

/// Which campaigns to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignModes {
    /// The natural failure processes.
    Natural,
    /// One set of campaigns per explicit injection.
    Targeted,
    /// Both.
    Both,
}

impl CampaignModes {
    /// `natural`, `targeted` or `both`, as `--mode` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignModes::Natural => "natural",
            CampaignModes::Targeted => "targeted",
            CampaignModes::Both => "both",
        }
    }
}

impl std::str::FromStr for CampaignModes {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            CampaignModes::Natural,
            CampaignModes::Targeted,
            CampaignModes::Both,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
        .ok_or_else(|| format!("expected `natural`, `targeted` or `both`, got `{s}`"))
    }
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
    pub mode: CampaignModes,
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
    /// The two-sided normal quantile of the intervals `until_decided`
    /// decides with at each look ([`crate::risk::Z95`] for 95%; the gate
    /// splits its error rate over its looks, [`crate::gate`]).
    pub decide_z: f64,
    /// Importance sampling of rare failures (`--rare-event`): the variants'
    /// models carry the biases, and risks are weighted estimates.
    pub rare_event: Option<RareEvent>,
    /// Seed each variant's campaigns apart (`--independent-streams`) rather
    /// than reuse the base's seeds (common random numbers, the default).
    pub independent_streams: bool,
    /// Live injection of `failure_injection_profile` in natural campaigns
    /// (request-level runs only; see `docs/injection.md`).
    pub live: Option<crate::predict::LiveSpec>,
    /// Write the injection log (`--events`).
    pub events: bool,
    /// Two-scale: the most bytes of the base's simulated episodes kept for
    /// remediation ([`BaseOutcomes`], [`crate::limits::kept_episodes_room`];
    /// 0: none).
    pub kept_episodes_bytes: u64,
}

impl RunPlan {
    /// The stream index campaigns of `v` are seeded with: 0 for every
    /// variant under common random numbers, the variant's index with
    /// independent streams.
    pub fn stream_index(&self, v: &PreparedVariant) -> u64 {
        if self.independent_streams { v.index } else { 0 }
    }
}

/// Where the runner sends campaign and handler rows: the run directory
/// ([`RunWriter`]), nowhere ([`Discard`], for the re-simulations of
/// remediation candidates), or anything a test wants to look at.
pub trait RowSink {
    /// One row of `campaigns.parquet`.
    fn campaign(&mut self, row: &CampaignRow) -> Result<(), OutputError>;
    /// One row of `handlers.parquet`.
    fn handler(&mut self, row: &HandlerRow) -> Result<(), OutputError>;
    /// One row of `events.parquet` (dropped unless the sink keeps them).
    fn event(&mut self, _row: &EventRow) -> Result<(), OutputError> {
        Ok(())
    }
    /// One row of `paths.parquet` (dropped unless the sink keeps them).
    fn path(&mut self, _row: &PathRow) -> Result<(), OutputError> {
        Ok(())
    }
}

impl RowSink for RunWriter {
    fn campaign(&mut self, row: &CampaignRow) -> Result<(), OutputError> {
        self.write_campaign(row)
    }
    fn handler(&mut self, row: &HandlerRow) -> Result<(), OutputError> {
        self.write_handler(row)
    }
    fn event(&mut self, row: &EventRow) -> Result<(), OutputError> {
        self.write_event(row)
    }
    fn path(&mut self, row: &PathRow) -> Result<(), OutputError> {
        self.write_path(row)
    }
}

/// A [`RowSink`] that drops every row: only the tallies of the run are kept.
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

impl RowSink for Discard {
    fn campaign(&mut self, _: &CampaignRow) -> Result<(), OutputError> {
        Ok(())
    }
    fn handler(&mut self, _: &HandlerRow) -> Result<(), OutputError> {
        Ok(())
    }
}

/// A [`RowSink`] that keeps every row in memory, in the order sent: for a
/// range's part, a replayed campaign, a test.
#[derive(Debug, Clone, Default)]
pub struct Collect {
    /// Rows of `campaigns.parquet`.
    pub campaigns: Vec<CampaignRow>,
    /// Rows of `handlers.parquet`.
    pub handlers: Vec<HandlerRow>,
    /// Rows of `events.parquet`.
    pub events: Vec<EventRow>,
}

impl RowSink for Collect {
    fn campaign(&mut self, row: &CampaignRow) -> Result<(), OutputError> {
        self.campaigns.push(row.clone());
        Ok(())
    }
    fn handler(&mut self, row: &HandlerRow) -> Result<(), OutputError> {
        self.handlers.push(row.clone());
        Ok(())
    }
    fn event(&mut self, row: &EventRow) -> Result<(), OutputError> {
        self.events.push(row.clone());
        Ok(())
    }
}

/// The base variant's outcome of each natural campaign, kept so that
/// variants can be paired with it campaign by campaign: one breach bit per
/// campaign and handler (memory: campaigns × handlers bits), and with
/// `--rare-event` each campaign's weight.
#[derive(Debug, Clone, Default)]
pub struct BaseOutcomes {
    /// The base's handler ids, in model order.
    pub handlers: Vec<Arc<str>>,
    /// Campaigns recorded (0..campaigns).
    pub campaigns: u64,
    /// Per handler: bit `c % 64` of word `c / 64` says whether campaign `c` breached.
    bits: Vec<Vec<u64>>,
    /// Per campaign: its importance-sampling weight (empty without `--rare-event`).
    weights: Vec<f64>,
    /// Per campaign: what it exercised ([`Usage`], 24 bytes), which tells
    /// remediation whether a candidate's change could alter it.
    usage: Vec<Usage>,
    /// Two-scale, per campaign from the first: its simulated episodes, which
    /// a candidate's campaign takes where they exercised nothing its change
    /// acts on; kept while they fit in `kept_room` bytes.
    episodes: Vec<Vec<KeptEpisode>>,
    kept_bytes: u64,
    kept_room: u64,
}

impl BaseOutcomes {
    fn new(handlers: Vec<Arc<str>>) -> Self {
        let bits = vec![Vec::new(); handlers.len()];
        BaseOutcomes {
            handlers,
            campaigns: 0,
            bits,
            weights: Vec::new(),
            usage: Vec::new(),
            episodes: Vec::new(),
            kept_bytes: 0,
            kept_room: 0,
        }
    }

    /// Keeps campaigns' simulated episodes in at most `bytes` from now on.
    fn keep_episodes(mut self, bytes: u64) -> Self {
        self.kept_room = bytes;
        self
    }

    /// The simulated episodes of the campaign just pushed, kept when every
    /// campaign before it kept its own and they fit.
    fn push_episodes(&mut self, kept: Vec<KeptEpisode>) {
        let bytes = (std::mem::size_of::<Vec<KeptEpisode>>()
            + kept.iter().map(KeptEpisode::bytes).sum::<usize>()) as u64;
        if self.episodes.len() as u64 + 1 == self.campaigns
            && self.kept_bytes + bytes <= self.kept_room
        {
            self.kept_bytes += bytes;
            self.episodes.push(kept);
        }
    }

    /// The simulated episodes of campaign `c`, when kept.
    pub fn episodes(&self, c: u64) -> Option<&[KeptEpisode]> {
        self.episodes.get(c as usize).map(Vec::as_slice)
    }

    /// The bytes the kept episodes take (at most
    /// [`RunPlan::kept_episodes_bytes`]), and of how many campaigns.
    pub fn kept(&self) -> (u64, u64) {
        (self.kept_bytes, self.episodes.len() as u64)
    }

    /// Records the next campaign: its breach per handler, its weight, its usage.
    fn push(
        &mut self,
        breached: impl Iterator<Item = bool>,
        weight: Option<f64>,
        usage: Option<&Usage>,
    ) {
        if let Some(u) = usage
            && self.usage.len() as u64 == self.campaigns
        {
            self.usage.push(*u);
        }
        let (word, bit) = ((self.campaigns / 64) as usize, self.campaigns % 64);
        for (h, b) in breached.enumerate() {
            let words = &mut self.bits[h];
            if words.len() <= word {
                words.push(0);
            }
            words[word] |= u64::from(b) << bit;
        }
        if let Some(w) = weight {
            self.weights.push(w);
        }
        self.campaigns += 1;
    }

    /// Whether handler `h` (index into [`Self::handlers`]) breached in campaign `c`.
    pub fn breached(&self, h: usize, c: u64) -> bool {
        self.bits[h]
            .get((c / 64) as usize)
            .is_some_and(|w| w >> (c % 64) & 1 == 1)
    }

    /// The weight of campaign `c` (1 without `--rare-event`).
    pub fn weight(&self, c: u64) -> f64 {
        self.weights.get(c as usize).copied().unwrap_or(1.0)
    }

    /// What campaign `c` exercised (`None` when not recorded).
    pub fn usage(&self, c: u64) -> Option<&Usage> {
        self.usage.get(c as usize)
    }

    /// Forgets what the campaigns exercised: remediation then simulates
    /// every campaign a candidate runs (to check that taking the base's
    /// changes nothing).
    pub fn forget_usage(&mut self) {
        self.usage = Vec::new();
        self.episodes = Vec::new();
    }
}

/// One handler's breaches under a variant paired, campaign by campaign,
/// with the same handler's (matched by name) under the base: the paired
/// 2×2 table, and with `--rare-event` the sums of the weighted differences.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PairedTally {
    /// Paired campaigns (those both ran).
    pub campaigns: u64,
    /// Breached under both.
    pub both: u64,
    /// Breached under the base only.
    pub base_only: u64,
    /// Breached under the variant only.
    pub variant_only: u64,
    /// Breached under neither.
    pub neither: u64,
    /// Sum of `w_v·y_v − w_b·y_b` (weights times breach indicators).
    pub sum_d: f64,
    /// Sum of `w_b·y_b`: the base's weighted breaches over the paired campaigns.
    pub sum_base: f64,
    /// Sum of their squares.
    pub sum_base2: f64,
    /// Sum of `w_v·y_v`: the variant's weighted breaches.
    pub sum_variant: f64,
    /// Sum of their squares.
    pub sum_variant2: f64,
    /// Sum of the squared differences.
    pub sum_d2: f64,
}

impl PairedTally {
    /// Records one paired campaign: whether the base and the variant
    /// breached, and their importance-sampling weights (1 without
    /// `--rare-event`).
    pub fn add(&mut self, base: bool, variant: bool, w_base: f64, w_variant: f64) {
        self.campaigns += 1;
        match (base, variant) {
            (true, true) => self.both += 1,
            (true, false) => self.base_only += 1,
            (false, true) => self.variant_only += 1,
            (false, false) => self.neither += 1,
        }
        let wb = if base { w_base } else { 0.0 };
        let wv = if variant { w_variant } else { 0.0 };
        let d = wv - wb;
        self.sum_base += wb;
        self.sum_base2 += wb * wb;
        self.sum_variant += wv;
        self.sum_variant2 += wv * wv;
        self.sum_d += d;
        self.sum_d2 += d * d;
    }

    /// `(risk, low, high)` of the base (`variant == false`) or of the
    /// variant over the paired campaigns, with the interval of
    /// [`HandlerTally::interval`] (Wilson's, or the weighted normal one).
    pub fn risk(&self, variant: bool, weighted: bool) -> (f64, f64, f64) {
        let (k, w, w2) = if variant {
            (
                self.both + self.variant_only,
                self.sum_variant,
                self.sum_variant2,
            )
        } else {
            (self.both + self.base_only, self.sum_base, self.sum_base2)
        };
        if weighted {
            crate::risk::weighted(w, w2, self.campaigns)
        } else {
            wilson(k, self.campaigns)
        }
    }

    /// [`Self::interval`] at the two-sided level whose normal quantile is
    /// `z` (the stricter level of remediation's stopping rule).
    pub fn interval_z(&self, weighted: bool, z: f64) -> (f64, f64, f64) {
        let counts = || {
            crate::risk::newcombe_paired_z(
                self.both,
                self.base_only,
                self.variant_only,
                self.neither,
                z,
            )
        };
        if weighted {
            crate::risk::paired_weighted_z(self.sum_d, self.sum_d2, self.campaigns, z)
                .unwrap_or_else(counts)
        } else {
            counts()
        }
    }

    /// The base's risk over the paired campaigns: its breach frequency, or
    /// under importance sampling (`weighted`) its weighted estimate.
    pub fn base_risk(&self, weighted: bool) -> f64 {
        if weighted {
            self.sum_base / self.campaigns as f64
        } else {
            (self.both + self.base_only) as f64 / self.campaigns as f64
        }
    }

    /// `(difference, low, high)`: risk(variant) − risk(base) over the
    /// paired campaigns with its 95% interval: Newcombe's paired interval
    /// ([`newcombe_paired`]), or under importance sampling the normal
    /// interval of the mean weighted difference ([`paired_weighted`];
    /// Newcombe's when every difference is zero).
    pub fn interval(&self, weighted: bool) -> (f64, f64, f64) {
        let counts = || newcombe_paired(self.both, self.base_only, self.variant_only, self.neither);
        if weighted {
            paired_weighted(self.sum_d, self.sum_d2, self.campaigns).unwrap_or_else(counts)
        } else {
            counts()
        }
    }
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

impl std::fmt::Display for RareEvent {
    /// `auto` or the factor, as `--rare-event` takes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RareEvent::Auto => f.write_str("auto"),
            RareEvent::Factor(b) => write!(f, "{b}"),
        }
    }
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
    /// Whether the handler has an SLO: without one it cannot breach, and
    /// it is left out of every decision.
    pub has_slo: bool,
    /// The time the risk covers: the campaign horizon, in seconds.
    pub window_s: f64,
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
    /// For a variant's handler that the base also has: its breaches paired
    /// with the base's, campaign by campaign. `None` for the base.
    pub paired: Option<PairedTally>,
    /// Natural campaigns in which no fault was active at all.
    pub fault_free: u64,
    /// Of those, campaigns in which this handler's SLO was breached.
    pub fault_free_breaches: u64,
    /// Sum over the fault-free campaigns of the handler's error rate
    /// (campaigns with requests only).
    pub fault_free_error_rate_sum: f64,
    /// Sum over the fault-free campaigns of the handler's p99, ms.
    pub fault_free_p99_sum_ms: f64,
    /// Fault-free campaigns with requests (the denominator of both sums).
    pub fault_free_n: u64,
}

impl HandlerTally {
    /// Fewest fault-free campaigns that can show a breach without faults.
    pub const FAULT_FREE_MIN: u64 = 3;

    /// Whether the SLO is breached with no fault at all: in more than half
    /// of at least [`Self::FAULT_FREE_MIN`] natural campaigns in which no
    /// fault was active. A capacity or objective problem, which no
    /// resilience change (timeouts, retries, breakers, fallbacks) fixes.
    pub fn breaches_without_faults(&self) -> bool {
        self.has_slo
            && self.fault_free >= Self::FAULT_FREE_MIN
            && 2 * self.fault_free_breaches > self.fault_free
    }

    /// The handler's mean error rate and mean p99 (ms) over the
    /// fault-free campaigns: its healthy figures (NaN without any).
    pub fn fault_free_figures(&self) -> (f64, f64) {
        if self.fault_free_n == 0 {
            return (f64::NAN, f64::NAN);
        }
        let n = self.fault_free_n as f64;
        (
            self.fault_free_error_rate_sum / n,
            self.fault_free_p99_sum_ms / n,
        )
    }
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
        self.interval_z(weighted, crate::risk::Z95)
    }

    /// [`interval`](Self::interval) at the two-sided level whose normal
    /// quantile is `z`.
    pub fn interval_z(&self, weighted: bool, z: f64) -> (f64, f64, f64) {
        if weighted {
            crate::risk::weighted_z(
                self.weighted_breaches,
                self.weighted_breaches_sq,
                self.campaigns,
                z,
            )
        } else {
            crate::risk::wilson_z(self.breaches, self.campaigns, z)
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

/// What a finished run reports (empty by default: no campaign ran).
#[derive(Debug, Default)]
pub struct RunReport {
    /// Risk rows as written.
    pub risk: Vec<RiskRow>,
    /// Per variant × handler tallies, for the summary table.
    pub tallies: Vec<HandlerTally>,
    /// Per variant × injection tallies of targeted campaigns.
    pub injections: Vec<InjectionTally>,
    /// Campaigns run in all.
    pub campaigns_run: u64,
    /// The scenario's `risk.window` in seconds: the span its thresholds and
    /// the likelihoods of `scenarios.parquet` are per. A risk row covers
    /// its own `window_s` (the campaign horizon), which may be shorter.
    pub risk_window_s: f64,
    /// Wall time.
    pub wall_s: f64,
    /// Where that time went: `baseline` and `library` (two-scale runs: the
    /// pooled healthy samples and isolated-fault episodes of every job),
    /// then `campaigns` (everything else: the campaigns, their rows, the
    /// tallies). They add up to [`Self::wall_s`].
    pub phases: Phases,
    /// Kernel events delivered in all.
    pub events: u64,
    /// Requests refused because a simulation reached its in-flight cap
    /// (`sim_models::limits`), over every campaign.
    pub refused_over_cap: u64,
    /// The base's per-campaign breaches (natural campaigns), which the
    /// variants were paired with; `None` without natural campaigns of the base.
    pub base: Option<BaseOutcomes>,
    /// The base's two-scale baseline and library (natural campaigns of a
    /// two-scale run), which remediation candidates share where their
    /// change does not reach (`docs/remediation.md`).
    pub base_window: Option<Baseline>,
}

/// The seed of campaign `campaign` of a job: `variant` is the job's stream
/// index ([`RunPlan::stream_index`]: 0 for every variant under common random
/// numbers), mixed with the injection when targeted.
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

/// One job of a run: the natural campaigns of a variant, the same
/// campaigns with the injection programme running (an enabled
/// `failure_injection_profile`), or its targeted campaigns of one
/// injection. Its campaigns are numbered from 0 and seeded by
/// [`campaign_seed`]: a programme campaign has the seed, and so the natural
/// faults, of the natural campaign of the same index.
#[derive(Debug, Clone)]
pub struct JobSpec<'a> {
    /// The variant whose model the campaigns run.
    pub variant: &'a PreparedVariant,
    /// Natural, or targeted with the injection's index in the model.
    pub mode: CampaignMode,
    /// The injection's id (targeted campaigns), as the rows carry it.
    pub scenario_id: Option<Arc<str>>,
    /// Natural campaigns with the live-injection programme running
    /// (`mode` is then [`CampaignMode::Natural`]).
    pub programme: bool,
}

/// The jobs of a run in the order they run and their rows are written: per
/// variant (base first), its natural campaigns, for the base the same
/// campaigns with the injection programme running (request-level runs with
/// live injection, [`RunPlan::live`]), then one job per injection.
pub fn plan_jobs<'a>(variants: &'a [PreparedVariant], plan: &RunPlan) -> Vec<JobSpec<'a>> {
    let mut jobs = Vec::new();
    for v in variants {
        if matches!(plan.mode, CampaignModes::Natural | CampaignModes::Both) {
            jobs.push(JobSpec {
                variant: v,
                mode: CampaignMode::Natural,
                scenario_id: None,
                programme: false,
            });
            // The programme runs against the system as deployed: the base.
            if plan.live.is_some() && !plan.two_scale && v.index == 0 {
                jobs.push(JobSpec {
                    variant: v,
                    mode: CampaignMode::Natural,
                    scenario_id: None,
                    programme: true,
                });
            }
        }
        if matches!(plan.mode, CampaignModes::Targeted | CampaignModes::Both) {
            for (k, inj) in v.model.injections.iter().enumerate() {
                jobs.push(JobSpec {
                    variant: v,
                    mode: CampaignMode::Targeted(k),
                    scenario_id: Some(Arc::from(inj.id.as_str())),
                    programme: false,
                });
            }
        }
    }
    jobs
}

/// The name of a job, as parts and messages give it: `base/natural`,
/// `base/programme`, `db-replica/targeted/cache-down`.
pub fn job_name(spec: &JobSpec<'_>) -> String {
    match (&spec.scenario_id, spec.programme) {
        (Some(id), _) => format!("{}/targeted/{id}", spec.variant.name),
        (None, true) => format!("{}/programme", spec.variant.name),
        (None, false) => format!("{}/natural", spec.variant.name),
    }
}

/// Where a run's ranges may already be done and where finished ones go
/// ([`run_paired`]; the parts of `crate::parts` are one).
pub trait RangeStore {
    /// Campaigns per range.
    fn range_size(&self) -> u64;
    /// The outcomes of range `(job, first, end)` when they are stored.
    fn load(&self, key: (usize, u64, u64)) -> Result<Option<Vec<CampaignOutcome>>, Error>;
    /// Stores the outcomes of a range just run.
    fn save(
        &self,
        key: (usize, u64, u64),
        job: &ReadyJob<'_>,
        outcomes: &[CampaignOutcome],
    ) -> Result<(), Error>;
    /// Whether a range not stored is run (`false`: it is an error).
    fn simulate_missing(&self) -> bool;
}

/// A job ready to run campaigns: what all its campaigns share — the
/// two-scale method's healthy baseline and library of episodes, the live
/// injection plan — prepared once ([`ReadyJob::prepare`]).
#[derive(Debug)]
pub struct ReadyJob<'a> {
    /// The job.
    pub spec: JobSpec<'a>,
    /// The two-scale method's baseline with its library (two-scale runs).
    pub baseline: Option<Baseline>,
    /// The injection programme of a programme job ([`JobSpec::programme`]).
    pub live: Option<crate::predict::LiveVariant>,
    /// The variant's handler ids, in model order.
    pub handler_names: Vec<Arc<str>>,
}

/// What one campaign produced: its result, its live-injection log and its
/// rollbacks ([`ReadyJob::run_range`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CampaignOutcome {
    /// The campaign's index in its job.
    pub campaign: u64,
    /// Its seed, as `campaigns.parquet` records it.
    pub seed: u64,
    /// What the campaign measured.
    pub result: CampaignResult,
    /// The live injections' events (empty without live injection).
    pub events: Vec<LiveEvent>,
    /// Live injections rolled back.
    pub rollbacks: u32,
}

impl<'a> ReadyJob<'a> {
    /// Prepares `spec` under `plan`. For the two-scale method this
    /// simulates the variant's healthy baseline and library of
    /// isolated-fault episodes on `pool` (seeded from the master seed and
    /// the variant only: the result does not depend on the thread count),
    /// timed into `phases` as `baseline` and `library` from `mark`.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when the baseline or a library episode delivered
    /// a message to an actor that does not handle it (a bug).
    pub fn prepare(
        spec: JobSpec<'a>,
        plan: &RunPlan,
        pool: &rayon::ThreadPool,
        phases: &mut Phases,
        mark: &mut Mark,
    ) -> Result<ReadyJob<'a>, Error> {
        let v = spec.variant;
        let baseline = plan.two_scale.then(|| {
            phases.lap("campaigns", mark);
            let b = Baseline::for_variant(&v.model, plan.seed, plan.stream_index(v));
            phases.lap("baseline", mark);
            let tasks = b.library_tasks(&v.model, LIBRARY_REPS);
            let chains = LibraryTask::chains(&tasks, |_| true);
            let entries: Vec<Vec<(usize, LibraryEntry)>> =
                pool.install(|| chains.par_iter().map(|c| c.run(&v.model)).collect());
            let entries = entries.into_iter().flatten().map(|(_, e)| e).collect();
            let b = b.with_library(&v.model, LIBRARY_REPS, entries);
            phases.lap("library", mark);
            b
        });
        if let Some(b) = &baseline {
            check_routed(b.misrouted(), || {
                format!(
                    "variant `{}`: the two-scale baseline and library (--seed {})",
                    v.name, plan.seed
                )
            })?;
        }
        Ok(ReadyJob::with_baseline(spec, plan, baseline))
    }

    /// [`ReadyJob::prepare`] with the two-scale baseline and library given
    /// (one prepared earlier for the same variant and plan; `None` at
    /// request level).
    pub fn with_baseline(
        spec: JobSpec<'a>,
        plan: &RunPlan,
        baseline: Option<Baseline>,
    ) -> ReadyJob<'a> {
        let v = spec.variant;
        let live = match (&plan.live, plan.two_scale) {
            (Some(l), false) if spec.programme => Some(crate::predict::live_plan(
                &v.model,
                v.scenario.risk.window.secs(),
                l,
            )),
            _ => None,
        };
        let handler_names = v
            .model
            .handlers
            .iter()
            .map(|h| Arc::from(h.id.as_str()))
            .collect();
        ReadyJob {
            spec,
            baseline,
            live,
            handler_names,
        }
    }

    /// Runs campaigns `range` of this job in parallel on `pool` and returns
    /// their outcomes in campaign order. A campaign's outcome depends only
    /// on the plan's master seed, the job and the campaign's index — not on
    /// the range it was run in, the pool's size or the machine — so a run
    /// may be cut into ranges anywhere (the unit a distributed runner hands
    /// out). `progress` counts campaigns as they finish.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when a campaign delivered a message to an actor
    /// that does not handle it (a bug: its figures would be wrong), naming
    /// the first such campaign in campaign order.
    pub fn run_range(
        &self,
        plan: &RunPlan,
        range: std::ops::Range<u64>,
        pool: &rayon::ThreadPool,
        progress: &crate::progress::Task,
    ) -> Result<Vec<CampaignOutcome>, Error> {
        let (outcomes, _) = self.run_range_keeping(plan, range, pool, progress, false)?;
        Ok(outcomes)
    }

    /// [`Self::run_range`], with each campaign's simulated two-scale
    /// episodes when `keep` (empty otherwise, and for request-level runs).
    fn run_range_keeping(
        &self,
        plan: &RunPlan,
        range: std::ops::Range<u64>,
        pool: &rayon::ThreadPool,
        progress: &crate::progress::Task,
        keep: bool,
    ) -> Result<(Vec<CampaignOutcome>, Vec<Vec<KeptEpisode>>), Error> {
        let v = self.spec.variant;
        let how = CampaignSim::of(self.baseline.as_ref(), self.live.as_ref(), self.spec.mode);
        let runs: Vec<(CampaignOutcome, Vec<KeptEpisode>)> = pool.install(|| {
            range
                .into_par_iter()
                .map(|c| {
                    let seed = campaign_seed(
                        plan.seed,
                        plan.stream_index(v),
                        self.spec.scenario_id.as_deref(),
                        c,
                    );
                    let reuse = EpisodeReuse { keep, prior: None };
                    let r = how.run(&v.model, seed, self.spec.mode, reuse);
                    progress.inc(1);
                    let o = CampaignOutcome {
                        campaign: c,
                        seed: seed.as_u64(),
                        result: r.result,
                        events: r.events,
                        rollbacks: r.rollbacks,
                    };
                    (o, r.kept)
                })
                .collect()
        });
        let (outcomes, kept): (Vec<CampaignOutcome>, Vec<Vec<KeptEpisode>>) =
            runs.into_iter().unzip();
        for o in &outcomes {
            check_routed(o.result.misrouted, || {
                format!(
                    "variant `{}`, {} campaign {} (--seed {}; campaign seed {})",
                    v.name,
                    match &self.spec.scenario_id {
                        Some(id) => format!("targeted `{id}`"),
                        None if self.spec.programme => "programme".to_string(),
                        None => "natural".to_string(),
                    },
                    o.campaign,
                    plan.seed,
                    o.seed
                )
            })?;
        }
        Ok((outcomes, kept))
    }

    /// Sends the rows of one campaign to `sink`: its injection events (when
    /// `events`), its row of `campaigns.parquet` and one row per handler.
    pub fn write_rows<S: RowSink + ?Sized>(
        &self,
        o: &CampaignOutcome,
        events: bool,
        sink: &mut S,
    ) -> Result<(), OutputError> {
        let v = self.spec.variant;
        let r = &o.result;
        let row_mode = match self.spec.mode {
            CampaignMode::Targeted(_) => Mode::Targeted,
            _ if self.spec.programme => Mode::Programme,
            _ => Mode::Natural,
        };
        if let (true, Some(lv)) = (events, &self.live) {
            for e in &o.events {
                let (target, mode) = &lv.labels[e.fault];
                sink.event(&EventRow {
                    variant: v.name.clone(),
                    campaign: o.campaign,
                    campaign_mode: row_mode,
                    time_s: e.time.as_secs_f64(),
                    kind: Arc::from(e.kind.as_str()),
                    target: Arc::from(target.as_str()),
                    mode: Arc::from(mode.as_str()),
                    detail: Arc::from(e.detail.as_str()),
                    replica: e.figures.replica,
                    duration_s: e.figures.duration_s,
                    error_rate: e.figures.error_rate,
                    latency_p99_ms: e.figures.latency_p99_ms,
                    detected_at_s: e.figures.detected_at_s,
                    breach_s: e.figures.breach_s,
                    hold_s: e.figures.hold_s,
                    detection_delay_s: e.figures.detection_delay_s,
                })?;
            }
        }
        send_result(
            sink,
            &v.model,
            &self.handler_names,
            &RowKey {
                variant: &v.name,
                campaign: o.campaign,
                seed: o.seed,
                mode: row_mode,
                scenario_id: self.spec.scenario_id.as_ref(),
            },
            r,
            o.rollbacks,
        )
    }
}

/// Which campaign rows belong to: the keys of `campaigns.parquet` and
/// `handlers.parquet`.
pub(crate) struct RowKey<'a> {
    pub(crate) variant: &'a Arc<str>,
    pub(crate) campaign: u64,
    pub(crate) seed: u64,
    pub(crate) mode: Mode,
    /// The injection or predicted scenario (`None`: the mode names the job).
    pub(crate) scenario_id: Option<&'a Arc<str>>,
}

/// `resource/mode` of failure process `f`, as the rows and the tallies
/// name it; `resource/mode@telemetry` for a hazard raised by telemetry.
pub(crate) fn fault_label(model: &Model, f: &sim_models::model::FaultDef) -> String {
    let origin = match f.origin {
        sim_models::model::FaultOrigin::FailureMode => "",
        sim_models::model::FaultOrigin::Telemetry => "@telemetry",
    };
    format!("{}/{}{origin}", model.resources[f.resource].id, f.mode)
}

/// Sends the row of `campaigns.parquet` of result `r` of a campaign of
/// `model` and one row of `handlers.parquet` per handler (`handler_names`
/// in model order) to `sink`.
pub(crate) fn send_result<S: RowSink + ?Sized>(
    sink: &mut S,
    model: &Model,
    handler_names: &[Arc<str>],
    key: &RowKey<'_>,
    r: &CampaignResult,
    rollbacks: u32,
) -> Result<(), OutputError> {
    sink.campaign(&CampaignRow {
        variant: key.variant.clone(),
        campaign: key.campaign,
        seed: key.seed,
        mode: key.mode,
        scenario_id: key.scenario_id.cloned(),
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
        rollbacks,
        events: r.events,
        weight: r.weight,
        degraded: r.summary.degraded,
        faults: Arc::from(
            r.faults_seen
                .iter()
                .map(|&f| fault_label(model, &model.faults[f as usize]))
                .collect::<Vec<_>>()
                .join(","),
        ),
    })?;
    for (h, name) in r.handlers.iter().zip(handler_names) {
        sink.handler(&HandlerRow {
            variant: key.variant.clone(),
            campaign: key.campaign,
            mode: key.mode,
            scenario_id: key.scenario_id.cloned(),
            handler: name.clone(),
            requests: h.summary.requests,
            errors: h.summary.errors,
            error_rate: h.summary.error_rate,
            latency_mean_ms: h.summary.latency_mean_ms,
            latency_p50_ms: h.summary.latency_p50_ms,
            latency_p99_ms: h.summary.latency_p99_ms,
            availability: h.availability,
            slo_breached: h.slo_breached,
            degraded: h.summary.degraded,
            seed: key.seed,
        })?;
    }
    Ok(())
}

/// The risk counters of a run, folded campaign by campaign in index order.
struct Tallies {
    handlers: Vec<HandlerTally>,
    /// Per variant × handler with the injection programme running: the
    /// programme jobs' tallies, paired with the natural job of their variant.
    programme: Vec<HandlerTally>,
    injections: Vec<InjectionTally>,
    events: u64,
    refused_over_cap: u64,
    weighted: bool,
}

/// Where one job's campaigns go in [`Tallies`].
struct JobTallies<'b> {
    /// The job's handler tallies: `Tallies::handlers[first..]`, or
    /// `Tallies::programme[first..]` for a programme job.
    first: usize,
    /// Whether the job's campaigns are natural, with or without the
    /// programme (counted in risks).
    natural: bool,
    /// Whether they run the injection programme.
    programme: bool,
    /// Targeted: the job's injection tally is the last one.
    targeted: bool,
    /// The base's outcomes to pair with, and per handler of this variant
    /// the base's handler of the same name.
    pair_with: Option<&'b BaseOutcomes>,
    pair_ix: Vec<Option<usize>>,
}

impl Tallies {
    /// Opens the tallies of `job` (paired with `pair_with` when given).
    fn open<'b>(
        &mut self,
        job: &ReadyJob<'_>,
        pair_with: Option<&'b BaseOutcomes>,
    ) -> JobTallies<'b> {
        let v = job.spec.variant;
        let natural = job.spec.mode == CampaignMode::Natural;
        let programme = job.spec.programme;
        let pair_ix: Vec<Option<usize>> = v
            .model
            .handlers
            .iter()
            .map(|h| pair_with.and_then(|b| b.handlers.iter().position(|n| **n == *h.id)))
            .collect();
        let first = if programme {
            self.programme.len()
        } else {
            self.handlers.len()
        };
        if natural {
            let fault_labels: Arc<[String]> = v
                .model
                .faults
                .iter()
                .map(|f| fault_label(&v.model, f))
                .collect();
            for (hi, (h, name)) in v.model.handlers.iter().zip(&job.handler_names).enumerate() {
                let criticality = v.model.resources[h.resource].criticality;
                let into = if programme {
                    &mut self.programme
                } else {
                    &mut self.handlers
                };
                into.push(HandlerTally {
                    variant: v.name.clone(),
                    handler: name.clone(),
                    criticality,
                    threshold: threshold_for(&v.scenario.risk, criticality),
                    has_slo: h.slo.success_rate.is_some() || h.slo.latency_p99.is_some(),
                    window_s: v.model.horizon.as_secs_f64(),
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
                    paired: pair_ix[hi].map(|_| PairedTally::default()),
                    fault_free: 0,
                    fault_free_breaches: 0,
                    fault_free_error_rate_sum: 0.0,
                    fault_free_p99_sum_ms: 0.0,
                    fault_free_n: 0,
                });
            }
        }
        let targeted = matches!(job.spec.mode, CampaignMode::Targeted(_));
        if let (true, Some(id)) = (targeted, &job.spec.scenario_id) {
            self.injections.push(InjectionTally {
                variant: v.name.clone(),
                scenario_id: id.clone(),
                campaigns: 0,
                breaches: 0,
                requests: 0,
                errors: 0,
                availability_sum: 0.0,
            });
        }
        JobTallies {
            first,
            natural,
            programme,
            targeted,
            pair_with,
            pair_ix,
        }
    }

    /// Whether some handler of the job's tallies has an interval that
    /// straddles what it is decided against.
    fn undecided(&self, job: &JobTallies<'_>, decide_at: Option<f64>, z: f64) -> bool {
        self.handlers[job.first..]
            .iter()
            .filter(|t| t.has_slo)
            .any(|t| {
                let at = decide_at.unwrap_or(t.threshold);
                let (_, low, high) = t.interval_z(self.weighted, z);
                decide_interval(low, high, at) == Decision::Undecided
            })
    }

    /// Folds one campaign of the job into the counters.
    fn fold(&mut self, job: &JobTallies<'_>, o: &CampaignOutcome) {
        let r = &o.result;
        self.events += r.events;
        self.refused_over_cap += r.refused_over_cap;
        if job.targeted
            && let Some(t) = self.injections.last_mut()
        {
            t.campaigns += 1;
            t.breaches += u64::from(r.slo_breached);
            t.requests += r.summary.requests;
            t.errors += r.summary.errors;
            t.availability_sum += r.availability;
        }
        if !job.natural {
            return;
        }
        for (hi, h) in r.handlers.iter().enumerate() {
            let t = if job.programme {
                &mut self.programme[job.first + hi]
            } else {
                &mut self.handlers[job.first + hi]
            };
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
            if let (Some(p), Some(b), Some(bi)) = (&mut t.paired, job.pair_with, job.pair_ix[hi])
                && o.campaign < b.campaigns
            {
                p.add(
                    b.breached(bi, o.campaign),
                    h.slo_breached,
                    b.weight(o.campaign),
                    r.weight,
                );
            }
            t.requests += h.summary.requests;
            t.errors += h.summary.errors;
            if h.summary.requests > 0 {
                t.p99_sum_ms += h.summary.latency_p99_ms;
                t.p99_n += 1;
            }
            if r.faults == 0 {
                t.fault_free += 1;
                t.fault_free_breaches += u64::from(h.slo_breached);
                if h.summary.requests > 0 {
                    t.fault_free_error_rate_sum += h.summary.error_rate;
                    t.fault_free_p99_sum_ms += h.summary.latency_p99_ms;
                    t.fault_free_n += 1;
                }
            }
        }
    }

    /// One row of `risk.parquet` per handler tally.
    fn risk_rows(&self) -> Vec<RiskRow> {
        self.handlers
            .iter()
            .map(|t| {
                let (risk, ci_low, ci_high) = t.interval(self.weighted);
                let diff = t
                    .paired
                    .filter(|p| p.campaigns > 0)
                    .map(|p| p.interval(self.weighted));
                let programme = self
                    .programme
                    .iter()
                    .find(|p| p.variant == t.variant && p.handler == t.handler && p.campaigns > 0);
                let prog = programme.map(|p| p.interval(self.weighted));
                let added = programme
                    .and_then(|p| p.paired)
                    .filter(|p| p.campaigns > 0)
                    .map(|p| p.interval(self.weighted));
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
                    over_threshold: t.has_slo && risk > t.threshold,
                    criticality: Arc::from(criticality_str(t.criticality)),
                    risk_diff: diff.map(|d| d.0),
                    risk_diff_low: diff.map(|d| d.1),
                    risk_diff_high: diff.map(|d| d.2),
                    has_slo: t.has_slo,
                    fault_free_campaigns: t.fault_free,
                    fault_free_breaches: t.fault_free_breaches,
                    breached_without_faults: t.breaches_without_faults(),
                    window_s: t.window_s,
                    programme_risk: prog.map(|d| d.0),
                    programme_ci_low: prog.map(|d| d.1),
                    programme_ci_high: prog.map(|d| d.2),
                    programme_added: added.map(|d| d.0),
                    programme_added_low: added.map(|d| d.1),
                    programme_added_high: added.map(|d| d.2),
                }
            })
            .collect()
    }
}

/// Runs every campaign of every variant and sends rows to `sink`. The
/// natural campaigns of the base (the variant of index 0) are recorded, and
/// every other variant's handlers are paired with them
/// ([`HandlerTally::paired`]).
pub fn run_all<S: RowSink + ?Sized>(
    variants: &[PreparedVariant],
    plan: &RunPlan,
    sink: &mut S,
) -> anyhow::Result<RunReport> {
    run_paired(variants, plan, sink, None, None)
}

/// [`run_all`], pairing every variant's natural campaigns with `base` when
/// given (the outcomes of an earlier run of the base with the same seeds,
/// as remediation candidates are), else with the base among `variants`.
///
/// Per job ([`plan_jobs`]): prepare it ([`ReadyJob::prepare`]), run its
/// campaigns a chunk of [`CHUNK`] at a time ([`ReadyJob::run_range`]),
/// then write and fold each chunk's outcomes in campaign order.
///
/// With `store`, campaigns run in the store's ranges: a range a part holds
/// is read from it instead of simulated (a resumed run, a merge), and a
/// range simulated is saved as a part (`docs/distributed.md`).
pub fn run_paired<S: RowSink + ?Sized>(
    variants: &[PreparedVariant],
    plan: &RunPlan,
    sink: &mut S,
    base: Option<&BaseOutcomes>,
    store: Option<&dyn RangeStore>,
) -> anyhow::Result<RunReport> {
    let start = Mark::now();
    let mut mark = start;
    let mut phases = Phases::default();
    if plan.two_scale {
        for p in ["baseline", "library"] {
            phases.add(p, crate::timing::Span::ZERO);
        }
    }
    let weighted = plan.rare_event.is_some();
    let jobs = plan_jobs(variants, plan);
    let mut total = jobs.len() as u64 * plan.campaigns;
    let bar = progress_bar(total, plan.progress);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(plan.threads.max(1))
        .thread_name(|i| format!("preflight-worker-{i}"))
        .build()?;

    let mut tallies = Tallies {
        handlers: Vec::new(),
        programme: Vec::new(),
        injections: Vec::new(),
        events: 0,
        refused_over_cap: 0,
        weighted,
    };
    // The base's outcomes, recorded during its natural job (which comes
    // first) unless given.
    let mut recorded: Option<BaseOutcomes> = None;
    let mut base_window: Option<Baseline> = None;
    let chunk = store.map_or(CHUNK, |s| s.range_size());
    for (j, spec) in jobs.into_iter().enumerate() {
        let v = spec.variant;
        let programme = spec.programme;
        let natural = spec.mode == CampaignMode::Natural && !programme;
        tracing::info!(
            variant = &*v.name,
            mode = ?spec.mode,
            injection = spec.scenario_id.as_deref(),
            campaigns = plan.campaigns,
            horizon_s = v.model.horizon.as_secs_f64(),
            "job"
        );
        let job = ReadyJob::prepare(spec, plan, &pool, &mut phases, &mut mark)?;
        let records_base = natural && v.index == 0 && base.is_none();
        // Two-scale: the base's simulated episodes too, for remediation
        // (those simulated here: parts loaded from disk do not hold them).
        let keep = records_base && plan.two_scale && plan.kept_episodes_bytes > 0;
        let mut recording = records_base.then(|| {
            BaseOutcomes::new(job.handler_names.clone()).keep_episodes(plan.kept_episodes_bytes)
        });
        // A variant's natural campaigns pair with the base's; so do the
        // programme's (it runs on the base only, right after its natural job).
        let pair_with = if programme || (natural && !records_base) {
            base.or(recorded.as_ref())
        } else {
            None
        };
        let counters = tallies.open(&job, pair_with);
        let mut next = 0u64;
        let mut target = plan.campaigns;
        if let (true, Some(n)) = (programme, pair_with) {
            // As many as the natural job ran (`--until-decided` may have
            // grown it): every programme campaign has its natural twin.
            bar.inc_length(n.campaigns.saturating_sub(target));
            total = total + n.campaigns - target;
            target = n.campaigns;
        }
        loop {
            if next >= target {
                // Every campaign asked for so far is done. With
                // `--until-decided`, double the natural campaigns while a
                // handler's interval straddles its threshold. The decision
                // depends only on the rows so far, so the number of
                // campaigns run is the same for any thread count.
                match plan.until_decided {
                    Some(cap)
                        if natural
                            && target < cap
                            && tallies.undecided(&counters, plan.decide_at, plan.decide_z) =>
                    {
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
            let end = (next + chunk).min(target);
            let (outcomes, kept) = match store {
                None => {
                    let (o, kept) = job.run_range_keeping(plan, next..end, &pool, &bar, keep)?;
                    (o, Some(kept))
                }
                Some(s) => match s.load((j, next, end))? {
                    Some(o) => {
                        bar.inc(end - next);
                        (o, None)
                    }
                    None if s.simulate_missing() => {
                        let (o, kept) =
                            job.run_range_keeping(plan, next..end, &pool, &bar, keep)?;
                        s.save((j, next, end), &job, &o)?;
                        (o, Some(kept))
                    }
                    None => {
                        return Err(Error::input(format!(
                            "preflight: no part holds campaigns {next}..{end} of job {j} ({})",
                            job_name(&job.spec)
                        ))
                        .into());
                    }
                },
            };
            let mut kept = kept.map(Vec::into_iter);
            for o in outcomes {
                job.write_rows(&o, plan.events, sink)?;
                let episodes = kept.as_mut().and_then(Iterator::next);
                if let Some(rec) = &mut recording {
                    rec.push(
                        o.result.handlers.iter().map(|h| h.slo_breached),
                        weighted.then_some(o.result.weight),
                        o.result.usage.as_ref(),
                    );
                    if let Some(episodes) = episodes.filter(|_| keep) {
                        rec.push_episodes(episodes);
                    }
                }
                tallies.fold(&counters, &o);
            }
            tracing::debug!(variant = &*v.name, done = end, "chunk written");
            next = end;
        }
        if let Some(rec) = recording {
            recorded = Some(rec);
            base_window = job.baseline;
        }
    }
    bar.finish_and_clear();

    let risk = tallies.risk_rows();
    phases.lap("campaigns", &mut mark);
    Ok(RunReport {
        risk,
        tallies: tallies.handlers,
        injections: tallies.injections,
        campaigns_run: total,
        risk_window_s: variants
            .first()
            .map_or(0.0, |v| v.scenario.risk.window.secs()),
        wall_s: start.to(&mark).wall_s,
        phases,
        events: tallies.events,
        refused_over_cap: tallies.refused_over_cap,
        base: base.cloned().or(recorded),
        base_window,
    })
}

/// How the campaigns of one job are simulated: by the two-scale method
/// with the job's baseline, at request level with live injection
/// (natural campaigns of a run with an applicable
/// `failure_injection_profile`), or at request level.
#[derive(Clone, Copy)]
pub(crate) enum CampaignSim<'a> {
    /// [`run_window`] with this baseline.
    Window(&'a Baseline),
    /// [`run_live`] on this variant's live model and plan.
    Live(&'a crate::predict::LiveVariant),
    /// [`run_campaign`].
    Request,
}

impl<'a> CampaignSim<'a> {
    /// The way a job with this baseline and live plan runs campaigns of `mode`.
    pub(crate) fn of(
        baseline: Option<&'a Baseline>,
        live: Option<&'a crate::predict::LiveVariant>,
        mode: CampaignMode,
    ) -> Self {
        match (baseline, live) {
            (Some(b), _) => CampaignSim::Window(b),
            (None, Some(lv)) if mode == CampaignMode::Natural => CampaignSim::Live(lv),
            (None, _) => CampaignSim::Request,
        }
    }

    /// One campaign; a two-scale one keeps its simulated episodes or takes
    /// another variant's as `reuse` says (the others ignore it).
    pub(crate) fn run(
        self,
        model: &Model,
        seed: CampaignSeed,
        mode: CampaignMode,
        reuse: EpisodeReuse<'_>,
    ) -> CampaignRun {
        let (result, events, rollbacks) = match self {
            CampaignSim::Window(b) => {
                let w = run_window_with(model, seed, mode, b, reuse);
                return CampaignRun {
                    result: w.result,
                    events: Vec::new(),
                    rollbacks: 0,
                    kept: w.kept,
                    taken: w.taken,
                };
            }
            CampaignSim::Live(lv) => {
                let l = run_live(&lv.model, seed, mode, &lv.plan);
                (l.result, l.events, l.rollbacks)
            }
            CampaignSim::Request => (run_campaign(model, seed, mode), Vec::new(), 0),
        };
        CampaignRun {
            result,
            events,
            rollbacks,
            kept: Vec::new(),
            taken: 0,
        }
    }
}

/// One campaign run by [`CampaignSim::run`].
pub(crate) struct CampaignRun {
    pub(crate) result: CampaignResult,
    /// Its live injections' events.
    pub(crate) events: Vec<LiveEvent>,
    /// Live injections rolled back.
    pub(crate) rollbacks: u32,
    /// Two-scale: its simulated episodes, when kept ([`EpisodeReuse::keep`]).
    pub(crate) kept: Vec<KeptEpisode>,
    /// Two-scale: episodes taken from [`EpisodeReuse::prior`].
    pub(crate) taken: u32,
}

/// A task counting campaigns ([`crate::progress`]).
pub(crate) fn progress_bar(total: u64, enabled: bool) -> crate::progress::Task {
    crate::progress::Task::start("campaigns", total, enabled)
}

#[cfg(test)]
mod pairing_tests {
    use super::*;

    #[test]
    fn base_outcomes_keep_one_bit_per_campaign_and_handler() {
        let mut b = BaseOutcomes::new(vec![Arc::from("a"), Arc::from("b")]);
        for c in 0..130u64 {
            b.push([c % 3 == 0, c % 64 == 63].into_iter(), None, None);
        }
        assert_eq!(b.campaigns, 130);
        assert!((0..130).all(|c| b.breached(0, c) == (c % 3 == 0)));
        assert!((0..130).all(|c| b.breached(1, c) == (c % 64 == 63)));
        assert!(!b.breached(0, 1000), "beyond the campaigns recorded");
        assert_eq!(b.weight(5), 1.0);
    }

    #[test]
    fn paired_tally_counts_the_table_and_the_weighted_sums() {
        let mut p = PairedTally::default();
        // (base, variant, w_base, w_variant)
        for (yb, yv, wb, wv) in [
            (true, true, 0.5, 0.25),
            (true, false, 0.5, 1.0),
            (false, true, 2.0, 0.25),
            (false, false, 1.0, 1.0),
            (true, false, 0.5, 0.5),
        ] {
            p.add(yb, yv, wb, wv);
        }
        assert_eq!(
            (p.campaigns, p.both, p.base_only, p.variant_only, p.neither),
            (5, 1, 2, 1, 1)
        );
        assert!((p.base_risk(false) - 0.6).abs() < 1e-12);
        // Weighted: base 0.5 + 0.5 + 0.5 over 5; differences −0.25, −0.5, 0.25, 0, −0.5.
        assert!((p.base_risk(true) - 0.3).abs() < 1e-12);
        assert!((p.sum_d - -1.0).abs() < 1e-12);
        assert!((p.sum_d2 - 0.625).abs() < 1e-12);
        let (d, lo, hi) = p.interval(false);
        assert!((d - (-0.2)).abs() < 1e-12 && lo < d && d < hi);
        let (d, lo, hi) = p.interval(true);
        assert!((d - (-0.2)).abs() < 1e-12 && lo < d && d < hi);
    }
}
