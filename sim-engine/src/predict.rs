//! Predicted injection scenarios: what to inject first, how hard, for how
//! long, and when a live experiment must be stopped.
//!
//! Candidates are every (resource, failure mode) the model can suffer, at up
//! to three intensities ([`Intensity`]). Each gets
//!
//! - a **likelihood**: the probability that the fault happens naturally at
//!   least once within the risk window, from the failure process itself;
//! - an **impact**, from targeted campaigns: the candidate injected into a
//!   healthy system after a warm-up; the errors from the injection until
//!   recovery, less the warm-up's background rate, are the injection's
//!   doing. Impact is their mean as a fraction of the workload's error
//!   budget over the risk window;
//! - a **score** = likelihood × impact: the expected fraction of the error
//!   budget the fault burns per window. Scenarios are ranked by it;
//! - a **severity** by [`severity`]'s rule;
//! - **abort thresholds** for a live experiment and a **rollback plan**.
//!
//! See `docs/injection.md` for the rules and an example.

use std::sync::Arc;

use rayon::prelude::*;
use sim_core::{CampaignSeed, SimDuration, stream_key};
use sim_models::dist::Dist;
use sim_models::live::{LiveFault, LivePlan, LiveResult, Monitoring, Schedule, slo_rules, warm_up};
use sim_models::model::{Effect, FaultDef, FaultOrigin, FaultScope, Model};
use sim_models::msg::ALL_REPLICAS;
use sim_models::rare::forward_sf;

use crate::prepare::PreparedVariant;
use sim_output::{ScenarioRow, Severity};

/// Warm-up before the injection, so queues and breakers are in steady state.
pub const WARM_UP: SimDuration = SimDuration(30 * 1_000_000_000);
/// Time watched after the injection's end, for recovery.
pub const AFTER: SimDuration = SimDuration(60 * 1_000_000_000);
/// Longest injection simulated; the rest of a longer one is extrapolated
/// at the error rate of its last simulated minute (by then breakers,
/// timeouts and queues have settled into the faulted state).
pub const SIM_CAP: SimDuration = SimDuration(300 * 1_000_000_000);
/// Past the warm-up, how long each healthy campaign is watched, tick by
/// tick, for the healthy steady state ([`Healthy`]).
pub const HEALTHY_SPAN: SimDuration = SimDuration(120 * 1_000_000_000);
/// Longest injection simulated (longer repairs are capped: a live
/// experiment would be stopped long before).
pub const MAX_DURATION: SimDuration = SimDuration(3600 * 1_000_000_000);

/// How hard a candidate strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intensity {
    /// As the failure mode usually happens: one replica (or the whole
    /// resource for `scope: resource`), for the median repair time.
    Typical,
    /// One replica, for the 90th-percentile repair time (one event in ten
    /// lasts at least this long).
    Long,
    /// Every replica at once, for the median repair time divided by the
    /// replica count (how long overlapping independent outages last).
    AllReplicas,
}

impl Intensity {
    fn suffix(self) -> &'static str {
        match self {
            Intensity::Typical => "",
            Intensity::Long => "-long",
            Intensity::AllReplicas => "-all",
        }
    }
}

/// One candidate scenario before simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The fault as the live module injects it.
    pub fault: LiveFault,
    /// Failure mode name.
    pub mode: String,
    /// Intensity.
    pub intensity: Intensity,
    /// Probability of at least one natural occurrence per risk window.
    pub likelihood: f64,
    /// Where it comes from: `failure_mode` (the resource's failure modes),
    /// or `failure_point` (a static failure point of `preflight analyze` on
    /// a resource without that failure mode; likelihood 0: unknown).
    pub source: &'static str,
    /// The kinds of static failure points on its resource (`analyze`).
    pub failure_points: Vec<&'static str>,
}

/// Duration of a failure-point candidate (it has no repair distribution).
pub const FAILURE_POINT_DURATION: SimDuration = SimDuration(300 * 1_000_000_000);

/// Every candidate of `model`: those of its failure modes ([`candidates`])
/// and those of its static failure points, in a copy of the model that
/// also holds the effects the latter inject. The copy behaves exactly as
/// `model` (effects are only added, never referenced by its own faults).
///
/// Failure points add, for a resource that has no such failure mode:
/// a crash of every replica for a single point of failure, an articulation
/// point, or the callee of a critical hard call without breaker or
/// fallback; a 10 s hang (`latency_spike`) for the callee of a call
/// without timeout; a 50% `cpu_throttle` for a resource near or over
/// capacity. They last [`FAILURE_POINT_DURATION`] and have likelihood 0
/// (the scenario gives no process for them), so they rank after every
/// candidate with a known likelihood, by impact.
pub fn all_candidates(model: &Model, window: f64) -> (Model, Vec<Candidate>) {
    use crate::analyze::Kind;
    let mut m = model.clone();
    let mut out = candidates(model, window);
    let findings = crate::analyze::analyze(model);
    for c in &mut out {
        let rid = &model.resources[c.fault.resource].id;
        let mut kinds: Vec<&'static str> = findings
            .iter()
            .filter(|f| f.resource.as_deref() == Some(rid.as_str()))
            .map(|f| f.kind.as_str())
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        c.failure_points = kinds;
    }
    for f in &findings {
        let Some(rid) = f.resource.as_deref() else {
            continue;
        };
        let Some(r) = model.resources.iter().position(|x| x.id == rid) else {
            continue;
        };
        let (mode, effect) = match f.kind {
            Kind::SinglePointOfFailure | Kind::ArticulationPoint | Kind::NoBreakerOrFallback => {
                ("process_crash", Effect::Crash { replicas: None })
            }
            Kind::NoTimeout => (
                "latency_spike",
                Effect::Latency {
                    added: Dist::constant(10.0).expect("a valid constant"),
                },
            ),
            Kind::Capacity => ("cpu_throttle", Effect::CpuThrottle { factor: 2.0 }),
            _ => continue,
        };
        if out.iter().any(|c| c.fault.resource == r && c.mode == mode) {
            if let Some(c) = out
                .iter_mut()
                .find(|c| c.fault.resource == r && c.mode == mode && c.source == "failure_point")
                && !c.failure_points.contains(&f.kind.as_str())
            {
                c.failure_points.push(f.kind.as_str());
            }
            continue;
        }
        m.effects.push(effect);
        out.push(Candidate {
            fault: LiveFault {
                id: format!("{rid}-{}-point", mode.replace('_', "-")),
                resource: r,
                effect: m.effects.len() - 1,
                replica: ALL_REPLICAS,
                duration: FAILURE_POINT_DURATION,
            },
            mode: mode.to_string(),
            intensity: Intensity::Typical,
            likelihood: 0.0,
            source: "failure_point",
            failure_points: vec![f.kind.as_str()],
        });
    }
    (m, out)
}

/// A candidate with its simulated impact.
#[derive(Debug, Clone, PartialEq)]
pub struct Predicted {
    /// The candidate.
    pub candidate: Candidate,
    /// The row of `scenarios.parquet` (rank filled after sorting).
    pub row: ScenarioRow,
    /// Its campaigns, in index order: each one's seed and result (written
    /// to `campaigns.parquet` and `handlers.parquet` with mode `predicted`).
    pub campaigns: Vec<(u64, sim_models::campaign::CampaignResult)>,
}

/// The `q` quantile of `d` (seconds), by bisection on the survival function.
pub fn quantile(d: &Dist, q: f64) -> f64 {
    if let Dist::Constant { value } = d {
        return *value;
    }
    let (mut lo, mut hi) = (0.0_f64, d.mean().max(1e-9));
    while d.survival(hi) > 1.0 - q && hi < 1e12 {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if d.survival(mid) > 1.0 - q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Probability that one alternating failure process, started in
/// equilibrium, has at least one failure onset within `window` seconds:
/// `1 − P(up at 0) · Se(window)`, with `Se` the forward-recurrence
/// survival of the up time (a process down at time zero counts as an onset
/// before the window).
pub fn p_onset_within(f: &FaultDef, window: f64) -> f64 {
    let (m, r) = (f.time_between.mean(), f.repair.mean());
    let p_up = m / (m + r);
    (1.0 - p_up * forward_sf(&f.time_between, window)).clamp(0.0, 1.0)
}

/// Rate (per second) at which `n` independent replicas, each with mean up
/// time `m` and mean repair `r`, enter the all-down state:
/// `n · (1 / (m + r)) · (r / (m + r))^(n − 1)` (a replica fails while the
/// others are all down, in steady state).
pub fn all_down_rate(n: u16, m: f64, r: f64) -> f64 {
    let cycle = m + r;
    f64::from(n) / cycle * (r / cycle).powi(i32::from(n) - 1)
}

/// Every candidate of `model`, with its likelihood over `window` seconds.
pub fn candidates(model: &Model, window: f64) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut seen: Vec<(usize, String, bool)> = Vec::new();
    // Hazards raised by telemetry make no candidates of their own: they
    // raise the likelihood of the mode's candidate that strikes the whole
    // resource, as their onsets do (`docs/forecast.md`).
    let natural = |g: &&FaultDef| g.origin == FaultOrigin::FailureMode;
    for f in model.faults.iter().filter(natural) {
        let mode = f.mode.to_string();
        let resource_scope = f.scope == FaultScope::Resource;
        if seen
            .iter()
            .any(|(r, m, s)| *r == f.resource && *m == mode && *s == resource_scope)
        {
            continue;
        }
        seen.push((f.resource, mode.clone(), resource_scope));
        let res = &model.resources[f.resource];
        // Every process of this (resource, mode, scope): one per replica.
        let procs: Vec<&FaultDef> = model
            .faults
            .iter()
            .filter(natural)
            .filter(|g| {
                g.resource == f.resource
                    && g.mode == f.mode
                    && (g.scope == FaultScope::Resource) == resource_scope
            })
            .collect();
        let raised: Vec<&FaultDef> = model
            .faults
            .iter()
            .filter(|g| {
                g.origin == FaultOrigin::Telemetry && g.resource == f.resource && g.mode == f.mode
            })
            .collect();
        let raised_none: f64 = raised
            .iter()
            .map(|g| 1.0 - p_onset_within(g, window))
            .product();
        let n = res.replicas;
        // Whether the mode's typical candidate strikes the whole resource.
        let whole = resource_scope || n == 1;
        let replica = if resource_scope || n == 1 {
            ALL_REPLICAS
        } else {
            0
        };
        let p_none: f64 = procs
            .iter()
            .map(|g| 1.0 - p_onset_within(g, window))
            .product();
        let median = quantile(&f.repair, 0.5);
        let p90 = quantile(&f.repair, 0.9);
        let id = |i: Intensity| format!("{}-{}{}", res.id, mode.replace('_', "-"), i.suffix());
        let fault = |i: Intensity, replica: u16, secs: f64| LiveFault {
            id: id(i),
            resource: f.resource,
            effect: f.effect,
            replica,
            duration: SimDuration::from_secs_f64(secs.max(1.0)).min(MAX_DURATION),
        };
        out.push(Candidate {
            fault: fault(Intensity::Typical, replica, median),
            mode: mode.clone(),
            intensity: Intensity::Typical,
            likelihood: 1.0 - p_none * if whole { raised_none } else { 1.0 },
            source: "failure_mode",
            failure_points: Vec::new(),
        });
        // Long outages: one onset in ten lasts beyond the 90th percentile.
        let onsets_per_s: f64 = procs
            .iter()
            .chain(raised.iter().filter(|_| whole))
            .map(|g| 1.0 / (g.time_between.mean() + g.repair.mean()))
            .sum();
        out.push(Candidate {
            fault: fault(Intensity::Long, replica, p90),
            mode: mode.clone(),
            intensity: Intensity::Long,
            likelihood: 1.0 - (-0.1 * onsets_per_s * window).exp(),
            source: "failure_mode",
            failure_points: Vec::new(),
        });
        if !resource_scope && n > 1 && !is_network(model, f) {
            let rate = all_down_rate(n, f.time_between.mean(), f.repair.mean());
            out.push(Candidate {
                fault: fault(Intensity::AllReplicas, ALL_REPLICAS, median / f64::from(n)),
                mode,
                intensity: Intensity::AllReplicas,
                likelihood: 1.0 - (-rate * window).exp() * raised_none,
                source: "failure_mode",
                failure_points: Vec::new(),
            });
        }
    }
    out
}

fn is_network(model: &Model, f: &FaultDef) -> bool {
    model.effects[f.effect].is_network()
}

/// The severity rule. With `impact` the fraction of the risk window's error
/// budget one occurrence burns, `error_rate` the workload's error rate
/// while the fault is on and `p99_over` whether its p99 then exceeds a
/// watched handler's SLO latency:
///
/// | severity | when |
/// |---|---|
/// | critical | impact ≥ 1 (one occurrence burns the whole budget), or error rate ≥ 0.5 |
/// | high | impact ≥ 0.25, or error rate ≥ 0.1 |
/// | medium | impact ≥ 0.05, or the p99 exceeds the SLO, or error rate ≥ the SLO's error allowance |
/// | low | otherwise |
pub fn severity(impact: f64, error_rate: f64, allowance: f64, p99_over: bool) -> Severity {
    let e = if error_rate.is_nan() { 0.0 } else { error_rate };
    if impact >= 1.0 || e >= 0.5 {
        Severity::Critical
    } else if impact >= 0.25 || e >= 0.1 {
        Severity::High
    } else if impact >= 0.05 || p99_over || e >= allowance {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// The workload's error budget over `window` seconds: expected requests
/// times the allowed error fraction, summed over workload handlers (a
/// handler without `success_rate` allows 0.1%).
pub fn error_budget(model: &Model, window: f64) -> f64 {
    model
        .workloads
        .iter()
        .map(|w| {
            let allow = model.handlers[w.handler]
                .slo
                .success_rate
                .map_or(0.001, |s| 1.0 - s);
            let shape = w
                .diurnal
                .map_or(1.0, |d| d.iter().sum::<f64>() / d.len() as f64);
            w.rate * shape * window * allow.max(1e-9)
        })
        .sum()
}

/// The strictest error allowance and SLO latency of the workload handlers.
fn slo_limits(model: &Model) -> (f64, Option<f64>) {
    let mut allow = f64::INFINITY;
    let mut p99: Option<f64> = None;
    for w in &model.workloads {
        let slo = &model.handlers[w.handler].slo;
        allow = allow.min(slo.success_rate.map_or(0.001, |s| 1.0 - s));
        if let Some(l) = slo.latency_p99 {
            let l = l.as_millis_f64();
            p99 = Some(p99.map_or(l, |x: f64| x.min(l)));
        }
    }
    (if allow.is_finite() { allow } else { 0.001 }, p99)
}

/// The healthy steady state as one-second monitoring sees it, from
/// healthy campaigns watched tick by tick ([`healthy_ticks`]): what a live
/// experiment should see before its fault and after its recovery.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Healthy {
    /// Errors / requests over every tick.
    pub error_rate: f64,
    /// The median one-second p99, ms.
    pub latency_p99_ms: f64,
    /// The 99.9th percentile of one-second error rates: healthy noise
    /// reaches it once in a thousand ticks.
    pub error_rate_high: f64,
    /// The 99.9th percentile of one-second p99s, ms.
    pub latency_p99_high_ms: f64,
}

impl Healthy {
    /// The healthy figures of `ticks`.
    pub fn of(ticks: &[sim_models::live::Tick]) -> Healthy {
        let (req, err) = ticks
            .iter()
            .fold((0u64, 0u64), |(r, e), t| (r + t.requests, e + t.errors));
        let mut rates: Vec<f64> = ticks
            .iter()
            .filter(|t| t.requests > 0)
            .map(|t| t.errors as f64 / t.requests as f64)
            .collect();
        let mut p99s: Vec<f64> = ticks.iter().map(|t| t.p99_ms).collect();
        Healthy {
            error_rate: if req == 0 {
                f64::NAN
            } else {
                err as f64 / req as f64
            },
            latency_p99_ms: sample_quantile(&mut p99s.clone(), 0.5),
            error_rate_high: sample_quantile(&mut rates, 0.999),
            latency_p99_high_ms: sample_quantile(&mut p99s, 0.999),
        }
    }
}

/// Which bound an abort threshold came from (`scenarios.parquet`'s
/// `abort_*_basis`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortBasis {
    /// Halfway between the healthy bound and the SLO's breach level.
    Between,
    /// The healthy bound itself: one-second healthy noise already reaches
    /// the SLO's level, so nothing lower would leave a healthy system alone.
    Healthy,
    /// No SLO on this figure: twice the healthy bound.
    NoSlo,
}

impl AbortBasis {
    /// `between`, `healthy` or `no_slo`, as written.
    pub fn as_str(self) -> &'static str {
        match self {
            AbortBasis::Between => "between",
            AbortBasis::Healthy => "healthy",
            AbortBasis::NoSlo => "no_slo",
        }
    }
}

/// An abort threshold for a figure whose healthy one-second bound is
/// `healthy` and whose SLO is breached at `breach`: strictly between the
/// two when they are ordered, else the healthy bound (or, without an SLO,
/// twice it, and at least `floor`).
pub fn abort_threshold(healthy: f64, breach: Option<f64>, floor: f64) -> (f64, AbortBasis) {
    let healthy = if healthy.is_nan() { 0.0 } else { healthy };
    match breach {
        Some(b) if b > healthy => (healthy + (b - healthy) / 2.0, AbortBasis::Between),
        Some(_) => (healthy, AbortBasis::Healthy),
        None => ((2.0 * healthy).max(floor), AbortBasis::NoSlo),
    }
}

/// The injection's parameters as `scenarios.parquet` columns: mean added
/// latency (ms), fraction of requests failed, status code, service-time
/// multiplier, share of concurrency lost (%), each where the effect has it.
pub fn magnitudes(effect: &Effect) -> sim_output::Magnitudes {
    let mut m = sim_output::Magnitudes::default();
    match effect {
        Effect::Latency { added } | Effect::NetworkLatency { added, .. } => {
            m.added_latency_ms = Some(added.mean() * 1e3);
        }
        Effect::ErrorCode { fraction, code } => {
            m.error_fraction = Some(*fraction);
            m.status_code = Some(u32::from(*code));
        }
        Effect::DiskError { fraction, slowdown } => {
            m.error_fraction = Some(*fraction);
            m.slowdown = Some(*slowdown);
        }
        Effect::CpuThrottle { factor } => m.slowdown = Some(*factor),
        Effect::DiskIoStarvation { slowdown } => m.slowdown = Some(*slowdown),
        Effect::MemoryStarvation { percent } => m.concurrency_lost_percent = Some(*percent),
        Effect::NetworkPartition { .. } | Effect::Unreachable => m.error_fraction = Some(1.0),
        Effect::Crash { .. } => {}
    }
    m
}

/// The `q` quantile of `xs` (NaNs dropped; NaN when empty).
fn sample_quantile(xs: &mut Vec<f64>, q: f64) -> f64 {
    xs.retain(|x| !x.is_nan());
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let i = ((xs.len() as f64 - 1.0) * q).round() as usize;
    xs[i]
}

/// Words for rolling `c` back.
fn rollback_plan(model: &Model, c: &Candidate, recovery_p90: Option<f64>) -> String {
    let res = &model.resources[c.fault.resource];
    let r = &res.id;
    let which = if c.fault.replica == ALL_REPLICAS {
        "every replica".to_string()
    } else {
        format!("replica {}", c.fault.replica)
    };
    // A third party's service cannot be restarted or failed over from
    // here: its faults are injected on the calls to it (a proxy, an egress
    // rule), and the rollback is to remove them; callers with a fallback
    // serve degraded meanwhile.
    if res.kind == sim_models::spec::ResourceType::ExternalApi {
        let fallbacks = callers_with_fallback(model, c.fault.resource);
        let meanwhile = if fallbacks.is_empty() {
            format!(
                " No caller of {r} has a fallback: every failed call fails its request, so stop at the first sign of a breach."
            )
        } else {
            format!(
                " Until then {} serve{} degraded through {} fallback.",
                fallbacks.join(", "),
                if fallbacks.len() == 1 { "s" } else { "" },
                if fallbacks.len() == 1 { "its" } else { "their" }
            )
        };
        return format!(
            "Stop the experiment: remove the fault injected on calls to {r} (an external API cannot be restarted or failed over from here).{meanwhile}{}",
            recovery_words(recovery_p90)
        );
    }
    let stop = match &model.effects[c.fault.effect] {
        Effect::Crash { .. } => format!("restart {which} of {r} (or stop the experiment)"),
        Effect::Latency { .. } => format!("remove the added latency on {which} of {r}"),
        Effect::ErrorCode { code, .. } => {
            format!("remove the {code} fault on {which} of {r}")
        }
        Effect::CpuThrottle { .. } => format!("lift the CPU stress on {which} of {r}"),
        Effect::MemoryStarvation { .. } => format!("free the memory hog on {which} of {r}"),
        Effect::DiskError { .. } | Effect::DiskIoStarvation { .. } => {
            format!("stop the disk fault on {which} of {r}")
        }
        _ => format!("restore the network into {r}"),
    };
    let failover = if c.fault.replica != ALL_REPLICAS && res.replicas > 1 {
        format!(" If errors persist, take {which} of {r} out of rotation.")
    } else {
        String::new()
    };
    format!(
        "Stop the injection: {stop}.{failover}{}",
        recovery_words(recovery_p90)
    )
}

/// What the simulation says of recovery after the stop.
fn recovery_words(recovery_p90: Option<f64>) -> String {
    match recovery_p90 {
        Some(s) if s > 0.0 => format!(" Expect the SLOs to hold again within {s:.0} s of the stop (simulated p90)."),
        Some(_) => " The SLOs should hold again as soon as it stops.".to_string(),
        None => " The simulation did not always see the SLOs recover within a minute of the stop: stop early and watch closely.".to_string(),
    }
}

/// The handlers whose calls to `resource` have a fallback (`cached` or
/// `skip`), in model order.
fn callers_with_fallback(model: &Model, resource: usize) -> Vec<String> {
    model
        .handlers
        .iter()
        .filter(|h| {
            h.ops.iter().flat_map(|o| &o.steps).any(|s| match s {
                sim_models::model::StepDef::Call(c) => {
                    model.links[c.link].to == resource
                        && c.fallback != sim_models::spec::Fallback::None
                }
                sim_models::model::StepDef::Poll(_) => false,
            })
        })
        .map(|h| format!("`{}`", h.id))
        .collect()
}

/// Options of the prediction.
#[derive(Debug, Clone, Copy)]
pub struct PredictOptions {
    /// Targeted campaigns per candidate.
    pub campaigns: u64,
    /// Master seed.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

/// Simulates every candidate of the base variant and ranks them.
pub fn predict(v: &PreparedVariant, opts: PredictOptions) -> anyhow::Result<Vec<Predicted>> {
    let model = &v.model;
    let window = v.scenario.risk.window.secs();
    let (augmented, cands) = all_candidates(model, window);
    let model = &augmented;
    let budget = error_budget(model, window);
    let (allow, slo_p99) = slo_limits(model);
    let rules = slo_rules(model);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()?;
    let n = opts.campaigns.max(1);
    let seed = |c: u64| CampaignSeed::derive(opts.seed, stream_key("predicted-scenarios"), c);
    // Long injections are simulated for SIM_CAP and the rest extrapolated
    // at the error rate of their last minute. Candidates that differ only
    // in that rest (a fault and its `-long` form, both past the cap) are
    // the same simulations: the injection draws nothing of its own and its
    // name is not in any stream, so each distinct injection is simulated
    // once, and every candidate reads its campaigns.
    let simulated = |c: &Candidate| c.fault.duration.min(SIM_CAP);
    let key = |c: &Candidate| {
        let f = &c.fault;
        (f.resource, f.effect, f.replica, simulated(c))
    };
    let mut distinct: Vec<&Candidate> = Vec::new();
    for c in &cands {
        if !distinct.iter().any(|d| key(d) == key(c)) {
            distinct.push(c);
        }
    }
    let mon = Monitoring {
        tick: SimDuration::from_secs(1),
        detection_delay: SimDuration::ZERO,
        hold: SimDuration::ZERO,
        rules: rules.clone(),
        policy: None,
    };
    // Every injection's model and plan: the base's, over its own horizon.
    let runs: Vec<(Model, LivePlan)> = distinct
        .iter()
        .map(|c| {
            let mut m = model.clone();
            m.horizon = WARM_UP + simulated(c) + AFTER;
            let mut fault = c.fault.clone();
            fault.duration = simulated(c);
            let plan = LivePlan {
                faults: vec![fault],
                schedule: Schedule::Fixed(vec![(0, WARM_UP)]),
                monitoring: mon.clone(),
                keep_ticks: true,
            };
            (m, plan)
        })
        .collect();
    // The injections of one fault ([`LiveFault::family`]), by index.
    let mut families: Vec<Vec<usize>> = Vec::new();
    for (i, c) in distinct.iter().enumerate() {
        let family = c.fault.family();
        match families
            .iter_mut()
            .find(|g| distinct[g[0]].fault.family() == family)
        {
            Some(g) => g.push(i),
            None => families.push(vec![i]),
        }
    }
    // The healthy steady state, on the seeds the candidates use: fault-free
    // campaigns watched tick by tick for HEALTHY_SPAN after the warm-up.
    let mut healthy_model = model.clone();
    healthy_model.horizon = WARM_UP + HEALTHY_SPAN;
    // Campaign k of every injection and of the healthy state is the same
    // simulation up to the warm-up's end (same model but for the horizon,
    // which only stops arrivals; same seed; nothing injected yet): it is
    // simulated once and copied for each ([`warm_up`]), event for event
    // what each would have simulated alone.
    let mut warm_model = model.clone();
    warm_model.horizon = runs
        .iter()
        .map(|(m, _)| m.horizon)
        .fold(healthy_model.horizon, SimDuration::max);
    let bar = crate::progress::Task::start("predicting scenarios", n, opts.progress);
    type Campaign = ((Vec<sim_models::live::Tick>, u64), Vec<LiveResult>);
    let campaigns: Vec<Campaign> = pool.install(|| {
        (0..n)
            .into_par_iter()
            .map(|k| {
                let w = warm_up(&warm_model, seed(k), &mon, WARM_UP);
                let healthy =
                    w.healthy_ticks(&healthy_model, &mon, WARM_UP, WARM_UP + HEALTHY_SPAN);
                // Injections of one fault (a fault and its `-long` form
                // below the cap) are one simulation up to the shorter's end.
                let mut hits: Vec<Option<LiveResult>> = vec![None; runs.len()];
                for family in &families {
                    let refs: Vec<(&Model, &LivePlan)> =
                        family.iter().map(|&i| (&runs[i].0, &runs[i].1)).collect();
                    for (&i, hit) in family.iter().zip(w.run_live_family(&refs)) {
                        hits[i] = Some(hit);
                    }
                }
                let hits: Vec<LiveResult> = hits
                    .into_iter()
                    .map(|h| h.expect("every injection is in a family"))
                    .collect();
                bar.inc(1);
                (healthy, hits)
            })
            .collect()
    });
    // Errors in a fixed order, the same whatever the threads: the healthy
    // campaigns first, then each injection's in candidate order.
    let mut ticks = Vec::new();
    for (k, ((t, misrouted), _)) in campaigns.iter().enumerate() {
        crate::error::check_routed(*misrouted, || {
            format!(
                "healthy campaign {k} of the predicted scenarios (--seed {})",
                opts.seed
            )
        })?;
        ticks.extend(t.iter().cloned());
    }
    let healthy = Healthy::of(&ticks);
    let mut hits: Vec<Vec<LiveResult>> = vec![Vec::with_capacity(n as usize); distinct.len()];
    for (_, runs) in campaigns {
        for (i, hit) in runs.into_iter().enumerate() {
            hits[i].push(hit);
        }
    }
    for (c, runs) in distinct.iter().zip(&hits) {
        for (k, hit) in runs.iter().enumerate() {
            crate::error::check_routed(hit.result.misrouted, || {
                format!(
                    "predicted scenario `{}`, campaign {k} (--seed {})",
                    c.fault.id, opts.seed
                )
            })?;
        }
    }
    // The SLO's breach levels: the strictest over the workload handlers.
    let err_breach = model
        .workloads
        .iter()
        .filter_map(|w| model.handlers[w.handler].slo.success_rate)
        .map(|s| 1.0 - s)
        .reduce(f64::min);
    let (abort_err, abort_err_basis) = abort_threshold(healthy.error_rate_high, err_breach, 0.01);
    let (abort_p99, abort_p99_basis) = abort_threshold(healthy.latency_p99_high_ms, slo_p99, 0.0);
    let mut out: Vec<Predicted> = cands
        .iter()
        .map(|c| {
            let rest = SimDuration(c.fault.duration.0 - simulated(c).0);
            let runs = &hits[distinct
                .iter()
                .position(|d| key(d) == key(c))
                .expect("every candidate's injection is simulated")];
            let mut excess = 0.0;
            let mut rates = Vec::new();
            let mut p99s = Vec::new();
            let mut tick_rates = Vec::new();
            let mut tick_p99s = Vec::new();
            let mut recoveries = Vec::new();
            let mut campaigns = Vec::with_capacity(n as usize);
            for (k, hit) in (0..n).zip(runs) {
                campaigns.push((seed(k).as_u64(), hit.result.clone()));
                let Some(o) = hit.outcomes.first() else {
                    continue;
                };
                // Errors per second before the injection: the background.
                let bg = if o.before_span.0 > 0 {
                    o.before.errors as f64 / o.before_span.as_secs_f64()
                } else {
                    0.0
                };
                let watched: f64 = hit.ticks.iter().map(|t| t.errors as f64).sum::<f64>();
                let span = hit
                    .ticks
                    .last()
                    .map_or(0.0, |t| t.end.saturating_since(o.on).as_secs_f64());
                excess += watched - bg * span;
                if rest.0 > 0 {
                    let tail: Vec<_> = hit
                        .ticks
                        .iter()
                        .filter(|t| t.injected)
                        .rev()
                        .take(60)
                        .collect();
                    let tail_rate = tail.iter().map(|t| t.errors as f64).sum::<f64>()
                        / tail.len().max(1) as f64;
                    excess += (tail_rate - bg).max(0.0) * rest.as_secs_f64();
                }
                rates.push(o.during.error_rate);
                p99s.push(o.during.latency_p99_ms);
                recoveries.push(o.recovery.map_or(f64::NAN, |d| d.as_secs_f64()));
                for t in hit.ticks.iter().filter(|t| t.injected && t.requests > 0) {
                    tick_rates.push(t.errors as f64 / t.requests as f64);
                    tick_p99s.push(t.p99_ms);
                }
            }
            let excess = (excess / n as f64).max(0.0);
            let impact = if budget > 0.0 { excess / budget } else { 0.0 };
            let rate = mean(&rates);
            let p99 = mean(&p99s);
            let unrecovered = recoveries.iter().any(|r| r.is_nan());
            let recovery_p90 = if unrecovered {
                None
            } else {
                Some(sample_quantile(&mut recoveries.clone(), 0.9))
            };
            let p99_over = slo_p99.is_some_and(|l| p99 > l);
            let sev = severity(impact, rate, allow, p99_over);
            // What the fault does, tick by tick: the figures an
            // experiment that is not aborted should expect.
            let expect_error_rate = sample_quantile(&mut tick_rates, 0.99);
            let expect_latency_p99_ms = sample_quantile(&mut tick_p99s, 0.99);
            let row = ScenarioRow {
                rank: 0,
                scenario_id: Arc::from(c.fault.id.as_str()),
                target: Arc::from(model.resources[c.fault.resource].id.as_str()),
                mode: Arc::from(c.mode.as_str()),
                severity: sev,
                likelihood: c.likelihood,
                impact,
                score: c.likelihood * impact,
                duration_s: c.fault.duration.as_secs_f64(),
                rollback_plan: Arc::from(rollback_plan(model, c, recovery_p90)),
                abort_error_rate: abort_err,
                abort_latency_p99_ms: abort_p99,
                abort_error_rate_basis: Arc::from(abort_err_basis.as_str()),
                abort_latency_p99_basis: Arc::from(abort_p99_basis.as_str()),
                healthy_error_rate: healthy.error_rate,
                healthy_latency_p99_ms: healthy.latency_p99_ms,
                healthy_error_rate_high: healthy.error_rate_high,
                healthy_latency_p99_high_ms: healthy.latency_p99_high_ms,
                fault_error_rate_p99: expect_error_rate,
                fault_latency_p99_ms_p99: expect_latency_p99_ms,
                magnitudes: magnitudes(&model.effects[c.fault.effect]),
                replicas: Arc::from(if c.fault.replica == ALL_REPLICAS {
                    "all".to_string()
                } else {
                    c.fault.replica.to_string()
                }),
                error_rate_during: rate,
                latency_p99_during_ms: p99,
                recovery_s: recovery_p90.unwrap_or(f64::NAN),
                excess_errors: excess,
                campaigns: n,
                source: Arc::from(c.source),
                failure_points: Arc::from(c.failure_points.join(",")),
            };
            Predicted {
                candidate: c.clone(),
                row,
                campaigns,
            }
        })
        .collect();
    bar.finish_and_clear();
    out.sort_by(|a, b| {
        b.row
            .score
            .total_cmp(&a.row.score)
            .then(b.row.impact.total_cmp(&a.row.impact))
            .then(b.row.severity.cmp(&a.row.severity))
            .then(a.row.scenario_id.cmp(&b.row.scenario_id))
    });
    for (i, p) in out.iter_mut().enumerate() {
        p.row.rank = i as u32 + 1;
    }
    Ok(out)
}

fn mean(xs: &[f64]) -> f64 {
    let v: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Renders the top `k` scenarios.
pub fn render_top(predicted: &[ScenarioRow], k: usize, out: &mut String) {
    if predicted.is_empty() {
        return;
    }
    crate::textln!(
        out,
        "\npredicted injection scenarios (top {} of {}; all in scenarios.parquet):",
        k.min(predicted.len()),
        predicted.len()
    );
    crate::textln!(
        out,
        "{:>4}  {:<34} {:<9} {:>10} {:>9} {:>10} {:>8} {:>10} {:>11}",
        "rank",
        "scenario",
        "severity",
        "likelihood",
        "impact",
        "score",
        "dur s",
        "abort err",
        "abort p99ms"
    );
    for r in predicted.iter().take(k) {
        crate::textln!(
            out,
            "{:>4}  {:<34} {:<9} {:>10.3e} {:>9.3} {:>10.3e} {:>8.0} {:>10.4} {:>11.1}",
            r.rank,
            crate::text::truncate(&r.scenario_id, 34),
            sim_output::severity_str(r.severity),
            r.likelihood,
            r.impact,
            r.score,
            r.duration_s,
            r.abort_error_rate,
            r.abort_latency_p99_ms
        );
    }
    if let Some(r) = predicted.first() {
        crate::textln!(
            out,
            "healthy steady state (one-second ticks, no fault): error rate {}, p99 {} ms; 99.9% of ticks at or below {} and {} ms\nabort thresholds: error rate {}; p99 {}",
            crate::text::fmt_f(r.healthy_error_rate, 5),
            crate::text::fmt_f(r.healthy_latency_p99_ms, 1),
            crate::text::fmt_f(r.healthy_error_rate_high, 5),
            crate::text::fmt_f(r.healthy_latency_p99_high_ms, 1),
            basis_words(&r.abort_error_rate_basis),
            basis_words(&r.abort_latency_p99_basis),
        );
    }
}

fn basis_words(basis: &str) -> &'static str {
    match basis {
        "between" => "halfway from the healthy bound to the SLO's breach level",
        "healthy" => "at the healthy bound (one-second noise already reaches the SLO's level)",
        _ => "twice the healthy bound (no SLO on it)",
    }
}

/// The runtime injection of `failure_injection_profile`, resolved against
/// the predicted scenarios: which scenarios natural campaigns receive, and
/// how monitoring reacts.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSpec {
    /// Ids of the scenarios at or above `severity_threshold`.
    pub eligible: Vec<String>,
    /// Mean time between injections (`injection_frequency`).
    pub mean_gap: SimDuration,
    /// `detection_delay`.
    pub detection_delay: SimDuration,
    /// `abort_when.for`.
    pub hold: SimDuration,
    /// `abort_when` limits, applied to every workload handler.
    pub rule: sim_models::live::AbortRule,
    /// `rollback_policy`.
    pub policy: sim_models::live::RollbackPolicy,
}

/// Default `injection_frequency`.
pub const DEFAULT_FREQUENCY: SimDuration = SimDuration(6 * 3600 * 1_000_000_000);
/// Default `detection_delay`.
pub const DEFAULT_DETECTION: SimDuration = SimDuration(10 * 1_000_000_000);
/// Default `abort_when.for`.
pub const DEFAULT_HOLD: SimDuration = SimDuration(30 * 1_000_000_000);

/// The live spec of an enabled profile, given the ranked scenarios.
pub fn live_spec(
    profile: &sim_models::spec::FailureInjectionProfile,
    predicted: &[Predicted],
) -> Option<LiveSpec> {
    if !profile.enabled {
        return None;
    }
    let at_least = profile.severity_threshold;
    let dur = |d: &Option<sim_models::spec::Duration>, default: SimDuration| {
        d.as_ref()
            .map_or(default, |d| SimDuration::from_secs_f64(d.secs()))
    };
    let abort = profile.abort_when.as_ref();
    Some(LiveSpec {
        eligible: predicted
            .iter()
            .filter(|p| p.row.severity >= at_least)
            .map(|p| p.candidate.fault.id.clone())
            .collect(),
        mean_gap: dur(&profile.injection_frequency, DEFAULT_FREQUENCY),
        detection_delay: dur(&profile.detection_delay, DEFAULT_DETECTION),
        hold: dur(&abort.and_then(|a| a.for_), DEFAULT_HOLD),
        rule: sim_models::live::AbortRule {
            error_rate: abort.and_then(|a| a.error_rate),
            latency_p99: abort
                .and_then(|a| a.latency_p99)
                .map(|d| SimDuration::from_secs_f64(d.secs())),
        },
        policy: profile.rollback_policy,
    })
}

/// The live plan of one variant: the spec's scenarios as this variant's
/// model has them (matched by id).
pub fn live_plan(model: &Model, window: f64, spec: &LiveSpec) -> LiveVariant {
    let (augmented, cands) = all_candidates(model, window);
    let cands: Vec<Candidate> = cands
        .into_iter()
        .filter(|c| spec.eligible.contains(&c.fault.id))
        .collect();
    let labels = cands
        .iter()
        .map(|c| (model.resources[c.fault.resource].id.clone(), c.mode.clone()))
        .collect();
    let plan = LivePlan {
        schedule: Schedule::Poisson {
            mean_gap: spec.mean_gap,
            eligible: (0..cands.len()).collect(),
        },
        faults: cands.into_iter().map(|c| c.fault).collect(),
        monitoring: Monitoring {
            tick: SimDuration::from_secs(1),
            detection_delay: spec.detection_delay,
            hold: spec.hold,
            rules: sim_models::live::uniform_rules(model, spec.rule),
            policy: Some(spec.policy),
        },
        keep_ticks: false,
    };
    LiveVariant {
        model: augmented,
        plan,
        labels,
    }
}

/// One variant's live injection: its model with the scenarios' effects
/// added, the plan, and the (target, mode) of each fault for the log.
#[derive(Debug, Clone)]
pub struct LiveVariant {
    /// The variant's model, with the effects of failure-point scenarios.
    pub model: Model,
    /// The plan.
    pub plan: LivePlan,
    /// (target, mode) per fault of the plan.
    pub labels: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_bisection() {
        let e = Dist::exponential(10.0).unwrap();
        assert!((quantile(&e, 0.5) - 10.0 * 2f64.ln()).abs() < 1e-6);
        let l = Dist::lognormal(240.0, 1.0).unwrap();
        assert!((quantile(&l, 0.5) - 240.0).abs() < 1e-6);
        // p90 of a lognormal: median · exp(1.2816 σ).
        assert!((quantile(&l, 0.9) - 240.0 * (1.281_551_565_5_f64).exp()).abs() < 1e-3);
    }

    #[test]
    fn all_down_rate_of_two_replicas() {
        // Two replicas, up 99 h, repair 1 h: each fails at 1/100 per hour
        // and the other is down 1% of the time: 2 · 0.01 · 0.01 per hour.
        let r = all_down_rate(2, 99.0, 1.0);
        assert!((r - 2e-4).abs() < 1e-12, "{r}");
        assert!((all_down_rate(1, 99.0, 1.0) - 0.01).abs() < 1e-12);
    }

    #[test]
    fn onset_probability_of_an_exponential_process() {
        let f = FaultDef {
            resource: 0,
            mode: sim_models::spec::FailureMode::ProcessCrash,
            effect: 0,
            scope: FaultScope::Replica(0),
            time_between: Dist::exponential(1000.0).unwrap(),
            repair: Dist::exponential(10.0).unwrap(),
            bias: 1.0,
            origin: sim_models::model::FaultOrigin::FailureMode,
        };
        // Up at 0 with probability 1000/1010, then exponential: 1 − p·e^{−w/m}.
        let w = 500.0;
        let want = 1.0 - 1000.0 / 1010.0 * (-w / 1000.0_f64).exp();
        assert!((p_onset_within(&f, w) - want).abs() < 1e-12);
    }

    #[test]
    fn severity_rule() {
        assert_eq!(severity(1.2, 0.0, 0.001, false), Severity::Critical);
        assert_eq!(severity(0.0, 0.6, 0.001, false), Severity::Critical);
        assert_eq!(severity(0.3, 0.0, 0.001, false), Severity::High);
        assert_eq!(severity(0.0, 0.0, 0.001, true), Severity::Medium);
        assert_eq!(severity(0.06, 0.0, 0.001, false), Severity::Medium);
        assert_eq!(severity(0.01, 0.0005, 0.001, false), Severity::Low);
        assert_eq!(severity(0.01, f64::NAN, 0.001, false), Severity::Low);
    }
}

#[cfg(test)]
mod abort_tests {
    use super::{AbortBasis, abort_threshold};

    #[test]
    fn an_abort_threshold_lies_between_healthy_noise_and_the_breach() {
        // Room between: halfway.
        assert_eq!(
            abort_threshold(0.0, Some(0.001), 0.01),
            (0.0005, AbortBasis::Between)
        );
        assert_eq!(
            abort_threshold(100.0, Some(500.0), 0.0),
            (300.0, AbortBasis::Between)
        );
        // Healthy one-second noise already at the breach level: the healthy bound.
        assert_eq!(
            abort_threshold(0.02, Some(0.001), 0.01),
            (0.02, AbortBasis::Healthy)
        );
        // No SLO on the figure: twice the healthy bound, at least the floor.
        assert_eq!(
            abort_threshold(0.002, None, 0.01),
            (0.01, AbortBasis::NoSlo)
        );
        assert_eq!(abort_threshold(40.0, None, 0.0), (80.0, AbortBasis::NoSlo));
        // No healthy figure (no request in any tick) counts as 0.
        assert_eq!(abort_threshold(f64::NAN, Some(0.01), 0.0).0, 0.005);
    }
}
