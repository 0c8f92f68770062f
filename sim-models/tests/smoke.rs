use sim_core::CampaignSeed;
use sim_models::campaign::{CampaignMode, CampaignResult, RequestSummary, breached, run_campaign};
use sim_models::compile::{Empirical, compile};
use sim_models::model::Model;
use sim_models::paths::sim::run_path_campaign;
use sim_models::paths::{PathCache, PathModel};
use sim_models::spec::Scenario;
use sim_models::validate::validate;

fn model(yaml: &str) -> sim_models::model::Model {
    let s: Scenario = serde_saphyr::from_str(yaml).expect("parses");
    compile(&s, &[], &Empirical::new()).expect("compiles")
}

#[test]
fn mm1_smoke() {
    let m = model(
        r#"
name: mm1
horizon: 200s
resources:
  - { id: server, type: service, replicas: 1, concurrency: 1, service_time: { dist: exponential, mean: 1ms }, failure_modes: [] }
handlers:
  - id: h
    runs_on: server
    operations: [ { name: op, steps: [] } ]
workload:
  - { handler: h, arrivals: { process: poisson, rate: 500/s } }
"#,
    );
    let r = run_campaign(&m, CampaignSeed::derive(1, 0, 0), CampaignMode::Natural);
    println!("{r:#?}");
    assert!((r.summary.latency_mean_ms - 2.0).abs() < 0.2);
}

/// The invariants every request summary keeps (`docs/semantics.md`):
/// errors and degraded successes are disjoint parts of the requests, the
/// error rate is their ratio, latencies are non-negative and ordered.
fn check_summary(what: &str, s: &RequestSummary) {
    assert!(
        s.errors + s.degraded <= s.requests,
        "{what}: errors {} + degraded {} > requests {}",
        s.errors,
        s.degraded,
        s.requests
    );
    if s.requests == 0 {
        assert!(s.error_rate.is_nan(), "{what}: error rate without requests");
        return;
    }
    let rate = s.errors as f64 / s.requests as f64;
    assert!(
        (s.error_rate - rate).abs() < 1e-12,
        "{what}: error rate {} != {rate}",
        s.error_rate
    );
    for (name, v) in [
        ("mean", s.latency_mean_ms),
        ("p50", s.latency_p50_ms),
        ("p99", s.latency_p99_ms),
    ] {
        assert!(v.is_finite() && v >= 0.0, "{what}: latency {name} {v}");
    }
    assert!(
        s.latency_p50_ms <= s.latency_p99_ms,
        "{what}: p50 > p99: {s:?}"
    );
}

fn check_campaign(what: &str, m: &Model, r: &CampaignResult) {
    check_summary(what, &r.summary);
    assert_eq!(
        r.misrouted, 0,
        "{what}: every message reached an actor that takes it"
    );
    assert!(
        (0.0..=1.0).contains(&r.availability),
        "{what}: availability {}",
        r.availability
    );
    assert_eq!(
        r.handlers.len(),
        m.handlers.len(),
        "{what}: one result per handler"
    );
    assert!(
        r.faults_seen.len() <= r.faults as usize,
        "{what}: {} processes, {} faults",
        r.faults_seen.len(),
        r.faults
    );
    assert!(
        r.faults_seen.windows(2).all(|w| w[0] < w[1]),
        "{what}: processes in increasing order"
    );
    assert!(
        r.weight.is_finite() && r.weight > 0.0,
        "{what}: weight {}",
        r.weight
    );
    let mut workload = 0;
    for (ix, (h, hr)) in m.handlers.iter().zip(&r.handlers).enumerate() {
        let what = format!("{what} handler {}", h.id);
        check_summary(&what, &hr.summary);
        assert!(
            (0.0..=1.0).contains(&hr.availability),
            "{what}: availability {}",
            hr.availability
        );
        assert_eq!(
            hr.slo_breached,
            breached(&hr.summary, &h.slo),
            "{what}: breach flag"
        );
        if m.workloads.iter().any(|w| w.handler == ix) {
            workload += hr.summary.requests;
        }
    }
    // The campaign's summary is the workload handlers' requests, end to end.
    assert!(
        r.summary.requests <= workload,
        "{what}: {} end-to-end > {workload}",
        r.summary.requests
    );
    assert_eq!(
        r.slo_breached,
        r.handlers.iter().any(|h| h.slo_breached),
        "{what}: breach flag"
    );
}

/// Every bundled scenario (`scenarios/*.yaml`, discovered) compiles and
/// runs, natural and targeted at each injection, and every campaign and
/// handler keeps the invariants of `docs/semantics.md`; service paths too.
#[test]
fn bundled_scenarios_keep_the_invariants() {
    let mut files: Vec<_> = std::fs::read_dir("../scenarios")
        .expect("scenarios/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "bundled scenarios: {files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let s: Scenario = serde_saphyr::from_str(&text).expect("parses");
        let issues = validate(&s);
        assert!(issues.is_empty(), "{}: {issues:?}", f.display());
        let m = compile(&s, &[], &Empirical::new()).expect("compiles");
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let mut requests = 0;
        for c in 0..3 {
            let r = run_campaign(&m, CampaignSeed::derive(1, 0, c), CampaignMode::Natural);
            check_campaign(&format!("{name} natural {c}"), &m, &r);
            requests += r.summary.requests;
        }
        for k in 0..m.injections.len() {
            let r = run_campaign(&m, CampaignSeed::derive(1, 0, 0), CampaignMode::Targeted(k));
            check_campaign(&format!("{name} targeted {}", m.injections[k].id), &m, &r);
            assert!(
                r.faults_seen.is_empty(),
                "{name}: a targeted campaign runs no process"
            );
        }
        assert_eq!(
            requests > 0,
            !m.workloads.is_empty(),
            "{name}: workload requests"
        );
        if !s.paths.is_empty() {
            let pm = PathModel::compile(&s, &Empirical::new()).expect("paths compile");
            let mut cache = PathCache::new();
            let pc = run_path_campaign(&pm, CampaignSeed::derive(1, 0, 0), m.horizon, &mut cache);
            assert_eq!(
                pc.misrouted, 0,
                "{name}: every message reached an actor that takes it"
            );
            let out = pc.outcomes;
            assert_eq!(out.len(), s.paths.len(), "{name}: one outcome per path");
            for o in &out {
                let what = format!("{name} path {}", o.path);
                assert_eq!(
                    o.adus_delivered + o.adus_lost + o.adus_in_flight,
                    o.adus_sent,
                    "{what}: ADUs sent = delivered + lost + in flight"
                );
                assert!(
                    (0.0..=1.0).contains(&o.availability),
                    "{what}: availability {}",
                    o.availability
                );
                assert!(
                    o.downtime_s >= 0.0 && o.delay_mean_ms >= 0.0,
                    "{what}: {o:?}"
                );
            }
        }
    }
}

/// Regression: an injected `process_crash` takes down one replica (the
/// spec's "one replica down"), not all of them, unless `replicas_affected` says so.
#[test]
fn injected_crash_takes_one_replica_unless_told_otherwise() {
    let yaml = |affected: &str| {
        format!(
            r#"
name: inj
horizon: 100s
resources:
  - {{ id: db, type: database, replicas: 2, concurrency: 4, service_time: {{ dist: constant, value: 1ms }}, failure_modes: [] }}
handlers:
  - {{ id: h, runs_on: db, operations: [ {{ name: op, steps: [] }} ] }}
workload:
  - {{ handler: h, arrivals: {{ process: poisson, rate: 50/s }} }}
injections:
  - {{ id: crash, target: db, mode: process_crash, at: 10s, duration: 50s {affected} }}
"#
        )
    };
    let one = model(&yaml(""));
    let r = run_campaign(
        &one,
        CampaignSeed::derive(3, 0, 0),
        CampaignMode::Targeted(0),
    );
    assert_eq!(r.availability, 1.0);
    assert_eq!(r.faults, 1);
    let both = model(&yaml(", injection_parameters: { replicas_affected: 2 }"));
    let r = run_campaign(
        &both,
        CampaignSeed::derive(3, 0, 0),
        CampaignMode::Targeted(0),
    );
    assert!((r.availability - 0.5).abs() < 1e-9, "{}", r.availability);
    assert!(r.summary.error_rate > 0.4, "{:?}", r.summary);
}
