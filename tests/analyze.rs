//! `preflight analyze`: each check on a small scenario that triggers it and
//! one that does not, then the binary on the example scenarios and on bad
//! input.

use std::path::Path;
use std::process::Output;

use sim_engine::analyze::{self, AMPLIFICATION_BOUND, Kind, Level};
use sim_engine::scenario::{Format, load_bytes};
use sim_models::compile::{Empirical, compile};
use sim_models::model::Model;

mod common;
use common::preflight;

fn model(yaml: &str) -> Model {
    let loaded =
        load_bytes(yaml.as_bytes(), Format::Yaml, Path::new("t.yaml")).unwrap_or_else(|e| {
            let p: Vec<String> = e.problems().iter().map(|p| p.to_string()).collect();
            panic!("{}", p.join("\n"))
        });
    compile(
        &loaded.scenario,
        &sim_engine::defaults::default_failure_modes(),
        &Empirical::new(),
    )
    .expect("compiles")
}

/// `api` (criticality `crit`, `api_replicas`) calls `db` (`db_replicas`)
/// with the given extra fields on the call step and dependency kind.
fn two(crit: &str, api_replicas: u32, db_replicas: u32, call_extra: &str, dep: &str) -> String {
    format!(
        r#"
name: two
resources:
  - {{ id: api, type: service, replicas: {api_replicas}, criticality: {crit} }}
  - {{ id: db, type: database, replicas: {db_replicas} }}
dependencies:
  - {{ from: api, to: db, kind: {dep} }}
handlers:
  - id: api
    runs_on: api
    operations:
      - name: read
        steps: [ {{ call: db{call_extra} }} ]
    slo: {{ latency_p99: 1s }}
workload:
  - {{ handler: api, arrivals: {{ process: poisson, rate: 10/s }} }}
"#
    )
}

// ---------------------------------------------------------------------------
// 1. Single points of failure, articulation points
// ---------------------------------------------------------------------------

#[test]
fn a_hard_call_to_a_single_replica_is_a_single_point_of_failure() {
    let m = model(&two("medium", 2, 1, ", timeout: 100ms", "hard"));
    let f = analyze::single_points_of_failure(&m);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].location, "resources[db]");
    assert_eq!(f[0].replicas, Some(1));
    assert_eq!(
        f[0].callers.as_deref(),
        Some(&["handlers[api].operations[read].steps[0]".to_string()][..])
    );
    // api is of medium criticality: a warning.
    assert_eq!(f[0].severity, Level::Warning);
    // The same on a high-criticality handler's hard path is critical.
    let m = model(&two("high", 2, 1, ", timeout: 100ms", "hard"));
    assert_eq!(
        analyze::single_points_of_failure(&m)[0].severity,
        Level::Critical
    );
}

#[test]
fn no_single_point_of_failure_with_replicas_a_fallback_or_a_soft_link() {
    for (db_replicas, extra, dep) in [
        (2, ", timeout: 100ms", "hard"),
        (1, ", timeout: 100ms, fallback: cached", "hard"),
        (1, ", timeout: 100ms", "soft"),
    ] {
        let m = model(&two("high", 2, db_replicas, extra, dep));
        let f = analyze::single_points_of_failure(&m);
        assert!(f.is_empty(), "{db_replicas} {extra} {dep}: {f:#?}");
    }
}

#[test]
fn a_workload_needs_its_handlers_resource() {
    let m = model(&two("medium", 1, 2, ", timeout: 100ms", "hard"));
    let f = analyze::single_points_of_failure(&m);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].location, "resources[api]");
    assert_eq!(f[0].callers.as_deref(), Some(&["workload".to_string()][..]));
}

const TRIANGLE: &str = r#"
name: triangle
resources:
  - { id: a, type: service }
  - { id: b, type: service }
  - { id: c, type: service }
  - { id: d, type: database, replicas: 3 }
dependencies:
  - { from: a, to: b }
  - { from: b, to: c }
  - { from: a, to: c }
handlers:
  - id: a
    runs_on: a
    operations: [ { name: go, steps: [ { call: b, timeout: 1s }, { call: c, timeout: 1s } ] } ]
workload: [ { handler: a, arrivals: { process: poisson, rate: 1/s } } ]
"#;

#[test]
fn a_cycle_of_dependencies_has_no_articulation_point_and_a_tail_makes_one() {
    // a, b, c in a triangle: removing any one leaves the other two linked.
    let m = model(TRIANGLE);
    assert!(analyze::articulation_points(&m).is_empty());
    // c → d hangs d off c: c becomes the one way to d.
    let tail = TRIANGLE.replace(
        "  - { from: a, to: c }\n",
        "  - { from: a, to: c }\n  - { from: c, to: d }\n",
    );
    let f = analyze::articulation_points(&model(&tail));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].location, "resources[c]");
    assert_eq!(f[0].severity, Level::Warning, "c has one replica");
    assert_eq!(
        f[0].parts,
        Some(vec![
            vec!["a".to_string(), "b".to_string()],
            vec!["d".to_string()]
        ])
    );
    assert!(
        f[0].detail.contains("between d and the rest"),
        "{}",
        f[0].detail
    );
}

// ---------------------------------------------------------------------------
// 2. Calls without a timeout
// ---------------------------------------------------------------------------

#[test]
fn a_call_without_timeout_is_flagged_and_one_with_is_not() {
    let m = model(&two("medium", 2, 2, "", "hard"));
    let f = analyze::calls_without_timeout(&m);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].location, "handlers[api].operations[read].steps[0]");
    assert_eq!(
        (
            f[0].handler.as_deref(),
            f[0].operation.as_deref(),
            f[0].step
        ),
        (Some("api"), Some("read"), Some(0))
    );
    assert_eq!(f[0].severity, Level::Warning);
    let m = model(&two("critical", 2, 2, "", "hard"));
    assert_eq!(
        analyze::calls_without_timeout(&m)[0].severity,
        Level::Critical
    );
    let m = model(&two("critical", 2, 2, ", timeout: 100ms", "hard"));
    assert!(analyze::calls_without_timeout(&m).is_empty());
}

// ---------------------------------------------------------------------------
// 3. Retry amplification
// ---------------------------------------------------------------------------

/// api → mid → db; api's call makes `a1` attempts, mid's `a2`.
fn chain(a1: u32, a2: u32) -> String {
    format!(
        r#"
name: chain
resources:
  - {{ id: api, type: service, replicas: 2 }}
  - {{ id: mid, type: service, replicas: 2 }}
  - {{ id: db, type: database, replicas: 2 }}
handlers:
  - id: api
    runs_on: api
    operations:
      - {{ name: cheap, weight: 5, steps: [] }}
      - name: go
        steps: [ {{ call: mid, timeout: 1s, retry: {{ max_attempts: {a1}, base: 10ms, jitter: full }} }} ]
  - id: mid
    runs_on: mid
    operations:
      - name: go
        steps: [ {{ call: db, timeout: 100ms, retry: {{ max_attempts: {a2}, base: 10ms, jitter: full }} }} ]
workload:
  - {{ handler: api, arrivals: {{ process: poisson, rate: 1/s }} }}
"#
    )
}

#[test]
fn three_by_three_is_within_the_bound() {
    assert_eq!(AMPLIFICATION_BOUND, 10);
    let f = analyze::retry_amplification(&model(&chain(3, 3)));
    assert!(f.is_empty(), "9 ≤ 10: {f:#?}");
}

#[test]
fn exactly_the_bound_is_not_flagged() {
    // 5 × 2 = 10: "exceeds" is strict.
    assert!(analyze::retry_amplification(&model(&chain(5, 2))).is_empty());
    assert_eq!(
        analyze::retry_amplification(&model(&chain(11, 1)))[0].amplification,
        Some(11)
    );
}

#[test]
fn four_by_three_is_flagged_with_its_path() {
    let f = analyze::retry_amplification(&model(&chain(4, 3)));
    assert_eq!(
        f.len(),
        1,
        "only db is reached through more than 10: {f:#?}"
    );
    let f = &f[0];
    assert_eq!(f.amplification, Some(12));
    assert_eq!(f.attempts.as_deref(), Some(&[4, 3][..]));
    assert_eq!(f.location, "api → mid → db");
    assert_eq!(f.path.as_ref().unwrap(), &["api", "mid", "db"]);
    assert_eq!(
        f.steps.as_ref().unwrap(),
        &[
            "handlers[api].operations[go].steps[0]",
            "handlers[mid].operations[go].steps[0]"
        ]
    );
    assert_eq!(f.severity, Level::Warning);
    assert!(f.detail.contains("12 attempts (4 × 3)"), "{}", f.detail);
}

#[test]
fn more_than_ten_times_the_bound_is_critical() {
    // 11 × 10 = 110 > 100.
    let f = analyze::retry_amplification(&model(&chain(11, 10)));
    let db: Vec<_> = f
        .iter()
        .filter(|f| f.resource.as_deref() == Some("db"))
        .collect();
    assert_eq!(db[0].amplification, Some(110));
    assert_eq!(db[0].severity, Level::Critical);
    // mid itself gets 11 from api: flagged, but only a warning.
    let mid: Vec<_> = f
        .iter()
        .filter(|f| f.resource.as_deref() == Some("mid"))
        .collect();
    assert_eq!(mid[0].amplification, Some(11));
    assert_eq!(mid[0].severity, Level::Warning);
}

#[test]
fn a_chain_no_workload_reaches_is_not_counted() {
    // The same handlers, with the workload sent to mid: api's 4 attempts
    // are never made, and 3 alone is within the bound.
    let s = chain(4, 3).replace("{ handler: api,", "{ handler: mid,");
    assert!(analyze::retry_amplification(&model(&s)).is_empty());
}

// ---------------------------------------------------------------------------
// 4. Retries without backoff or jitter
// ---------------------------------------------------------------------------

#[test]
fn retries_without_backoff_or_jitter() {
    let cases = [
        // (retry, expected kind)
        (
            "{ max_attempts: 3 }",
            Some((Kind::RetryWithoutBackoff, Level::Warning)),
        ),
        (
            "{ max_attempts: 3, backoff: exponential, base: 0s, jitter: full }",
            Some((Kind::RetryWithoutBackoff, Level::Warning)),
        ),
        (
            "{ max_attempts: 3, backoff: constant, base: 50ms }",
            Some((Kind::RetryWithoutJitter, Level::Info)),
        ),
        (
            "{ max_attempts: 3, backoff: exponential, base: 50ms, jitter: equal }",
            None,
        ),
        ("{ max_attempts: 1 }", None),
    ];
    for (retry, want) in cases {
        let m = model(&two(
            "medium",
            2,
            2,
            &format!(", timeout: 100ms, retry: {retry}"),
            "hard",
        ));
        let f = analyze::retries_without_backoff_or_jitter(&m);
        match want {
            Some((kind, severity)) => {
                assert_eq!(f.len(), 1, "{retry}: {f:#?}");
                assert_eq!((f[0].kind, f[0].severity), (kind, severity), "{retry}");
                assert_eq!(f[0].location, "handlers[api].operations[read].steps[0]");
            }
            None => assert!(f.is_empty(), "{retry}: {f:#?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// 5. Hard calls of critical handlers without breaker or fallback
// ---------------------------------------------------------------------------

#[test]
fn critical_handlers_need_a_breaker_or_a_fallback_on_hard_calls() {
    let breaker =
        ", circuit_breaker: { failure_rate: 0.5, min_calls: 10, window: 10s, open_for: 30s }";
    let cases = [
        ("critical", "", "hard", Some(Level::Critical)),
        ("high", "", "hard", Some(Level::Warning)),
        ("medium", "", "hard", None),
        ("critical", breaker, "hard", None),
        ("critical", ", fallback: skip", "hard", None),
        ("critical", "", "soft", None),
    ];
    for (crit, extra, dep, want) in cases {
        let m = model(&two(crit, 2, 2, &format!(", timeout: 100ms{extra}"), dep));
        let f = analyze::unprotected_critical_calls(&m);
        match want {
            Some(s) => {
                assert_eq!(f.len(), 1, "{crit} {extra} {dep}: {f:#?}");
                assert_eq!(f[0].severity, s);
                assert_eq!(f[0].location, "handlers[api] → db");
                assert_eq!(
                    f[0].steps.as_deref(),
                    Some(&["handlers[api].operations[read].steps[0]".to_string()][..])
                );
            }
            None => assert!(f.is_empty(), "{crit} {extra} {dep}: {f:#?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// 6. Capacity headroom
// ---------------------------------------------------------------------------

/// The workload (`rate`/s) reaches api (unlimited slots): 3/4 of requests
/// go through mid (one call to db each), 1/4 call db twice directly. db:
/// 2 replicas × 4 slots, 10 ms per request.
fn load(rate: u32, diurnal: &str) -> String {
    format!(
        r#"
name: load
resources:
  - {{ id: api, type: service }}
  - {{ id: mid, type: service }}
  - {{ id: db, type: database, replicas: 2, concurrency: 4,
      service_time: {{ dist: constant, value: 10ms }} }}
handlers:
  - id: api
    runs_on: api
    operations:
      - {{ name: read, weight: 3, steps: [ {{ call: mid, timeout: 1s }} ] }}
      - {{ name: write, weight: 1, steps: [ {{ call: db, timeout: 1s }}, {{ call: db, timeout: 1s }} ] }}
  - id: mid
    runs_on: mid
    operations:
      - {{ name: fetch, steps: [ {{ call: db, timeout: 1s, retry: {{ max_attempts: 5, base: 1ms, jitter: full }} }} ] }}
workload:
  - {{ handler: api, arrivals: {{ process: poisson, rate: {rate}/s }}{diurnal} }}
"#
    )
}

#[test]
fn utilisation_counts_calls_through_handlers_by_weight_not_retries() {
    // 700/s × (3/4 × 1 + 1/4 × 2) = 875/s at db; × 10 ms ÷ 8 slots = 1.09375.
    let f = analyze::capacity(&model(&load(700, "")));
    assert_eq!(f.len(), 1, "{f:#?}");
    let f = &f[0];
    assert_eq!(f.location, "resources[db]");
    assert_eq!(f.slots, Some(8));
    assert!((f.arrival_rate.unwrap() - 875.0).abs() < 1e-9, "{f:#?}");
    assert!((f.utilisation.unwrap() - 1.093_75).abs() < 1e-12, "{f:#?}");
    assert!((f.holding_time_s.unwrap() - 0.01).abs() < 1e-12);
    assert_eq!(f.severity, Level::Critical);
}

#[test]
fn utilisation_between_the_bounds_is_a_warning_and_below_is_nothing() {
    // 560/s → 700/s at db → 0.875.
    let f = analyze::capacity(&model(&load(560, "")));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!((f[0].utilisation.unwrap() - 0.875).abs() < 1e-12);
    assert_eq!(f[0].severity, Level::Warning);
    // 400/s → 500/s → 0.625: not flagged.
    assert!(analyze::capacity(&model(&load(400, ""))).is_empty());
}

#[test]
fn the_busiest_hour_of_a_diurnal_shape_sets_the_severity() {
    // Mean multiplier 1 (23 hours at 0.9, one at 3.3): 0.625 on average,
    // 0.625 × 3.3 = 2.0625 in the busiest hour.
    let mut shape = vec!["0.9"; 23];
    shape.push("3.3");
    let diurnal = format!(", diurnal: [{}]", shape.join(", "));
    let f = analyze::capacity(&model(&load(400, &diurnal)));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!((f[0].utilisation.unwrap() - 0.625).abs() < 1e-9, "{f:#?}");
    assert!((f[0].peak_utilisation.unwrap() - 2.0625).abs() < 1e-9);
    assert_eq!(f[0].severity, Level::Critical);
}

#[test]
fn a_handler_holds_its_slot_while_its_calls_run() {
    // front: 1 replica × 10 slots; 1 ms of its own, then a call to a
    // database that takes 9 ms: 10 ms per request. 900/s → 0.9.
    let s = r#"
name: hold
resources:
  - { id: front, type: service, concurrency: 10, service_time: { dist: constant, value: 1ms } }
  - { id: db, type: database, service_time: { dist: constant, value: 9ms } }
handlers:
  - id: front
    runs_on: front
    operations: [ { name: get, steps: [ { call: db, timeout: 1s } ] } ]
workload: [ { handler: front, arrivals: { process: poisson, rate: 900/s } } ]
"#;
    let f = analyze::capacity(&model(s));
    assert_eq!(f.len(), 1, "db has unlimited slots, only front: {f:#?}");
    assert_eq!(f[0].location, "resources[front]");
    assert!((f[0].utilisation.unwrap() - 0.9).abs() < 1e-12, "{f:#?}");
}

// ---------------------------------------------------------------------------
// 7. Timeouts longer than the SLO; cycles
// ---------------------------------------------------------------------------

#[test]
fn a_timeout_longer_than_the_callers_p99_objective() {
    let m = model(&two("medium", 2, 2, ", timeout: 2s", "hard"));
    let f = analyze::timeouts_over_slo(&m);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].timeout_s, Some(2.0));
    assert_eq!(f[0].slo_latency_p99_s, Some(1.0));
    assert_eq!(f[0].severity, Level::Warning);
    // At the objective or under it: nothing.
    for t in ["1s", "500ms"] {
        let m = model(&two("medium", 2, 2, &format!(", timeout: {t}"), "hard"));
        assert!(analyze::timeouts_over_slo(&m).is_empty(), "{t}");
    }
    // No latency objective: nothing to compare with.
    let s = two("medium", 2, 2, ", timeout: 2s", "hard").replace("slo: { latency_p99: 1s }", "");
    assert!(analyze::timeouts_over_slo(&model(&s)).is_empty());
}

#[test]
fn operation_call_cycles_never_reach_analyze() {
    let s = r#"
name: cycle
resources: [ { id: a, type: service }, { id: b, type: service } ]
handlers:
  - { id: a, runs_on: a, operations: [ { name: x, steps: [ { call: b, timeout: 1s } ] } ] }
  - { id: b, runs_on: b, operations: [ { name: y, steps: [ { call: a, timeout: 1s } ] } ] }
workload: [ { handler: a, arrivals: { process: poisson, rate: 1/s } } ]
"#;
    let e = load_bytes(s.as_bytes(), Format::Yaml, Path::new("c.yaml")).unwrap_err();
    assert!(
        e.problems()
            .iter()
            .any(|p| p.to_string().contains("operation call cycle")),
        "{:?}",
        e.problems()
    );
}

const CLEAN: &str = r#"
name: clean
resources:
  - { id: api, type: service, replicas: 3, criticality: critical, concurrency: 100,
      service_time: { dist: constant, value: 1ms } }
  - { id: db, type: database, replicas: 2, concurrency: 50,
      service_time: { dist: constant, value: 2ms } }
dependencies: [ { from: api, to: db } ]
handlers:
  - id: api
    runs_on: api
    operations:
      - name: read
        steps:
          - { call: db, timeout: 100ms, retry: { max_attempts: 3, backoff: exponential, base: 10ms, jitter: full },
              circuit_breaker: { failure_rate: 0.5, min_calls: 10, window: 10s, open_for: 30s } }
    slo: { latency_p99: 500ms }
workload: [ { handler: api, arrivals: { process: poisson, rate: 100/s } } ]
"#;

#[test]
fn a_clean_scenario_has_no_findings() {
    let f = analyze::analyze(&model(CLEAN));
    assert!(f.is_empty(), "{f:#?}");
}

/// The kinds of `silent_defaults` findings, with their levels and locations.
fn silent(yaml: &str) -> Vec<(Kind, Level, String)> {
    analyze::silent_defaults(&model(yaml))
        .into_iter()
        .map(|f| (f.kind, f.severity, f.location))
        .collect()
}

#[test]
fn a_call_without_a_declared_dependency_is_reported() {
    let s = CLEAN.replace("dependencies: [ { from: api, to: db } ]\n", "");
    assert_ne!(s, CLEAN);
    assert_eq!(
        silent(&s),
        [(
            Kind::UndeclaredDependency,
            Level::Info,
            "api → db".to_string()
        )]
    );
}

#[test]
fn a_load_balancer_no_request_reaches_is_a_warning() {
    let s = CLEAN.replace(
        "dependencies:",
        "  - { id: lb, type: load_balancer, replicas: 2 }\n  - { id: spare, type: cache }\ndependencies:",
    );
    assert_ne!(s, CLEAN);
    assert_eq!(
        silent(&s),
        [
            (Kind::Unreached, Level::Warning, "resources[lb]".to_string()),
            (Kind::Unreached, Level::Info, "resources[spare]".to_string()),
        ]
    );
}

#[test]
fn a_called_resource_without_service_time_is_reported() {
    let s = CLEAN.replace(
        "  - { id: db, type: database, replicas: 2, concurrency: 50,\n      service_time: { dist: constant, value: 2ms } }",
        "  - { id: db, type: database, replicas: 2, concurrency: 50 }",
    );
    assert_ne!(s, CLEAN);
    assert_eq!(
        silent(&s),
        [(
            Kind::DefaultServiceTime,
            Level::Info,
            "resources[db]".to_string()
        )]
    );
}

// ---------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------

fn json_findings(o: &Output) -> Vec<serde_json::Value> {
    let text = String::from_utf8(o.stdout.clone()).expect("UTF-8");
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{text}"));
    v.as_array().expect("a JSON array").clone()
}

#[test]
fn online_boutique_as_json() {
    let o = preflight(&["analyze", "scenarios/online-boutique.yaml", "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let f = json_findings(&o);
    assert!(!f.is_empty());
    for x in &f {
        for k in ["severity", "kind", "location", "detail", "variant"] {
            assert!(x[k].is_string(), "{k} missing in {x}");
        }
        assert!(["critical", "warning", "info"].contains(&x["severity"].as_str().unwrap()));
    }
    // Sorted: severities never go back up.
    let rank = |s: &str| ["critical", "warning", "info"].iter().position(|x| *x == s);
    let ranks: Vec<_> = f
        .iter()
        .map(|x| rank(x["severity"].as_str().unwrap()))
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
    // Every service runs one replica: frontend is a critical single point.
    assert!(f.iter().any(|x| x["kind"] == "single_point_of_failure"
        && x["location"] == "resources[frontend]"
        && x["severity"] == "critical"));
    // The checkout call waits 5 s, the frontend's p99 objective is 1 s.
    assert!(f.iter().any(|x| x["kind"] == "timeout_over_slo"
        && x["location"] == "handlers[frontend].operations[checkout].steps[0]"
        && x["timeout_s"] == 5.0
        && x["slo_latency_p99_s"] == 1.0));
    // Every call has a timeout there.
    assert!(!f.iter().any(|x| x["kind"] == "no_timeout"));
}

#[test]
fn checkout_as_json_and_as_a_table() {
    let o = preflight(&["analyze", "scenarios/checkout.yaml", "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let f = json_findings(&o);
    assert!(
        f.iter()
            .any(|x| x["kind"] == "single_point_of_failure"
                && x["location"] == "resources[orders-db]")
    );
    let o = preflight(&["analyze", "scenarios/checkout.yaml"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    let first = out.lines().next().unwrap();
    for col in ["severity", "kind", "where", "why"] {
        assert!(first.contains(col), "{first}");
    }
    assert_eq!(out.lines().count(), f.len() + 2, "{out}");
}

#[test]
fn fail_on_exits_1_when_a_finding_reaches_the_level() {
    let o = preflight(&["analyze", "scenarios/checkout.yaml", "--json"]);
    let f = json_findings(&o);
    let count = |level: &str| f.iter().filter(|x| x["severity"] == level).count();
    // Levels at or above: critical ⊂ warning ⊂ info.
    for (level, at_or_above) in [
        ("critical", count("critical")),
        ("warning", count("critical") + count("warning")),
        ("info", f.len()),
    ] {
        let o = preflight(&["analyze", "scenarios/checkout.yaml", "--fail-on", level]);
        let want = if at_or_above > 0 { 1 } else { 0 };
        assert_eq!(o.status.code(), Some(want), "--fail-on {level}");
        let text = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            text.contains(&format!("analyze: {at_or_above} finding(s) at `{level}`")),
            at_or_above > 0,
            "{text}"
        );
    }
    assert!(
        f.len() > count("critical"),
        "checkout has findings below critical"
    );
    let o = preflight(&["analyze", "scenarios/checkout.yaml", "--fail-on", "severe"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_variant_with_a_second_replica_loses_the_single_point() {
    let o = preflight(&[
        "analyze",
        "scenarios/checkout.yaml",
        "--json",
        "--variant",
        "db-replica",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let f = json_findings(&o);
    let spof = |v: &str| {
        f.iter().any(|x| {
            x["variant"] == v
                && x["kind"] == "single_point_of_failure"
                && x["location"] == "resources[orders-db]"
        })
    };
    assert!(spof("base"));
    assert!(!spof("db-replica"));
}

#[test]
fn bad_input_exits_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "name: bad\nresources:\n  - { id: a, type: service, replicas: 0 }\n",
    )
    .unwrap();
    let o = preflight(&["analyze", bad.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "nothing on stdout on error");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.yaml") && err.contains("replicas"),
        "{err}"
    );
    let o = preflight(&["analyze", "no/such/file.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let o = preflight(&["analyze", "scenarios/checkout.yaml", "--variant", "nope"]);
    assert_eq!(o.status.code(), Some(2));
}
