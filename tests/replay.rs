//! `preflight replay`: one campaign re-run from a run directory's manifest
//! gives the rows the run wrote, and the manifest holds what reproducing
//! the run needs (command line, options, hashes, a copy of the scenario).

use std::path::Path;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

mod common;
use common::{LIVE, SMALL, preflight, preflight_in, stderr, stdout, write};

fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

/// Runs `args` from `dir` and asserts success.
fn run_in(dir: &Path, args: &[&str]) {
    let o = preflight_in(dir, args);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn replay(out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["replay", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    preflight(&args)
}

#[test]
fn a_replayed_campaign_gives_the_rows_the_run_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "small.yaml", SMALL);
    // A relative scenario path, run from the scenario's folder: replay
    // (from the repository root) finds everything through the manifest.
    run_in(
        tmp.path(),
        &[
            "run",
            "small.yaml",
            "--mode",
            "both",
            "--threads",
            "2",
            "--out",
            "out",
            "--quiet",
        ],
    );
    let out = tmp.path().join("out");
    for extra in [
        &["--campaign", "4"][..],
        &["--campaign", "0", "--variant", "patient"],
        &["--campaign", "5", "--injection", "db-down"],
        &[
            "--campaign",
            "2",
            "--variant",
            "patient",
            "--injection",
            "db-down",
        ],
    ] {
        let o = replay(&out, extra);
        let text = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {text}{}", stderr(&o));
        assert!(text.contains("identical"), "{extra:?}: {text}");
        assert!(text.contains("handlers: 1 of 1 rows identical"), "{text}");
    }
}

#[test]
fn the_manifest_records_what_reproducing_the_run_needs() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "small.yaml", SMALL);
    let out = tmp.path().join("out");
    let o = preflight(&[
        "run",
        file.to_str().unwrap(),
        "--rare-event",
        "auto",
        "--scale",
        "request",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = manifest(&out);
    let cmd: Vec<&str> = m["command_line"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(&cmd[1..4], ["run", file.to_str().unwrap(), "--rare-event"]);
    assert_eq!(m["options"]["rare_event"], "auto");
    assert_eq!(m["options"]["scale"], "request");
    assert!(Path::new(m["scenario_path"].as_str().unwrap()).is_absolute());
    // SHA-256 of the file's bytes, its algorithm named.
    let hash = m["scenario_hash"].as_str().unwrap();
    assert!(
        hash.starts_with("sha256:") && hash.len() == 7 + 64,
        "{hash}"
    );
    // The copy is the file, byte for byte, and listed with the results.
    assert_eq!(
        std::fs::read(out.join("scenario.yaml")).unwrap(),
        SMALL.as_bytes()
    );
    assert!(
        m["files"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("scenario.yaml"))
    );
    assert!(!m["tool_commit"].as_str().unwrap().is_empty());
    // Importance sampling is not "breaches / campaigns".
    let def = m["risk_definition"].as_str().unwrap();
    assert!(def.contains("importance sampling"), "{def}");
    // A rerun may replace the directory that holds the copy.
    let again = preflight(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
}

#[test]
fn input_files_are_hashed_and_a_changed_one_is_named_on_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = "ms\n2.5\n3.1\n2.9\n4.0\n3.3\n";
    std::fs::write(tmp.path().join("db.csv"), csv).unwrap();
    let text = SMALL.replace(
        "service_time: { dist: exponential, mean: 3ms }",
        "service_time: { dist: empirical, file: db.csv, column: ms, unit: ms }",
    );
    assert_ne!(text, SMALL);
    write(tmp.path(), "small.yaml", &text);
    run_in(
        tmp.path(),
        &["run", "small.yaml", "--out", "out", "--quiet"],
    );
    let out = tmp.path().join("out");
    let m = manifest(&out);
    let inputs = m["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 1, "{inputs:?}");
    assert_eq!(inputs[0]["role"], "empirical");
    let path = inputs[0]["path"].as_str().unwrap();
    assert!(
        Path::new(path).is_absolute() && path.ends_with("db.csv"),
        "{path}"
    );
    assert_eq!(
        inputs[0]["sha256"],
        sim_engine::provenance::sha256(csv.as_bytes())
    );
    assert_eq!(inputs[0]["bytes"], csv.len());
    // Unchanged: identical. Changed: the replay names the file.
    let o = replay(&out, &["--campaign", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    std::fs::write(tmp.path().join("db.csv"), "ms\n30\n31\n").unwrap();
    let o = replay(&out, &["--campaign", "2"]);
    assert!(
        stderr(&o).contains("empirical file") && stderr(&o).contains("changed since the run"),
        "{}",
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
}

#[test]
fn replay_reports_a_difference_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "small.yaml", SMALL);
    run_in(
        tmp.path(),
        &["run", "small.yaml", "--out", "out", "--quiet"],
    );
    let out = tmp.path().join("out");
    // Another master seed: the same campaign draws other numbers.
    let mut m = manifest(&out);
    m["seed"] = serde_json::json!(6);
    std::fs::write(out.join("manifest.json"), m.to_string()).unwrap();
    let o = replay(&out, &["--campaign", "1"]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", stderr(&o));
    assert!(
        text.contains("DIFFERENT") && text.contains("campaigns.seed:"),
        "{text}"
    );
}

#[test]
fn replay_refuses_what_it_cannot_replay_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "small.yaml", SMALL);
    run_in(
        tmp.path(),
        &["run", "small.yaml", "--out", "out", "--quiet"],
    );
    let out = tmp.path().join("out");
    let cases: [(&[&str], &str); 3] = [
        (&["--campaign", "6"], "did not simulate it"),
        (
            &["--campaign", "0", "--variant", "eager"],
            "`base`, `patient`",
        ),
        (&["--campaign", "0", "--injection", "nope"], "`db-down`"),
    ];
    for (extra, says) in cases {
        let o = replay(&out, extra);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{extra:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty());
    }
    // Not a run directory.
    let o = replay(tmp.path(), &["--campaign", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a run directory"), "{}", stderr(&o));
    // A copy of the scenario changed after the run is not trusted.
    let copy = out.join("scenario.yaml");
    let mut text = std::fs::read_to_string(&copy).unwrap();
    text.push_str("# edited\n");
    std::fs::write(&copy, text).unwrap();
    let o = replay(&out, &["--campaign", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("changed after the run"),
        "{}",
        stderr(&o)
    );
}

/// Campaign indices of the rows of `events.parquet`.
fn event_campaigns(path: &Path) -> Vec<u64> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let c = batch.column_by_name("campaign").unwrap();
        out.extend(
            c.as_primitive::<Int64Type>()
                .values()
                .iter()
                .map(|&v| v as u64),
        );
    }
    out
}

#[test]
fn replay_with_events_prints_the_campaigns_live_injections() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "live.yaml", LIVE);
    run_in(
        tmp.path(),
        &["run", "live.yaml", "--events", "--out", "out", "--quiet"],
    );
    let out = tmp.path().join("out");
    let campaigns = event_campaigns(&out.join("events.parquet"));
    let c = *campaigns
        .first()
        .expect("some campaign had a live injection");
    let n = campaigns.iter().filter(|k| **k == c).count();
    let o = replay(
        &out,
        &["--campaign", &c.to_string(), "--programme", "--events"],
    );
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", stderr(&o));
    assert!(
        text.contains(&format!("events ({n}):")),
        "{n} events: {text}"
    );
    assert!(text.contains("identical"), "{text}");
}

#[test]
fn a_two_scale_campaign_replays_from_its_baseline_and_library() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "small.yaml",
        &SMALL.replace("horizon: 2m", "horizon: 2d"),
    );
    run_in(
        tmp.path(),
        &[
            "run",
            "small.yaml",
            "--scale",
            "two-scale",
            "--campaigns",
            "4",
            "--threads",
            "2",
            "--no-remediate",
            "--out",
            "out",
            "--quiet",
        ],
    );
    let out = tmp.path().join("out");
    assert_eq!(manifest(&out)["scale"], "two-scale");
    let o = replay(&out, &["--campaign", "3", "--variant", "patient"]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", stderr(&o));
    assert!(text.contains("identical"), "{text}");
}
