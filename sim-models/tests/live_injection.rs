//! Live injection inside the simulation: monitoring, detection delay and rollback.
//!
//! The front handler calls `db` on every request. An injection makes `db`
//! fail (or slow down) for 120 s. Monitoring watches the front handler with
//! one-second ticks; the abort rule holds for 30 s and monitoring sees 10 s
//! late, so with a rollback the breach should last about 30 + 10 = 40 s,
//! and without one it lasts the injection (120 s).

use sim_core::{CampaignSeed, SimDuration, SimTime};
use sim_models::campaign::CampaignMode;
use sim_models::compile::{Empirical, compile};
use sim_models::live::{
    AbortRule, EventKind, LiveFault, LivePlan, Monitoring, RollbackPolicy, Schedule, run_live,
    uniform_rules,
};
use sim_models::model::Model;
use sim_models::msg::ALL_REPLICAS;
use sim_models::spec::Scenario;
use sim_models::validate::validate;

const SEED: u64 = 77;
const INJECT_AT: f64 = 60.0;
const LENGTH: f64 = 120.0;
const HOLD: f64 = 30.0;
const DETECT: f64 = 10.0;

fn model(yaml: &str) -> Model {
    let s: Scenario = serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let issues = validate(&s);
    assert!(issues.is_empty(), "invalid scenario {issues:?}\n{yaml}");
    compile(&s, &[], &Empirical::new()).unwrap_or_else(|e| panic!("{e:?}\n{yaml}"))
}

/// `db` with `replicas`, called by `front` (step options `step`), and one
/// injection on `db` of `mode` with `params`.
fn scenario(replicas: u16, step: &str, mode: &str, params: &str) -> Model {
    model(&format!(
        r#"
name: live
horizon: 300s
resources:
  - {{ id: web, type: service, replicas: 2, concurrency: 64, service_time: {{ dist: constant, value: 1ms }}, failure_modes: [] }}
  - {{ id: db, type: database, replicas: {replicas}, concurrency: 64, service_time: {{ dist: constant, value: 2ms }}, failure_modes: [] }}
handlers:
  - id: front
    runs_on: web
    operations:
      - {{ name: get, steps: [ {{ call: db, timeout: 2s{step} }} ] }}
    slo: {{ success_rate: 0.99, latency_p99: 1s }}
workload:
  - {{ handler: front, arrivals: {{ process: poisson, rate: 200/s }} }}
injections:
  - {{ id: db-fault, target: db, mode: {mode}, at: 0s, duration: 120s, injection_parameters: {params} }}
"#
    ))
}

fn plan(m: &Model, replica: u16, rule: AbortRule, policy: Option<RollbackPolicy>) -> LivePlan {
    let inj = &m.injections[0];
    LivePlan {
        faults: vec![LiveFault {
            id: inj.id.clone(),
            resource: inj.resource,
            effect: inj.effect,
            replica,
            duration: inj.duration,
        }],
        schedule: Schedule::Fixed(vec![(0, SimDuration::from_secs_f64(INJECT_AT))]),
        monitoring: Monitoring {
            tick: SimDuration::from_secs(1),
            detection_delay: SimDuration::from_secs_f64(DETECT),
            hold: SimDuration::from_secs_f64(HOLD),
            rules: uniform_rules(m, rule),
            policy,
        },
        keep_ticks: true,
    }
}

const ERRORS: AbortRule = AbortRule {
    error_rate: Some(0.2),
    latency_p99: None,
};

/// (breach start, breach length, rollbacks) of one campaign.
fn breach(m: &Model, p: &LivePlan) -> (f64, f64, u32) {
    let r = run_live(
        m,
        CampaignSeed::derive(SEED, 0, 0),
        CampaignMode::Healthy,
        p,
    );
    assert_eq!(r.outcomes.len(), 1, "{:?}", r.events);
    let o = &r.outcomes[0];
    let (b, e) = o.breach.expect("the injection breaches the rule");
    let e = e.expect("the breach ends");
    for ev in &r.events {
        eprintln!(
            "{:>7.1} s  {:<8} {}",
            ev.time.as_secs_f64(),
            ev.kind.as_str(),
            ev.detail
        );
    }
    let kinds: Vec<EventKind> = r.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds[0], EventKind::Inject);
    assert!(kinds.contains(&EventKind::Breach) && kinds.contains(&EventKind::Recover));
    assert!(
        r.events.windows(2).all(|w| w[0].time <= w[1].time),
        "events in time order"
    );
    assert_eq!(r.rollbacks, u32::from(o.rollback.is_some()));
    (b.as_secs_f64(), (e - b).as_secs_f64(), r.rollbacks)
}

#[test]
fn abort_ends_the_breach_after_detection_plus_hold() {
    let m = scenario(1, "", "error_code", "{ error_fraction: 1.0 }");
    let (start, with, n) = breach(
        &m,
        &plan(&m, ALL_REPLICAS, ERRORS, Some(RollbackPolicy::Abort)),
    );
    assert_eq!(n, 1);
    assert!(
        (start - INJECT_AT).abs() <= 1.0,
        "breach starts with the injection: {start}"
    );
    // Rolled back at B + hold + delay; the next tick is clean.
    assert!(
        (with - (HOLD + DETECT)).abs() <= 2.0,
        "with rollback the breach lasts detection + hold = {} s, got {with}",
        HOLD + DETECT
    );
    let (_, without, n) = breach(&m, &plan(&m, ALL_REPLICAS, ERRORS, None));
    assert_eq!(n, 0);
    assert!(
        (without - LENGTH).abs() <= 2.0,
        "without rollback the breach lasts the injection ({LENGTH} s), got {without}"
    );
}

#[test]
fn failover_moves_traffic_off_the_injected_replica() {
    // Replica 0 of two fails every request: half the traffic fails.
    let m = scenario(2, "", "error_code", "{ error_fraction: 1.0 }");
    let p = plan(&m, 0, ERRORS, Some(RollbackPolicy::AutomaticFailover));
    let (_, with, n) = breach(&m, &p);
    assert_eq!(n, 1);
    assert!((with - (HOLD + DETECT)).abs() <= 2.0, "failover: {with}");
    // The fault itself stays on its replica until its end, out of rotation.
    let r = run_live(
        &m,
        CampaignSeed::derive(SEED, 0, 0),
        CampaignMode::Healthy,
        &p,
    );
    let o = &r.outcomes[0];
    assert_eq!(
        o.off,
        SimTime::from_secs_f64(INJECT_AT + LENGTH),
        "failover does not stop the fault"
    );
    let after: Vec<_> = r
        .ticks
        .iter()
        .filter(|t| t.end.as_secs_f64() > INJECT_AT + HOLD + DETECT + 2.0 && t.injected)
        .collect();
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|t| t.errors == 0),
        "no request reaches the drained replica"
    );
}

#[test]
fn failover_without_a_healthy_replica_stops_the_injection() {
    let m = scenario(1, "", "error_code", "{ error_fraction: 1.0 }");
    let p = plan(&m, 0, ERRORS, Some(RollbackPolicy::AutomaticFailover));
    let r = run_live(
        &m,
        CampaignSeed::derive(SEED, 0, 0),
        CampaignMode::Healthy,
        &p,
    );
    let rb = r
        .events
        .iter()
        .find(|e| e.kind == EventKind::Rollback)
        .expect("a rollback");
    assert!(rb.detail.contains("no healthy replica"), "{}", rb.detail);
    assert!(r.outcomes[0].off < SimTime::from_secs_f64(INJECT_AT + LENGTH));
}

#[test]
fn graceful_degradation_skips_soft_calls() {
    // `db` is a soft dependency (fallback: skip) that becomes slow: every
    // call waits 500 ms, the p99 rule (300 ms) breaches; degrading skips it.
    let m = scenario(
        1,
        ", fallback: skip",
        "latency_spike",
        "{ added: { dist: constant, value: 500ms } }",
    );
    let rule = AbortRule {
        error_rate: None,
        latency_p99: Some(SimDuration::from_millis(300)),
    };
    let p = plan(
        &m,
        ALL_REPLICAS,
        rule,
        Some(RollbackPolicy::GracefulDegradation),
    );
    let (_, with, n) = breach(&m, &p);
    assert_eq!(n, 1);
    assert!((with - (HOLD + DETECT)).abs() <= 2.0, "degradation: {with}");
    let r = run_live(
        &m,
        CampaignSeed::derive(SEED, 0, 0),
        CampaignMode::Healthy,
        &p,
    );
    assert!(
        r.result.handlers[0].summary.degraded > 0,
        "skipped calls count as degraded"
    );
    // Without a rollback the breach lasts the injection.
    let (_, without, _) = breach(&m, &plan(&m, ALL_REPLICAS, rule, None));
    assert!((without - LENGTH).abs() <= 2.0, "{without}");
}

#[test]
fn poisson_schedule_is_deterministic_and_counts_injections() {
    let m = scenario(1, "", "error_code", "{ error_fraction: 1.0 }");
    let mut p = plan(&m, ALL_REPLICAS, ERRORS, Some(RollbackPolicy::Abort));
    p.schedule = Schedule::Poisson {
        mean_gap: SimDuration::from_secs(30),
        eligible: vec![0],
    };
    p.keep_ticks = false;
    let a = run_live(
        &m,
        CampaignSeed::derive(SEED, 0, 3),
        CampaignMode::Healthy,
        &p,
    );
    let b = run_live(
        &m,
        CampaignSeed::derive(SEED, 0, 3),
        CampaignMode::Healthy,
        &p,
    );
    assert_eq!(a, b);
    assert!(!a.outcomes.is_empty());
    assert_eq!(a.result.faults as usize, a.outcomes.len());
    // Injections never overlap.
    for w in a.outcomes.windows(2) {
        assert!(w[1].on >= w[0].off, "{:?}", a.outcomes);
    }
    assert!(a.ticks.is_empty());
}

#[test]
fn a_run_from_a_shared_warm_up_is_the_run_alone() {
    use sim_models::live::{healthy_ticks, warm_up};
    // Runs of one model and seed that differ in their horizon and in what
    // they inject after the warm-up (the predicted scenarios): each, from
    // a copy of one warm-up simulated with the longest horizon, is the run
    // simulated alone, event for event.
    let base = scenario(2, "", "process_crash", "{}");
    let seed = CampaignSeed::derive(SEED, 0, 4);
    let mut p = plan(&base, 1, ERRORS, None);
    let mon = p.monitoring.clone();
    let warm = SimDuration::from_secs_f64(INJECT_AT);
    let mut longest = base.clone();
    longest.horizon = SimDuration::from_secs(600);
    let w = warm_up(&longest, seed, &mon, warm);
    let mut runs = 0;
    for (horizon, length) in [(300, 120.0), (200, 20.0), (130, 0.5), (450, 300.0)] {
        let mut m = base.clone();
        m.horizon = SimDuration::from_secs(horizon);
        for replica in [0, ALL_REPLICAS] {
            p.faults[0].replica = replica;
            p.faults[0].duration = SimDuration::from_secs_f64(length);
            let alone = run_live(&m, seed, CampaignMode::Healthy, &p);
            let shared = w.run_live(&m, &p);
            assert_eq!(alone, shared, "horizon {horizon} s, fault {length} s");
            assert_eq!(alone.outcomes.len(), 1);
            runs += 1;
        }
        // The healthy ticks watched after the warm-up, too.
        let until = SimDuration::from_secs(horizon);
        let alone = healthy_ticks(&m, seed, &mon, warm, until);
        assert_eq!(alone, w.healthy_ticks(&m, &mon, warm, until));
        assert_eq!(alone.0.len() as u64, horizon - 60);
    }
    assert_eq!(runs, 8);
    // Another seed's warm-up is another run: the comparison can fail.
    let other = warm_up(&longest, CampaignSeed::derive(SEED, 0, 5), &mon, warm);
    assert_ne!(
        run_live(&base, seed, CampaignMode::Healthy, &p),
        other.run_live(&base, &p)
    );
}

#[test]
fn a_family_of_injections_run_as_one_is_each_run_alone() {
    use sim_models::live::warm_up;
    // One fault of several durations (a fault and its `-long` form, the
    // predicted scenarios' pairs), each run over its own horizon: the
    // longest is simulated, each shorter one copied from it at the tick
    // its fault ends. Each is the run alone, event for event.
    let base = scenario(2, "", "process_crash", "{}");
    let warm = SimDuration::from_secs_f64(INJECT_AT);
    let mut longest = base.clone();
    longest.horizon = SimDuration::from_secs(900);
    for (s, replica) in [(4, 1), (5, ALL_REPLICAS)] {
        let seed = CampaignSeed::derive(SEED, 0, s);
        let p = plan(&base, replica, ERRORS, None);
        let w = warm_up(&longest, seed, &p.monitoring, warm);
        // (fault length s, horizon s): ends inside a tick, on a tick's
        // bound, twice the same length, the longest last but not listed last.
        let lengths = [
            (120.0, 300),
            (20.5, 200),
            (300.0, 600),
            (0.5, 130),
            (20.5, 140),
            (61.0, 250),
        ];
        let runs: Vec<(Model, sim_models::live::LivePlan)> = lengths
            .iter()
            .map(|&(length, horizon)| {
                let mut m = base.clone();
                m.horizon = SimDuration::from_secs(horizon);
                let mut p = p.clone();
                p.faults[0].duration = SimDuration::from_secs_f64(length);
                p.faults[0].id = format!("db-fault-{length}");
                (m, p)
            })
            .collect();
        let refs: Vec<(&Model, &sim_models::live::LivePlan)> =
            runs.iter().map(|(m, p)| (m, p)).collect();
        let family = w.run_live_family(&refs);
        assert_eq!(family.len(), runs.len());
        for ((m, p), got) in runs.iter().zip(&family) {
            let alone = run_live(m, seed, CampaignMode::Healthy, p);
            assert_eq!(
                &alone, got,
                "fault {:?}, horizon {:?}",
                p.faults[0].duration, m.horizon
            );
            assert_eq!(got.outcomes.len(), 1);
            assert!(got.events[0].detail.starts_with(&p.faults[0].id));
        }
        // The runs differ (the comparison could fail): each fault's own end.
        assert_ne!(family[0].result, family[2].result);
        assert_ne!(family[1].result, family[4].result);
    }
}
