use sim_core::CampaignSeed;
use sim_models::campaign::{CampaignMode, run_campaign};
use sim_models::compile::{Empirical, compile};
use sim_models::spec::Scenario;

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

#[test]
fn bundled_scenarios_run() {
    for f in [
        "../scenarios/checkout.yaml",
        "../scenarios/online-boutique.yaml",
    ] {
        let text = std::fs::read_to_string(f).unwrap();
        let m = model(&text);
        let t = std::time::Instant::now();
        for c in 0..3 {
            let r = run_campaign(&m, CampaignSeed::derive(1, 0, c), CampaignMode::Natural);
            println!(
                "{f} natural {c}: {:?} events {} hung {} faults {} in {:?}",
                r.summary,
                r.events,
                r.hung,
                r.faults,
                t.elapsed()
            );
            for h in &r.handlers {
                println!(
                    "   {:?} avail {} breached {}",
                    h.summary, h.availability, h.slo_breached
                );
            }
        }
        for k in 0..m.injections.len() {
            let r = run_campaign(&m, CampaignSeed::derive(1, 0, 0), CampaignMode::Targeted(k));
            println!(
                "{f} targeted {}: {:?} avail {} faults {}",
                m.injections[k].id, r.summary, r.availability, r.faults
            );
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
