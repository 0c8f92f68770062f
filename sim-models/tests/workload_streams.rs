//! Workload arrivals are keyed by the workload's id, not its position: a
//! workload added to a scenario (a what-if variant) leaves every other
//! workload's arrivals as they were, so variants stay paired with the base
//! campaign by campaign (common random numbers).

use sim_core::CampaignSeed;
use sim_models::campaign::{CampaignMode, run_campaign};
use sim_models::compile::{Empirical, compile};
use sim_models::model::Model;
use sim_models::spec::Scenario;
use sim_models::validate::validate;

const BASE: &str = r#"
name: streams
horizon: 60s
resources:
  - { id: front, type: service, concurrency: 64, service_time: { dist: exponential, mean: 2ms } }
  - { id: back, type: service, concurrency: 64, service_time: { dist: exponential, mean: 2ms } }
handlers:
  - id: front-handler
    runs_on: front
    operations: [{ name: get, steps: [] }]
  - id: back-handler
    runs_on: back
    operations: [{ name: get, steps: [] }]
"#;

fn model(yaml: &str) -> Model {
    let s: Scenario = serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let issues = validate(&s);
    assert!(issues.is_empty(), "{issues:?}");
    compile(&s, &[], &Empirical::new()).unwrap_or_else(|e| panic!("{e:?}"))
}

/// Requests `handler` received in campaigns 0..n.
fn requests(m: &Model, handler: &str, n: u64) -> Vec<u64> {
    let h = m
        .handlers
        .iter()
        .position(|d| d.id == handler)
        .expect("handler");
    (0..n)
        .map(|c| {
            let r = run_campaign(m, CampaignSeed::derive(7, 0, c), CampaignMode::Healthy);
            r.handlers[h].summary.requests
        })
        .collect()
}

#[test]
fn inserting_a_workload_keeps_the_other_workloads_arrivals() {
    let base = model(&format!(
        "{BASE}workload:\n  - {{ handler: back-handler, arrivals: {{ process: poisson, rate: 50/s }} }}\n"
    ));
    // The variant adds a workload before the existing one.
    let variant = model(&format!(
        "{BASE}workload:\n  - {{ handler: front-handler, arrivals: {{ process: poisson, rate: 80/s }} }}\n  - {{ handler: back-handler, arrivals: {{ process: poisson, rate: 50/s }} }}\n"
    ));
    let a = requests(&base, "back-handler", 6);
    let b = requests(&variant, "back-handler", 6);
    assert!(a.iter().all(|n| *n > 2000), "{a:?}");
    assert_eq!(
        a, b,
        "back-handler's arrivals must not depend on the workloads before it"
    );
}

#[test]
fn a_second_workload_of_a_handler_gets_its_own_stream_and_explicit_ids_must_be_unique() {
    // Two unnamed workloads of one handler: `back-handler` and `back-handler#2`.
    let two = model(&format!(
        "{BASE}workload:\n  - {{ handler: back-handler, arrivals: {{ process: poisson, rate: 50/s }} }}\n  - {{ handler: back-handler, arrivals: {{ process: poisson, rate: 50/s }} }}\n"
    ));
    let ids: Vec<&str> = two.workloads.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["back-handler", "back-handler#2"]);
    // The same id twice is an error naming the field and the other workload.
    let s: Scenario = serde_saphyr::from_str(&format!(
        "{BASE}workload:\n  - {{ id: w, handler: back-handler, arrivals: {{ process: poisson, rate: 50/s }} }}\n  - {{ id: w, handler: front-handler, arrivals: {{ process: poisson, rate: 50/s }} }}\n"
    ))
    .expect("parses");
    let issues = validate(&s);
    let text = format!("{issues:?}");
    assert!(
        text.contains("workload[1].id") && text.contains("already used by workload[0]"),
        "{text}"
    );
}
