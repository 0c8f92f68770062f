//! Calibration end to end: `preflight synth` draws half a year of incidents
//! from a scenario's own (true) model, `preflight calibrate` backtests the
//! risk predicted from failure modes refitted on the history before each
//! window, and the predictions must be calibrated: expected calibration
//! error at most 0.03, and a Brier score within 10% of the one the true
//! model itself scores on the same windows (`--no-refit`).

use std::path::Path;
use std::process::Output;

mod common;
use common::preflight;

/// A database whose crashes (Weibull, shape 0.8: decreasing hazard) take
/// minutes to repair; an hour's SLO is missed when about 18 s of requests
/// fail, so most windows with a crash breach. About one window in four does.
const SCENARIO: &str = r#"
name: calib
seed: 4
horizon: 1h
resources:
  - { id: api, type: service, concurrency: 64,
      service_time: { dist: exponential, mean: 1ms }, failure_modes: [] }
  - { id: db, type: database, concurrency: 64, service_time: { dist: exponential, mean: 2ms },
      failure_modes: [ { mode: process_crash, time_between: { dist: weibull, shape: 0.8, scale: 3h },
                         repair: { dist: lognormal, median: 2m, sigma: 0.6 } } ] }
handlers:
  - id: h
    runs_on: api
    operations: [ { name: op, steps: [ { call: db, timeout: 1s } ] } ]
    slo: { success_rate: 0.995 }
workload:
  - { handler: h, arrivals: { process: poisson, rate: 2/s } }
risk: { window: 1h }
"#;

fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn calibrate(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let s = dir.join("calib.yaml");
    let h = dir.join("history.csv");
    let map = dir.join(format!("map{}.json", extra.len()));
    let mut args = vec![
        "calibrate",
        s.to_str().unwrap(),
        "--history",
        h.to_str().unwrap(),
        "--json",
        "--map",
        map.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(&preflight(&args))).expect("JSON")
}

#[test]
fn refitted_predictions_are_calibrated_on_a_history_from_the_true_model() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("calib.yaml"), SCENARIO).unwrap();
    let s = dir.path().join("calib.yaml");
    let h = dir.path().join("history.csv");
    ok(&preflight(&[
        "synth",
        s.to_str().unwrap(),
        "--years",
        "0.5",
        "--seed",
        "11",
        "--out",
        h.to_str().unwrap(),
    ]));

    let fitted = calibrate(dir.path(), &[]);
    let truth = calibrate(dir.path(), &["--no-refit"]);
    let (b, e) = (
        fitted["figures"]["brier"].as_f64().unwrap(),
        fitted["figures"]["ece"].as_f64().unwrap(),
    );
    let b_true = truth["figures"]["brier"].as_f64().unwrap();
    eprintln!(
        "windows {}, breaches {}; fitted: Brier {b:.4}, ECE {e:.4}; true model: Brier {b_true:.4}, ECE {:.4}",
        fitted["windows"],
        fitted["figures"]["breaches"],
        truth["figures"]["ece"].as_f64().unwrap()
    );
    assert!(fitted["windows"].as_u64().unwrap() > 3000);
    assert_eq!(fitted["unmapped_incidents"], 0);
    assert!(e <= 0.03, "ECE {e}");
    assert!(
        (b - b_true).abs() <= 0.10 * b_true,
        "Brier {b} vs true {b_true}"
    );
    // Breaches are neither rare nor certain, so the figures mean something.
    let rate = fitted["figures"]["breaches"].as_f64().unwrap()
        / fitted["figures"]["predictions"].as_f64().unwrap();
    assert!((0.1..0.5).contains(&rate), "{rate}");
    // In sample, the isotonic map can only improve the Brier score.
    assert!(fitted["figures"]["brier_recalibrated"].as_f64().unwrap() <= b + 1e-12);

    // The stored map and diagram are there, and a run applies the map.
    let map = fitted["map_file"].as_str().unwrap();
    let svg = std::fs::read_to_string(fitted["diagram"].as_str().unwrap()).unwrap();
    assert!(svg.starts_with("<svg"));
    let out = dir.path().join("run");
    let o = preflight(&[
        "gate",
        s.to_str().unwrap(),
        "--campaigns",
        "20",
        "--json",
        "--calibration",
        map,
        "--out",
        out.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("gate JSON");
    assert!(
        v["handlers"][0]["calibrated_risk"].as_f64().is_some(),
        "{v}"
    );
    // The run's report shows the map's reliability diagram.
    let o = preflight(&["report", out.to_str().unwrap()]);
    ok(&o);
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    let calibration = page
        .split("<section id=\"calibration\"")
        .nth(1)
        .expect("a calibration section");
    assert!(calibration.contains("<svg"), "a reliability diagram");
    assert!(calibration.contains("backtest Brier"));
}

#[test]
fn bad_calibration_input_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("calib.yaml");
    std::fs::write(&s, SCENARIO).unwrap();
    // A history too short for two windows.
    let h = dir.path().join("short.csv");
    std::fs::write(
        &h,
        "resource,resource_type,mode,start,end,cause\ndb,database,process_crash,2000-01-01T00:00:00Z,2000-01-01T00:02:00Z,x\ndb,database,process_crash,2000-01-01T01:00:00Z,2000-01-01T01:02:00Z,x\n",
    )
    .unwrap();
    let o = preflight(&[
        "calibrate",
        s.to_str().unwrap(),
        "--history",
        h.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("fewer than two windows"));
    // A history that is not there.
    let o = preflight(&[
        "calibrate",
        s.to_str().unwrap(),
        "--history",
        "/nonexistent.csv",
    ]);
    assert_eq!(o.status.code(), Some(2));
    // A bad window.
    let o = preflight(&[
        "calibrate",
        s.to_str().unwrap(),
        "--history",
        h.to_str().unwrap(),
        "--window",
        "soon",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--window"));
}

#[test]
fn a_window_too_long_for_request_level_is_refused_with_its_figures() {
    // The checkout scenario at 200 requests per second: a day is about
    // 1.7e7 requests per window, which the backtest does not simulate
    // request by request (docs/calibration.md shows `--window 1h`).
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("history.csv");
    std::fs::write(
        &h,
        "resource,resource_type,mode,start,end,cause\norders-db,database,process_crash,2000-01-01T00:00:00Z,2000-01-01T00:02:00Z,x\norders-db,database,process_crash,2000-03-01T01:00:00Z,2000-03-01T01:02:00Z,x\n",
    )
    .unwrap();
    let o = preflight(&[
        "calibrate",
        "scenarios/checkout.yaml",
        "--history",
        h.to_str().unwrap(),
        "--window",
        "1d",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("a window of 24h holds about 1.73e7 requests"),
        "{err}"
    );
    assert!(err.contains("use a shorter --window"), "{err}");
}
