//! A fallback that calls another resource (`fallback: {call: X}`): the
//! cache-aside read path "on a Redis failure, read from Postgres", in the
//! spec, the simulation, `analyze` and their errors.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;

mod common;
use common::{preflight, stderr, stdout, write};

/// `api` reads from `redis` and, when that call fails, from `postgres`.
/// `FALLBACK` is the read step's fallback, `PG` postgres's slots and
/// service time. Three injections, each its own targeted scenario.
const CACHE_ASIDE: &str = r#"
name: cache-aside
seed: 11
campaigns: 2
horizon: 2m
resources:
  - { id: api, type: service, replicas: 2, concurrency: 64,
      service_time: { dist: constant, value: 1ms }, failure_modes: [] }
  - { id: redis, type: cache, replicas: 1, concurrency: 64,
      service_time: { dist: constant, value: 1ms }, failure_modes: [] }
  - { id: postgres, type: database, replicas: 1, PG, failure_modes: [] }
dependencies:
  - { from: api, to: redis }
  - { from: api, to: postgres }
handlers:
  - id: front
    runs_on: api
    operations:
      - { name: get, steps: [ { call: redis, timeout: 20ms, FALLBACK } ] }
    slo: { success_rate: 0.99 }
workload:
  - { handler: front, arrivals: { process: poisson, rate: 50/s } }
injections:
  - { id: redis-down, target: redis, mode: process_crash, at: 30s, duration: 30s }
  - { id: postgres-down, target: postgres, mode: process_crash, at: 30s, duration: 30s }
"#;

const TO_POSTGRES: &str = "fallback: { call: postgres, timeout: 200ms }";
const FAST_PG: &str = "concurrency: 32, service_time: { dist: constant, value: 5ms }";

fn scenario(fallback: &str, pg: &str) -> String {
    CACHE_ASIDE.replace("FALLBACK", fallback).replace("PG", pg)
}

fn read(path: &Path) -> RecordBatch {
    common::read_parquet(path)
}

/// Requests, errors and degraded requests summed per `scenario_id` over the
/// campaigns of a run of `text` in both modes.
fn totals(text: &str) -> BTreeMap<String, (i64, i64, i64)> {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "cache-aside.yaml", text);
    let out = dir.path().join("run");
    let o = preflight(&[
        "run",
        file.to_str().unwrap(),
        "--mode",
        "both",
        "--no-remediate",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let b = read(&out.join("campaigns.parquet"));
    let ids = b.column_by_name("scenario_id").unwrap();
    let ids = arrow::compute::cast(ids, &arrow::datatypes::DataType::Utf8).unwrap();
    let ids = ids.as_string::<i32>();
    let col = |name: &str| {
        b.column_by_name(name)
            .unwrap()
            .as_primitive::<Int64Type>()
            .values()
            .to_vec()
    };
    let (requests, errors, degraded) = (col("requests"), col("errors"), col("degraded"));
    let mut out = BTreeMap::new();
    for i in 0..b.num_rows() {
        let t: &mut (i64, i64, i64) = out.entry(ids.value(i).to_string()).or_default();
        t.0 += requests[i];
        t.1 += errors[i];
        t.2 += degraded[i];
    }
    out
}

#[test]
fn a_fallback_call_serves_the_reads_while_the_cache_is_down() {
    let t = totals(&scenario(TO_POSTGRES, FAST_PG));
    // Redis down for 30 s of 2 minutes at 50/s, in each of 2 campaigns:
    // about 3,000 reads go to postgres, and every one succeeds, degraded.
    let (requests, errors, degraded) = t["redis-down"];
    assert_eq!(errors, 0, "{t:?}");
    assert!((2500..3500).contains(&degraded), "{t:?}");
    assert!(degraded < requests);
    // Postgres down while redis serves: nothing calls it.
    assert_eq!(t["postgres-down"].1, 0, "{t:?}");
    assert_eq!(t["postgres-down"].2, 0, "{t:?}");
    assert_eq!(t["natural"].1, 0, "{t:?}");
    assert_eq!(t["natural"].2, 0, "{t:?}");

    // Without the fallback, the same outage fails those reads.
    let none = totals(&scenario("fallback: none", FAST_PG));
    let (_, errors, degraded) = none["redis-down"];
    assert!((2500..3500).contains(&errors), "{none:?}");
    assert_eq!(degraded, 0);
}

#[test]
fn a_fallback_call_has_its_own_timeout_and_fails_the_step_when_it_fails() {
    // Postgres answers in 500 ms, past the fallback's 200 ms: while redis is
    // down every read waits 20 ms + 200 ms and fails.
    let slow = "concurrency: 64, service_time: { dist: constant, value: 500ms }";
    let t = totals(&scenario(TO_POSTGRES, slow));
    let (_, errors, degraded) = t["redis-down"];
    assert!((2500..3500).contains(&errors), "{t:?}");
    assert_eq!(degraded, 0, "{t:?}");
    // Without a timeout on the fallback the same reads succeed, slowly.
    let t = totals(&scenario("fallback: { call: postgres }", slow));
    let (_, errors, degraded) = t["redis-down"];
    assert_eq!(errors, 0, "{t:?}");
    assert!((2500..3500).contains(&degraded), "{t:?}");
}

fn analyze_json(text: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "cache-aside.yaml", text);
    let o = preflight(&["analyze", file.to_str().unwrap(), "--json"]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

fn findings<'a>(v: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    v.as_array()
        .expect("a list of findings")
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

#[test]
fn analyze_sees_the_way_around_the_cache_and_the_load_it_moves() {
    // Room to spare: 50/s × 5 ms on 32 slots goes from 0% to under 1%.
    let v = analyze_json(&scenario(TO_POSTGRES, FAST_PG));
    let spof: Vec<_> = findings(&v, "single_point_of_failure")
        .into_iter()
        .filter_map(|f| f["resource"].as_str())
        .collect();
    assert!(
        !spof.contains(&"redis") && !spof.contains(&"postgres"),
        "{spof:?}"
    );
    let load = findings(&v, "fallback_load");
    assert_eq!(load.len(), 1, "{v:#}");
    let f = load[0];
    assert_eq!(f["severity"], "info");
    assert_eq!(f["resource"], "postgres");
    assert_eq!(f["fallback_for"], "redis");
    assert_eq!(
        f["location"],
        "handlers[front].operations[get].steps[0].fallback"
    );
    assert!((f["arrival_rate"].as_f64().unwrap() - 50.0).abs() < 1e-9);
    assert!(f["utilisation_before"].as_f64().unwrap().abs() < 1e-12);
    let u = f["utilisation"].as_f64().unwrap();
    assert!((u - 50.0 * 0.005 / 32.0).abs() < 1e-9, "{u}");

    // One slot of 30 ms: the reads redis served would need 1.5 slots.
    let v = analyze_json(&scenario(
        TO_POSTGRES,
        "concurrency: 1, service_time: { dist: constant, value: 30ms }",
    ));
    let f = findings(&v, "fallback_load")[0];
    assert_eq!(f["severity"], "critical");
    assert!(
        (f["utilisation"].as_f64().unwrap() - 1.5).abs() < 1e-9,
        "{f:#}"
    );

    // A fallback call without a timeout is a call without a timeout.
    let v = analyze_json(&scenario("fallback: { call: postgres }", FAST_PG));
    let nt: Vec<_> = findings(&v, "no_timeout")
        .into_iter()
        .filter_map(|f| f["location"].as_str())
        .collect();
    assert_eq!(
        nt,
        ["handlers[front].operations[get].steps[0].fallback"],
        "{v:#}"
    );
}

/// `validate` on the scenario with `fallback` as given: exit code and stderr.
fn validate(fallback: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "cache-aside.yaml", &scenario(fallback, FAST_PG));
    let o = preflight(&["validate", file.to_str().unwrap()]);
    (o.status.code(), stderr(&o))
}

#[test]
fn a_bad_fallback_is_an_error_with_its_field() {
    let (code, err) = validate("fallback: cache");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("unknown fallback `cache`"), "{err}");
    assert!(
        err.contains("handlers[0].operations[0].steps[0].fallback"),
        "{err}"
    );

    let (code, err) = validate("fallback: { call: postgres, tiemout: 1s }");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("unknown field `tiemout`"), "{err}");

    let (code, err) = validate("fallback: { call: mysql }");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("steps[0].fallback.call"), "{err}");
    assert!(err.contains("mysql"), "{err}");

    let (code, err) = validate("fallback: { call: redis }");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("the fallback calls `redis`"), "{err}");

    let (code, err) = validate("fallback: { call: postgres, operation: read }");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("steps[0].fallback.operation"), "{err}");
}

#[test]
fn a_fallback_call_reads_the_same_in_toml_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let toml = r#"
name = "cache-aside"
[[resources]]
id = "api"
type = "service"
[[resources]]
id = "redis"
type = "cache"
[[resources]]
id = "postgres"
type = "database"
[[handlers]]
id = "front"
runs_on = "api"
[[handlers.operations]]
name = "get"
[[handlers.operations.steps]]
call = "redis"
timeout = "20ms"
fallback = { call = "postgres", timeout = "200ms" }
[[workload]]
handler = "front"
arrivals = { process = "poisson", rate = "50/s" }
"#;
    let json = r#"{"name": "cache-aside",
 "resources": [{"id": "api", "type": "service"}, {"id": "redis", "type": "cache"},
               {"id": "postgres", "type": "database"}],
 "handlers": [{"id": "front", "runs_on": "api", "operations": [{"name": "get",
   "steps": [{"call": "redis", "timeout": "20ms",
              "fallback": {"call": "postgres", "timeout": "200ms"}}]}]}],
 "workload": [{"handler": "front", "arrivals": {"process": "poisson", "rate": "50/s"}}]}"#;
    for (name, text) in [("s.toml", toml), ("s.json", json)] {
        let file = write(dir.path(), name, text);
        let o = preflight(&["validate", file.to_str().unwrap()]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
    }
    // The schema says what a fallback may be.
    let o = preflight(&["schema"]);
    let schema = stdout(&o);
    assert!(
        schema.contains("FallbackCall"),
        "schema names the fallback call"
    );
}
