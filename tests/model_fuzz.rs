//! Random but valid scenarios: every campaign runs without panicking, keeps
//! its invariants, and is a pure function of its seed.

use std::path::Path;

use proptest::prelude::*;
use sim_core::CampaignSeed;
use sim_engine::scenario::{Format, load_bytes};
use sim_models::campaign::{CampaignMode, run_campaign};
use sim_models::compile::{Empirical, compile};

const MODES: [&str; 10] = [
    "process_crash",
    "latency_spike",
    "error_code",
    "cpu_throttle",
    "memory_starvation",
    "disk_error",
    "disk_io_starvation",
    "network_latency",
    "network_partition",
    "dependency_failure",
];

#[derive(Debug, Clone)]
struct Knobs {
    replicas: [u32; 3],
    concurrency: [u32; 3],
    queue_limit: Option<u32>,
    health_check_ms: u32,
    timeout_ms: u32,
    attempts: u32,
    jitter: &'static str,
    backoff: &'static str,
    breaker: bool,
    fallback: &'static str,
    soft: bool,
    poll: bool,
    mode_a: usize,
    mode_b: usize,
    scope_resource: bool,
    mtbf_s: u32,
    repair_s: u32,
    percent: u32,
    fraction: f64,
    rate: u32,
    loss: f64,
}

fn knobs() -> impl Strategy<Value = Knobs> {
    (
        (
            [1u32..4, 1..4, 1..4],
            [1u32..40, 1..40, 1..40],
            proptest::option::of(0u32..50),
            0u32..3000,
            1u32..500,
            1u32..5,
            prop::sample::select(vec!["none", "full", "equal"]),
            prop::sample::select(vec!["constant", "exponential"]),
        ),
        (
            any::<bool>(),
            prop::sample::select(vec!["none", "skip", "cached"]),
            any::<bool>(),
            any::<bool>(),
            0usize..10,
            0usize..10,
            any::<bool>(),
        ),
        (
            1u32..30,
            1u32..20,
            0u32..=100,
            0.0f64..=1.0,
            1u32..400,
            0.0f64..0.2,
        ),
    )
        .prop_map(|(a, b, c)| Knobs {
            replicas: a.0,
            concurrency: a.1,
            queue_limit: a.2,
            health_check_ms: a.3,
            timeout_ms: a.4,
            attempts: a.5,
            jitter: a.6,
            backoff: a.7,
            breaker: b.0,
            fallback: b.1,
            soft: b.2,
            poll: b.3,
            mode_a: b.4,
            mode_b: b.5,
            scope_resource: b.6,
            mtbf_s: c.0,
            repair_s: c.1,
            percent: c.2,
            fraction: c.3,
            rate: c.4,
            loss: c.5,
        })
}

fn params(mode: &str, k: &Knobs) -> String {
    match mode {
        "process_crash" => "{ replicas_affected: 1 }".into(),
        "latency_spike" | "network_latency" => {
            "{ added: { dist: exponential, mean: 20ms } }".into()
        }
        "error_code" => format!("{{ code: 503, error_fraction: {} }}", k.fraction),
        "cpu_throttle" | "memory_starvation" => format!("{{ percent: {} }}", k.percent),
        "disk_error" => format!("{{ error_fraction: {}, slowdown: 3 }}", k.fraction),
        "disk_io_starvation" => "{ slowdown: 4 }".into(),
        _ => "{}".into(),
    }
}

fn scenario(k: &Knobs) -> String {
    let queue = k
        .queue_limit
        .map(|q| format!(", queue_limit: {q}"))
        .unwrap_or_default();
    let breaker = if k.breaker {
        ", circuit_breaker: { failure_rate: 0.5, min_calls: 5, window: 2s, open_for: 1s }"
    } else {
        ""
    };
    let poll = if k.poll {
        "\n          - { poll: db, interval: 100ms, ready_after: { dist: exponential, mean: 150ms }, timeout: 1s }"
    } else {
        ""
    };
    let mode_a = MODES[k.mode_a];
    let mode_b = MODES[k.mode_b];
    let scope = if k.scope_resource {
        "resource"
    } else {
        "replica"
    };
    format!(
        r#"
name: fuzz
horizon: 5s
resources:
  - {{ id: api, type: service, replicas: {r0}, concurrency: {c0}{queue}, health_check: {hc}ms,
      service_time: {{ dist: lognormal, median: 1ms, sigma: 0.5 }}, failure_modes: [] }}
  - id: db
    type: database
    replicas: {r1}
    concurrency: {c1}
    health_check: {hc}ms
    service_time: {{ dist: exponential, mean: 2ms }}
    failure_modes:
      - {{ mode: {mode_a}, scope: {scope}, time_between: {{ dist: weibull, shape: 0.7, scale: {mtbf}s }},
          repair: {{ dist: lognormal, median: {rep}s, sigma: 0.5 }}, injection_parameters: {pa} }}
  - {{ id: cache, type: cache, replicas: {r2}, concurrency: {c2},
      service_time: {{ dist: uniform, min: 100us, max: 500us }},
      failure_modes: [ {{ mode: {mode_b}, time_between: {{ dist: exponential, mean: {mtbf}s }},
                          repair: {{ dist: constant, value: {rep}s }}, injection_parameters: {pb} }} ] }}
dependencies:
  - {{ from: api, to: db, network: {{ latency: {{ dist: constant, value: 1ms }}, loss: {loss} }} }}
  - {{ from: api, to: cache, kind: {kind} }}
handlers:
  - id: front
    runs_on: api
    operations:
      - name: read
        weight: 3
        steps:
          - {{ call: cache, timeout: {to}ms, fallback: {fb} }}
          - {{ call: db, timeout: {to}ms, retry: {{ max_attempts: {att}, backoff: {bo}, base: 5ms, max: 50ms, jitter: {jit} }}{breaker} }}
      - name: write
        weight: 1
        steps:
          - {{ call: db, timeout: {to}ms }}{poll}
    slo: {{ success_rate: 0.99, latency_p99: 200ms }}
workload:
  - {{ handler: front, arrivals: {{ process: poisson, rate: {rate}/s }} }}
injections:
  - {{ id: inj, target: db, mode: {mode_b}, at: 1s, duration: 2s, injection_parameters: {pb} }}
"#,
        r0 = k.replicas[0],
        r1 = k.replicas[1],
        r2 = k.replicas[2],
        c0 = k.concurrency[0],
        c1 = k.concurrency[1],
        c2 = k.concurrency[2],
        hc = k.health_check_ms,
        mtbf = k.mtbf_s,
        rep = k.repair_s,
        pa = params(mode_a, k),
        pb = params(mode_b, k),
        loss = k.loss,
        kind = if k.soft { "soft" } else { "hard" },
        to = k.timeout_ms,
        fb = k.fallback,
        att = k.attempts,
        bo = k.backoff,
        jit = k.jitter,
        rate = k.rate,
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("MODEL_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_valid_scenarios_run_and_keep_their_invariants(k in knobs(), seed in any::<u64>()) {
        let text = scenario(&k);
        let loaded = match load_bytes(text.as_bytes(), Format::Yaml, Path::new("fuzz.yaml")) {
            Ok(l) => l,
            Err(e) => {
                // A combination the validator rejects is fine, as long as it says why.
                prop_assert!(!e.problems().is_empty());
                if std::env::var("MODEL_FUZZ_SHOW").is_ok() { eprintln!("rejected: {e}"); }
                return Ok(());
            }
        };
        let model = compile(&loaded.scenario, &[], &Empirical::new())
            .map_err(|e| TestCaseError::fail(format!("{e:?}\n{text}")))?;
        for mode in [CampaignMode::Natural, CampaignMode::Targeted(0)] {
            let s = CampaignSeed::derive(seed, 0, 0);
            let a = run_campaign(&model, s, mode);
            if std::env::var("MODEL_FUZZ_SHOW").is_ok() {
                eprintln!(
                    "campaign: faults {} errors {} degraded {} breaker {}",
                    a.faults, a.summary.errors, a.summary.degraded, a.handlers[0].breaker_openings
                );
            }
            prop_assert!(a.summary.errors <= a.summary.requests);
            prop_assert!(a.summary.degraded <= a.summary.requests);
            prop_assert!((0.0..=1.0).contains(&a.availability), "{}", a.availability);
            for h in &a.handlers {
                prop_assert!(h.summary.errors <= h.summary.requests);
                prop_assert!((0.0..=1.0).contains(&h.availability));
                prop_assert!(h.summary.latency_p50_ms <= h.summary.latency_p99_ms + 1e-9);
            }
            let b = run_campaign(&model, s, mode);
            // Compared as text: an empty population's NaN rate equals itself there.
            prop_assert_eq!(format!("{a:?}"), format!("{b:?}"), "same seed, same campaign");
        }
    }
}
