//! `telemetry:` in runs (docs/forecast.md, "In a run"): a forecast's
//! crossing probability raises the hazard of the failure mode its threshold
//! means; the run compares the base with and without it on the same
//! campaigns, the manifest records the file's hash, and everything a user
//! can get wrong is an exit-2 error naming the field.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Float64Type;

mod common;
use common::{preflight, stderr, stdout, write};

/// A database behind a service; `disk_error` is rare by nature (5000 h).
/// Campaigns of 10 minutes; the risk window is 10 minutes too, so that a
/// crossing probability p gives an onset in a campaign with probability p.
const SCENARIO: &str = r#"
name: disk
seed: 5
campaigns: 60
horizon: 10m
resources:
  - { id: api, type: service, replicas: 1, concurrency: 64,
      service_time: { dist: constant, value: 1ms }, failure_modes: [] }
  - id: db
    type: database
    replicas: 1
    concurrency: 64
    service_time: { dist: constant, value: 2ms }
    failure_modes:
      - mode: disk_error
        time_between: { dist: exponential, mean: 5000h }
        repair: { dist: constant, value: 1h }
        injection_parameters: { error_fraction: 0.5 }
dependencies:
  - { from: api, to: db }
handlers:
  - id: orders
    runs_on: api
    operations:
      - name: write
        steps:
          - call: db
            timeout: 1s
    slo: { success_rate: 0.999 }
workload:
  - handler: orders
    arrivals: { process: poisson, rate: 20/s }
risk:
  window: 10m
TELEMETRY
"#;

/// Three hours of a disk filling at 0.001 a minute from 0.75, a minute
/// apart, with a deterministic wobble: the threshold 0.94 is about ten
/// minutes of growth away at the end (P(crossing within 10 minutes) is
/// about 0.78).
fn filling_disk() -> String {
    let mut csv = String::from("timestamp,resource,metric,value\n");
    for i in 0..180 {
        let wobble = 0.004 * ((i * 7919) % 13) as f64 / 13.0;
        csv += &format!(
            "{},db,disk_used_fraction,{:.5}\n",
            1_780_000_000 + 60 * i,
            0.75 + 0.001 * i as f64 + wobble
        );
    }
    csv
}

/// The same disk, flat at half full.
fn flat_disk() -> String {
    let mut csv = String::from("timestamp,resource,metric,value\n");
    for i in 0..180 {
        let wobble = 0.002 * ((i * 7919) % 13) as f64 / 13.0;
        csv += &format!(
            "{},db,disk_used_fraction,{:.5}\n",
            1_780_000_000 + 60 * i,
            0.5 + wobble
        );
    }
    csv
}

const THRESHOLDS: &str = r#"telemetry:
  file: disk.csv
  thresholds:
    - { resource: db, metric: disk_used_fraction, above: 0.94, mode: disk_error }"#;

fn read(path: &Path) -> RecordBatch {
    common::read_parquet(path)
}

/// `preflight run F --no-remediate --quiet EXTRA --out OUT`, which must
/// succeed.
fn run_quiet(f: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec!["run", f.to_str().unwrap(), "--no-remediate", "--quiet"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let o = preflight(&args);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

/// A campaign's row: faults, requests, errors, p99.
type Row = (String, f64, f64, f64);

/// Natural campaigns by variant: campaign → its row.
fn campaigns(dir: &Path) -> BTreeMap<String, BTreeMap<u64, Row>> {
    let b = read(&dir.join("campaigns.parquet"));
    let col = |n: &str| b.column_by_name(n).unwrap().clone();
    let (variant, mode, campaign, faults, requests, errors, p99) = (
        col("variant"),
        col("mode"),
        col("campaign"),
        col("faults"),
        col("requests"),
        col("errors"),
        col("latency_p99_ms"),
    );
    let num = |a: &dyn Array, i: usize| -> f64 {
        let a = arrow::compute::cast(&a.slice(i, 1), &arrow::datatypes::DataType::Float64).unwrap();
        a.as_primitive::<Float64Type>().value(0)
    };
    let s = |a: &dyn Array, i: usize| -> String {
        let a = arrow::compute::cast(&a.slice(i, 1), &arrow::datatypes::DataType::Utf8).unwrap();
        a.as_string::<i32>().value(0).to_owned()
    };
    let mut out: BTreeMap<String, BTreeMap<u64, _>> = BTreeMap::new();
    for i in 0..b.num_rows() {
        if s(&mode, i) != "natural" {
            continue;
        }
        out.entry(s(&variant, i)).or_default().insert(
            num(&campaign, i) as u64,
            (
                s(&faults, i),
                num(&requests, i),
                num(&errors, i),
                num(&p99, i),
            ),
        );
    }
    out
}

#[test]
fn a_filling_disk_raises_the_disk_error_risk_and_the_summary_says_by_how_much() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "disk.csv", &filling_disk());
    let f = write(
        tmp.path(),
        "disk.yaml",
        &SCENARIO.replace("TELEMETRY", THRESHOLDS),
    );
    let out = tmp.path().join("run");
    let o = preflight(&[
        "run",
        f.to_str().unwrap(),
        "--no-remediate",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    eprintln!("{text}");
    assert!(
        text.contains("db/disk_used_fraction > 0.94 → disk_error"),
        "{text}"
    );
    assert!(text.contains("risk moved by telemetry"), "{text}");

    // The manifest: the file's hash among the inputs, and what was raised.
    let m = manifest(&out);
    let sha = sim_engine::provenance::sha256(&std::fs::read(tmp.path().join("disk.csv")).unwrap());
    let inputs = m["inputs"].as_array().unwrap();
    assert!(
        inputs
            .iter()
            .any(|i| i["role"] == "telemetry" && i["sha256"] == sha.as_str()),
        "{inputs:?}"
    );
    let t = &m["telemetry"];
    assert_eq!(t["sha256"], sha.as_str());
    assert_eq!(t["compared"], true);
    assert_eq!(t["horizon_s"], 600.0, "min(24h, risk.window)");
    let r = &t["raised"][0];
    let p = r["probability"].as_f64().unwrap();
    assert!(p > 0.3 && p < 1.0, "P(cross within 10m) = {p}");
    // λ·window = −ln(1 − p): one onset or more in a window with probability p.
    let lw = r["rate_per_s"].as_f64().unwrap() * 600.0;
    assert!((lw + (1.0 - p).ln()).abs() < 1e-9, "{lw} vs p {p}");
    let s = &r["scenarios"][0];
    assert_eq!(s["scenario_id"], "db-disk-error");
    assert!(
        s["with"].as_f64().unwrap() > s["without"].as_f64().unwrap() + 0.3,
        "{s}"
    );
    assert!(
        m["variants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "without-telemetry"),
        "{}",
        m["variants"]
    );

    // forecast.parquet: one row per minute of the 10-minute horizon.
    let fc = read(&out.join("forecast.parquet"));
    assert_eq!(fc.num_rows(), 10);
    assert!(fc.column_by_name("upper_95").is_some());

    // The campaigns: some had a telemetry onset, and every campaign whose
    // faults are the same with and without the raised hazard is the same
    // campaign (common random numbers; the added process comes last).
    let c = campaigns(&out);
    let (with, without) = (&c["base"], &c["without-telemetry"]);
    assert_eq!(with.len(), 60);
    assert_eq!(without.len(), 60);
    let (mut raised, mut added) = (0, 0.0);
    for (k, w) in with {
        let wo = &without[k];
        if w.0.contains("db/disk_error@telemetry") {
            raised += 1;
            assert!(
                w.2 >= wo.2,
                "campaign {k}: an onset adds errors: {w:?} vs {wo:?}"
            );
            added += w.2 - wo.2;
        } else {
            assert_eq!(w, wo, "campaign {k}: no telemetry onset, same campaign");
        }
    }
    // About p·60 campaigns (binomial; far from 0 and from 60).
    assert!(
        (f64::from(raised) - p * 60.0).abs() < 4.0 * (60.0 * p * (1.0 - p)).sqrt() + 1.0,
        "{raised} of 60 campaigns with a telemetry onset, p = {p}"
    );
    assert!(added > 0.0);

    // risk.parquet: the base's risk is above the comparison's, and the
    // paired difference (without − with) is significant.
    let risk = read(&out.join("risk.parquet"));
    let variants = risk.column_by_name("variant").unwrap();
    let variants = arrow::compute::cast(variants, &arrow::datatypes::DataType::Utf8).unwrap();
    let variants = variants.as_string::<i32>();
    let value = risk
        .column_by_name("risk")
        .unwrap()
        .as_primitive::<Float64Type>();
    let row = |name: &str| {
        (0..risk.num_rows())
            .find(|&i| variants.value(i) == name)
            .unwrap()
    };
    let (b, w) = (row("base"), row("without-telemetry"));
    assert!(
        value.value(b) > value.value(w) + 0.2,
        "{} vs {}",
        value.value(b),
        value.value(w)
    );
    let high = risk
        .column_by_name("risk_diff_high")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert!(high.value(w) < 0.0, "the comparison's interval excludes 0");
}

#[test]
fn a_flat_series_raises_nothing_and_runs_no_comparison() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "disk.csv", &flat_disk());
    let f = write(
        tmp.path(),
        "disk.yaml",
        &SCENARIO
            .replace("TELEMETRY", "telemetry: disk.csv")
            .replace("campaigns: 60", "campaigns: 5"),
    );
    let out = tmp.path().join("run");
    run_quiet(&f, &out, &[]);
    let m = manifest(&out);
    // The default threshold (disk_used_fraction > 0.95 is disk_error).
    let r = &m["telemetry"]["raised"][0];
    assert_eq!(r["threshold"], "disk_used_fraction > 0.95");
    assert_eq!(r["probability"], 0.0);
    assert_eq!(r["rate_per_s"], 0.0);
    assert_eq!(m["telemetry"]["compared"], false);
    assert_eq!(m["variants"].as_array().unwrap().len(), 1);
}

#[test]
fn the_same_run_gives_the_same_files_whatever_the_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "disk.csv", &filling_disk());
    let f = write(
        tmp.path(),
        "disk.yaml",
        &SCENARIO
            .replace("TELEMETRY", THRESHOLDS)
            .replace("campaigns: 60", "campaigns: 12"),
    );
    let run = |threads: &str| {
        let out = tmp.path().join(format!("run{threads}"));
        run_quiet(&f, &out, &["--threads", threads]);
        out
    };
    let (a, b) = (run("1"), run("2"));
    for file in [
        "forecast.parquet",
        "risk.parquet",
        "campaigns.parquet",
        "handlers.parquet",
    ] {
        assert_eq!(
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn run_telemetry_replaces_the_scenarios_file_and_gate_decides_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "disk.csv", &flat_disk());
    let elsewhere = tempfile::tempdir().unwrap();
    let filling = write(elsewhere.path(), "now.csv", &filling_disk());
    let f = write(
        tmp.path(),
        "disk.yaml",
        &SCENARIO
            .replace("TELEMETRY", THRESHOLDS)
            .replace("campaigns: 60", "campaigns: 40"),
    );
    // The scenario's own file is flat: the gate passes on it.
    let gate = |extra: &[&str]| {
        let mut args = vec!["gate", f.to_str().unwrap(), "--json", "--campaigns", "40"];
        args.extend_from_slice(extra);
        let o = preflight(&args);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
        (o.status.code(), v)
    };
    let (code, v) = gate(&[]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["telemetry"]["raised"][0]["probability"], 0.0);
    // A file given on the command line (outside the scenario's folder,
    // which a scenario may not name) replaces it; the thresholds stay.
    let (code, v) = gate(&["--telemetry", filling.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["verdict"], "fail");
    let raised = &v["telemetry"]["raised"][0];
    assert_eq!(raised["threshold"], "disk_used_fraction > 0.94");
    assert!(raised["probability"].as_f64().unwrap() > 0.3, "{raised}");
    // The gate decides on the base alone: no comparison variant.
    assert!(
        v["handlers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["variant"] == "base"),
        "{v}"
    );
}

#[test]
fn telemetry_mistakes_are_input_errors_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "disk.csv", &filling_disk());
    let case = |name: &str, telemetry: &str, want: &[&str]| {
        let f = write(
            tmp.path(),
            &format!("{name}.yaml"),
            &SCENARIO.replace("TELEMETRY", telemetry),
        );
        for cmd in ["validate", "run"] {
            let out = tmp.path().join(format!("{name}-{cmd}"));
            let args: Vec<&str> = if cmd == "run" {
                vec![
                    "run",
                    f.to_str().unwrap(),
                    "--quiet",
                    "--out",
                    out.to_str().unwrap(),
                ]
            } else {
                vec!["validate", f.to_str().unwrap()]
            };
            let o = preflight(&args);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{name} {cmd}: {err}");
            for w in want {
                assert!(err.contains(w), "{name} {cmd}: missing `{w}` in: {err}");
            }
            assert!(!out.exists(), "{name} {cmd}: nothing is written");
        }
    };
    let line = SCENARIO.lines().position(|l| l == "TELEMETRY").unwrap() + 1;
    case(
        "missing",
        "telemetry: nowhere.csv",
        &[
            &format!("missing.yaml:{line}:"),
            "telemetry",
            "nowhere.csv",
            "cannot read",
        ],
    );
    case(
        "outside",
        "telemetry: ../disk.csv",
        &["telemetry", "outside the scenario's folder"],
    );
    case(
        "no-such-mode",
        "telemetry:\n  file: disk.csv\n  thresholds:\n    - { metric: disk_used_fraction, above: 0.9, mode: cpu_throttle }",
        &[
            "db/disk_used_fraction",
            "cpu_throttle",
            "has no cpu_throttle failure mode",
        ],
    );
    case(
        "no-such-series",
        "telemetry:\n  file: disk.csv\n  thresholds:\n    - { metric: disk_free_bytes, below: 1e9, mode: disk_error }",
        &[
            "telemetry.thresholds[0]",
            "disk_free_bytes",
            "db/disk_used_fraction",
        ],
    );
    case(
        "both-directions",
        "telemetry:\n  file: disk.csv\n  thresholds:\n    - { metric: disk_used_fraction, above: 0.9, below: 0.1, mode: disk_error }",
        &["telemetry.thresholds[0]", "exactly one of `above:`"],
    );
    case(
        "unknown-key",
        "telemetry:\n  file: disk.csv\n  threshold: 0.9",
        &["telemetry", "threshold"],
    );
    case(
        "reserved-variant",
        "telemetry: disk.csv\nvariants:\n  - { name: without-telemetry, set: { \"resources[db].replicas\": 2 } }",
        &["variants[0].name", "`without-telemetry` is reserved"],
    );
}

#[test]
fn shards_that_read_another_telemetry_file_do_not_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = write(tmp.path(), "disk.csv", &filling_disk());
    let f = write(
        tmp.path(),
        "disk.yaml",
        &SCENARIO
            .replace("TELEMETRY", THRESHOLDS)
            .replace("campaigns: 60", "campaigns: 4"),
    );
    let shard = tmp.path().join("s0");
    let o = preflight(&[
        "run",
        f.to_str().unwrap(),
        "--no-remediate",
        "--quiet",
        "--range-size",
        "2",
        "--shard",
        "0/1",
        "--out",
        shard.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let merge = |out: &str| {
        preflight(&[
            "merge",
            shard.to_str().unwrap(),
            "--out",
            tmp.path().join(out).to_str().unwrap(),
        ])
    };
    // The telemetry changed after the shard ran: its run key is another.
    write(tmp.path(), "disk.csv", &flat_disk());
    let o = merge("changed");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!tmp.path().join("changed").exists());
    std::fs::write(&csv, filling_disk()).unwrap();
    let o = merge("same");
    assert!(o.status.success(), "{}", stderr(&o));
    let m = manifest(&tmp.path().join("same"));
    assert_eq!(m["telemetry"]["compared"], true);
}

#[test]
fn a_campaign_of_a_run_with_telemetry_replays_identically() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "disk.csv", &filling_disk());
    let f = write(
        tmp.path(),
        "disk.yaml",
        &SCENARIO
            .replace("TELEMETRY", THRESHOLDS)
            .replace("campaigns: 60", "campaigns: 6"),
    );
    let out = tmp.path().join("run");
    run_quiet(&f, &out, &[]);
    // A campaign with a telemetry onset, in the base and in the comparison.
    let c = campaigns(&out);
    let k = c["base"]
        .iter()
        .find(|(_, r)| r.0.contains("@telemetry"))
        .map(|(k, _)| k.to_string())
        .expect("a campaign with a telemetry onset");
    for variant in ["base", "without-telemetry"] {
        let o = preflight(&[
            "replay",
            out.to_str().unwrap(),
            "--campaign",
            &k,
            "--variant",
            variant,
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{variant}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(
            !stderr(&o).contains("changed since the run"),
            "{}",
            stderr(&o)
        );
    }
    // The telemetry changes: the replay says so, and the row differs.
    write(tmp.path(), "disk.csv", &flat_disk());
    let o = preflight(&["replay", out.to_str().unwrap(), "--campaign", &k]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("telemetry file"), "{}", stderr(&o));
}
