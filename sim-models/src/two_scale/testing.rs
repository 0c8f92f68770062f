//! Helpers of the two-scale tests.

use sim_core::{SimDuration, SimTime};

use super::{LibraryEntry, Margins};
use crate::campaign::FaultInterval;
use crate::model::Model;

pub(crate) fn t(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

pub(crate) fn d(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

pub(crate) fn fault(on: u64, off: u64) -> FaultInterval {
    FaultInterval {
        resource: 0,
        effect: 0,
        replica: 0,
        on: t(on),
        off: t(off),
        process: Some(0),
    }
}

pub(crate) fn margins() -> Margins {
    Margins {
        warmup: d(10),
        lead: d(5),
        settle: d(20),
        transient: d(30),
        sample: d(50),
    }
}

pub(crate) fn model(yaml: &str) -> Model {
    let s: crate::spec::Scenario = serde_saphyr::from_str(yaml).expect("parses");
    crate::compile::compile(&s, &[], &crate::compile::Empirical::new()).expect("compiles")
}

pub(crate) const TWO_CALLEES: &str = r#"
name: usage
horizon: 1d
resources:
  - { id: api, type: service, replicas: 2, concurrency: 64,
      service_time: { dist: lognormal, median: 1ms, sigma: 0.3 }, failure_modes: [] }
  - { id: db, type: database, replicas: 1, concurrency: 4,
      service_time: { dist: lognormal, median: 5ms, sigma: 0.5 },
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 6h },
                         repair: { dist: constant, value: 20s } } ] }
  - { id: cache, type: cache, concurrency: 16,
      service_time: { dist: constant, value: 1ms },
      failure_modes: [ { mode: latency_spike, time_between: { dist: exponential, mean: 6h },
                         repair: { dist: constant, value: 20s },
                         injection_parameters: { added: { dist: constant, value: 300ms } } } ] }
handlers:
  - id: h
    runs_on: api
    operations:
      - name: read
        steps:
          - { call: db, timeout: 200ms }
          - { call: cache, timeout: 100ms }
    slo: { success_rate: 0.999 }
workload:
  - { handler: h, arrivals: { process: poisson, rate: 100/s } }
"#;

/// A database behind a circuit breaker and an api with a health check:
/// the settle margin (the breaker's window and open time) is far longer
/// than most episodes need.
pub(crate) const BREAKER: &str = r#"
name: breaker
horizon: 1d
resources:
  - { id: api, type: service, replicas: 2, concurrency: 50, health_check: 5s,
      service_time: { dist: lognormal, median: 5ms, sigma: 0.5 },
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 6h },
                         repair: { dist: lognormal, median: 2m, sigma: 0.8 } } ] }
  - { id: db, type: database, replicas: 1, concurrency: 20,
      service_time: { dist: lognormal, median: 10ms, sigma: 0.5 },
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 6h },
                         repair: { dist: lognormal, median: 60s, sigma: 1.0 } } ] }
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
    slo: { success_rate: 0.995 }
workload:
  - { handler: h, arrivals: { process: poisson, rate: 20/s } }
"#;

/// Requests, errors, degraded and latency count, mean and p99 of every
/// tally of an entry.
pub(crate) fn figures(e: &LibraryEntry) -> Vec<(f64, f64, f64, u64, f64, f64)> {
    e.fixed
        .iter()
        .chain(&e.sample)
        .flat_map(|(x, i)| [x, i])
        .map(|t| {
            let mut latency = sim_core::LatencyHistogram::new();
            latency.merge_points_scaled(&t.latency, 1.0);
            (
                t.requests,
                t.errors,
                t.degraded,
                latency.count(),
                latency.mean().as_millis_f64(),
                latency.quantile(0.99).as_millis_f64(),
            )
        })
        .collect()
}
