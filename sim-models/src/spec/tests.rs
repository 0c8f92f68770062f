//! Parsing tests for the scenario types.

use super::*;

const SPEC_EXAMPLE: &str = include_str!("testdata/spec_example.yaml");
const SPEC_PATHS: &str = include_str!("testdata/spec_paths.yaml");

fn yaml<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_saphyr::from_str(s).map_err(|e| e.to_string())
}

#[test]
fn spec_example_parses() {
    let s: Scenario = yaml(SPEC_EXAMPLE).expect("spec example must parse");
    assert_eq!(s.name, "checkout");
    assert_eq!(s.seed, Some(42));
    assert_eq!(s.horizon, Some(Duration(30.0 * 86_400.0)));
    assert_eq!(s.resources.len(), 3);
    assert_eq!(s.resources[0].kind, ResourceType::LoadBalancer);
    assert_eq!(s.resources[0].criticality, Criticality::High);
    assert_eq!(s.resources[2].replicas, 1, "replicas defaults to 1");
    assert_eq!(
        s.resources[1].capacity.as_ref().and_then(|c| c.memory),
        Some(Size(16 << 30))
    );
    assert_eq!(s.dependencies[0].kind, DependencyKind::Hard);
    let net = s.dependencies[0].network.as_ref().expect("network");
    assert_eq!(net.loss, 0.0001);
    let h = &s.handlers[0];
    assert_eq!(h.runs_on, "checkout");
    assert_eq!(h.operations[0].weight, 0.7);
    match &h.operations[0].steps[0] {
        Step::Call(c) => {
            assert_eq!(c.call, "orders-db");
            assert_eq!(c.timeout, Some(Duration(0.2)));
            let r = c.retry.as_ref().expect("retry");
            assert_eq!(r.max_attempts, 3);
            assert_eq!(r.backoff, Backoff::Exponential);
            assert_eq!(r.jitter, Jitter::Full);
            let cb = c.circuit_breaker.as_ref().expect("breaker");
            assert_eq!(cb.open_for, Duration(30.0));
        }
        other => panic!("expected a call, got {other:?}"),
    }
    match &h.operations[0].steps[2] {
        Step::Poll(p) => {
            assert_eq!(p.poll, "orders-db");
            assert_eq!(p.interval, Duration(1.0));
        }
        other => panic!("expected a poll, got {other:?}"),
    }
    assert_eq!(s.workload[0].arrivals.rate, Rate(200.0));
    assert_eq!(s.resource_failure_modes.len(), 2);
    let fm = &s.resource_failure_modes[0].failure_modes[2];
    assert_eq!(fm.mode, FailureMode::LatencySpike);
    let prof = s.failure_injection_profile.as_ref().expect("profile");
    assert!(prof.enabled);
    assert_eq!(prof.severity_threshold, Severity::Medium);
    assert_eq!(
        prof.abort_when.as_ref().and_then(|a| a.for_),
        Some(Duration(30.0))
    );
    assert_eq!(s.injections[0].at, Duration::ZERO);
    assert_eq!(s.injections[0].duration, Duration(3600.0));
    assert_eq!(s.risk.gate, 0.05);
    assert_eq!(s.variants.len(), 2);
    assert_eq!(
        s.variants[1].set.keys().next().map(String::as_str),
        Some("handlers[checkout-handler].operations[create_order].steps[0].retry.max_attempts")
    );
}

#[test]
fn spec_paths_example_parses() {
    let src = format!("name: stream\n{SPEC_PATHS}");
    let s: Scenario = yaml(&src).expect("service path example must parse");
    assert_eq!(s.operators.len(), 2);
    assert_eq!(s.nodes.len(), 3);
    assert!(s.nodes[0].failure.is_some());
    assert_eq!(s.links[0].bandwidth, Some(Bandwidth(1e9)));
    assert_eq!(s.links[1].loss, 0.0);
    let p = &s.paths[0];
    assert_eq!(p.source.kind, "video/mpeg");
    assert_eq!(p.adu_rate, Rate(30.0));
    assert_eq!(p.optimise, Optimise::Delay);
    assert_eq!(p.repair, PathRepair::Reroute);
    assert!(p.cache_paths);
    assert_eq!(p.monitoring.as_ref().map(|m| m.missed), Some(3));
}

#[test]
fn round_trip_through_json_and_yaml() {
    let s: Scenario = yaml(SPEC_EXAMPLE).expect("parse");
    let v = serde_json::to_value(&s).expect("to json");
    let back: Scenario = serde_json::from_value(v).expect("from json");
    assert_eq!(s, back);
    let y = serde_saphyr::to_string(&s).expect("to yaml");
    let back: Scenario = yaml(&y).expect("from yaml");
    assert_eq!(s, back);

    let src = format!("name: stream\n{SPEC_PATHS}");
    let s: Scenario = yaml(&src).expect("parse");
    let back: Scenario =
        serde_json::from_value(serde_json::to_value(&s).expect("to json")).expect("from json");
    assert_eq!(s, back);
}

#[test]
fn risk_defaults() {
    let s: Scenario = yaml("name: x\n").expect("parse");
    assert_eq!(s.risk.window, Duration(30.0 * 86_400.0));
    assert_eq!(s.risk.threshold.low, 0.01);
    assert_eq!(s.risk.threshold.medium, 0.05);
    assert_eq!(s.risk.threshold.high, 0.2);
    assert_eq!(s.risk.gate, 0.05);
    let s: Scenario = yaml("name: x\nrisk: { gate: 0.1 }\n").expect("parse");
    assert_eq!(s.risk.window, Duration(30.0 * 86_400.0));
    assert_eq!(s.risk.gate, 0.1);
}

#[test]
fn distributions_parse_with_precise_errors() {
    let d: Distribution = yaml("{ dist: weibull, shape: 0.8, scale: 720h }").expect("weibull");
    assert_eq!(
        d,
        Distribution::Weibull {
            shape: 0.8,
            scale: Duration(720.0 * 3600.0)
        }
    );
    let d: Distribution =
        yaml("{ dist: empirical, file: a.csv, column: minutes, unit: m }").expect("empirical");
    assert!(matches!(d, Distribution::Empirical { unit: Some(ref u), .. } if u == "m"));
    let e = yaml::<Distribution>("{ dist: weibull, shape: 0.8 }").expect_err("missing");
    assert!(e.contains("missing field `scale`"), "{e}");
    let e = yaml::<Distribution>("{ dist: exponential, mean: 5m, median: 3m }").expect_err("extra");
    assert!(e.contains("unknown field `median`"), "{e}");
    let e = yaml::<Distribution>("{ dist: normal, mean: 5m }").expect_err("kind");
    assert!(e.contains("unknown variant `normal`"), "{e}");
    let e = yaml::<Distribution>("{ mean: 5m }").expect_err("no dist");
    assert!(e.contains("missing field `dist`"), "{e}");
    let e = yaml::<Distribution>("{ dist: exponential, mean: 5 }").expect_err("unit");
    assert!(e.contains("add a unit"), "{e}");
}

#[test]
fn distribution_means() {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    let m = |s: &str| {
        yaml::<Distribution>(s)
            .expect("parse")
            .mean_secs()
            .expect("mean")
    };
    assert!(close(m("{ dist: constant, value: 10ms }"), 0.01));
    assert!(close(m("{ dist: exponential, mean: 2h }"), 7200.0));
    // Weibull shape 1 is exponential; shape 2 has mean scale * sqrt(pi)/2.
    assert!(close(m("{ dist: weibull, shape: 1, scale: 10s }"), 10.0));
    assert!(close(
        m("{ dist: weibull, shape: 2, scale: 10s }"),
        10.0 * std::f64::consts::PI.sqrt() / 2.0
    ));
    assert!(close(
        m("{ dist: lognormal, median: 1s, sigma: 1 }"),
        0.5f64.exp()
    ));
    assert!(close(m("{ dist: uniform, min: 1ms, max: 5ms }"), 0.003));
    assert!(close(m("{ dist: gamma, shape: 2, scale: 3ms }"), 0.006));
    let e: Distribution = yaml("{ dist: empirical, file: f.csv, column: c }").expect("parse");
    assert_eq!(e.mean_secs(), None);
}

#[test]
fn steps_parse_with_precise_errors() {
    let s: Step = yaml("{ call: db, timeout: 1s, fallback: skip }").expect("call");
    assert!(matches!(s, Step::Call(ref c) if c.fallback == Fallback::Skip));
    let s: Step =
        yaml("{ poll: db, interval: 1s, timeout: 1m, ready_after: { dist: constant, value: 2s } }")
            .expect("poll");
    assert_eq!(s.target(), "db");
    let e = yaml::<Step>("{ call: db, timeuot: 1s }").expect_err("typo");
    assert!(e.contains("unknown field `timeuot`"), "{e}");
    let e = yaml::<Step>("{ call: db, interval: 1s }").expect_err("poll field on call");
    assert!(e.contains("unknown field `interval` for a call step"), "{e}");
    let e = yaml::<Step>("{ call: db, poll: db }").expect_err("both");
    assert!(e.contains("not both"), "{e}");
    let e = yaml::<Step>("{ timeout: 1s }").expect_err("neither");
    assert!(e.contains("missing field `call`"), "{e}");
    let e = yaml::<Step>("{ poll: db, interval: 1s, timeout: 1m }").expect_err("missing");
    assert!(e.contains("missing field `ready_after`"), "{e}");
    let e = yaml::<Step>("{ call: db, retry: { max_attempts: -1 } }").expect_err("bad retry");
    assert!(e.contains("-1"), "{e}");
}

#[test]
fn unknown_fields_are_rejected_everywhere() {
    let e = yaml::<Scenario>("name: x\nresources: [{ id: a, type: cache, replica: 2 }]\n")
        .expect_err("typo");
    assert!(e.contains("unknown field `replica`"), "{e}");
    let e = yaml::<Scenario>("name: x\nnmae: y\n").expect_err("typo");
    assert!(e.contains("unknown field `nmae`"), "{e}");
}
