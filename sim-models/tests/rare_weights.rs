//! Importance-sampling weights: the request-level failure actors and the
//! two-scale fault timeline compute the same likelihood ratio for the same
//! campaign, and a model without bias weighs every campaign exactly 1.

use sim_core::CampaignSeed;
use sim_models::campaign::{CampaignMode, run_campaign};
use sim_models::compile::{Empirical, compile};
use sim_models::model::Model;
use sim_models::spec::Scenario;
use sim_models::two_scale::fault_timeline;

const SCENARIO: &str = r#"
name: weights
horizon: 2m
resources:
  - id: api
    type: service
    replicas: 2
    concurrency: 16
    service_time: { dist: exponential, mean: 2ms }
    failure_modes:
      - mode: process_crash
        time_between: { dist: weibull, shape: 0.7, scale: 200h }
        repair: { dist: lognormal, median: 20s, sigma: 0.5 }
  - id: db
    type: database
    age: 300h
    concurrency: 16
    service_time: { dist: exponential, mean: 2ms }
    failure_modes:
      - mode: latency_spike
        time_between: { dist: gamma, shape: 2, scale: 100h }
        repair: { dist: constant, value: 30s }
        injection_parameters: { added: { dist: constant, value: 20ms } }
      - mode: process_crash
        time_between: { dist: constant, value: 1000h }
        repair: { dist: constant, value: 30s }
handlers:
  - id: h
    runs_on: api
    operations: [ { name: op, steps: [ { call: db, timeout: 100ms } ] } ]
workload:
  - { handler: h, arrivals: { process: poisson, rate: 20/s } }
"#;

fn model() -> Model {
    let s: Scenario = serde_saphyr::from_str(SCENARIO).unwrap();
    compile(&s, &[], &Empirical::new()).unwrap()
}

#[test]
fn actors_and_timeline_weigh_a_campaign_alike() {
    let mut m = model();
    // Speed the scalable processes up; the constant one stays unbiased.
    for f in &mut m.faults {
        if sim_models::rare::can_bias(&f.time_between) {
            f.bias = 3000.0;
        }
    }
    let mut not_one = 0;
    for c in 0..40 {
        let seed = CampaignSeed::derive(9, 0, c);
        let r = run_campaign(&m, seed, CampaignMode::Natural);
        let t = fault_timeline(&m, seed, CampaignMode::Natural);
        let w = t.ln_weight.exp();
        assert!(
            (r.weight - w).abs() <= 1e-9 * w.abs().max(1e-300),
            "campaign {c}: actors {} vs timeline {w}",
            r.weight
        );
        not_one += usize::from((r.weight - 1.0).abs() > 1e-6);
    }
    assert!(not_one > 30, "biasing changed few weights: {not_one}");
}

#[test]
fn without_bias_every_weight_is_one() {
    let m = model();
    for c in 0..10 {
        let seed = CampaignSeed::derive(9, 0, c);
        assert_eq!(run_campaign(&m, seed, CampaignMode::Natural).weight, 1.0);
        assert_eq!(
            fault_timeline(&m, seed, CampaignMode::Natural).ln_weight,
            0.0
        );
    }
}
