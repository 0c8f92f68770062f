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
