//! Memory and work bounds through the binary (`docs/limits.md`): the known
//! repros of runs that grew until the kernel killed them, or never ended,
//! now end quickly with a clear message or a documented degraded result.
//! Caps are kept small with `--max-memory` so the tests stay cheap.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{preflight, stderr};

/// Runs the binary and follows its peak resident memory (`VmHWM` of
/// `/proc/<pid>/status`, Linux) until it exits: (output, peak bytes).
fn preflight_peak(args: &[&str]) -> (Output, Option<u64>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_preflight"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let status = format!("/proc/{}/status", child.id());
    let mut peak = None;
    let start = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(&status)
            && let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        {
            peak = Some(peak.unwrap_or(0).max(kb * 1024));
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "still running after 5 minutes: not bounded"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (child.wait_with_output().expect("output"), peak)
}

/// `scenarios/mm1.yaml` at another arrival rate (requests per second).
fn mm1_at(dir: &Path, rate: &str) -> PathBuf {
    let src = std::fs::read_to_string(format!("{}/scenarios/mm1.yaml", env!("CARGO_MANIFEST_DIR")))
        .expect("mm1.yaml");
    let p = dir.join(format!("mm1-{rate}.yaml"));
    std::fs::write(&p, src.replace("rate: 800/s", &format!("rate: {rate}/s"))).unwrap();
    p
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

/// The first repro: an M/M/1 at 2,000,000 requests/s over 10 s
/// grew to 24 GB under the default `--scale auto` (two-scale: its healthy
/// baseline was 30 minutes of an ever-growing queue). Now the baseline is
/// cut to a bounded number of requests and the queue to the in-flight cap:
/// it finishes, every request over the cap is an error, and the process
/// stays within its memory limit.
#[test]
fn two_million_per_second_is_refused_or_bounded_not_killed() {
    let dir = tempfile::tempdir().unwrap();
    let s = mm1_at(dir.path(), "2000000");
    let out = dir.path().join("run");
    let start = Instant::now();
    let (o, peak) = preflight_peak(&[
        "run",
        s.to_str().unwrap(),
        "--campaigns",
        "2",
        "--threads",
        "2",
        "--max-memory",
        "160MiB",
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        start.elapsed() < Duration::from_secs(240),
        "took {:?}",
        start.elapsed()
    );
    let m = manifest(&out);
    assert_eq!(m["scale"], "two-scale");
    let limits = &m["limits"];
    let cap = limits["in_flight_cap"][0]["cap"].as_u64().unwrap();
    assert!(
        (sim_models::limits::MIN_IN_FLIGHT_CAP..sim_models::limits::DEFAULT_IN_FLIGHT_CAP)
            .contains(&cap),
        "--max-memory 160MiB lowers the cap: {cap}"
    );
    assert!(limits["refused_over_cap"].as_u64().unwrap() > 1_000_000);
    assert_eq!(limits["max_memory"], 160u64 << 20);
    assert!(limits["memory_bound"].as_u64().unwrap() <= 160 << 20);
    assert!(stderr(&o).contains("refused because a campaign held as many requests"));
    if let Some(peak) = peak {
        assert!(
            peak <= 160 << 20,
            "peak resident memory {peak} bytes over --max-memory"
        );
    }
}

/// 20 million requests/s: the two-scale baseline's warm-up alone would
/// hold 200 million requests. Refused before anything runs, with the numbers.
#[test]
fn twenty_million_per_second_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let s = mm1_at(dir.path(), "20000000");
    let out = dir.path().join("run");
    let o = preflight(&["run", s.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("cannot finish in bounded work"), "{e}");
    assert!(
        e.contains("healthy baseline alone simulates 220 million requests"),
        "{e}"
    );
    assert!(!out.exists(), "no partial result");
}

/// A billion requests/s: `--scale request` used to recommend the two-scale
/// method, which never finished. Both are refused now, and the message
/// does not send the user from one to the other.
#[test]
fn billion_per_second_is_refused_at_every_scale() {
    let dir = tempfile::tempdir().unwrap();
    let s = mm1_at(dir.path(), "1000000000");
    for scale in ["request", "two-scale", "auto"] {
        let o = preflight(&["run", s.to_str().unwrap(), "--scale", scale, "-q"]);
        assert_eq!(o.status.code(), Some(2), "{scale}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("10020 million requests"), "{scale}: {e}");
        assert!(!e.contains("Use `--scale two-scale`"), "{scale}: {e}");
    }
}

/// `retry.max_attempts: 1000000000` with a timeout shorter than the service
/// time never drained. Validation refuses it, naming the field and line.
#[test]
fn billion_retries_are_rejected_by_validation() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("retries.yaml");
    std::fs::write(
        &p,
        "name: retries\nhorizon: 10s\nresources:\n  - { id: server, type: service, concurrency: 64, failure_modes: [] }\n  - { id: db, type: database, concurrency: 8, service_time: { dist: constant, value: 10ms }, failure_modes: [] }\nhandlers:\n  - id: queue\n    runs_on: server\n    operations:\n      - name: serve\n        steps:\n          - call: db\n            timeout: 1ms\n            retry: { max_attempts: 1000000000 }\nworkload:\n  - { handler: queue, arrivals: { process: poisson, rate: 800/s } }\n",
    )
    .unwrap();
    for cmd in ["validate", "run"] {
        let o = preflight(&[cmd, p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{cmd}");
        let e = stderr(&o);
        assert!(
            e.contains("retries.yaml:14:")
                && e.contains("handlers[0].operations[0].steps[0].retry.max_attempts")
                && e.contains("at most 100 attempts, got 1000000000"),
            "{cmd}: {e}"
        );
    }
}

/// A queue overloaded for the whole window (99 million requests into one
/// server aborted at 6 GB): with the cap, the queue holds at most the cap,
/// requests over it are errors, and the rows are the same whatever the
/// thread count (the cap depends on the scenario and `--max-memory`, not
/// on how many campaigns run at once).
#[test]
fn overloaded_queue_memory_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let s = mm1_at(dir.path(), "50000");
    let mut rows = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.path().join(format!("run-{threads}"));
        let o = preflight(&[
            "run",
            s.to_str().unwrap(),
            "--campaigns",
            "3",
            "--threads",
            threads,
            "--max-memory",
            "70MiB",
            "--scale",
            "request",
            "--no-remediate",
            "-q",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let m = manifest(&out);
        let cap = m["limits"]["in_flight_cap"][0]["cap"].as_u64().unwrap();
        assert!(cap < 20_000, "cap {cap}");
        // 50,000/s for 10 s into a server of 1,000/s: all but the cap and
        // what it serves are refused.
        let refused = m["limits"]["refused_over_cap"].as_u64().unwrap();
        assert!(refused > 3 * 400_000, "refused {refused}");
        assert_eq!(m["limits"]["max_memory"], 70u64 << 20);
        rows.push(std::fs::read(out.join("campaigns.parquet")).unwrap());
    }
    assert_eq!(rows[0], rows[1], "same rows with 1 and 2 threads");
}

/// A `--max-memory` too small for even the smallest in-flight cap is
/// refused with the numbers: which variant, which term, what to change.
#[test]
fn max_memory_below_one_campaign_is_refused_with_the_numbers() {
    let s = format!("{}/scenarios/mm1.yaml", env!("CARGO_MANIFEST_DIR"));
    let o = preflight(&["run", &s, "--max-memory", "64.5MiB", "-q"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("memory: variant `base`")
            && e.contains("the largest term is in-flight requests"),
        "{e}"
    );
    let o = preflight(&["run", &s, "--max-memory", "lots", "-q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--max-memory"), "{}", stderr(&o));
}

/// When the bound of the threads asked for is over the limit, fewer
/// campaigns run at once (the rows do not depend on it).
#[test]
fn fewer_threads_run_when_memory_is_short() {
    let dir = tempfile::tempdir().unwrap();
    let s = mm1_at(dir.path(), "800");
    let out = dir.path().join("run");
    let o = preflight(&[
        "run",
        s.to_str().unwrap(),
        "--campaigns",
        "4",
        "--threads",
        "64",
        "--max-memory",
        "2GiB",
        "--no-remediate",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = manifest(&out);
    let at_once = m["limits"]["threads_at_once"].as_u64().unwrap();
    assert!((1..64).contains(&at_once), "{at_once}");
    assert_eq!(m["threads"], at_once);
    assert!(m["limits"]["memory_bound"].as_u64().unwrap() <= 2 << 30);
    assert_eq!(m["limits"]["refused_over_cap"], 0);
    assert!(
        stderr(&o).contains("campaigns at once instead of 64"),
        "{}",
        stderr(&o)
    );
}
