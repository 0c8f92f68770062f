//! `preflight export` (docs/exports.md): byte-identical files, a word for
//! every scenario skipped, placeholders refused with `--strict`, output
//! folders replaced only when they are an export's, and a run directory
//! holding exports still replaceable by the next run. The tools' own
//! validators and the independent check of every number run in `.ci/run`
//! (tests/exports/).

use std::path::{Path, PathBuf};

mod common;
use common::{preflight, stderr, stdout};

const FORMATS: [&str; 6] = [
    "thresholds",
    "fis",
    "chaos-mesh",
    "litmus",
    "chaostoolkit",
    "prometheus-rules",
];

/// A small run of the bundled checkout scenario (targets on AWS).
fn checkout_run(dir: &Path) -> PathBuf {
    let out = dir.join("checkout");
    let o = preflight(&[
        "run",
        "scenarios/checkout.yaml",
        "--campaigns",
        "6",
        "--scenario-campaigns",
        "2",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn exports_are_byte_identical_say_what_they_skip_and_replace_only_their_own_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let run = checkout_run(tmp.path());
    let run_s = run.to_str().unwrap();
    for format in FORMATS {
        let o = preflight(&["export", run_s, "--format", format, "--quiet"]);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        let default = run.join("export").join(format);
        let again = tmp.path().join(format!("again-{format}"));
        let o = preflight(&[
            "export",
            run_s,
            "--format",
            format,
            "--quiet",
            "--out",
            again.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        assert_eq!(files_of(&default), files_of(&again), "{format} differs");
        // Every file names the run it came from.
        let manifest = std::fs::read(run.join("manifest.json")).unwrap();
        let hash = sim_engine::provenance::sha256(&manifest);
        for (name, bytes) in files_of(&default) {
            if name.ends_with(".parquet") {
                continue;
            }
            assert!(
                String::from_utf8_lossy(&bytes).contains(&hash),
                "{format}/{name} does not name run {hash}"
            );
        }
        // A second export into the same folder replaces it.
        let o = preflight(&["export", run_s, "--format", format, "--quiet"]);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
    }

    // FIS has no latency action for an RDS instance: skipped, with why.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("export/fis/index.json")).unwrap()).unwrap();
    let skipped = index["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["scenario_id"] == "orders-db-latency-spike"
                && s["reason"]
                    .as_str()
                    .unwrap()
                    .contains("AWS FIS has no action for latency_spike on aws:rds:db")),
        "{index}"
    );
    let exported = index["exported"].as_array().unwrap();
    assert!(
        exported
            .iter()
            .any(|s| s["action"] == "aws:rds:reboot-db-instances"),
        "{index}"
    );

    // checkout has no Kubernetes targets: placeholders, said; --strict refuses.
    let o = preflight(&["export", run_s, "--format", "chaos-mesh", "--quiet"]);
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("has no `target.kubernetes`"),
        "{}",
        stderr(&o)
    );
    let o = preflight(&["export", run_s, "--format", "chaos-mesh", "--strict"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // A folder that is not an export's is never replaced.
    let mine = tmp.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "mine").unwrap();
    let o = preflight(&[
        "export",
        run_s,
        "--format",
        "fis",
        "--out",
        mine.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not provably a preflight export directory"));
    assert_eq!(
        std::fs::read_to_string(mine.join("notes.txt")).unwrap(),
        "mine"
    );

    // The next run replaces a run directory holding exports ...
    let again = checkout_run(tmp.path());
    assert!(!again.join("export").exists(), "stale exports were kept");
    // ... but not one where a user put a file among them.
    let o = preflight(&["export", run_s, "--format", "thresholds", "--quiet"]);
    assert!(o.status.success());
    std::fs::write(run.join("export/thresholds/notes.txt"), "mine").unwrap();
    let o = preflight(&[
        "run",
        "scenarios/checkout.yaml",
        "--campaigns",
        "6",
        "--quiet",
        "--out",
        run_s,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("export/thresholds"), "{}", stderr(&o));
}

#[test]
fn export_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let run = checkout_run(tmp.path());
    let run_s = run.to_str().unwrap();
    let o = preflight(&["export", run_s, "--format", "fis", "--scenario", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--scenario nope: no such scenario")
            && stderr(&o).contains("orders-db-latency-spike"),
        "{}",
        stderr(&o)
    );
    let o = preflight(&["export", run_s, "--format", "gremlin"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("chaos-mesh"), "{}", stderr(&o));
    let o = preflight(&["export", tmp.path().to_str().unwrap(), "--format", "fis"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a run directory"), "{}", stderr(&o));
    // --scenario picks, --top caps, --min-severity filters.
    let o = preflight(&[
        "export",
        run_s,
        "--format",
        "thresholds",
        "--min-severity",
        "critical",
        "--top",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(
        &std::fs::read(run.join("export/thresholds/thresholds.json")).unwrap(),
    )
    .unwrap();
    let s = doc["scenarios"].as_array().unwrap();
    assert_eq!(s.len(), 2, "{}", stdout(&o));
    assert!(s.iter().all(|x| x["severity"] == "critical"));
    // mm1 predicts no scenarios: nothing to export, said.
    let mm1 = tmp.path().join("mm1");
    let o = preflight(&[
        "run",
        "scenarios/mm1.yaml",
        "--campaigns",
        "2",
        "--quiet",
        "--out",
        mm1.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = preflight(&["export", mm1.to_str().unwrap(), "--format", "litmus"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("predicted no injection scenarios"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_thresholds_schema_is_published() {
    let o = preflight(&["schema", "--exports"]);
    assert!(o.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(schema["title"], "ThresholdsFile");
    assert!(schema["properties"]["scenarios"].is_object());
}
