//! The worker pool on 127.0.0.1 (docs/distributed.md): a coordinator and
//! worker processes give the files of a local run, whatever happens to the
//! workers — one killed with SIGKILL, one stopped with SIGSTOP mid-run; a
//! worker with another secret is refused; with no worker the coordinator
//! runs the ranges itself.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{SMALL, preflight, stderr, write};

const SECRET: &str = "a-test-secret-of-some-length";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(args: &[&str], secret: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_preflight"))
        .args(args)
        .env("PREFLIGHT_CLUSTER_SECRET", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn parts_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('j')
        })
        .count()
    })
}

fn same_tables(a: &Path, b: &Path) {
    for t in [
        "campaigns.parquet",
        "handlers.parquet",
        "risk.parquet",
        "remediations.parquet",
    ] {
        assert!(
            std::fs::read(a.join(t)).unwrap() == std::fs::read(b.join(t)).unwrap(),
            "{t} differs"
        );
    }
}

/// Waits for `child` for at most `limit`; its exit code and stderr.
fn finish(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn local_run(file: &Path, out: &Path) {
    let o = preflight(&[
        "run",
        file.to_str().unwrap(),
        "--campaigns",
        "300",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_pool_with_a_killed_and_a_frozen_worker_gives_the_local_run_s_files() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "small.yaml", SMALL);
    let file = file.to_str().unwrap();
    let out: PathBuf = tmp.path().join("pooled");
    let addr = format!("127.0.0.1:{}", free_port());
    let coordinator = spawn(
        &[
            "run",
            file,
            "--campaigns",
            "300",
            "--range-size",
            "5",
            "--threads",
            "1",
            "--cluster",
            &addr,
            "--range-timeout",
            "3s",
            "--out",
            out.to_str().unwrap(),
        ],
        SECRET,
    );
    std::thread::sleep(Duration::from_millis(300));
    let worker = || spawn(&["worker", "--connect", &addr, "--threads", "1"], SECRET);
    let (mut killed, frozen, steady) = (worker(), worker(), worker());
    // Mid-run: one worker killed; a few ranges later, one stopped (which
    // raises no event: its deadline catches it).
    let parts = tmp.path().join(".pooled.parts");
    let wait_for = |n: usize| {
        let start = Instant::now();
        while parts_in(&parts) < n {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no part arrived"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(4);
    killed.kill().unwrap();
    let stop = |sig: &str| {
        Command::new("kill")
            .args([sig, &frozen.id().to_string()])
            .status()
            .unwrap()
    };
    wait_for(12);
    assert!(stop("-STOP").success());
    let (code, err) = finish(coordinator, Duration::from_secs(300));
    assert!(stop("-CONT").success());
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("left; its range goes to another worker") || err.contains("lost campaigns"),
        "{err}"
    );
    assert!(err.contains("missed the deadline"), "{err}");
    let _ = killed.wait();
    let (code, _) = finish(steady, Duration::from_secs(30));
    assert_eq!(code, Some(0));
    let (code, _) = finish(frozen, Duration::from_secs(30));
    assert_eq!(code, Some(0));
    let local = tmp.path().join("local");
    local_run(Path::new(file), &local);
    same_tables(&local, &out);
}

#[test]
fn a_worker_with_another_secret_is_refused_and_no_worker_means_local_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "small.yaml", SMALL);
    let file = file.to_str().unwrap();
    let out = tmp.path().join("alone");
    let addr = format!("127.0.0.1:{}", free_port());
    let coordinator = spawn(
        &[
            "run",
            file,
            "--campaigns",
            "300",
            "--range-size",
            "50",
            "--cluster",
            &addr,
            "--cluster-wait",
            "3s",
            "--out",
            out.to_str().unwrap(),
        ],
        SECRET,
    );
    std::thread::sleep(Duration::from_millis(300));
    let intruder = spawn(
        &["worker", "--connect", &addr],
        "not-the-secret-at-all-0000",
    );
    let (code, err) = finish(intruder, Duration::from_secs(60));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("did not accept this worker"), "{err}");
    let (code, err) = finish(coordinator, Duration::from_secs(300));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("no worker for 3 s"), "{err}");
    let local = tmp.path().join("local");
    local_run(Path::new(file), &local);
    same_tables(&local, &out);
    // A secret too short, or none, is refused before anything starts.
    let o = Command::new(env!("CARGO_BIN_EXE_preflight"))
        .args(["worker", "--connect", &addr])
        .env_remove("PREFLIGHT_CLUSTER_SECRET")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("PREFLIGHT_CLUSTER_SECRET"));
}
