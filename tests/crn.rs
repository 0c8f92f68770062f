//! Common random numbers (CRN) for what-if variants: a variant reuses the
//! base's campaign seeds, so everything it shares with the base draws the
//! same numbers, and the per-campaign difference between the two has a much
//! smaller variance than with independent streams (`--independent-streams`).
//! Also: a run with a variant gives the same rows whatever the thread count.

use std::path::Path;

use sim_engine::prepare::prepare_variants;
use sim_engine::run::{CampaignModes, Collect, RunPlan, run_all};
use sim_output::{HandlerRow, RiskRow};

/// A database whose process crashes every 10 minutes on average (20 s to
/// repair), behind a router that notices a dead replica only after 5 s: the
/// what-if is a second replica. The database is the last resource and has
/// one failure mode, so the streams of its first replica's failure process
/// are the same in both (see `docs/what-if.md`).
const SCENARIO: &str = r#"
name: crn
seed: 3
horizon: 2m
resources:
  - { id: api, type: service, replicas: 2, concurrency: 32,
      service_time: { dist: lognormal, median: 1ms, sigma: 0.3 }, failure_modes: [] }
  - { id: db, type: database, replicas: 1, concurrency: 16, health_check: 5s,
      service_time: { dist: exponential, mean: 2ms },
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 10m },
                         repair: { dist: lognormal, median: 20s, sigma: 0.4 } } ] }
dependencies:
  - { from: api, to: db, network: { latency: { dist: constant, value: 1ms } } }
handlers:
  - id: api-handler
    runs_on: api
    operations:
      - name: read
        steps: [ { call: db, timeout: 100ms } ]
    slo: { success_rate: 0.995 }
workload:
  - { handler: api-handler, arrivals: { process: poisson, rate: 50/s } }
variants:
  - name: two-replicas
    set: { "resources[db].replicas": 2 }
"#;

fn plan(campaigns: u64, threads: usize, independent_streams: bool) -> RunPlan {
    RunPlan {
        campaigns,
        seed: 3,
        threads,
        mode: CampaignModes::Natural,
        progress: false,
        two_scale: false,
        until_decided: None,
        decide_at: None,
        decide_z: sim_engine::risk::Z95,
        rare_event: None,
        independent_streams,
        live: None,
        events: false,
        kept_episodes_bytes: 0,
    }
}

fn run(dir: &Path, campaigns: u64, threads: usize, independent: bool) -> (Collect, Vec<RiskRow>) {
    run_text(dir, SCENARIO, campaigns, threads, independent)
}

fn run_text(
    dir: &Path,
    text: &str,
    campaigns: u64,
    threads: usize,
    independent: bool,
) -> (Collect, Vec<RiskRow>) {
    let file = dir.join("crn.yaml");
    std::fs::write(&file, text).unwrap();
    let loaded = sim_engine::scenario::load(&file).expect("the scenario loads");
    let variants = prepare_variants(&loaded, "all").expect("the variant applies");
    let mut sink = Collect::default();
    let report = run_all(&variants, &plan(campaigns, threads, independent), &mut sink).unwrap();
    (sink, report.risk)
}

/// Per campaign: (variant − base) of a handler figure.
fn differences(rows: &[HandlerRow], f: impl Fn(&HandlerRow) -> f64) -> Vec<f64> {
    let of = |v: &str| -> Vec<f64> {
        let mut r: Vec<&HandlerRow> = rows.iter().filter(|r| &*r.variant == v).collect();
        r.sort_by_key(|r| r.campaign);
        r.into_iter().map(&f).collect()
    };
    let (base, variant) = (of("base"), of("two-replicas"));
    assert_eq!(base.len(), variant.len());
    variant.iter().zip(&base).map(|(v, b)| v - b).collect()
}

fn variance(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
}

#[test]
fn common_random_numbers_shrink_the_variance_of_differences() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 400;
    let (crn, crn_risk) = run(tmp.path(), n, 2, false);
    let (ind, ind_risk) = run(tmp.path(), n, 2, true);

    // Under CRN the base and the variant share campaign seeds; with
    // independent streams they do not (the base's own are the same in both).
    let seeds = |c: &Collect, v: &str| -> Vec<u64> {
        c.campaigns
            .iter()
            .filter(|r| &*r.variant == v)
            .map(|r| r.seed)
            .collect()
    };
    assert_eq!(seeds(&crn, "base"), seeds(&crn, "two-replicas"));
    assert_eq!(seeds(&crn, "base"), seeds(&ind, "base"));
    assert!(
        seeds(&ind, "base")
            .iter()
            .zip(seeds(&ind, "two-replicas"))
            .all(|(a, b)| *a != b)
    );

    let breach = |r: &HandlerRow| f64::from(u8::from(r.slo_breached));
    let err = |r: &HandlerRow| r.error_rate;
    let (vb_crn, vb_ind) = (
        variance(&differences(&crn.handlers, breach)),
        variance(&differences(&ind.handlers, breach)),
    );
    let (ve_crn, ve_ind) = (
        variance(&differences(&crn.handlers, err)),
        variance(&differences(&ind.handlers, err)),
    );
    println!(
        "var(breach difference): CRN {vb_crn:.5}, independent {vb_ind:.5}, ratio {:.3}",
        vb_crn / vb_ind
    );
    println!(
        "var(error-rate difference): CRN {ve_crn:.3e}, independent {ve_ind:.3e}, ratio {:.3}",
        ve_crn / ve_ind
    );
    // The runs must have something to compare: breaches are common.
    let base_risk = crn_risk
        .iter()
        .find(|r| &*r.variant == "base")
        .unwrap()
        .risk;
    assert!(base_risk > 0.08, "base risk {base_risk}");
    assert!(vb_ind > 0.05, "independent variance {vb_ind}");
    assert!(vb_crn < 0.5 * vb_ind, "{vb_crn} vs {vb_ind}");
    // Error rates gain less here: the variant removes most of the base's
    // outage, so the difference is dominated by the base's own variance.
    assert!(ve_crn < 0.9 * ve_ind, "{ve_crn} vs {ve_ind}");

    // The paired interval is narrower under CRN, and the risk rows carry it
    // for the variant only.
    let diff_width = |rows: &[RiskRow]| {
        let v = rows.iter().find(|r| &*r.variant == "two-replicas").unwrap();
        let b = rows.iter().find(|r| &*r.variant == "base").unwrap();
        assert!(b.risk_diff.is_none() && b.risk_diff_low.is_none());
        let (d, lo, hi) = (
            v.risk_diff.unwrap(),
            v.risk_diff_low.unwrap(),
            v.risk_diff_high.unwrap(),
        );
        assert!((d - (v.risk - b.risk)).abs() < 1e-12);
        assert!(lo <= d && d <= hi);
        hi - lo
    };
    let (w_crn, w_ind) = (diff_width(&crn_risk), diff_width(&ind_risk));
    println!("95% interval width of the risk difference: CRN {w_crn:.4}, independent {w_ind:.4}");
    assert!(w_crn < 0.8 * w_ind, "{w_crn} vs {w_ind}");
}

/// The stream of a failure process does not depend on its position among
/// all processes: with a rare mode listed before the crash mode, the second
/// replica's processes come between them in the model, yet the first
/// replica's crash process keeps its stream and CRN keeps its gain.
#[test]
fn an_added_replica_leaves_the_other_processes_on_their_streams() {
    let text = SCENARIO.replace(
        "failure_modes: [ { mode: process_crash,",
        "failure_modes: [ { mode: latency_spike, time_between: { dist: exponential, mean: 1000h },
                           repair: { dist: constant, value: 10s },
                           injection_parameters: { added: { dist: constant, value: 1ms } } },
                         { mode: process_crash,",
    );
    assert_ne!(text, SCENARIO);
    let tmp = tempfile::tempdir().unwrap();
    let (crn, _) = run_text(tmp.path(), &text, 400, 2, false);
    let (ind, _) = run_text(tmp.path(), &text, 400, 2, true);
    let breach = |r: &HandlerRow| f64::from(u8::from(r.slo_breached));
    let (c, i) = (
        variance(&differences(&crn.handlers, breach)),
        variance(&differences(&ind.handlers, breach)),
    );
    println!("modes listed latency first: var ratio {:.3}", c / i);
    assert!(c < 0.5 * i, "{c} vs {i}");
}

#[test]
fn a_variant_run_gives_the_same_rows_whatever_the_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, risk_one) = run(tmp.path(), 150, 1, false);
    let (two, risk_two) = run(tmp.path(), 150, 2, false);
    assert_eq!(one.campaigns.len(), 300);
    assert_eq!(one.campaigns, two.campaigns);
    assert_eq!(one.handlers, two.handlers);
    assert_eq!(risk_one, risk_two);
    assert!(risk_one.iter().any(|r| r.risk_diff.is_some()));
}
