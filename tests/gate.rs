//! `preflight gate` and `--until-decided`, end to end: verdicts, exit codes,
//! failure contributors, and campaign counts that do not depend on threads.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::preflight;

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

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
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
fn a_safe_scenario_passes_and_until_decided_stops_once_the_interval_clears_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "passing.yaml", &passing());
    let run = |threads: &str, extra: &[&str]| {
        let out = dir.path().join(format!("run-{threads}-{}", extra.len()));
        let mut args = vec![
            "gate",
            f.to_str().unwrap(),
            "--campaigns",
            "30",
            "--json",
            "--threads",
            threads,
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = preflight(&args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        json(&o)
    };
    // 0 breaches in 30 campaigns: the interval [0, 0.11] straddles 0.05.
    let v = run("2", &[]);
    assert_eq!(v["verdict"], "pass");
    let h = &v["handlers"][0];
    assert_eq!(h["campaigns"], 30);
    assert_eq!(h["decided"], false);
    assert!(h["campaigns_to_decide"].as_u64().is_some());
    // Doubling 30 -> 60 -> 120: 0/60 has an upper bound of 0.060, 0/120 of 0.031.
    let one = run("1", &["--until-decided"]);
    let two = run("2", &["--until-decided"]);
    for v in [&one, &two] {
        let h = &v["handlers"][0];
        assert_eq!(h["campaigns"], 120, "{h}");
        assert_eq!(h["decided"], true);
        assert!(h["ci_high"].as_f64().unwrap() <= 0.05);
    }
    // A cap stops the doubling.
    let capped = run("2", &["--until-decided", "50"]);
    assert_eq!(capped["handlers"][0]["campaigns"], 50);
    assert_eq!(capped["handlers"][0]["decided"], false);
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
}
