//! The two-scale method against full request-level campaigns, where both
//! apply: a window of three hours with failures frequent enough that the
//! risk is mid-range.
//!
//! Both methods run the same campaign seeds, so their fault timelines are
//! the same (the timeline is drawn from the same streams as the
//! request-level failure processes): availability and fault counts must
//! agree exactly, and risk and error rate within Monte Carlo error.

use sim_core::CampaignSeed;
use sim_models::campaign::{CampaignMode, CampaignResult, run_campaign};
use sim_models::compile::{Empirical, compile};
use sim_models::model::Model;
use sim_models::spec::Scenario;
use sim_models::two_scale::{Baseline, LIBRARY_REPS, run_window};

const SCENARIO: &str = r#"
name: two-scale-agreement
horizon: 3h
resources:
  - id: api
    type: service
    replicas: 2
    concurrency: 50
    health_check: 5s
    service_time: { dist: lognormal, median: 5ms, sigma: 0.5 }
    failure_modes:
      - mode: process_crash
        time_between: { dist: exponential, mean: 6h }
        repair: { dist: lognormal, median: 2m, sigma: 0.8 }
  - id: db
    type: database
    replicas: 1
    concurrency: 20
    service_time: { dist: lognormal, median: 10ms, sigma: 0.5 }
    failure_modes:
      - mode: process_crash
        time_between: { dist: weibull, shape: 0.8, scale: 6h }
        repair: { dist: lognormal, median: 60s, sigma: 1.0 }
      - mode: latency_spike
        time_between: { dist: exponential, mean: 3h }
        repair: { dist: lognormal, median: 4m, sigma: 0.5 }
        injection_parameters: { added: { dist: lognormal, median: 300ms, sigma: 0.3 } }
handlers:
  - id: h
    runs_on: api
    operations:
      - name: op
        steps:
          - call: db
            timeout: 500ms
            retry: { max_attempts: 2, backoff: constant, base: 100ms }
            circuit_breaker: { failure_rate: 0.5, min_calls: 10, window: 10s, open_for: 15s }
    slo: { success_rate: 0.995, latency_p99: 400ms }
workload:
  - handler: h
    arrivals: { process: poisson, rate: 5/s }
"#;

fn model(yaml: &str) -> Model {
    let s: Scenario = serde_saphyr::from_str(yaml).expect("parses");
    compile(&s, &[], &Empirical::new()).expect("compiles")
}

/// Runs `f` for campaigns `0..n` on two threads, results in index order.
fn campaigns(n: u64, f: impl Fn(u64) -> CampaignResult + Sync) -> Vec<CampaignResult> {
    let mut out: Vec<(u64, CampaignResult)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2u64)
            .map(|t| {
                let f = &f;
                s.spawn(move || {
                    (0..n)
                        .filter(|c| c % 2 == t)
                        .map(|c| (c, f(c)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker"))
            .collect()
    });
    out.sort_by_key(|(c, _)| *c);
    out.into_iter().map(|(_, r)| r).collect()
}

fn seed(c: u64) -> CampaignSeed {
    CampaignSeed::derive(2026, 0, c)
}

/// Mean and standard error.
fn mean_se(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (v / n).sqrt())
}

#[test]
fn two_scale_agrees_with_request_level() {
    const N: u64 = 1000;
    let m = model(SCENARIO);
    let t1 = std::time::Instant::now();
    let full = campaigns(N, |c| run_campaign(&m, seed(c), CampaignMode::Natural));
    let t_full = t1.elapsed();

    // Every episode simulated per campaign.
    let t0 = std::time::Instant::now();
    let baseline = Baseline::for_variant(&m, 2026, 0);
    let two = campaigns(N, |c| {
        run_window(&m, seed(c), CampaignMode::Natural, &baseline)
    });
    println!(
        "request level: {t_full:?}; two-scale, episodes per campaign: {:?}; margins {:?}",
        t0.elapsed(),
        baseline.margins
    );
    compare(&full, &two, None);

    // Isolated faults composed from the pooled library.
    let t0 = std::time::Instant::now();
    let pooled = Baseline::for_variant(&m, 2026, 0).build_library(&m, LIBRARY_REPS);
    let lib = campaigns(N, |c| {
        run_window(&m, seed(c), CampaignMode::Natural, &pooled)
    });
    println!("two-scale with the library: {:?}", t0.elapsed());
    // Composing from 8 pooled reps shifts the error rate by a few percent
    // here (docs/two-scale.md); the risk must still agree.
    compare(&full, &lib, Some(0.05));
}

/// Asserts that `two` agrees with the request-level `full` (same seeds):
/// risk by a two-proportion z-test, the error rate by its paired difference
/// (within 3.29 standard errors, or within `tolerance` of the error rate
/// when given).
fn compare(full: &[CampaignResult], two: &[CampaignResult], tolerance: Option<f64>) {
    let n = full.len() as f64;
    // Same fault timelines: same fault counts, processes and availability.
    for (c, (a, b)) in full.iter().zip(two).enumerate() {
        assert_eq!(a.faults, b.faults, "campaign {c}: faults");
        assert_eq!(a.faults_seen, b.faults_seen, "campaign {c}: processes");
        assert!(
            (a.availability - b.availability).abs() < 1e-9,
            "campaign {c}: availability {} vs {}",
            a.availability,
            b.availability
        );
        assert_eq!(a.horizon_s, b.horizon_s);
    }

    // Risk: two-proportion z-test, and the paired view (discordant pairs).
    let k_full = full.iter().filter(|r| r.slo_breached).count() as f64;
    let k_two = two.iter().filter(|r| r.slo_breached).count() as f64;
    let (p_full, p_two) = (k_full / n, k_two / n);
    let pooled = (k_full + k_two) / (2.0 * n);
    let se_risk = (pooled * (1.0 - pooled) * 2.0 / n).sqrt();
    let z_risk = (p_two - p_full) / se_risk;
    let only_full = full
        .iter()
        .zip(two)
        .filter(|(a, b)| a.slo_breached && !b.slo_breached)
        .count();
    let only_two = full
        .iter()
        .zip(two)
        .filter(|(a, b)| !a.slo_breached && b.slo_breached)
        .count();

    // Error rate: each mean with its SE, and the paired differences.
    let e_full: Vec<f64> = full.iter().map(|r| r.summary.error_rate).collect();
    let e_two: Vec<f64> = two.iter().map(|r| r.summary.error_rate).collect();
    let diff: Vec<f64> = e_two.iter().zip(&e_full).map(|(a, b)| a - b).collect();
    let (m_full, se_full) = mean_se(&e_full);
    let (m_two, se_two) = mean_se(&e_two);
    let (m_diff, se_diff) = mean_se(&diff);
    let se_unpaired = (se_full * se_full + se_two * se_two).sqrt();
    let p99_full = mean_se(
        &full
            .iter()
            .map(|r| r.summary.latency_p99_ms)
            .collect::<Vec<_>>(),
    );
    let p99_two = mean_se(
        &two.iter()
            .map(|r| r.summary.latency_p99_ms)
            .collect::<Vec<_>>(),
    );
    let req_full = mean_se(
        &full
            .iter()
            .map(|r| r.summary.requests as f64)
            .collect::<Vec<_>>(),
    );
    let req_two = mean_se(
        &two.iter()
            .map(|r| r.summary.requests as f64)
            .collect::<Vec<_>>(),
    );
    let ev_full: u64 = full.iter().map(|r| r.events).sum();
    let ev_two: u64 = two.iter().map(|r| r.events).sum();
    println!(
        "risk: request-level {p_full:.4} ({k_full}/{n}), two-scale {p_two:.4} ({k_two}/{n}), \
         z = {z_risk:.2}; discordant pairs: request-level only {only_full}, two-scale only {only_two}\n\
         error rate: request-level {m_full:.6} ± {se_full:.6}, two-scale {m_two:.6} ± {se_two:.6}, \
         paired difference {m_diff:.6} ± {se_diff:.6} (unpaired SE {se_unpaired:.6})\n\
         p99 ms: {:.1} ± {:.1} vs {:.1} ± {:.1}; requests {:.0} ± {:.0} vs {:.0} ± {:.0}\n\
         events simulated: {ev_full} vs {ev_two}",
        p99_full.0, p99_full.1, p99_two.0, p99_two.1, req_full.0, req_full.1, req_two.0, req_two.1,
    );
    // The test has power: the risk is mid-range, and the paired error-rate
    // difference is measured to a few percent of the error rate.
    assert!((0.2..=0.8).contains(&p_full), "risk {p_full} not mid-range");
    assert!(se_diff < 0.05 * m_full, "error rate too noisy to compare");
    // Agreement at a strict level (two-sided p = 0.001: |z| < 3.29).
    assert!(z_risk.abs() < 3.29, "risk differs: z = {z_risk}");
    match tolerance {
        None => assert!(
            m_diff.abs() < 3.29 * se_diff,
            "error rate differs: {m_diff} (paired SE {se_diff})"
        ),
        Some(t) => assert!(
            m_diff.abs() < t * m_full && m_diff.abs() < 3.29 * se_unpaired,
            "error rate differs: {m_diff} (unpaired SE {se_unpaired})"
        ),
    }
    // Requests: the window's count, within Poisson noise of each other.
    assert!(
        (req_two.0 - req_full.0).abs()
            < 4.0 * (req_full.1 * req_full.1 + req_two.1 * req_two.1).sqrt()
    );
}

#[test]
fn two_scale_is_deterministic_and_counts_injections() {
    let m = model(SCENARIO);
    let b = Baseline::for_variant(&m, 7, 0);
    let a1 = run_window(&m, seed(3), CampaignMode::Natural, &b);
    let a2 = run_window(&m, seed(3), CampaignMode::Natural, &b);
    assert_eq!(a1, a2);
    // A healthy window is the baseline scaled: no fault, full availability,
    // the window's requests.
    let h = run_window(&m, seed(3), CampaignMode::Healthy, &b);
    assert_eq!(h.faults, 0);
    assert_eq!(h.events, 0);
    assert_eq!(h.availability, 1.0);
    let want = 5.0 * 3.0 * 3600.0;
    assert!(
        (h.summary.requests as f64 - want).abs() < 2.0,
        "{}",
        h.summary.requests
    );
}
