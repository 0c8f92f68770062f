//! `preflight gate` and `--until-decided`, end to end: verdicts, exit codes,
//! failure contributors, and campaign counts that do not depend on threads.

use std::process::Output;

mod common;
use common::{preflight, write};

/// An API whose database crashes every minute or so (the cause of the
/// breaches) and a cache that fails about once in 50 hours (almost never
/// within the 2-minute horizon).
const FAILING: &str = r#"
name: gate-failing
seed: 3
horizon: 2m
resources:
  - { id: api, type: service, concurrency: 32,
      service_time: { dist: exponential, mean: 1ms }, failure_modes: [] }
  - { id: db, type: database, concurrency: 16, service_time: { dist: exponential, mean: 2ms },
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 1m },
                         repair: { dist: constant, value: 10s } } ] }
  - { id: cache, type: cache, concurrency: 16, service_time: { dist: exponential, mean: 1ms },
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 50h },
                         repair: { dist: constant, value: 10s } } ] }
handlers:
  - id: api-handler
    runs_on: api
    operations:
      - name: read
        steps:
          - { call: cache, timeout: 20ms }
          - { call: db, timeout: 50ms }
    slo: { success_rate: 0.999 }
workload:
  - { handler: api-handler, arrivals: { process: poisson, rate: 50/s } }
risk: { window: 2m, gate: 0.05 }
"#;

/// The same system with no failure processes at all.
fn passing() -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in FAILING.lines() {
        if let Some(at) = line.find("failure_modes: [ {") {
            out.push_str(&line[..at]);
            out.push_str("failure_modes: [] }\n");
            skipping = true;
            continue;
        }
        if skipping {
            skipping = false; // the second line of the failure mode
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.replace("name: gate-failing", "name: gate-passing")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[test]
fn a_risky_handler_fails_the_gate_and_names_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "failing.yaml", FAILING);
    let out = dir.path().join("run");
    let o = preflight(&[
        "gate",
        f.to_str().unwrap(),
        "--campaigns",
        "40",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json(&o);
    assert_eq!(v["verdict"], "fail");
    let h = &v["handlers"][0];
    assert_eq!(h["handler"], "api-handler");
    assert_eq!(h["verdict"], "fail");
    assert!(h["risk"].as_f64().unwrap() > 0.5, "{h}");
    assert!(h["ci_low"].as_f64().unwrap() > 0.05);
    let top = &h["top_contributors"][0];
    assert_eq!(top["fault"], "db/process_crash", "{h}");
    assert!(top["share_of_breaches"].as_f64().unwrap() > 0.9, "{top}");
    // The run directory is written like `preflight run`'s.
    assert!(out.join("risk.parquet").is_file());

    // The table names the verdict and the contributor too.
    let o = preflight(&[
        "gate",
        f.to_str().unwrap(),
        "--campaigns",
        "20",
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("FAIL") && text.contains("db/process_crash"),
        "{text}"
    );
}

#[test]
fn a_safe_scenario_passes_once_the_interval_clears_the_gate_and_undecided_is_its_own_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "passing.yaml", &passing());
    let run = |threads: &str, extra: &[&str], code: i32| {
        let mut args = vec![
            "gate",
            f.to_str().unwrap(),
            "--campaigns",
            "30",
            "--json",
            "--threads",
            threads,
        ];
        args.extend_from_slice(extra);
        let o = preflight(&args);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{extra:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        json(&o)
    };
    // By default the gate looks up to three times (30, 60, 120 campaigns),
    // each interval at 1 − 0.05/3 = 98.3%: 0/60 has an upper bound of 0.087,
    // 0/120 of 0.046, at or below the gate of 0.05.
    let one = run("1", &[], 0);
    let two = run("2", &[], 0);
    for v in [&one, &two] {
        assert_eq!(v["verdict"], "pass");
        assert!((v["interval_level"].as_f64().unwrap() - (1.0 - 0.05 / 3.0)).abs() < 1e-9);
        let h = &v["handlers"][0];
        assert_eq!(h["campaigns"], 120, "{h}");
        assert_eq!(h["decided"], true);
        assert!(h["ci_high"].as_f64().unwrap() <= 0.05);
    }
    // No run directory unless asked for.
    assert!(one["run_dir"].is_null());
    // One look (the cap is the campaigns): 0/30 at 95% is [0, 0.11], which
    // straddles 0.05: undecided, which fails the gate unless told otherwise.
    let v = run("2", &["--until-decided", "30"], 1);
    assert_eq!(v["verdict"], "undecided");
    assert_eq!(v["undecided_policy"], "fail");
    let h = &v["handlers"][0];
    assert_eq!(
        (h["campaigns"].as_u64(), h["decided"].as_bool()),
        (Some(30), Some(false))
    );
    assert!(h["campaigns_to_decide"].as_u64().is_some());
    let v = run("2", &["--until-decided", "30", "--undecided", "pass"], 0);
    assert_eq!(v["verdict"], "undecided");
    assert_eq!(v["exit_code"], 0);
    // A cap of 50 stops the doubling (two looks, 97.5%): 0/50 is undecided.
    let capped = run("2", &["--until-decided", "50"], 1);
    assert_eq!(capped["handlers"][0]["campaigns"], 50);
    assert_eq!(capped["handlers"][0]["verdict"], "undecided");
}

#[test]
fn run_summary_marks_undecided_risks() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "passing.yaml", &passing());
    let out = dir.path().join("run");
    let o = preflight(&[
        "run",
        f.to_str().unwrap(),
        "--campaigns",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("UNDECIDED"), "{text}");
    assert!(text.contains("campaigns in all would decide it"), "{text}");
}

#[test]
fn the_gate_uses_the_calibrated_risk_when_a_map_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "failing.yaml", FAILING);
    // A map that says breaches are far rarer than the raw risk claims.
    let map = serde_json::json!({
        "method": "isotonic",
        "scenario": "gate-failing",
        "scenario_hash": "0",
        "history": "test",
        "map": { "points": [[0.0, 0.0], [1.0, 0.01]] },
        "brier": 0.1, "ece": 0.02, "predictions": 100, "breaches": 10, "bins": []
    });
    let map_path = dir.path().join("map.json");
    std::fs::write(&map_path, map.to_string()).unwrap();
    let out = dir.path().join("run");
    let args = |extra: &[&str]| {
        let mut a = vec!["gate", f.to_str().unwrap(), "--campaigns", "20", "--json"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["--out", out.to_str().unwrap()]);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        preflight(&refs)
    };
    let o = run(args(&["--calibration", map_path.to_str().unwrap()]));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let h = &json(&o)["handlers"][0];
    let raw = h["risk"].as_f64().unwrap();
    let cal = h["calibrated_risk"].as_f64().unwrap();
    assert!(raw > 0.5);
    assert!((cal - 0.01 * raw).abs() < 1e-12, "{cal} vs {raw}");
    assert_eq!(h["verdict"], "pass");
    // Without the map the same run fails.
    let o = run(args(&["--no-calibration"]));
    assert_eq!(o.status.code(), Some(1));
    // A broken map is bad input, reported before anything runs.
    std::fs::write(&map_path, "{ not json").unwrap();
    let o = run(args(&["--calibration", map_path.to_str().unwrap()]));
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("map.json") && err.contains("not a calibration file"),
        "{err}"
    );
    // With --json, stdout says so as JSON too, for a pipeline that parses it.
    let v = json(&o);
    assert_eq!(v["verdict"], "error");
    assert_eq!(v["exit_code"], 2);
    assert_eq!(v["error"]["kind"], "input");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("map.json"),
        "{v}"
    );
}

/// `FAILING` with a second handler that has no SLO.
fn with_a_handler_without_slo() -> String {
    FAILING.replace(
        "workload:\n",
        "  - id: cache-warmer\n    runs_on: api\n    operations:\n      - { name: warm, steps: [ { call: cache, timeout: 20ms } ] }\n\
         workload:\n  - { handler: cache-warmer, arrivals: { process: poisson, rate: 5/s } }\n",
    )
}

#[test]
fn a_handler_without_an_slo_has_no_risk_and_no_decision() {
    let dir = tempfile::tempdir().unwrap();
    let text = with_a_handler_without_slo();
    assert!(text.contains("cache-warmer"));
    let f = write(dir.path(), "noslo.yaml", &text);
    let out = dir.path().join("run");
    let o = preflight(&[
        "run",
        f.to_str().unwrap(),
        "--campaigns",
        "10",
        "--no-remediate",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("cache-warmer"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("no SLO") && !line.contains("UNDECIDED"),
        "{line}"
    );
    assert!(!text.contains("cache-warmer: about"), "{text}");
    // risk.parquet says so in `has_slo`.
    let file = std::fs::File::open(out.join("risk.parquet")).unwrap();
    let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    use arrow::array::AsArray;
    let handlers = batch.column_by_name("handler").unwrap().as_string::<i32>();
    let has_slo = batch.column_by_name("has_slo").unwrap().as_boolean();
    let over = batch.column_by_name("over_threshold").unwrap().as_boolean();
    for i in 0..batch.num_rows() {
        let no_slo = handlers.value(i) == "cache-warmer";
        assert_eq!(has_slo.value(i), !no_slo);
        if no_slo {
            assert!(!over.value(i));
        }
    }
    // The gate lists it and decides on the other handler alone.
    let o = preflight(&["gate", f.to_str().unwrap(), "--campaigns", "40", "--json"]);
    let v = json(&o);
    let h = v["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["handler"] == "cache-warmer")
        .unwrap();
    assert_eq!(h["verdict"], "no_slo");
    assert_eq!(v["verdict"], "fail", "the database handler still fails");
}
