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
    local_run_of(file, "300", out)
}

fn local_run_of(file: &Path, campaigns: &str, out: &Path) {
    let o = preflight(&[
        "run",
        file.to_str().unwrap(),
        "--campaigns",
        campaigns,
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
            // Enough ranges that the steady worker is still busy when the
            // frozen one's deadline passes (else it duplicates the frozen
            // range first, which is also right but not what is tested).
            "--campaigns",
            "1000",
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
    local_run_of(Path::new(file), "1000", &local);
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

/// A coordinator with TLS (`--tls-cert`, `--tls-key`) and a CA the test
/// makes: a worker that trusts the CA runs the whole run; one without
/// `--tls-ca`, and one trusting another CA, are turned away with exit 2.
#[test]
fn a_pool_over_tls_runs_and_refuses_workers_that_do_not_trust_the_coordinator() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let tmp = tempfile::tempdir().unwrap();
    let ca = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(tmp.path().join(name), cert.pem()).unwrap();
        Issuer::new(params, key)
    };
    let issuer = ca("ca.pem");
    ca("other-ca.pem");
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(tmp.path().join("coordinator.pem"), cert.pem()).unwrap();
    std::fs::write(tmp.path().join("coordinator.key"), key.serialize_pem()).unwrap();
    let path = |n: &str| tmp.path().join(n).to_str().unwrap().to_owned();

    let file = write(tmp.path(), "small.yaml", SMALL);
    let file = file.to_str().unwrap();
    let out = tmp.path().join("tls");
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
            "60s",
            "--tls-cert",
            &path("coordinator.pem"),
            "--tls-key",
            &path("coordinator.key"),
            "--out",
            out.to_str().unwrap(),
        ],
        SECRET,
    );
    std::thread::sleep(Duration::from_millis(300));
    let plain = spawn(&["worker", "--connect", &addr], SECRET);
    let (code, err) = finish(plain, Duration::from_secs(60));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("a coordinator that uses TLS (give --tls-ca)"),
        "{err}"
    );
    let stranger = spawn(
        &[
            "worker",
            "--connect",
            &addr,
            "--tls-ca",
            &path("other-ca.pem"),
        ],
        SECRET,
    );
    let (code, err) = finish(stranger, Duration::from_secs(60));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("the TLS handshake with the coordinator"),
        "{err}"
    );
    let trusted = spawn(
        &["worker", "--connect", &addr, "--tls-ca", &path("ca.pem")],
        SECRET,
    );
    let (code, err) = finish(coordinator, Duration::from_secs(300));
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("no worker for"), "{err}");
    let (code, werr) = finish(trusted, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{werr}");
    assert_eq!(werr.matches("preflight: worker: job").count(), 12, "{werr}");
    let local = tmp.path().join("local");
    local_run(Path::new(file), &local);
    same_tables(&local, &out);

    // A key that is not PEM is an input error before anything listens.
    std::fs::write(tmp.path().join("bad.key"), "root:*:19000:0:99999:7:::\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_preflight"))
        .args([
            "run",
            file,
            "--cluster",
            &addr,
            "--tls-cert",
            &path("coordinator.pem"),
            "--tls-key",
            &path("bad.key"),
            "--out",
            tmp.path().join("never").to_str().unwrap(),
        ])
        .env("PREFLIGHT_CLUSTER_SECRET", SECRET)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("--tls-key") && !e.contains("root:"), "{e}");
    assert!(!tmp.path().join("never").exists());
}

/// A second worker that connects while the run is under way gets ranges
/// too, and the files are the local run's.
#[test]
fn a_worker_that_joins_mid_run_takes_ranges() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "small.yaml", SMALL);
    let file = file.to_str().unwrap();
    let out = tmp.path().join("joined");
    let addr = format!("127.0.0.1:{}", free_port());
    let coordinator = spawn(
        &[
            "run",
            file,
            "--campaigns",
            "300",
            "--range-size",
            "5",
            "--cluster",
            &addr,
            "--out",
            out.to_str().unwrap(),
        ],
        SECRET,
    );
    std::thread::sleep(Duration::from_millis(300));
    let first = spawn(&["worker", "--connect", &addr, "--threads", "1"], SECRET);
    let parts = tmp.path().join(".joined.parts");
    let start = Instant::now();
    while parts_in(&parts) < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no part arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = parts_in(&parts);
    assert!(
        before < 60,
        "the run finished before the second worker came"
    );
    let second = spawn(&["worker", "--connect", &addr, "--threads", "1"], SECRET);
    let (code, err) = finish(coordinator, Duration::from_secs(300));
    assert_eq!(code, Some(0), "{err}");
    let (_, first_err) = finish(first, Duration::from_secs(30));
    let (_, second_err) = finish(second, Duration::from_secs(30));
    let (a, b) = (
        first_err.matches("preflight: worker: job").count(),
        second_err.matches("preflight: worker: job").count(),
    );
    assert!(b > 0, "the second worker ran nothing: {second_err}");
    assert!(a + b >= 60, "{a} + {b} ranges for 60");
    let local = tmp.path().join("local");
    local_run(Path::new(file), &local);
    same_tables(&local, &out);
}

/// A worker that answers the coordinator's hello with another version
/// (a peer made here: no second build of the binary exists) is refused
/// with the reason, and the run goes on without it.
#[test]
fn a_worker_of_another_version_is_refused_with_the_reason() {
    use ractor::{Actor, ActorProcessingErr, ActorRef};
    use sim_cluster::WorkerMessage;

    struct OtherVersion(std::sync::mpsc::Sender<String>);
    impl Actor for OtherVersion {
        type Msg = WorkerMessage;
        type State = ();
        type Arguments = ();
        async fn pre_start(
            &self,
            myself: ActorRef<WorkerMessage>,
            (): (),
        ) -> Result<(), ActorProcessingErr> {
            ractor::pg::join(sim_cluster::GROUP.to_owned(), vec![myself.get_cell()]);
            Ok(())
        }
        async fn handle(
            &self,
            _: ActorRef<WorkerMessage>,
            msg: WorkerMessage,
            (): &mut (),
        ) -> Result<(), ActorProcessingErr> {
            match msg {
                WorkerMessage::Hello(_, reply) => {
                    let _ = reply.send("0.0.0-other".to_owned());
                }
                WorkerMessage::Refuse(why) => {
                    let _ = self.0.send(why);
                }
                WorkerMessage::Run(..) => panic!("a refused worker was sent a range"),
                WorkerMessage::Fetch(..) | WorkerMessage::Done(_) => {}
            }
            Ok(())
        }
    }

    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "small.yaml", SMALL);
    let file = file.to_str().unwrap();
    let out = tmp.path().join("alone");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    rt.block_on(async {
        let server = ractor_cluster::NodeServer::new(
            0,
            SECRET.to_owned(),
            "other-version".to_owned(),
            "localhost".to_owned(),
            None,
            None,
        )
        .with_listen_addr(std::net::Ipv4Addr::LOCALHOST.into());
        let (node, _) = Actor::spawn(None, server, ()).await.unwrap();
        ractor_cluster::client_connect(&node, addr.as_str())
            .await
            .unwrap();
        Actor::spawn(None, OtherVersion(tx), ()).await.unwrap();
        let why = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
            .await
            .unwrap()
            .expect("the coordinator refused nothing");
        assert!(why.contains("it is Preflight 0.0.0-other"), "{why}");
        assert!(why.contains(env!("CARGO_PKG_VERSION")), "{why}");
    });
    let (code, err) = finish(coordinator, Duration::from_secs(300));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("refused") && err.contains("0.0.0-other"),
        "{err}"
    );
    let local = tmp.path().join("local");
    local_run(Path::new(file), &local);
    same_tables(&local, &out);
}
