//! Parsing tests for the scenario types.

use super::*;
use crate::validate::{Issue, distributions, validate};

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
    assert!(
        e.contains("unknown field `interval` for a call step"),
        "{e}"
    );
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

// ---------------------------------------------------------------------------
// Units
// ---------------------------------------------------------------------------

#[test]
fn durations_parse() {
    let ok = [
        ("250ms", 0.25),
        ("5m", 300.0),
        ("30d", 2_592_000.0),
        ("1.5h", 5_400.0),
        ("10us", 1e-5),
        ("10µs", 1e-5),
        ("2s", 2.0),
        (" 3 s ", 3.0),
        ("0", 0.0),
        ("0s", 0.0),
        ("1_000ms", 1.0),
    ];
    for (s, secs) in ok {
        let d: Duration = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert!(
            (d.secs() - secs).abs() <= 1e-12 * secs.max(1.0),
            "{s}: {}",
            d.secs()
        );
    }
    for bad in [
        "abc",
        "5",
        "-5s",
        "5 parsecs",
        "",
        "ms",
        "1e3s",
        "inf",
        "NaN",
        "5s5",
        "1..2s",
        ".",
    ] {
        let e = bad.parse::<Duration>().expect_err(bad);
        assert!(e.contains("duration"), "{bad}: {e}");
    }
    assert_eq!(
        "abc".parse::<Duration>().expect_err("abc"),
        "expected a duration like `250ms` or `5m` (units: us, ms, s, m, h, d), got `abc`"
    );
    assert!(
        "5".parse::<Duration>()
            .expect_err("5")
            .contains("the unit is missing")
    );
    assert!(
        "-5s"
            .parse::<Duration>()
            .expect_err("-5s")
            .contains("negative")
    );
    assert_eq!(Duration(1.5).nanos(), 1_500_000_000);
    assert_eq!(Duration::from_secs(2e-9).nanos(), 2);
    assert_eq!(Duration(-1.0).nanos(), 0);
}

#[test]
fn durations_from_numbers() {
    assert_eq!(yaml::<Duration>("0"), Ok(Duration::ZERO));
    assert_eq!(yaml::<Duration>("0.0"), Ok(Duration::ZERO));
    assert!(
        yaml::<Duration>("5")
            .expect_err("5")
            .contains("add a unit, e.g. `5s`")
    );
    assert!(yaml::<Duration>("-1").expect_err("-1").contains("negative"));
}

#[test]
fn canonical_strings() {
    let cases = [
        ("250ms", "250ms"),
        ("300s", "5m"),
        ("1.5h", "90m"),
        ("30d", "30d"),
        ("0.001s", "1ms"),
        ("0", "0s"),
        ("7us", "7us"),
    ];
    for (input, canonical) in cases {
        let d: Duration = input.parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.to_string(), canonical, "{input}");
    }
    let rate = |s: &str| {
        s.parse::<Rate>()
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string()
    };
    assert_eq!(rate("200/s"), "200/s");
    assert_eq!(rate("50/d"), "50/d");
    assert_eq!(rate("3/h"), "3/h");
    assert_eq!(rate("120/m"), "2/s");
    assert_eq!(rate("5/ms"), "5/ms");
    let size = |s: &str| {
        s.parse::<Size>()
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string()
    };
    assert_eq!(size("8GiB"), "8GiB");
    assert_eq!(size("1024MiB"), "1GiB");
    assert_eq!(size("100B"), "100B");
    assert_eq!(size("1kB"), "1000B");
    let bw = |s: &str| {
        s.parse::<Bandwidth>()
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string()
    };
    assert_eq!(bw("1Gbit/s"), "1Gbit/s");
    assert_eq!(bw("1000Mbit/s"), "1Gbit/s");
    assert_eq!(bw("100Mbps"), "100Mbit/s");
    assert_eq!(bw("1bit/s"), "1bit/s");
}

#[test]
fn rates_sizes_bandwidths_parse() {
    assert_eq!("200/s".parse::<Rate>(), Ok(Rate(200.0)));
    assert_eq!("10/m".parse::<Rate>().map(|r| r.per_sec()), Ok(10.0 / 60.0));
    assert_eq!("5/ms".parse::<Rate>(), Ok(Rate(5000.0)));
    for bad in ["200", "/s", "200/y", "-1/s", "a/s", "200/s/s"] {
        let e = bad.parse::<Rate>().expect_err(bad);
        assert!(e.contains("rate"), "{bad}: {e}");
    }
    assert!(yaml::<Rate>("200").expect_err("bare").contains("`200/s`"));

    assert_eq!("8GiB".parse::<Size>(), Ok(Size(8 << 30)));
    assert_eq!("512MiB".parse::<Size>(), Ok(Size(512 << 20)));
    assert_eq!("64KiB".parse::<Size>(), Ok(Size(64 << 10)));
    assert_eq!("100B".parse::<Size>(), Ok(Size(100)));
    assert_eq!("1.5KiB".parse::<Size>(), Ok(Size(1536)));
    for bad in ["8", "8GB/s", "-1B", "0.5B", "99999999999TiB", "GiB"] {
        assert!(bad.parse::<Size>().is_err(), "{bad}");
    }

    assert_eq!("1Gbit/s".parse::<Bandwidth>(), Ok(Bandwidth(1e9)));
    assert_eq!("100Mbit/s".parse::<Bandwidth>(), Ok(Bandwidth(1e8)));
    assert_eq!("10kbit/s".parse::<Bandwidth>(), Ok(Bandwidth(1e4)));
    assert_eq!("1bit/s".parse::<Bandwidth>(), Ok(Bandwidth(1.0)));
    for bad in ["1Gbit", "1GB/s", "-1bit/s", "fast"] {
        assert!(bad.parse::<Bandwidth>().is_err(), "{bad}");
    }
}

proptest::proptest! {
    #[test]
    fn unit_strings_round_trip_exactly(secs in 0.0f64..1e9, per_sec in 0.0f64..1e6, bits in 0.0f64..1e12, bytes in 0u64..(1 << 50)) {
        let d = Duration(secs);
        proptest::prop_assert_eq!(d.to_string().parse::<Duration>(), Ok(d));
        let r = Rate(per_sec);
        proptest::prop_assert_eq!(r.to_string().parse::<Rate>(), Ok(r));
        let b = Bandwidth(bits);
        proptest::prop_assert_eq!(b.to_string().parse::<Bandwidth>(), Ok(b));
        let s = Size(bytes);
        proptest::prop_assert_eq!(s.to_string().parse::<Size>(), Ok(s));
    }

    #[test]
    fn unit_parsers_never_panic(s in "\\PC{0,12}") {
        let _ = s.parse::<Duration>();
        let _ = s.parse::<Rate>();
        let _ = s.parse::<Size>();
        let _ = s.parse::<Bandwidth>();
    }
}

// ---------------------------------------------------------------------------
// Validation (the loader's tests cover the rules with file positions; these
// cover the rest on the pure function)
// ---------------------------------------------------------------------------

const BASE: &str = "\
name: v
resources:
  - { id: a, type: service, replicas: 2 }
  - { id: b, type: database }
handlers:
  - id: h
    runs_on: a
    operations:
      - name: op
        steps: [ { call: b, timeout: 1s } ]
workload:
  - { handler: h, arrivals: { process: poisson, rate: 1/s } }
";

#[track_caller]
fn assert_issue(extra: &str, path: &str, fragment: &str) {
    let src = format!("{BASE}{extra}");
    let s: Scenario = yaml(&src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let issues = validate(&s);
    assert!(
        issues
            .iter()
            .any(|(p, m)| p == path && m.contains(fragment)),
        "no `{path}`: `{fragment}` in {issues:#?}"
    );
}

#[test]
fn base_is_valid() {
    let s: Scenario = yaml(BASE).expect("parse");
    assert_eq!(validate(&s), Vec::<Issue>::new());
}

#[test]
fn more_validation_rules() {
    assert_issue("campaigns: 0\n", "campaigns", "at least 1");
    assert_issue("horizon: 0s\n", "horizon", "longer than 0");
    assert_issue(
        "dependencies:\n  - { from: a, to: a }\n",
        "dependencies[0].to",
        "cannot depend on itself",
    );
    assert_issue(
        "dependencies:\n  - { from: a, to: b }\n  - { from: a, to: b }\n",
        "dependencies[1]",
        "duplicate dependency",
    );
    assert_issue(
        "failure_injection_profile: { injection_frequency: 0s, abort_when: { error_rate: 3 } }\n",
        "failure_injection_profile.injection_frequency",
        "longer than 0",
    );
    assert_issue(
        "failure_injection_profile: { abort_when: { error_rate: 3 } }\n",
        "failure_injection_profile.abort_when.error_rate",
        "between 0 and 1",
    );
    assert_issue(
        "horizon: 1h\ninjections:\n  - { id: i, target: b, mode: process_crash, at: 2h, duration: 1m }\n",
        "injections[0].at",
        "campaigns last only 1h",
    );
    assert_issue(
        "injections:\n  - { id: i, target: b, mode: process_crash, duration: 0s }\n",
        "injections[0].duration",
        "longer than 0",
    );
    let fm = "{ mode: process_crash, time_between: { dist: exponential, mean: 1h }, repair: { dist: constant, value: 1m } }";
    assert_issue(
        &format!(
            "resource_failure_modes:\n  - {{ resource_type: cache, failure_modes: [{fm}] }}\n  - {{ resource_type: cache, failure_modes: [] }}\n"
        ),
        "resource_failure_modes[1].resource_type",
        "already has failure modes",
    );
    assert_issue(
        "resource_failure_modes:\n  - { resource_type: cache, failure_modes: [ { mode: process_crash, time_between: { dist: constant, value: 0s }, repair: { dist: constant, value: 1m } } ] }\n",
        "resource_failure_modes[0].failure_modes[0].time_between.value",
        "longer than 0",
    );
    assert_issue(
        "variants:\n  - { name: base }\n",
        "variants[0].name",
        "reserved",
    );
    assert_issue("risk: { window: 0s }\n", "risk.window", "longer than 0");
    let src = BASE.replace("{ id: b, type: database }", "{ id: b, type: database, concurrency: 0, health_check: 0s, capacity: { cpu: 0, iops: 0 } }");
    let s: Scenario = yaml(&src).expect("parse");
    let issues = validate(&s);
    // `health_check: 0s` means "noticed at once" and is valid.
    assert!(
        !issues.iter().any(|(p, _)| p == "resources[1].health_check"),
        "{issues:#?}"
    );
    for path in [
        "resources[1].concurrency",
        "resources[1].capacity.cpu",
        "resources[1].capacity.iops",
    ] {
        assert!(issues.iter().any(|(p, _)| p == path), "{path}: {issues:#?}");
    }
    let src = BASE.replace(
        "steps: [ { call: b, timeout: 1s } ]",
        "steps: [ { poll: b, interval: 0s, timeout: 0s, ready_after: { dist: uniform, min: 2s, max: 1s } } ]",
    );
    let s: Scenario = yaml(&src).expect("parse");
    let issues = validate(&s);
    for path in [
        "handlers[0].operations[0].steps[0].interval",
        "handlers[0].operations[0].steps[0].timeout",
        "handlers[0].operations[0].steps[0].ready_after.min",
    ] {
        assert!(issues.iter().any(|(p, _)| p == path), "{path}: {issues:#?}");
    }
    let src = BASE.replace(
        "    operations:\n      - name: op\n        steps: [ { call: b, timeout: 1s } ]\n",
        "    operations: []\n",
    );
    let s: Scenario = yaml(&src).expect("parse");
    assert!(
        validate(&s)
            .iter()
            .any(|(p, m)| p == "handlers[0].operations" && m.contains("at least one"))
    );
    let src = BASE.replace(
        "{ id: a, type: service, replicas: 2 }",
        "{ id: \"a[1]\", type: service }",
    );
    let s: Scenario = yaml(&src).expect("parse");
    assert!(
        validate(&s)
            .iter()
            .any(|(p, m)| p == "resources[0].id" && m.contains("reserved"))
    );
}

#[test]
fn ambiguous_handlers_on_one_resource() {
    let src = BASE.replace(
        "workload:",
        "  - id: h2\n    runs_on: b\n    operations: [ { name: x } ]\n  - id: h3\n    runs_on: b\n    operations: [ { name: y } ]\nworkload:",
    );
    let s: Scenario = yaml(&src).expect("parse");
    let issues = validate(&s);
    assert!(
        issues.iter().any(|(p, m)| p == "handlers[0].operations[0].steps[0].call" && m.contains("ambiguous")),
        "{issues:#?}"
    );
}

#[test]
fn service_path_validation() {
    let src = "\
name: p
operators:
  - { id: o, input: a, output: b, cost: -1, cpu: 0, service_time: { dist: constant, value: 1ms } }
nodes:
  - { id: n1, cpu: 0 }
  - { id: n1, cpu: 1 }
links:
  - { from: n1, to: n1, delay: 1ms, bandwidth: 0bit/s, loss: 2 }
paths:
  - id: p
    source: { node: n1, type: a }
    sink: { node: n2, type: b }
    adu_rate: 0/s
    qos: { max_delay: 0s, max_loss: 2 }
    monitoring: { heartbeat: 0s, missed: 1 }
";
    let s: Scenario = yaml(src).expect("parse");
    let issues = validate(&s);
    for (path, frag) in [
        ("operators[0].cost", "0 or more"),
        ("operators[0].cpu", "greater than 0"),
        ("nodes[0].cpu", "greater than 0"),
        ("nodes[1].id", "duplicate id `n1`"),
        ("links[0].to", "to itself"),
        ("links[0].bandwidth", "more than 0"),
        ("links[0].loss", "between 0 and 1"),
        ("paths[0].sink.node", "`n2` is not a declared node"),
        ("paths[0].adu_rate", "more than 0"),
        ("paths[0].qos.max_delay", "longer than 0"),
        ("paths[0].qos.max_loss", "between 0 and 1"),
        ("paths[0].monitoring.heartbeat", "longer than 0"),
    ] {
        assert!(
            issues.iter().any(|(p, m)| p == path && m.contains(frag)),
            "no `{path}`: `{frag}` in {issues:#?}"
        );
    }
    assert!(
        !issues.iter().any(|(p, _)| p.is_empty()),
        "paths alone are something to simulate"
    );
}

#[test]
fn edit_distance_and_suggestions() {
    use crate::validate::{edit_distance, suggest};
    assert_eq!(edit_distance("replica", "replicas"), 1);
    assert_eq!(edit_distance("nmae", "name"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(
        suggest("replica", ["id", "replicas", "type"]),
        Some("replicas")
    );
    assert_eq!(suggest("Replicas", ["replicas"]), Some("replicas"));
    assert_eq!(suggest("zzzzzz", ["id", "replicas"]), None);
    assert_eq!(suggest("x", ["y"]), None);
}

#[test]
fn distributions_are_listed_with_paths() {
    let s: Scenario = yaml(SPEC_EXAMPLE).expect("parse");
    let ds = distributions(&s);
    let paths: Vec<&str> = ds.iter().map(|(p, _)| p.as_str()).collect();
    assert!(paths.contains(&"resources[0].service_time"));
    assert!(paths.contains(&"dependencies[0].network.latency"));
    assert!(paths.contains(&"handlers[0].operations[0].steps[2].ready_after"));
    assert!(
        paths.contains(&"resource_failure_modes[0].failure_modes[2].injection_parameters.added")
    );
}
