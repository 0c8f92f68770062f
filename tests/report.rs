//! `preflight report` (docs/report.md) without a browser: the page has
//! the sections the run has data for, reads its numbers from the run's
//! files, fetches nothing, titles every plot, stays small however many
//! campaigns ran, and never replaces a file it did not write. The browser
//! check of the bundled scenarios' reports is tests/report/run.sh (CI).

use std::path::Path;

mod common;
use common::{preflight, stderr, stdout, write};

/// A service calling a database that can crash, with a variant and
/// telemetry of a disk filling up.
const SCENARIO: &str = r#"
name: report-test
seed: 3
campaigns: CAMPAIGNS
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
        time_between: { dist: exponential, mean: 2h }
        repair: { dist: constant, value: 5m }
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
variants:
  - name: db-replica
    set: { "resources[db].replicas": 2 }
telemetry: disk.csv
"#;

fn disk() -> String {
    let mut csv = String::from("timestamp,resource,metric,value\n");
    for i in 0..180 {
        csv += &format!(
            "{},db,disk_used_fraction,{:.5}\n",
            1_780_000_000 + 60 * i,
            0.77 + 0.001 * i as f64 + 0.004 * ((i * 7919) % 13) as f64 / 13.0
        );
    }
    csv
}

fn run(dir: &Path, campaigns: u64) -> std::path::PathBuf {
    write(dir, "disk.csv", &disk());
    let f = write(
        dir,
        "s.yaml",
        &SCENARIO.replace("CAMPAIGNS", &campaigns.to_string()),
    );
    let out = dir.join(format!("run{campaigns}"));
    let o = preflight(&[
        "run",
        f.to_str().unwrap(),
        "--no-remediate",
        "--quiet",
        "--report",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

#[test]
fn the_page_has_the_runs_sections_and_numbers_and_fetches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), 40);
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains(sim_output::REPORT_MARKER));
    for id in [
        "id=\"verdict\"",
        "id=\"what-if\"",
        "id=\"telemetry\"",
        "id=\"contributors\"",
        "id=\"latency\"",
        "id=\"reproduce\"",
    ] {
        assert!(page.contains(id), "{id} missing");
    }
    // No service paths, calibration or live injections in this run.
    for id in ["id=\"paths\"", "id=\"calibration\"", "id=\"timelines\""] {
        assert!(!page.contains(id), "{id} should not be there");
    }
    // Every plot is titled; nothing is fetched.
    let svgs = page.matches("<svg").count();
    assert!(svgs >= 4, "{svgs} plots");
    assert_eq!(
        page.matches("<title>").count(),
        svgs + 1,
        "the page's and one per plot"
    );
    for bad in [
        "<script",
        "<link",
        "<img",
        "src=\"http",
        "href=\"http",
        "url(http",
    ] {
        assert!(!page.contains(bad), "{bad}");
    }
    // The numbers are the run's: the manifest's telemetry probability and
    // the base's risk as risk.parquet has it.
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let p = m["telemetry"]["raised"][0]["probability"].as_f64().unwrap();
    assert!(page.contains(&format!("{p:.3}")), "P = {p}");
    assert!(page.contains("without-telemetry"));
    // The run directory may hold its report: a new run replaces both.
    let again = preflight(&[
        "run",
        tmp.path().join("s.yaml").to_str().unwrap(),
        "--no-remediate",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        !out.join("report.html").exists(),
        "the old report went with the old results"
    );
}

#[test]
fn plots_summarise_so_the_page_does_not_grow_with_the_campaigns() {
    let tmp = tempfile::tempdir().unwrap();
    let small = run(tmp.path(), 20);
    let large = run(tmp.path(), 2000);
    let size = |d: &Path| std::fs::metadata(d.join("report.html")).unwrap().len();
    let (a, b) = (size(&small), size(&large));
    eprintln!("report of 20 campaigns: {a} bytes; of 2000: {b} bytes");
    assert!(b < a * 3 / 2 + 20_000, "{a} → {b} bytes");
    assert!(b < 1_000_000);
}

#[test]
fn report_never_replaces_a_file_it_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), 5);
    let mine = write(tmp.path(), "notes.html", "<html>my notes</html>");
    let o = preflight(&[
        "report",
        out.to_str().unwrap(),
        "--out",
        mine.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not a report Preflight wrote"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(&mine).unwrap(),
        "<html>my notes</html>"
    );
    // An earlier report is replaced.
    let page = tmp.path().join("page.html");
    for _ in 0..2 {
        let o = preflight(&[
            "report",
            out.to_str().unwrap(),
            "--out",
            page.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("report:"), "{}", stdout(&o));
    }
    // A run directory holding someone's report.html is not replaced by a run.
    std::fs::write(out.join("report.html"), "<html>mine</html>").unwrap();
    let o = preflight(&[
        "run",
        tmp.path().join("s.yaml").to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("report.html"), "{}", stderr(&o));
    // Not a run directory.
    let o = preflight(&["report", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a run directory"), "{}", stderr(&o));
}
