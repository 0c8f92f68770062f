//! Remediation, verified by re-simulation.
//!
//! For every handler whose risk (natural campaigns of the base) is over its
//! threshold, [`candidates`] proposes changes to the scenario, each exactly
//! a `set:` expression a user could paste into `variants:`: add a replica
//! or raise the concurrency of a resource the handler depends on, add or
//! tighten a timeout, retry with exponential backoff and full jitter, add a
//! circuit breaker, or a fallback on the calls to those resources. The most
//! relevant ones (at most `--remediate-max`) are then simulated by
//! [`remediate`] as variants on the base's own campaigns and seeds (common
//! random numbers), so that each risk after is paired with the risk before
//! and their difference has a tight interval. The rules, the values chosen
//! and the ranking are in `docs/remediation.md`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use serde_json::Value;
use sim_core::{CampaignSeed, stream_key};
use sim_models::campaign::{CampaignMode, CampaignResult};
use sim_models::compile::compile;
use sim_models::dist::Dist;
use sim_models::model::{FaultScope, HandlerDef, Model, ResourceIx, StepDef};
use sim_models::spec::{
    Backoff, CallStep, CircuitBreaker, Duration, FailureMode, Fallback, Handler, Jitter, Retry,
    Scenario, Step, Variant,
};
use sim_models::two_scale::{
    Baseline, EpisodeReuse, LIBRARY_REPS, LibraryEntry, LibraryTask, Unchanged,
};
use sim_models::usage::Usage;

use crate::prepare::PreparedVariant;
use crate::risk::{significant, z_two_sided};
use crate::run::{
    BaseOutcomes, CHUNK, CampaignSim, HandlerTally, PairedTally, RunPlan, RunReport, apply_bias,
    campaign_seed, progress_bar,
};
use crate::scenario::{Loaded, apply_variant};
use crate::timing::{Mark, Phases};
use sim_output::RemediationRow;

/// Default of `--remediate-max`: candidates re-simulated at most.
pub const DEFAULT_MAX: usize = 8;

/// Variant indices of candidates start here (they only name the variant:
/// candidates always share the base's seeds).
const CANDIDATE_INDEX: u64 = 1_000_000;

/// Paired campaigns of the first stage of remediation's sequential rule
/// (fewer when the base ran fewer).
pub const FIRST_STAGE: u64 = 256;

/// The family-wise error rate of the stopping decisions, split evenly
/// over the stages (Bonferroni).
pub const STOP_ALPHA: f64 = 0.05;

/// The sequential rule remediation re-simulates candidates by
/// (`docs/remediation.md`): the first [`FIRST_STAGE`] campaigns of the
/// base (same seeds), then twice as many at each stage while the paired
/// comparison of some handler over its threshold is undecided, up to all
/// of the base's campaigns. A comparison is decided when its interval at
/// the stricter level `z` excludes zero (the change moves the risk) or lies
/// within ±δ, δ being half the gap between the handler's risk and its
/// threshold (whatever the change does, it cannot close half that gap).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sequential {
    /// Campaigns of the first stage.
    pub first: u64,
    /// The base's natural campaigns: the most a candidate runs.
    pub max: u64,
    /// Stages at most: `first`, `2·first`, … up to `max`.
    pub stages: u32,
    /// The normal quantile of the stopping intervals: two-sided at
    /// `1 − STOP_ALPHA / stages`.
    pub z: f64,
}

impl Sequential {
    /// The rule for a base of `max` natural campaigns.
    pub fn new(max: u64) -> Sequential {
        let max = max.max(1);
        let first = FIRST_STAGE.min(max);
        let (mut n, mut stages) = (first, 1u32);
        while n < max {
            n = n.saturating_mul(2).min(max);
            stages += 1;
        }
        Sequential {
            first,
            max,
            stages,
            z: z_two_sided(STOP_ALPHA / f64::from(stages)),
        }
    }

    /// The next stage after `n` campaigns (`None` once all of the base's ran).
    pub fn next(&self, n: u64) -> Option<u64> {
        (n < self.max).then(|| n.saturating_mul(2).clamp(self.first, self.max))
    }

    /// Whether a paired comparison is decided: its interval at level `z`
    /// excludes zero, or lies strictly within ±`delta`.
    pub fn decided(&self, p: &PairedTally, weighted: bool, delta: f64) -> bool {
        let (_, low, high) = p.interval_z(weighted, self.z);
        significant(low, high) || (-delta < low && high < delta)
    }

    /// The rule as `manifest.json` records it.
    pub fn manifest(&self) -> sim_output::manifest::SequentialRule {
        sim_output::manifest::SequentialRule {
            first: self.first,
            growth: 2,
            max: self.max,
            stages: self.stages,
            alpha: STOP_ALPHA,
            z: self.z,
            negligible: "half the gap between the risk before and the threshold".to_owned(),
        }
    }
}

/// What a candidate changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `resources[X].replicas: n + 1`.
    AddReplica,
    /// `resources[X].concurrency: 2c`.
    RaiseConcurrency,
    /// A timeout on a call that has none.
    AddTimeout,
    /// A shorter timeout on a call whose timeout exceeds the handler's SLO latency.
    TightenTimeout,
    /// A retry (3 attempts, exponential backoff, full jitter) on a call without one.
    AddRetry,
    /// Exponential backoff with full jitter on a retry that lacks them.
    RetryBackoff,
    /// A circuit breaker on a call without one.
    AddBreaker,
    /// `fallback: cached` on a call whose failure fails the request.
    AddFallback,
}

impl Kind {
    /// The word written to the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::AddReplica => "add_replica",
            Kind::RaiseConcurrency => "raise_concurrency",
            Kind::AddTimeout => "add_timeout",
            Kind::TightenTimeout => "tighten_timeout",
            Kind::AddRetry => "add_retry",
            Kind::RetryBackoff => "retry_backoff_jitter",
            Kind::AddBreaker => "add_breaker",
            Kind::AddFallback => "add_fallback",
        }
    }

    /// How directly a kind of change addresses breaches caused by a
    /// resource's faults, before the evidence of the run (the prior of the
    /// ranking rule, `docs/remediation.md`).
    fn prior(self) -> f64 {
        match self {
            Kind::AddReplica => 1.0,
            Kind::AddTimeout => 0.7,
            Kind::TightenTimeout => 0.6,
            Kind::AddRetry => 0.6,
            Kind::RetryBackoff => 0.5,
            Kind::AddFallback => 0.5,
            Kind::AddBreaker => 0.4,
            Kind::RaiseConcurrency => 0.3,
        }
    }
}

/// One proposed change: a variant of the base scenario with one `set:` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The variant name it is simulated (and pasted) as.
    pub name: String,
    /// What kind of change.
    pub kind: Kind,
    /// The resource or handler changed.
    pub target: String,
    /// The change in words.
    pub suggestion: String,
    /// The `set:` path (`resources[orders-db].replicas`).
    pub path: String,
    /// The new value (JSON: a number, a string, or an object).
    pub value: Value,
    /// The ranking score (`docs/remediation.md`): higher first.
    pub relevance: f64,
    /// The handlers over their threshold it was proposed for.
    pub handlers: Vec<String>,
    /// The resource the change acts on: the one whose replicas or
    /// concurrency it changes, or the callee of the call step it changes.
    /// Faults there, and on whatever it calls, are the ones the change can
    /// alter (`docs/remediation.md`).
    pub acts_on: String,
    /// For a change to a call step: the step, as (handler, operation,
    /// step) indices into the compiled model.
    pub step: Option<(usize, usize, usize)>,
}

impl Candidate {
    /// The `set:` mapping as one line of YAML flow (and JSON) syntax:
    /// `{ "resources[orders-db].replicas": 2 }`.
    pub fn set_expr(&self) -> String {
        format!("{{ {}: {} }}", Value::String(self.path.clone()), self.value)
    }

    /// The candidate as a scenario variant.
    pub fn variant(&self) -> Variant {
        Variant {
            name: self.name.clone(),
            set: BTreeMap::from([(self.path.clone(), self.value.clone())]),
        }
    }

    /// The YAML to paste into a scenario (a top-level `variants:` list
    /// with this one entry).
    pub fn yaml_block(&self) -> String {
        let plain = self
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let name = if plain {
            self.name.clone()
        } else {
            Value::String(self.name.clone()).to_string()
        };
        format!(
            "variants:\n  - name: {name}\n    set: {}\n",
            self.set_expr()
        )
    }
}

/// The figures of one candidate for one handler over its threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The handler.
    pub handler: Arc<str>,
    /// `(risk, low, high)` of the base.
    pub before: (f64, f64, f64),
    /// `(risk, low, high)` with the change.
    pub after: (f64, f64, f64),
    /// `(after − before, low, high)` over the paired campaigns.
    pub diff: (f64, f64, f64),
    /// Paired campaigns.
    pub campaigns: u64,
}

/// A candidate and what its simulation showed.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The change.
    pub candidate: Candidate,
    /// One per handler over its threshold.
    pub outcomes: Vec<Outcome>,
    /// Paired campaigns it ran (the first ones of the base; [`Sequential`]).
    pub campaigns: u64,
    /// Of which simulated: the others exercised nothing the change acts on
    /// (two-scale runs, [`Usage`]) and are the base's exactly.
    pub simulated: u64,
    /// Two-scale runs: library episodes simulated for it, and shared with
    /// the base's library (classes of fault the change cannot reach).
    pub library: Option<(usize, usize)>,
    /// Two-scale runs: episodes of its simulated campaigns taken from the
    /// base's same campaigns (they exercised nothing the change acts on).
    pub episodes_shared: u64,
}

/// What remediation did.
#[derive(Debug, Clone, Default)]
pub struct Remediation {
    /// Handlers of the base over their threshold.
    pub over: Vec<Arc<str>>,
    /// Candidates proposed in all (before the cap).
    pub proposed: usize,
    /// The candidates simulated, in rank order.
    pub verified: Vec<Verified>,
    /// Candidates that did not apply or compile, with why (a bug of a rule
    /// when it happens: they are logged and left out).
    pub rejected: Vec<(String, String)>,
    /// Campaigns simulated for remediation (paired campaigns that were the
    /// base's exactly are not simulated, and not counted).
    pub campaigns_run: u64,
    /// Kernel events of those campaigns.
    pub events: u64,
    /// Wall time.
    pub wall_s: f64,
    /// Where that time went: `candidates` (proposing, applying and
    /// compiling them), then `baseline`, `library` and `campaigns` over
    /// every candidate.
    pub phases: Phases,
    /// The sequential rule the candidates ran by (when any ran).
    pub sequential: Option<Sequential>,
    /// Whether the risks are importance-sampling estimates.
    pub weighted: bool,
}

impl Remediation {
    /// One row per (candidate, handler over its threshold), for `remediations.parquet`.
    pub fn rows(&self) -> Vec<RemediationRow> {
        let mut rows = Vec::new();
        for v in &self.verified {
            let c = &v.candidate;
            for o in &v.outcomes {
                rows.push(RemediationRow {
                    variant: Arc::from(c.name.as_str()),
                    target: Arc::from(c.target.as_str()),
                    suggestion: Arc::from(c.suggestion.as_str()),
                    change: Arc::from(c.set_expr().as_str()),
                    risk_before: o.before.0,
                    risk_after: o.after.0,
                    handler: o.handler.clone(),
                    kind: Arc::from(c.kind.as_str()),
                    risk_before_low: o.before.1,
                    risk_before_high: o.before.2,
                    risk_after_low: o.after.1,
                    risk_after_high: o.after.2,
                    risk_diff: o.diff.0,
                    risk_diff_low: o.diff.1,
                    risk_diff_high: o.diff.2,
                    campaigns: o.campaigns,
                    relevance: c.relevance,
                });
            }
        }
        rows
    }

    /// The best change for `handler`: the lowest risk after among the
    /// candidates whose paired difference is significantly below zero
    /// (ties: the lower upper bound of the difference, then rank order). A
    /// fallback changes what users receive (a cached answer instead of an
    /// error, which the SLO does not count), so it is the best change only
    /// when no other kind of change lowered the risk significantly. `None`
    /// when no candidate did.
    pub fn best(&self, handler: &str) -> Option<(&Verified, &Outcome)> {
        let lowered = |fallback: bool| {
            self.verified
                .iter()
                .filter(|v| (v.candidate.kind == Kind::AddFallback) == fallback)
                .filter_map(|v| {
                    v.outcomes
                        .iter()
                        .find(|o| &*o.handler == handler)
                        .map(|o| (v, o))
                })
                .filter(|(_, o)| o.diff.2 < 0.0)
                .min_by(|(_, a), (_, b)| {
                    a.after
                        .0
                        .total_cmp(&b.after.0)
                        .then(a.diff.2.total_cmp(&b.diff.2))
                })
        };
        lowered(false).or_else(|| lowered(true))
    }
}

/// Per resource: the evidence of the run about its failure processes for
/// one handler.
#[derive(Debug, Clone, Default)]
struct Evidence {
    /// The largest share of the handler's breaches in which one of the
    /// resource's failure processes was active.
    share: f64,
    /// Whether a replica-scoped process of the resource was active in a breach.
    replica_scoped: bool,
    /// Whether a capacity-like mode (cpu_throttle, memory_starvation,
    /// disk_io_starvation, latency_spike) was active in a breach.
    capacity: bool,
}

fn evidence(model: &Model, tally: &HandlerTally) -> BTreeMap<ResourceIx, Evidence> {
    let mut out: BTreeMap<ResourceIx, Evidence> = BTreeMap::new();
    if tally.fault_present.len() != model.faults.len() {
        return out;
    }
    for (i, f) in model.faults.iter().enumerate() {
        let b = tally.breaches_with[i];
        if b == 0 {
            continue;
        }
        let e = out.entry(f.resource).or_default();
        e.share = e.share.max(b as f64 / tally.breaches.max(1) as f64);
        e.replica_scoped |= matches!(f.scope, FaultScope::Replica(_));
        e.capacity |= matches!(
            f.mode,
            FailureMode::CpuThrottle
                | FailureMode::MemoryStarvation
                | FailureMode::DiskIoStarvation
                | FailureMode::LatencySpike
        );
    }
    out
}

/// `[x]` for a `set:` path: the id, or the index when the id would read as one.
fn sel(id: &str, index: usize) -> String {
    if id.parse::<usize>().is_ok() || id.contains(']') {
        format!("[{index}]")
    } else {
        format!("[{id}]")
    }
}

/// Rounds a duration in seconds up to 1, 2 or 5 times a power of ten
/// milliseconds (at least 1 ms).
fn nice_ceil(secs: f64) -> f64 {
    let ms = (secs * 1e3).max(1.0);
    let mut p = 10f64.powf(ms.log10().floor());
    // Guard against log10 rounding just below a power of ten.
    if p * 10.0 <= ms {
        p *= 10.0;
    }
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * p >= ms * (1.0 - 1e-9) {
            return m * p / 1e3;
        }
    }
    10.0 * p / 1e3
}

fn dur(secs: f64) -> Value {
    Value::String(Duration::from_secs(secs).to_string())
}

/// The 99th percentile of `d`, in seconds, from 4,000 draws of a stream of
/// its own (deterministic).
fn p99(d: &Dist, key: &str) -> f64 {
    let mut rng = CampaignSeed::from_u64(0).stream(stream_key(&format!("remediate/{key}")));
    let mut xs: Vec<f64> = (0..4000).map(|_| d.sample_secs(&mut rng)).collect();
    xs.sort_by(f64::total_cmp);
    xs[3959]
}

/// The healthy latency of one attempt of a call from `from` to `to`, in
/// seconds: the simulated p99 of the handler running on `to` (the mean of
/// its per-campaign p99s in the run), or else the p99 of `to`'s service
/// time; plus twice the p99 of the link's one-way latency (the sum of the
/// p99s, which errs long).
fn callee_p99(model: &Model, tallies: &[&HandlerTally], from: ResourceIx, to: ResourceIx) -> f64 {
    let link = model
        .links
        .iter()
        .find(|l| l.from == from && l.to == to)
        .and_then(|l| l.latency.as_ref())
        .map_or(0.0, |d| {
            p99(
                d,
                &format!(
                    "link/{}/{}",
                    model.resources[from].id, model.resources[to].id
                ),
            )
        });
    let serve = model.resources[to]
        .handler
        .and_then(|h| {
            tallies
                .iter()
                .find(|t| *t.handler == model.handlers[h].id && t.p99_n > 0)
                .map(|t| t.p99_sum_ms / t.p99_n as f64 / 1e3)
        })
        .or_else(|| {
            model.resources[to]
                .service
                .as_ref()
                .map(|d| p99(d, &format!("resource/{}", model.resources[to].id)))
        })
        .unwrap_or(0.0);
    serve + 2.0 * link
}

/// The candidates for the handlers over their threshold (`over`, tallies of
/// the base's natural campaigns), deduplicated and ranked (most relevant
/// first). `tallies` are all the base's tallies (for callees' latencies).
pub fn candidates(
    base: &PreparedVariant,
    over: &[&HandlerTally],
    tallies: &[&HandlerTally],
) -> Vec<Candidate> {
    let mut all: Vec<Candidate> = Vec::new();
    for t in over {
        for c in for_handler(base, t, tallies) {
            match all
                .iter_mut()
                .find(|x| x.path == c.path && x.value == c.value)
            {
                Some(x) => {
                    x.relevance = x.relevance.max(c.relevance);
                    for h in c.handlers {
                        if !x.handlers.contains(&h) {
                            x.handlers.push(h);
                        }
                    }
                }
                None => all.push(c),
            }
        }
    }
    all.sort_by(|a, b| {
        b.relevance
            .total_cmp(&a.relevance)
            .then(a.kind.cmp(&b.kind))
            .then(a.name.cmp(&b.name))
    });
    // Names are unique among the candidates and the scenario's own variants.
    let mut taken: Vec<String> = base
        .scenario
        .variants
        .iter()
        .map(|v| v.name.clone())
        .collect();
    for c in &mut all {
        let stem = c.name.clone();
        let mut k = 2;
        while taken.contains(&c.name) {
            c.name = format!("{stem}-{k}");
            k += 1;
        }
        taken.push(c.name.clone());
    }
    all
}

/// The candidates the rules propose for the handler of tally `t` (over its
/// threshold), in rule order: for each resource to act on, a replica and
/// more concurrency ([`HandlerRules::resource_changes`]); then for each
/// call step to one of those resources, a timeout, a retry, a circuit
/// breaker and a fallback ([`CallSite`]).
fn for_handler(
    base: &PreparedVariant,
    t: &HandlerTally,
    tallies: &[&HandlerTally],
) -> Vec<Candidate> {
    let mut out = Vec::new();
    let Some(rules) = HandlerRules::new(base, t, tallies) else {
        return out;
    };
    for &rx in &rules.targets {
        rules.resource_changes(rx, &mut out);
    }
    if rules.capacity_only {
        // No fault to be resilient to: timeouts, retries, breakers and
        // fallbacks cannot help.
        return out;
    }
    for (oi, op) in rules.spec_h.operations.iter().enumerate() {
        for (si, step) in op.steps.iter().enumerate() {
            let Step::Call(cs) = step else { continue };
            let Some(site) = rules.call_site(oi, si, cs) else {
                continue;
            };
            out.extend(site.timeout());
            out.extend(site.retry());
            out.extend(site.breaker());
            out.extend(site.fallback());
        }
    }
    out
}

/// What the rules read about one handler over its threshold: where it is
/// in the compiled model and in the scenario, the run's evidence about
/// its breaches, and the resources to act on.
struct HandlerRules<'a> {
    model: &'a Model,
    scenario: &'a Scenario,
    /// The base's tallies (for callees' latencies).
    tallies: &'a [&'a HandlerTally],
    /// The handler's id.
    handler: String,
    /// Its index in the compiled model.
    hix: usize,
    /// Its compiled definition.
    hd: &'a HandlerDef,
    /// Its scenario entry.
    spec_h: &'a Handler,
    /// Its `[x]` selector in `set:` paths.
    h_sel: String,
    /// Per resource, the evidence of the run about its faults in the
    /// handler's breaches.
    ev: BTreeMap<ResourceIx, Evidence>,
    /// The handler's hard path and every resource whose faults were
    /// active in its breaches (sorted, distinct).
    targets: Vec<ResourceIx>,
    /// The SLO is breached with no fault at all
    /// ([`HandlerTally::breaches_without_faults`]): only capacity changes
    /// (a replica, more concurrency) are proposed.
    capacity_only: bool,
}

impl<'a> HandlerRules<'a> {
    /// The rules for the handler of `t`; `None` when the base's model or
    /// scenario has no such handler.
    fn new(
        base: &'a PreparedVariant,
        t: &HandlerTally,
        tallies: &'a [&'a HandlerTally],
    ) -> Option<HandlerRules<'a>> {
        let model = &base.model;
        let sc = &base.scenario;
        let hix = model.handlers.iter().position(|h| *h.id == *t.handler)?;
        let (spec_hix, spec_h) = sc
            .handlers
            .iter()
            .enumerate()
            .find(|(_, h)| *h.id == *t.handler)?;
        let hd = &model.handlers[hix];
        let ev = evidence(model, t);
        let mut targets: Vec<ResourceIx> = hd.hard_path.clone();
        targets.extend(ev.keys());
        targets.sort_unstable();
        targets.dedup();
        Some(HandlerRules {
            model,
            scenario: sc,
            tallies,
            handler: t.handler.to_string(),
            hix,
            hd,
            spec_h,
            h_sel: sel(&spec_h.id, spec_hix),
            ev,
            targets,
            capacity_only: t.breaches_without_faults(),
        })
    }

    /// The ranking rule: a kind's prior times (the resource's share of the
    /// handler's breaches + 0.05), so that the evidence of the run orders
    /// resources and the prior orders kinds of change on one resource.
    fn score(&self, r: ResourceIx, prior: f64) -> f64 {
        prior * (self.ev.get(&r).map_or(0.0, |e| e.share) + 0.05)
    }

    /// Changes to resource `rx` itself, into `out`: a replica (where it has
    /// replica-scoped failure processes) and twice the concurrency (where
    /// it sets one).
    fn resource_changes(&self, rx: ResourceIx, out: &mut Vec<Candidate>) {
        let model = self.model;
        let r = &model.resources[rx];
        let Some((spec_rx, spec_r)) = self
            .scenario
            .resources
            .iter()
            .enumerate()
            .find(|(_, s)| s.id == r.id)
        else {
            return;
        };
        let e = self.ev.get(&rx).cloned().unwrap_or_default();
        let r_sel = sel(&spec_r.id, spec_rx);
        let replica_faults = model
            .faults
            .iter()
            .any(|f| f.resource == rx && matches!(f.scope, FaultScope::Replica(_)));
        if replica_faults || self.capacity_only {
            // A replica adds capacity, and helps against replica-scoped
            // faults, not common
            // causes: less so when only resource-wide processes of this
            // resource were active in the breaches.
            let prior = if e.share > 0.0 && !e.replica_scoped {
                0.4
            } else {
                1.0
            };
            out.push(Candidate {
                name: format!("add-replica-{}", r.id),
                kind: Kind::AddReplica,
                target: r.id.to_string(),
                suggestion: format!(
                    "add a replica to {} ({} -> {})",
                    r.id,
                    spec_r.replicas,
                    spec_r.replicas + 1
                ),
                path: format!("resources{r_sel}.replicas"),
                value: Value::from(spec_r.replicas + 1),
                relevance: self.score(rx, prior),
                handlers: vec![self.handler.clone()],
                acts_on: r.id.to_string(),
                step: None,
            });
        }
        if let Some(c) = spec_r.concurrency {
            let no_fault_evidence = self.ev.values().all(|e| e.share == 0.0);
            let prior = if e.capacity || no_fault_evidence {
                0.6
            } else {
                0.3
            };
            out.push(Candidate {
                name: format!("concurrency-{}", r.id),
                kind: Kind::RaiseConcurrency,
                target: r.id.to_string(),
                suggestion: format!(
                    "double the concurrency of {} ({c} -> {})",
                    r.id,
                    c.saturating_mul(2)
                ),
                path: format!("resources{r_sel}.concurrency"),
                value: Value::from(c.saturating_mul(2)),
                relevance: self.score(rx, prior),
                handlers: vec![self.handler.clone()],
                acts_on: r.id.to_string(),
                step: None,
            });
        }
    }

    /// Step `si` of operation `oi`, a call `cs`, as the step rules read it;
    /// `None` when its callee is not a resource to act on.
    fn call_site(&'a self, oi: usize, si: usize, cs: &'a CallStep) -> Option<CallSite<'a>> {
        let model = self.model;
        let rx = model.resources.iter().position(|r| r.id == cs.call)?;
        if !self.targets.contains(&rx) {
            return None;
        }
        let op = &self.spec_h.operations[oi];
        let compiled = self.hd.ops.get(oi).and_then(|o| o.steps.get(si));
        let h = &self.spec_h.id;
        Some(CallSite {
            rules: self,
            call: cs,
            rx,
            step: (self.hix, oi, si),
            tolerates: matches!(compiled, Some(StepDef::Call(c)) if c.tolerate_failure),
            callee: callee_p99(model, self.tallies, self.hd.resource, rx),
            attempts: cs.retry.as_ref().map_or(1, |r| r.max_attempts.max(1)),
            path: format!(
                "handlers{}.operations{}.steps[{si}]",
                self.h_sel,
                sel(&op.name, oi)
            ),
            where_: format!("{h}/{}/step {si} (call {})", op.name, cs.call),
            stem: format!("{h}-{}-{si}", op.name),
        })
    }
}

/// A call step of the handler to a resource the rules act on: what the
/// rules for call steps read, one function per rule.
struct CallSite<'a> {
    rules: &'a HandlerRules<'a>,
    call: &'a CallStep,
    /// The callee.
    rx: ResourceIx,
    /// (handler, operation, step) in the compiled model.
    step: (usize, usize, usize),
    /// Whether the call's failure is tolerated (a soft dependency).
    tolerates: bool,
    /// The healthy latency of one attempt, in seconds ([`callee_p99`]).
    callee: f64,
    /// Attempts of the call as it is (1 without a retry).
    attempts: u32,
    /// The step's `set:` path.
    path: String,
    /// The step in words.
    where_: String,
    /// The stem of the candidates' names.
    stem: String,
}

impl CallSite<'_> {
    /// A candidate changing `field` of the step to `value`, named
    /// `{prefix}-{stem}`.
    fn candidate(
        &self,
        kind: Kind,
        prefix: &str,
        field: &str,
        suggestion: String,
        value: Value,
    ) -> Candidate {
        Candidate {
            name: format!("{prefix}-{}", self.stem),
            kind,
            target: self.rules.spec_h.id.to_string(),
            suggestion,
            path: format!("{}.{field}", self.path),
            value,
            relevance: self.rules.score(self.rx, kind.prior()),
            handlers: vec![self.rules.handler.clone()],
            acts_on: self.call.call.to_string(),
            step: Some(self.step),
        }
    }

    /// A timeout where the call has none, or a shorter one where its
    /// timeout exceeds the handler's SLO latency: twice the callee's
    /// healthy p99, rounded up to 1-2-5, but no more than the SLO latency
    /// shared by the attempts (when that still leaves room above the
    /// callee's p99).
    fn timeout(&self) -> Option<Candidate> {
        let (cs, callee, where_) = (self.call, self.callee, &self.where_);
        let slo_latency = self.rules.hd.slo.latency_p99.map(|d| d.as_secs_f64());
        let mut timeout = nice_ceil((2.0 * callee).max(1e-3));
        if let Some(l) = slo_latency {
            let cap = ((l / f64::from(self.attempts)) * 1e3).floor() / 1e3;
            if timeout > cap && cap > callee && cap >= 1e-3 {
                timeout = cap;
            }
        }
        match cs.timeout {
            None => Some(self.candidate(
                Kind::AddTimeout,
                "timeout",
                "timeout",
                format!(
                    "add a {} timeout to {where_} (2 x the callee's p99 of {:.1} ms)",
                    Duration::from_secs(timeout),
                    callee * 1e3
                ),
                dur(timeout),
            )),
            Some(cur) if slo_latency.is_some_and(|l| cur.secs() > l) && timeout < cur.secs() => {
                Some(self.candidate(
                    Kind::TightenTimeout,
                    "timeout",
                    "timeout",
                    format!(
                        "tighten the timeout of {where_} from {cur} to {} (longer than the SLO latency)",
                        Duration::from_secs(timeout)
                    ),
                    dur(timeout),
                ))
            }
            Some(_) => None,
        }
    }

    /// A retry with exponential backoff and full jitter: 3 attempts where
    /// the call has no retry (or one attempt), or backoff and jitter added
    /// to a retry that lacks them (its attempts as they are).
    fn retry(&self) -> Option<Candidate> {
        let where_ = &self.where_;
        let existing = self.call.retry.as_ref();
        let b = existing
            .and_then(|r| r.base)
            .map(|d| d.secs())
            .filter(|s| *s > 0.0)
            .unwrap_or_else(|| nice_ceil(self.callee.max(0.01)));
        let m = existing
            .and_then(|r| r.max)
            .map(|d| d.secs())
            .unwrap_or_else(|| nice_ceil(10.0 * b));
        let retry = |max_attempts: u32| {
            let r = Retry {
                max_attempts,
                backoff: Backoff::Exponential,
                base: Some(Duration::from_secs(b)),
                max: Some(Duration::from_secs(m)),
                jitter: Jitter::Full,
            };
            serde_json::to_value(r).expect("plain values")
        };
        match existing {
            Some(r) if r.max_attempts > 1 => {
                if r.backoff == Backoff::Exponential && r.jitter != Jitter::None {
                    return None;
                }
                Some(self.candidate(
                    Kind::RetryBackoff,
                    "backoff",
                    "retry",
                    format!(
                        "retry {where_} with exponential backoff from {} (max {}) and full jitter ({} attempts, as now)",
                        Duration::from_secs(b),
                        Duration::from_secs(m),
                        r.max_attempts
                    ),
                    retry(r.max_attempts),
                ))
            }
            // No retry, or a single attempt.
            _ => Some(self.candidate(
                Kind::AddRetry,
                "retry",
                "retry",
                format!(
                    "retry {where_}: 3 attempts, exponential backoff from {} (max {}), full jitter",
                    Duration::from_secs(b),
                    Duration::from_secs(m)
                ),
                retry(3),
            )),
        }
    }

    /// A circuit breaker where the call has none.
    fn breaker(&self) -> Option<Candidate> {
        if self.call.circuit_breaker.is_some() {
            return None;
        }
        let breaker = CircuitBreaker {
            failure_rate: 0.5,
            min_calls: 20,
            window: Duration::from_secs(10.0),
            open_for: Duration::from_secs(30.0),
        };
        Some(self.candidate(
            Kind::AddBreaker,
            "breaker",
            "circuit_breaker",
            format!(
                "put a circuit breaker on {} (opens at 50% failures of at least 20 calls in 10s, for 30s)",
                self.where_
            ),
            serde_json::to_value(breaker).expect("plain values"),
        ))
    }

    /// `fallback: cached` where the call's failure fails the request.
    fn fallback(&self) -> Option<Candidate> {
        if self.call.fallback != Fallback::None || self.tolerates {
            return None;
        }
        Some(self.candidate(
            Kind::AddFallback,
            "fallback",
            "fallback",
            format!(
                "serve a cached answer when {} fails (only if a stale answer is acceptable)",
                self.where_
            ),
            serde_json::to_value(Fallback::Cached).expect("plain values"),
        ))
    }
}

/// Proposes candidates for every handler of the base over its threshold in
/// `report` (natural campaigns), and re-simulates the `max` most relevant
/// as variants on the base's campaigns and seeds (common random numbers,
/// whatever `plan.independent_streams` says), with no rows written: only
/// the risks are kept. `base` is the base variant the run ran (with
/// `--rare-event`, its model already biased), `loaded` the scenario file
/// (for empirical samples), `telemetry` the hazards the telemetry raised
/// in the base, raised in every candidate too.
///
/// The stages: the candidates proposed, applied and compiled
/// (`prepare_candidates`); their two-scale baselines
/// (`candidate_baselines`); then, one candidate at a time, its library
/// (`Verifier::window`) and its campaigns by the [`Sequential`] rule
/// (`Verifier::run`).
pub fn remediate(
    loaded: &Loaded,
    base: &PreparedVariant,
    report: &RunReport,
    plan: &RunPlan,
    max: usize,
    telemetry: Option<&crate::telemetry::TelemetryPlan>,
    rows: Option<CandidateRows<'_>>,
) -> anyhow::Result<Remediation> {
    let start = Instant::now();
    let start_mark = Mark::now();
    let mut mark = start_mark;
    let weighted = plan.rare_event.is_some();
    let tallies = BaseTallies::of(report, base);
    let mut rem = Remediation {
        over: tallies.over.iter().map(|t| t.handler.clone()).collect(),
        weighted,
        ..Remediation::default()
    };
    let Some(outcomes) = report.base.as_ref().filter(|b| b.campaigns > 0) else {
        return Ok(rem);
    };
    if tallies.over.is_empty() {
        return Ok(rem);
    }
    let proposed = candidates(base, &tallies.over, &tallies.all);
    rem.proposed = proposed.len();
    for c in &proposed {
        tracing::info!(
            candidate = %c.name,
            relevance = c.relevance,
            change = %c.set_expr(),
            "remediation candidate"
        );
    }
    let chosen = prepare_candidates(
        loaded,
        base,
        plan,
        telemetry,
        proposed,
        max,
        &mut rem.rejected,
    );
    if chosen.is_empty() {
        return Ok(rem);
    }
    rem.phases.lap("candidates", &mut mark);
    let seq = Sequential::new(outcomes.campaigns);
    rem.sequential = Some(seq);
    let targets = Target::of(&tallies.over, outcomes, weighted);
    tracing::info!(
        candidates = chosen.len(),
        first = seq.first,
        max = seq.max,
        z = seq.z,
        "remediation: re-simulating candidates (sequential)"
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(plan.threads.max(1))
        .thread_name(|i| format!("preflight-worker-{i}"))
        .build()?;
    let bar = progress_bar(chosen.len() as u64 * seq.max, plan.progress);
    let base_window = report.base_window.as_ref().filter(|_| plan.two_scale);
    let shares_healthy = shares_healthy(&chosen, base, base_window);
    let baselines = candidate_baselines(&chosen, &shares_healthy, base_window, plan, &pool);
    let verifier = Verifier {
        base,
        plan,
        outcomes,
        targets: &targets,
        seq,
        weighted,
        base_window,
        pool: &pool,
        bar: &bar,
    };
    let rows = rows.map(std::sync::Mutex::new);
    rem.phases.lap("baseline", &mut mark);
    for ((c, baseline), shares) in chosen.into_iter().zip(baselines).zip(shares_healthy) {
        let window = verifier.window(&c, baseline, shares);
        rem.phases.lap("library", &mut mark);
        let run = verifier.run(&c, &window, rows.as_ref())?;
        rem.events += run.events;
        rem.campaigns_run += run.simulated;
        rem.phases.lap("campaigns", &mut mark);
        tracing::info!(
            candidate = %c.candidate.name,
            campaigns = run.campaigns,
            simulated = run.simulated,
            episodes_shared = run.episodes_shared,
            "remediation: decided"
        );
        rem.verified
            .push(verifier.verified(c.candidate, &run, window.library));
    }
    bar.finish_and_clear();
    rem.wall_s = start.elapsed().as_secs_f64();
    rem.phases.log("remediation", start_mark.elapsed());
    Ok(rem)
}

/// The base's tallies of natural campaigns, as remediation reads them.
struct BaseTallies<'a> {
    /// Every handler of the base (for callees' latencies).
    all: Vec<&'a HandlerTally>,
    /// The handlers over their threshold, in the same order.
    over: Vec<&'a HandlerTally>,
}

impl<'a> BaseTallies<'a> {
    /// The base's tallies in `report`.
    fn of(report: &'a RunReport, base: &PreparedVariant) -> BaseTallies<'a> {
        let mut tallies = BaseTallies {
            all: Vec::new(),
            over: Vec::new(),
        };
        for (t, r) in report.tallies.iter().zip(&report.risk) {
            if t.variant != base.name {
                continue;
            }
            tallies.all.push(t);
            if r.over_threshold {
                tallies.over.push(t);
            }
        }
        tallies
    }
}

/// A candidate chosen for re-simulation, as a variant of the base.
struct Chosen {
    /// The change.
    candidate: Candidate,
    /// The base with the change applied, compiled (biased like the base's
    /// under `--rare-event`, with the base's in-flight cap).
    variant: PreparedVariant,
}

/// Applies and compiles the `proposed` candidates in rank order until
/// `max` are ready. A candidate that does not apply or compile (a bug of
/// a rule) is logged and recorded in `rejected`, with why.
fn prepare_candidates(
    loaded: &Loaded,
    base: &PreparedVariant,
    plan: &RunPlan,
    telemetry: Option<&crate::telemetry::TelemetryPlan>,
    proposed: Vec<Candidate>,
    max: usize,
    rejected: &mut Vec<(String, String)>,
) -> Vec<Chosen> {
    let empirical = loaded.empirical_tables();
    let defaults = crate::defaults::default_failure_modes();
    let mut chosen: Vec<Chosen> = Vec::new();
    for c in proposed {
        if chosen.len() >= max {
            break;
        }
        let scenario = match apply_variant(&base.scenario, &c.variant()) {
            Ok(s) => s,
            Err(problems) => {
                let why: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
                tracing::warn!(candidate = %c.name, "remediation candidate does not apply: {}", why.join("; "));
                rejected.push((c.name.clone(), why.join("; ")));
                continue;
            }
        };
        let mut model = match compile(&scenario, &defaults, &empirical) {
            Ok(m) => m,
            Err(errs) => {
                let why: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
                tracing::warn!(candidate = %c.name, "remediation candidate does not compile: {}", why.join("; "));
                rejected.push((c.name.clone(), why.join("; ")));
                continue;
            }
        };
        if let Some(t) = telemetry
            && let Err(why) = crate::telemetry::apply(&mut model, t)
        {
            tracing::warn!(candidate = %c.name, "remediation candidate loses a raised hazard: {why}");
            rejected.push((c.name.clone(), why));
            continue;
        }
        if let Some(rare) = plan.rare_event {
            apply_bias(&mut model, rare);
        }
        // The base's in-flight cap (`--max-memory` may have lowered it).
        model.in_flight_cap = base.model.in_flight_cap;
        let variant = PreparedVariant {
            name: Arc::from(c.name.as_str()),
            index: CANDIDATE_INDEX + chosen.len() as u64,
            scenario,
            model,
        };
        chosen.push(Chosen {
            candidate: c,
            variant,
        });
    }
    chosen
}

/// A handler over its threshold, as the candidates are compared on it.
struct Target {
    /// The handler.
    handler: Arc<str>,
    /// Its index among the base's outcomes.
    base_ix: usize,
    /// The difference too small to matter: half the gap between its risk
    /// and its threshold.
    delta: f64,
}

impl Target {
    /// One per handler of `over` that the base's outcomes record.
    fn of(over: &[&HandlerTally], outcomes: &BaseOutcomes, weighted: bool) -> Vec<Target> {
        over.iter()
            .filter_map(|t| {
                let base_ix = outcomes.handlers.iter().position(|h| *h == t.handler)?;
                let gap = (t.interval(weighted).0 - t.threshold).max(0.0);
                Some(Target {
                    handler: t.handler.clone(),
                    base_ix,
                    delta: gap / 2.0,
                })
            })
            .collect()
    }
}

/// Two-scale: per candidate, whether the base's healthy baseline stands
/// in, exactly, for its own: the change is [`exact`], the baseline's
/// plan is the same, and the base's healthy sample never exercised it.
fn shares_healthy(
    chosen: &[Chosen],
    base: &PreparedVariant,
    base_window: Option<&Baseline>,
) -> Vec<bool> {
    chosen
        .iter()
        .map(
            |Chosen {
                 candidate: c,
                 variant: v,
             }| {
                base_window.is_some_and(|bw| {
                    exact(c.kind)
                        && bw.same_plan(&base.model, &v.model)
                        && !could_change(c, &v.model, &bw.counted.usage, None)
                })
            },
        )
        .collect()
}

/// Two-scale: every candidate's healthy baseline, without its library:
/// the base's where it stands in ([`shares_healthy`]), the others
/// simulated, several at once on `pool`. Request level: `None` each.
fn candidate_baselines(
    chosen: &[Chosen],
    shares_healthy: &[bool],
    base_window: Option<&Baseline>,
    plan: &RunPlan,
    pool: &rayon::ThreadPool,
) -> Vec<Option<Baseline>> {
    if !plan.two_scale {
        return vec![None; chosen.len()];
    }
    pool.install(|| {
        chosen
            .par_iter()
            .zip(shares_healthy)
            .map(|(c, shares)| match (base_window, shares) {
                (Some(bw), true) => Some(bw.healthy_for(&c.variant.model)),
                _ => Some(Baseline::for_variant(&c.variant.model, plan.seed, 0)),
            })
            .collect()
    })
}

/// What every candidate's re-simulation shares: the base's run, the
/// handlers compared, the sequential rule, the pool and the progress bar.
struct Verifier<'a> {
    base: &'a PreparedVariant,
    plan: &'a RunPlan,
    /// The base's natural campaigns, whose first ones each candidate pairs with.
    outcomes: &'a BaseOutcomes,
    targets: &'a [Target],
    seq: Sequential,
    weighted: bool,
    /// Two-scale: the base's baseline with its library.
    base_window: Option<&'a Baseline>,
    pool: &'a rayon::ThreadPool,
    bar: &'a crate::progress::Task,
}

/// Takes the result of each campaign simulated for a candidate, in
/// campaign order per candidate: the candidate's name and model, the
/// campaign's index and seed (the base's: candidates run on the base's
/// seeds), its result. Campaigns taken from the base's (they exercised nothing the
/// change acts on) are not passed: their rows are the base's.
pub type CandidateRows<'a> =
    &'a mut (dyn FnMut(&str, &Model, u64, u64, &CampaignResult) -> Result<(), crate::Error> + Send);

/// How one candidate's campaigns are simulated (two-scale runs).
struct CandidateWindow {
    /// Its baseline with its library (`None` at request level).
    baseline: Option<Baseline>,
    /// Library episodes simulated for it, and shared with the base's.
    library: Option<(usize, usize)>,
    /// Per class of the library, whether an episode of it was simulated
    /// for the candidate: `Some` when its campaigns may be taken from the
    /// base's where they composed from none of those classes.
    own_classes: Option<Vec<bool>>,
}

/// What one candidate's campaigns gave, paired with the base's.
struct CandidateRun {
    /// One per [`Target`].
    paired: Vec<PairedTally>,
    /// Paired campaigns: the first ones of the base.
    campaigns: u64,
    /// Of which simulated (the others were the base's exactly).
    simulated: u64,
    /// Kernel events of the campaigns simulated.
    events: u64,
    /// Episodes of its simulated campaigns taken from the base's.
    episodes_shared: u64,
}

/// Which of the base's campaigns are a candidate's too: those that
/// exercised nothing the change acts on (and, two-scale, composed
/// nothing from a class simulated anew) give the same events and figures.
struct Reuse<'a> {
    /// Whether any campaign may be taken from the base's: the change
    /// keeps the base's fault timelines, drain and horizon.
    copy: bool,
    candidate: &'a Candidate,
    model: &'a Model,
    outcomes: &'a BaseOutcomes,
    own_classes: Option<&'a [bool]>,
}

impl Reuse<'_> {
    /// Whether an episode (or campaign) that exercised `u` is the
    /// candidate's exactly (given the same fault timeline and margins).
    fn unchanged(&self, u: &Usage) -> bool {
        !could_change(self.candidate, self.model, u, None)
    }

    /// Whether campaign `k` of the base is the candidate's exactly.
    fn same_as_base(&self, k: u64) -> bool {
        self.copy
            && self.outcomes.usage(k).is_some_and(|u| {
                self.unchanged(u)
                    && self.own_classes.is_none_or(|own| {
                        !own.iter().enumerate().any(|(cl, o)| *o && u.composed(cl))
                    })
            })
    }
}

impl Verifier<'_> {
    /// Two-scale: the candidate's library on top of its `baseline`
    /// ([`candidate_library`]). `shares_healthy`: whether the baseline is
    /// the base's ([`shares_healthy`]).
    fn window(
        &self,
        chosen: &Chosen,
        baseline: Option<Baseline>,
        shares_healthy: bool,
    ) -> CandidateWindow {
        let c = &chosen.candidate;
        let mut library = None;
        let mut own_classes = None;
        let baseline = baseline.map(|b| {
            let lib = candidate_library(
                b,
                &chosen.variant,
                c,
                self.base,
                self.base_window,
                self.pool,
            );
            library = Some((lib.simulated, lib.shared));
            tracing::info!(
                candidate = %c.name,
                simulated = lib.simulated,
                shared = lib.shared,
                "remediation: library episodes"
            );
            if shares_healthy && lib.same_frame && campaigns_shared(c.kind) {
                own_classes = Some(lib.own_classes);
            }
            lib.baseline
        });
        CandidateWindow {
            baseline,
            library,
            own_classes,
        }
    }

    /// Runs the candidate's campaigns by the sequential rule: the first
    /// stage, then more while some comparison is undecided, each stage
    /// [`Verifier::run_stage`].
    fn run(
        &self,
        chosen: &Chosen,
        window: &CandidateWindow,
        rows: Option<&std::sync::Mutex<CandidateRows<'_>>>,
    ) -> Result<CandidateRun, crate::Error> {
        let (c, v) = (&chosen.candidate, &chosen.variant);
        // Natural campaigns, without the injection programme: remediation
        // lowers the risk the gate decides on.
        let how = CampaignSim::of(window.baseline.as_ref(), None, CampaignMode::Natural);
        let reuse = Reuse {
            copy: campaigns_shared(c.kind)
                && v.model.drain == self.base.model.drain
                && v.model.horizon == self.base.model.horizon
                && (!self.plan.two_scale || window.own_classes.is_some()),
            candidate: c,
            model: &v.model,
            outcomes: self.outcomes,
            own_classes: window.own_classes.as_deref(),
        };
        // Each target handler's index in the candidate's model.
        let ix: Vec<Option<usize>> = self
            .targets
            .iter()
            .map(|t| v.model.handlers.iter().position(|d| *d.id == *t.handler))
            .collect();
        let mut run = CandidateRun {
            paired: vec![PairedTally::default(); self.targets.len()],
            campaigns: 0,
            simulated: 0,
            events: 0,
            episodes_shared: 0,
        };
        let mut stage = self.seq.first;
        loop {
            self.run_stage(&v.model, how, &reuse, &ix, stage, &mut run, rows)?;
            let decided = run
                .paired
                .iter()
                .zip(self.targets)
                .all(|(p, t)| self.seq.decided(p, self.weighted, t.delta));
            match self.seq.next(run.campaigns) {
                Some(n) if !decided => {
                    tracing::info!(candidate = %c.name, campaigns = n, "remediation: undecided, more campaigns");
                    stage = n;
                }
                _ => break,
            }
        }
        self.bar.set_length(
            self.bar
                .length()
                .saturating_sub(self.seq.max - run.campaigns),
        );
        Ok(run)
    }

    /// Runs the candidate's campaigns from `run.campaigns` up to `stage`,
    /// [`CHUNK`] at a time in parallel, and folds each, in campaign order,
    /// into the paired tallies with the base's campaign of the same index.
    ///
    /// This is its own loop rather than [`crate::run::ReadyJob::run_range`]:
    /// it simulates only the campaigns the base does not already decide
    /// ([`Reuse`]; the others are folded as the base's), always on the
    /// base's seeds (stream 0, whatever the candidate's variant index and
    /// `plan.independent_streams`), and pairs every result with the base's
    /// rather than writing rows.
    #[allow(clippy::too_many_arguments)]
    fn run_stage(
        &self,
        model: &Model,
        how: CampaignSim<'_>,
        reuse: &Reuse<'_>,
        ix: &[Option<usize>],
        stage: u64,
        run: &mut CandidateRun,
        rows: Option<&std::sync::Mutex<CandidateRows<'_>>>,
    ) -> Result<(), crate::Error> {
        let (outcomes, bar) = (self.outcomes, self.bar);
        while run.campaigns < stage {
            let done = run.campaigns;
            let end = (done + CHUNK).min(stage);
            let todo: Vec<u64> = (done..end).filter(|k| !reuse.same_as_base(*k)).collect();
            let same = |u: &Usage| reuse.unchanged(u);
            let results: Vec<(CampaignResult, u32)> = self.pool.install(|| {
                todo.par_iter()
                    .map(|&k| {
                        // The base's seeds: common random numbers.
                        let seed = campaign_seed(self.plan.seed, 0, None, k);
                        // Two-scale: its episodes that exercised nothing
                        // the change acts on are the base's.
                        let prior = outcomes.episodes(k).filter(|_| reuse.copy);
                        let episodes = EpisodeReuse {
                            keep: false,
                            prior: prior.map(|p| (p, &same as Unchanged<'_>)),
                        };
                        let r = how.run(model, seed, CampaignMode::Natural, episodes);
                        bar.inc(1);
                        (r.result, r.taken)
                    })
                    .collect()
            });
            run.episodes_shared += results.iter().map(|r| u64::from(r.1)).sum::<u64>();
            let results = results.into_iter().map(|r| r.0);
            bar.inc(end - done - todo.len() as u64);
            run.simulated += todo.len() as u64;
            // Folded in campaign order: the same whatever the threads.
            let mut results = todo.iter().zip(results).peekable();
            for k in done..end {
                let r = results.next_if(|(j, _)| **j == k).map(|(_, r)| r);
                if let Some(r) = &r {
                    run.events += r.events;
                    crate::error::check_routed(r.misrouted, || {
                        format!(
                            "remediation candidate `{}`, campaign {k} (--seed {})",
                            reuse.candidate.name, self.plan.seed
                        )
                    })?;
                    if let Some(rows) = rows {
                        let seed = campaign_seed(self.plan.seed, 0, None, k).as_u64();
                        let mut rows = rows.lock().unwrap_or_else(|e| e.into_inner());
                        (*rows)(&reuse.candidate.name, model, k, seed, r)?;
                    }
                }
                for ((p, t), hx) in run.paired.iter_mut().zip(self.targets).zip(ix) {
                    let b = outcomes.breached(t.base_ix, k);
                    let w = outcomes.weight(k);
                    match (&r, hx) {
                        (Some(r), Some(hx)) => p.add(b, r.handlers[*hx].slo_breached, w, r.weight),
                        (None, _) => p.add(b, b, w, w),
                        (Some(_), None) => {}
                    }
                }
            }
            run.campaigns = end;
        }
        Ok(())
    }

    /// The candidate and its figures: one [`Outcome`] per target handler
    /// it ran paired campaigns for.
    fn verified(
        &self,
        candidate: Candidate,
        run: &CandidateRun,
        library: Option<(usize, usize)>,
    ) -> Verified {
        let outcomes = run
            .paired
            .iter()
            .zip(self.targets)
            .filter(|(p, _)| p.campaigns > 0)
            .map(|(p, t)| Outcome {
                handler: t.handler.clone(),
                before: p.risk(false, self.weighted),
                after: p.risk(true, self.weighted),
                diff: p.interval(self.weighted),
                campaigns: p.campaigns,
            })
            .collect();
        Verified {
            candidate,
            outcomes,
            campaigns: run.campaigns,
            simulated: run.simulated,
            library,
            episodes_shared: run.episodes_shared,
        }
    }
}

/// Whether a kind of change acts only through mechanisms whose use
/// simulations record ([`Usage`]): then a simulation that did not exercise
/// them is the candidate's exactly ([`could_change`]). A timeout acts on
/// when every attempt ends, which is not recorded.
fn exact(kind: Kind) -> bool {
    !matches!(kind, Kind::AddTimeout | Kind::TightenTimeout)
}

/// Whether a whole campaign that did not exercise the change is the
/// candidate's: for [`exact`] changes other than a replica, which adds a
/// failure process (and moves the streams of others), so that the
/// candidate's fault timelines are not the base's.
fn campaigns_shared(kind: Kind) -> bool {
    exact(kind) && kind != Kind::AddReplica
}

/// Whether a simulation that exercised `u`, with a fault on `fault_on` (a
/// library episode's) or none (the healthy baseline), could go differently
/// with the candidate's change:
///
/// - more concurrency, where a routable replica of the resource was full;
/// - another replica, where one was full, or where the fault is on the
///   resource itself. Otherwise its replicas are alike (no fault acts on
///   any of them) and never full, so which one serves a request changes
///   nothing: service times come from the resource's one stream, in the
///   order requests start;
/// - a retry, backoff, breaker or fallback, where an attempt of the call failed;
/// - a timeout: always.
fn could_change(c: &Candidate, model: &Model, u: &Usage, fault_on: Option<ResourceIx>) -> bool {
    let x = model.resources.iter().position(|r| r.id == c.acts_on);
    match c.kind {
        Kind::RaiseConcurrency => x.is_none_or(|r| u.saturated(r)),
        Kind::AddReplica => x.is_none_or(|r| u.saturated(r) || fault_on == Some(r)),
        Kind::AddRetry | Kind::RetryBackoff | Kind::AddBreaker | Kind::AddFallback => {
            c.step.is_none_or(|(h, o, s)| u.failed(model, h, o, s))
        }
        Kind::AddTimeout | Kind::TightenTimeout => true,
    }
}

/// A candidate's two-scale baseline and library, and how it was made.
struct CandidateLibrary {
    baseline: Baseline,
    /// Library entries simulated for the candidate.
    simulated: usize,
    /// Library entries taken from the base's library.
    shared: usize,
    /// Per class of the library: whether one of its entries was simulated.
    own_classes: Vec<bool>,
    /// Whether the candidate's episodes are cut and run exactly as the
    /// base's (same margins and drain).
    same_frame: bool,
}

/// A candidate's two-scale library. Its episodes are cut with the base's
/// margins when its own are nowhere longer (then both libraries hold the
/// same episodes). An entry of the base's library stands in for the
/// candidate's own:
///
/// - exactly, for a change whose mechanism the base's episode did not
///   exercise ([`exact`], [`could_change`]) under the same margins and drain;
/// - as an approximation, for a timeout change, when the episode's fault
///   is on a resource the change cannot reach ([`reached_by`]): its effect
///   on that episode is only on healthy traffic, which the candidate's own
///   baseline carries.
///
/// Every other entry is simulated.
fn candidate_library(
    mut b: Baseline,
    v: &PreparedVariant,
    c: &Candidate,
    base: &PreparedVariant,
    base_window: Option<&Baseline>,
    pool: &rayon::ThreadPool,
) -> CandidateLibrary {
    let shared = match base_window {
        Some(bw) => {
            let (m, o) = (&b.margins, &bw.margins);
            if m.warmup <= o.warmup
                && m.lead <= o.lead
                && m.settle <= o.settle
                && m.transient <= o.transient
                && m.sample <= o.sample
            {
                b.margins = bw.margins;
            }
            b.shared_entries(&v.model, LIBRARY_REPS, bw, &base.model)
        }
        None => Vec::new(),
    };
    let same_frame =
        base_window.is_some_and(|bw| b.margins == bw.margins) && v.model.drain == base.model.drain;
    let tasks = b.library_tasks(&v.model, LIBRARY_REPS);
    let reached = reached_by(&v.model, &c.acts_on);
    let own: Vec<bool> = tasks
        .iter()
        .enumerate()
        .map(|(k, t)| match shared.get(k) {
            Some(Some(e)) if exact(c.kind) => {
                !same_frame || could_change(c, &v.model, e.usage(), Some(t.resource()))
            }
            Some(Some(_)) => reached[t.resource()],
            _ => true,
        })
        .collect();
    let chains = LibraryTask::chains(&tasks, |k| own[k]);
    let simulated: Vec<Vec<(usize, LibraryEntry)>> =
        pool.install(|| chains.par_iter().map(|c| c.run(&v.model)).collect());
    let simulated: Vec<LibraryEntry> = simulated.into_iter().flatten().map(|(_, e)| e).collect();
    let n_sim = simulated.len();
    let mut own_classes = Vec::new();
    for (t, o) in tasks.iter().zip(&own) {
        if own_classes.len() <= t.class() {
            own_classes.resize(t.class() + 1, false);
        }
        own_classes[t.class()] |= *o;
    }
    let mut simulated = simulated.into_iter();
    let entries: Vec<Arc<LibraryEntry>> = own
        .iter()
        .enumerate()
        .map(|(k, o)| match (o, shared.get(k)) {
            (false, Some(Some(e))) => e.clone(),
            _ => Arc::new(simulated.next().expect("one simulated entry per own task")),
        })
        .collect();
    let n = entries.len();
    CandidateLibrary {
        baseline: b.with_shared_library(&v.model, LIBRARY_REPS, entries),
        simulated: n_sim,
        shared: n - n_sim,
        own_classes,
        same_frame,
    }
}

/// Per resource: whether a change acting on resource `acts_on` can alter
/// the episodes of a fault there. It can where it acts, and on every
/// resource that one calls or polls, directly or through the handlers
/// running on its callees: their faults reach it through its calls (a
/// caller waits on a failing callee, retries it, its breaker opens, its
/// slots fill up). Faults elsewhere reach it only as healthy traffic.
fn reached_by(model: &Model, acts_on: &str) -> Vec<bool> {
    let mut out = vec![false; model.resources.len()];
    let Some(x) = model.resources.iter().position(|r| r.id == acts_on) else {
        // Unknown: every class is simulated.
        return vec![true; model.resources.len()];
    };
    let mut stack = vec![x];
    while let Some(r) = stack.pop() {
        if std::mem::replace(&mut out[r], true) {
            continue;
        }
        for h in model.handlers.iter().filter(|h| h.resource == r) {
            for op in &h.ops {
                for st in &op.steps {
                    let l = match st {
                        StepDef::Call(c) => {
                            if let Some(f) = &c.fallback_call {
                                stack.push(model.links[f.link].to);
                            }
                            c.link
                        }
                        StepDef::Poll(p) => p.link,
                    };
                    stack.push(model.links[l].to);
                }
            }
        }
    }
    out
}

fn f4(x: f64) -> String {
    crate::text::fmt_f(x, 4)
}

fn ci(t: (f64, f64, f64)) -> String {
    format!("{} [{}, {}]", f4(t.0), f4(t.1), f4(t.2))
}

/// Renders the candidates (sorted by risk after, per handler) and, per
/// handler over its threshold, the best change as a block to paste.
pub fn render(rem: &Remediation, base_campaigns: Option<&BaseOutcomes>, out: &mut String) {
    if rem.over.is_empty() {
        crate::textln!(
            out,
            "\nremediation: no handler of the base is over its threshold; nothing to remediate"
        );
        return;
    }
    if rem.verified.is_empty() {
        crate::textln!(
            out,
            "\nremediation: {} over its threshold, but no candidate change could be simulated ({} proposed)",
            rem.over.join(", "),
            rem.proposed
        );
        return;
    }
    let n_max = base_campaigns.map_or(0, |b| b.campaigns);
    let (lo, hi) = rem.verified.iter().fold((u64::MAX, 0), |(lo, hi), v| {
        (lo.min(v.campaigns), hi.max(v.campaigns))
    });
    let ran = if lo == hi {
        format!("{hi}")
    } else {
        format!("{lo}–{hi}")
    };
    crate::textln!(
        out,
        "\nremediation: {} of {} candidate change(s) re-simulated on the first {ran} of the base's {n_max} campaigns (same seeds: common random numbers; more only while undecided)",
        rem.verified.len(),
        rem.proposed,
    );
    let w = rem
        .verified
        .iter()
        .map(|v| v.candidate.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(9, 48);
    crate::textln!(
        out,
        "{:<24} {:<w$} {:>9} {:>26} {:>26} {:>28} {:>5}",
        "handler",
        "candidate",
        "campaigns",
        "risk before [95% CI]",
        "risk after [95% CI]",
        "difference [95% CI]",
        "sig."
    );
    for h in &rem.over {
        let mut rows: Vec<(&Verified, &Outcome)> = rem
            .verified
            .iter()
            .filter_map(|v| v.outcomes.iter().find(|o| o.handler == *h).map(|o| (v, o)))
            .collect();
        rows.sort_by(|a, b| {
            a.1.after
                .0
                .total_cmp(&b.1.after.0)
                .then(a.1.diff.2.total_cmp(&b.1.diff.2))
        });
        for (v, o) in rows {
            crate::textln!(
                out,
                "{:<24} {:<w$} {:>9} {:>26} {:>26} {:>28} {:>5}",
                crate::text::truncate(h, 24),
                crate::text::truncate(&v.candidate.name, w),
                o.campaigns,
                ci(o.before),
                ci(o.after),
                ci(o.diff),
                if significant(o.diff.1, o.diff.2) {
                    "yes"
                } else {
                    "no"
                }
            );
        }
    }
    if rem.weighted {
        crate::textln!(
            out,
            "(importance-sampling estimates: normal intervals of the weighted differences)"
        );
    }
    for h in &rem.over {
        match rem.best(h) {
            Some((v, o)) => {
                crate::textln!(
                    out,
                    "\nbest change for {h}: risk {} [{}, {}] -> {} [{}, {}] ({})",
                    f4(o.before.0),
                    f4(o.before.1),
                    f4(o.before.2),
                    f4(o.after.0),
                    f4(o.after.1),
                    f4(o.after.2),
                    v.candidate.suggestion
                );
                crate::text!(out, "{}", v.candidate.yaml_block());
            }
            None => crate::textln!(
                out,
                "\nno candidate lowered the risk of {h} significantly; see remediations.parquet"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"
name: rules
horizon: 1m
resources:
  - { id: api, type: service, replicas: 2, concurrency: 8, failure_modes: [] }
  - { id: db, type: database, replicas: 1, concurrency: 4,
      service_time: { dist: constant, value: 10ms },
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 1h },
                         repair: { dist: constant, value: 30s } } ] }
  - { id: cache, type: cache, service_time: { dist: constant, value: 30ms },
      failure_modes: [ { mode: process_crash, scope: resource,
                         time_between: { dist: exponential, mean: 1h },
                         repair: { dist: constant, value: 30s } } ] }
dependencies:
  - { from: api, to: cache, kind: soft }
handlers:
  - id: h
    runs_on: api
    operations:
      - name: read
        steps:
          - { call: db, retry: { max_attempts: 3, base: 50ms } }
          - { call: cache, timeout: 5s, circuit_breaker: { failure_rate: 0.5, min_calls: 5, window: 10s, open_for: 10s } }
    slo: { success_rate: 0.999, latency_p99: 200ms }
workload:
  - { handler: h, arrivals: { process: poisson, rate: 10/s } }
"#;

    /// A tally in which the db's failure process was active in 8 of 10
    /// breaches, the cache's in 1.
    fn tally(base: &PreparedVariant) -> HandlerTally {
        let m = &base.model;
        let per_fault = |f: &sim_models::model::FaultDef| match m.resources[f.resource].id.as_str()
        {
            "db" => 8,
            "cache" => 1,
            _ => 0,
        };
        HandlerTally {
            window_s: 300.0,
            fault_free: 0,
            fault_free_breaches: 0,
            fault_free_error_rate_sum: 0.0,
            fault_free_p99_sum_ms: 0.0,
            fault_free_n: 0,
            has_slo: true,
            variant: base.name.clone(),
            handler: Arc::from("h"),
            criticality: m.resources[0].criticality,
            threshold: 0.05,
            campaigns: 40,
            breaches: 10,
            requests: 1000,
            errors: 10,
            p99_sum_ms: 0.0,
            p99_n: 0,
            fault_labels: m.faults.iter().map(|_| String::new()).collect(),
            fault_present: m.faults.iter().map(|f| 2 * per_fault(f)).collect(),
            breaches_with: m.faults.iter().map(per_fault).collect(),
            weighted_breaches: 10.0,
            weighted_breaches_sq: 10.0,
            paired: None,
        }
    }

    #[test]
    fn rules_give_the_documented_candidates_and_each_applies() {
        let loaded = crate::scenario::load_bytes(
            RULES.as_bytes(),
            crate::scenario::Format::Yaml,
            std::path::Path::new("rules.yaml"),
        )
        .unwrap();
        let base = crate::prepare::prepare_variants(&loaded, "base")
            .unwrap()
            .remove(0);
        let t = tally(&base);
        let cands = candidates(&base, &[&t], &[&t]);
        let find = |name: &str| {
            cands.iter().find(|c| c.name == name).unwrap_or_else(|| {
                panic!(
                    "no {name} in {:?}",
                    cands.iter().map(|c| &c.name).collect::<Vec<_>>()
                )
            })
        };
        // Ranked by evidence and prior: the db's replica first.
        assert_eq!(cands[0].name, "add-replica-db");
        assert_eq!(cands[0].value, Value::from(2));
        assert!((cands[0].relevance - 1.0 * (0.8 + 0.05)).abs() < 1e-12);
        // No timeout on the db call: 2 x its p99 (10 ms), rounded up: 20 ms.
        let t0 = find("timeout-h-read-0");
        assert_eq!(t0.kind, Kind::AddTimeout);
        assert_eq!(t0.path, "handlers[h].operations[read].steps[0].timeout");
        assert_eq!(t0.value, Value::from("20ms"));
        // The cache call's 5 s timeout exceeds the 200 ms SLO: 2 x 30 ms -> 100 ms.
        let t1 = find("timeout-h-read-1");
        assert_eq!(t1.kind, Kind::TightenTimeout);
        assert_eq!(t1.value, Value::from("100ms"));
        // The db retry keeps its attempts and base; gains backoff and jitter.
        let b = find("backoff-h-read-0");
        assert_eq!(b.kind, Kind::RetryBackoff);
        assert_eq!(b.value["max_attempts"], 3);
        assert_eq!(b.value["base"], "50ms");
        assert_eq!(b.value["max"], "500ms");
        assert_eq!(b.value["backoff"], "exponential");
        assert_eq!(b.value["jitter"], "full");
        // The cache call has no retry: a modest one, based on its p99 (30 ms -> 50 ms).
        let r = find("retry-h-read-1");
        assert_eq!(r.value["base"], "50ms");
        assert_eq!(r.value["max_attempts"], 3);
        // Breaker on the db call only (the cache call has one); fallback on
        // the db call only (the cache is a soft dependency already).
        find("breaker-h-read-0");
        assert!(cands.iter().all(|c| c.name != "breaker-h-read-1"));
        assert_eq!(find("fallback-h-read-0").value, Value::from("cached"));
        assert!(cands.iter().all(|c| c.name != "fallback-h-read-1"));
        // The cache fails as a whole (scope: resource) and has no replica-scoped process.
        assert!(cands.iter().all(|c| c.name != "add-replica-cache"));
        // Sorted by relevance, and every candidate applies and compiles.
        assert!(cands.windows(2).all(|w| w[0].relevance >= w[1].relevance));
        let defaults = crate::defaults::default_failure_modes();
        for c in &cands {
            let s = apply_variant(&base.scenario, &c.variant())
                .unwrap_or_else(|e| panic!("{}: {:?}", c.name, e));
            compile(&s, &defaults, &sim_models::compile::Empirical::default())
                .unwrap_or_else(|e| panic!("{}: {:?}", c.name, e));
        }
    }

    #[test]
    fn nice_ceil_rounds_up_to_one_two_five() {
        let ms = |s: f64| (nice_ceil(s) * 1e3 * 1e6).round() / 1e6;
        assert_eq!(ms(0.0), 1.0);
        assert_eq!(ms(0.0012), 2.0);
        assert_eq!(ms(0.002), 2.0);
        assert_eq!(ms(0.0021), 5.0);
        assert_eq!(ms(0.006), 10.0);
        assert_eq!(ms(0.01), 10.0);
        assert_eq!(ms(0.13), 200.0);
        assert_eq!(ms(0.5), 500.0);
        assert_eq!(ms(0.7), 1000.0);
        assert_eq!(ms(1.0), 1000.0);
    }

    #[test]
    fn selectors_fall_back_to_indices() {
        assert_eq!(sel("orders-db", 2), "[orders-db]");
        assert_eq!(sel("7", 2), "[2]");
        assert_eq!(sel("a]b", 0), "[0]");
    }

    #[test]
    fn a_candidate_renders_as_a_set_expression_and_a_block() {
        let c = Candidate {
            name: "add-replica-orders-db".into(),
            kind: Kind::AddReplica,
            target: "orders-db".into(),
            suggestion: "add a replica".into(),
            path: "resources[orders-db].replicas".into(),
            value: Value::from(2),
            relevance: 1.0,
            handlers: vec!["checkout-handler".into()],
            acts_on: "orders-db".into(),
            step: None,
        };
        assert_eq!(c.set_expr(), r#"{ "resources[orders-db].replicas": 2 }"#);
        assert_eq!(
            c.yaml_block(),
            "variants:\n  - name: add-replica-orders-db\n    set: { \"resources[orders-db].replicas\": 2 }\n"
        );
        assert_eq!(c.variant().set.len(), 1);
    }

    #[test]
    fn the_sequential_rule_doubles_from_256_up_to_the_base_campaigns() {
        let q = Sequential::new(10_000);
        assert_eq!((q.first, q.max, q.stages), (256, 10_000, 7));
        let mut stages = vec![q.first];
        while let Some(n) = q.next(*stages.last().unwrap()) {
            stages.push(n);
        }
        assert_eq!(stages, [256, 512, 1024, 2048, 4096, 8192, 10_000]);
        // 95% over the whole sequence: each look at 1 − 0.05/7.
        assert!((q.z - 2.6901).abs() < 1e-3, "{}", q.z);
        // A base of fewer campaigns than the first stage: one look at 95%.
        let q = Sequential::new(150);
        assert_eq!((q.first, q.stages, q.next(150)), (150, 1, None));
        assert!((q.z - 1.95996).abs() < 1e-4);
        assert_eq!(Sequential::new(256).next(256), None);
        assert_eq!(Sequential::new(300).next(256), Some(300));
    }

    #[test]
    fn a_comparison_is_decided_when_it_excludes_zero_or_stays_within_delta() {
        let q = Sequential::new(10_000);
        let table = |both, base_only, variant_only, neither| {
            let mut p = PairedTally::default();
            for (n, yb, yv) in [
                (both, true, true),
                (base_only, true, false),
                (variant_only, false, true),
                (neither, false, false),
            ] {
                for _ in 0..n {
                    p.add(yb, yv, 1.0, 1.0);
                }
            }
            p
        };
        // 13 base breaches in 256, all removed: a change, decided at once.
        assert!(q.decided(&table(0, 13, 0, 243), false, 0.02));
        // No discordant pair in 256: the stopping interval is about ±0.025,
        // wider than δ = 0.02, so not yet; in 512 it is ±0.013: decided.
        assert!(!q.decided(&table(13, 0, 0, 243), false, 0.02));
        assert!(q.decided(&table(26, 0, 0, 486), false, 0.02));
        // δ = 0 (a risk over its threshold only once calibrated): only a
        // significant difference stops.
        assert!(!q.decided(&table(26, 0, 0, 486), false, 0.0));
        // Two breaches removed in 256 out of 13: neither a change nor negligible.
        assert!(!q.decided(&table(11, 2, 0, 243), false, 0.02));
    }
}
