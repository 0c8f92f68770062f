//! `preflight run SCENARIO --cluster ADDR`: hands the run's ranges to the
//! workers that connect, collects their parts, then finishes the run.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorId, ActorRef};
use sim_engine::error::Error;
use sim_engine::job::{RunOptions, RunOutcome};
use sim_engine::parts::{self, PartKey, RunSpec};
use sim_engine::shard::Parts;
use tokio::sync::mpsc;

use crate::protocol::{
    FRAME_LIMIT, FetchRequest, GROUP, PIECE, RangeReply, RangeRequest, WorkerMessage, part_tempdir,
};

/// Options of the coordinator.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Where to listen (`--cluster`; loopback unless told otherwise).
    pub listen: SocketAddr,
    /// The shared secret ([`crate::read_secret`]).
    pub secret: String,
    /// The shortest deadline of a range (`--range-timeout`); a range's
    /// deadline is this plus ten times what its campaigns took on average
    /// so far.
    pub range_timeout: Duration,
    /// With no worker for this long, the rest of the run goes to local
    /// threads (`--cluster-wait`).
    pub wait: Duration,
    /// TLS on the workers' connections (`--tls-cert`, `--tls-key`).
    pub tls: Option<crate::ServerTls>,
}

/// A worker as the coordinator sees it.
struct Worker {
    actor: ActorRef<WorkerMessage>,
    name: String,
    state: WorkerState,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum WorkerState {
    /// Said hello; the version is being checked.
    Greeting,
    Idle,
    Busy,
    /// Missed a deadline (frozen or far too slow): never used again.
    Lost,
    /// Another version, or failed to plan the run.
    Refused,
}

/// What a worker did with a range.
enum Event {
    Hello(ActorId, Result<String, String>),
    Done {
        worker: ActorId,
        key: PartKey,
        result: Result<PathBuf, Failure>,
        secs: f64,
    },
}

enum Failure {
    /// No answer by the range's deadline (a frozen or far too slow
    /// worker): never use it again, queue the range again.
    Late,
    /// Disconnected, or a transport error: queue the range again.
    Lost(String),
    /// The worker cannot run this run (`input: …`): refuse it, queue again.
    Refuse(String),
    /// A bug: fail the run.
    Internal(String),
}

/// Runs `opts` on the worker pool, then finishes it as a local run whose
/// ranges are all done (or, with no worker for [`ClusterOptions::wait`],
/// runs the rest locally).
pub fn run(opts: &RunOptions, c: &ClusterOptions) -> Result<RunOutcome, Error> {
    let tls = c.tls.as_ref().map(crate::ServerTls::acceptor).transpose()?;
    let plan = sim_engine::shard::plan_ranges(opts)?;
    let resume = matches!(opts.parts, Parts::Resume);
    let dir = plan.parts_dir.clone();
    if !resume && dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| Error::environment(format!("preflight: {}: {e}", dir.display())))?;
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::environment(format!("preflight: {}: {e}", dir.display())))?;
    let found = parts::scan(&dir, &plan.spec.run_key, false)?;
    let todo: VecDeque<(PartKey, String)> = plan
        .ranges
        .iter()
        .filter(|(k, _)| !found.contains_key(k))
        .cloned()
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::environment(format!("preflight: --cluster: a runtime: {e}")))?;
    let progress = !opts.quiet;
    rt.block_on(coordinate(&plan.spec, todo, &dir, c, tls, progress))?;
    drop(rt);
    let mut local = opts.clone();
    local.parts = Parts::Filled;
    sim_engine::job::execute(&local)
}

/// The deadline of a range of `n` campaigns.
fn deadline(c: &ClusterOptions, per_campaign: Option<f64>, n: u64) -> Duration {
    c.range_timeout + Duration::from_secs_f64(10.0 * per_campaign.unwrap_or(0.0) * n as f64)
}

async fn coordinate(
    spec: &RunSpec,
    mut queue: VecDeque<(PartKey, String)>,
    dir: &Path,
    c: &ClusterOptions,
    tls: Option<tokio_rustls::TlsAcceptor>,
    progress: bool,
) -> Result<(), Error> {
    if queue.is_empty() {
        return Ok(());
    }
    let server = ractor_cluster::NodeServer::new(
        c.listen.port(),
        c.secret.clone(),
        "preflight-coordinator".to_owned(),
        "localhost".to_owned(),
        tls.map(ractor_cluster::IncomingEncryptionMode::Tls),
        None,
    )
    .with_listen_addr(c.listen.ip())
    .with_max_inbound_frame_size(FRAME_LIMIT);
    let (node, node_handle) = Actor::spawn(None, server, ())
        .await
        .map_err(|e| Error::environment(format!("preflight: --cluster {}: {e}", c.listen)))?;
    if progress {
        eprintln!(
            "preflight: coordinator on {}: {} ranges to hand out; start workers with `preflight worker --connect {}` (the same PREFLIGHT_CLUSTER_SECRET)",
            c.listen,
            queue.len(),
            c.listen
        );
    }
    let total: u64 = queue.iter().map(|((_, a, b), _)| b - a).sum();
    let bar = sim_engine::progress::Task::start("cluster campaigns", total, progress);
    let names: BTreeMap<PartKey, String> = queue.iter().cloned().collect();
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let mut workers: BTreeMap<ActorId, Worker> = BTreeMap::new();
    // Range → workers running it (more than one: a duplicate).
    let mut running: BTreeMap<PartKey, Vec<(ActorId, Instant)>> = BTreeMap::new();
    let mut done: BTreeMap<PartKey, String> = BTreeMap::new();
    let mut per_campaign: Option<f64> = None;
    let mut last_worker = Instant::now();
    let ranges = names.len();
    let result = loop {
        // Done when every range is in: a duplicate still running elsewhere
        // is not waited for.
        if done.len() == ranges {
            break Ok(());
        }
        // Workers that joined, and workers gone from the group.
        let members: Vec<ActorCell> = ractor::pg::get_members(&GROUP.to_string());
        let ids: BTreeSet<ActorId> = members.iter().map(|m| m.get_id()).collect();
        for m in members {
            let id = m.get_id();
            if workers.contains_key(&id) || id.is_local() {
                continue;
            }
            let actor = ActorRef::<WorkerMessage>::from(m);
            let name = format!("worker {id}");
            if progress {
                eprintln!("preflight: coordinator: {name} joined");
            }
            let (a, t) = (actor.clone(), tx.clone());
            tokio::spawn(async move {
                let v = ractor::call_t!(
                    a,
                    WorkerMessage::Hello,
                    5000,
                    env!("CARGO_PKG_VERSION").to_owned()
                );
                let _ = t.send(Event::Hello(id, v.map_err(|e| e.to_string())));
            });
            workers.insert(
                id,
                Worker {
                    actor,
                    name,
                    state: WorkerState::Greeting,
                },
            );
        }
        for (id, w) in workers.iter_mut() {
            if !ids.contains(id) && !matches!(w.state, WorkerState::Lost | WorkerState::Refused) {
                eprintln!(
                    "preflight: coordinator: {} left; its range goes to another worker",
                    w.name
                );
                w.state = WorkerState::Lost;
                requeue_worker(*id, &mut running, &mut queue, &names, &done);
            }
        }
        // Deadlines: a worker that stops answering raises no event.
        let now = Instant::now();
        let mut late = Vec::new();
        for (key, runs) in &running {
            for (id, started) in runs {
                if now.duration_since(*started) > deadline(c, per_campaign, key.2 - key.1) {
                    late.push((*id, *key));
                }
            }
        }
        for (id, key) in late {
            if let Some(w) = workers.get_mut(&id) {
                say_late(&w.name, key);
                w.state = WorkerState::Lost;
            }
            requeue_worker(id, &mut running, &mut queue, &names, &done);
        }
        // Hand out work: the queue first; once it is empty, an idle worker
        // duplicates the range that has run longest on one worker alone.
        let mut ready = 0;
        for (id, w) in workers.iter_mut() {
            if w.state != WorkerState::Idle {
                continue;
            }
            ready += 1;
            let key = match queue.pop_front() {
                Some((k, _)) => Some(k),
                None => running
                    .iter()
                    .filter(|(k, r)| r.len() == 1 && r[0].0 != *id && !done.contains_key(*k))
                    .min_by_key(|(_, r)| r[0].1)
                    .map(|(k, _)| *k),
            };
            let Some(key) = key else { continue };
            running.entry(key).or_default().push((*id, Instant::now()));
            w.state = WorkerState::Busy;
            let req = RangeRequest {
                spec: spec.clone(),
                job: key.0,
                range: [key.1, key.2],
            };
            let (actor, t, dir, limit) = (
                w.actor.clone(),
                tx.clone(),
                dir.to_path_buf(),
                deadline(c, per_campaign, key.2 - key.1),
            );
            let worker = *id;
            tokio::spawn(async move {
                let start = Instant::now();
                let result = fetch_range(&actor, &req, &dir, limit).await;
                let _ = t.send(Event::Done {
                    worker,
                    key,
                    result,
                    secs: start.elapsed().as_secs_f64(),
                });
            });
        }
        let busy = workers
            .values()
            .filter(|w| w.state == WorkerState::Busy)
            .count();
        if ready + busy > 0 {
            last_worker = Instant::now();
        } else if last_worker.elapsed() > c.wait {
            eprintln!(
                "preflight: coordinator: no worker for {:.0} s; the {} ranges left run on this machine's threads",
                c.wait.as_secs_f64(),
                queue.len() + running.len()
            );
            break Ok(());
        }
        let event = tokio::select! {
            e = rx.recv() => e,
            _ = tokio::time::sleep(Duration::from_millis(200)) => None,
        };
        match event {
            None => {}
            Some(Event::Hello(id, v)) => {
                let Some(w) = workers.get_mut(&id) else {
                    continue;
                };
                match v {
                    Ok(v) if v == env!("CARGO_PKG_VERSION") => w.state = WorkerState::Idle,
                    Ok(v) => {
                        let why = format!(
                            "it is Preflight {v}, the coordinator {}: results must come from one version",
                            env!("CARGO_PKG_VERSION")
                        );
                        eprintln!("preflight: coordinator: refused {}: {why}", w.name);
                        let _ = w.actor.cast(WorkerMessage::Refuse(why));
                        w.state = WorkerState::Refused;
                    }
                    Err(e) => {
                        eprintln!(
                            "preflight: coordinator: {} did not answer hello: {e}",
                            w.name
                        );
                        w.state = WorkerState::Lost;
                    }
                }
            }
            Some(Event::Done {
                worker,
                key,
                result,
                secs,
            }) => {
                if let Some(r) = running.get_mut(&key) {
                    r.retain(|(id, _)| *id != worker);
                    if r.is_empty() {
                        running.remove(&key);
                    }
                }
                let name = workers
                    .get(&worker)
                    .map_or("a worker".into(), |w| w.name.clone());
                if let Some(w) = workers.get_mut(&worker)
                    && w.state == WorkerState::Busy
                {
                    w.state = WorkerState::Idle;
                }
                match result {
                    Ok(tmp) => match accept(&tmp, dir, key, &name, &done) {
                        Ok(true) => {
                            let n = key.2 - key.1;
                            per_campaign = Some(
                                per_campaign
                                    .map_or(secs / n as f64, |p: f64| p.max(secs / n as f64)),
                            );
                            bar.inc(n);
                            done.insert(key, name);
                            // A duplicate still running elsewhere is no longer needed.
                            queue.retain(|(k, _)| *k != key);
                        }
                        Ok(false) => {}
                        Err(e) => break Err(e),
                    },
                    Err(Failure::Late) => {
                        if let Some(w) = workers.get_mut(&worker) {
                            w.state = WorkerState::Lost;
                        }
                        say_late(&name, key);
                        requeue(key, &mut queue, &names, &done, &running);
                    }
                    Err(Failure::Lost(why)) => {
                        if let Some(w) = workers.get_mut(&worker)
                            && w.state != WorkerState::Refused
                        {
                            w.state = WorkerState::Lost;
                        }
                        eprintln!(
                            "preflight: coordinator: {name} lost campaigns {}..{} of job {} ({why}); queued again",
                            key.1, key.2, key.0
                        );
                        requeue(key, &mut queue, &names, &done, &running);
                    }
                    Err(Failure::Refuse(why)) => {
                        eprintln!("preflight: coordinator: refused {name}: {why}");
                        if let Some(w) = workers.get_mut(&worker) {
                            let _ = w.actor.cast(WorkerMessage::Refuse(why));
                            w.state = WorkerState::Refused;
                        }
                        requeue(key, &mut queue, &names, &done, &running);
                    }
                    Err(Failure::Internal(why)) => {
                        break Err(Error::Internal(format!(
                            "preflight: {name} failed campaigns {}..{} of job {}: {why}",
                            key.1, key.2, key.0
                        )));
                    }
                }
            }
        }
    };
    bar.finish_and_clear();
    node.stop(None);
    let _ = node_handle.await;
    result
}

/// Says that `worker` missed the deadline of range `key` (the deadline
/// check of the loop or the call's own timeout, whichever sees it first).
fn say_late(worker: &str, key: PartKey) {
    eprintln!(
        "preflight: coordinator: {worker} missed the deadline of campaigns {}..{} of job {}; the range goes to another worker",
        key.1, key.2, key.0
    );
}

/// Queues `key` again unless it is done or still running elsewhere.
fn requeue(
    key: PartKey,
    queue: &mut VecDeque<(PartKey, String)>,
    names: &BTreeMap<PartKey, String>,
    done: &BTreeMap<PartKey, String>,
    running: &BTreeMap<PartKey, Vec<(ActorId, Instant)>>,
) {
    if done.contains_key(&key) || running.contains_key(&key) || queue.iter().any(|(k, _)| *k == key)
    {
        return;
    }
    queue.push_front((key, names.get(&key).cloned().unwrap_or_default()));
}

/// Takes every range off worker `id` and queues those no other worker runs.
fn requeue_worker(
    id: ActorId,
    running: &mut BTreeMap<PartKey, Vec<(ActorId, Instant)>>,
    queue: &mut VecDeque<(PartKey, String)>,
    names: &BTreeMap<PartKey, String>,
    done: &BTreeMap<PartKey, String>,
) {
    let keys: Vec<PartKey> = running
        .iter()
        .filter(|(_, r)| r.iter().any(|(w, _)| *w == id))
        .map(|(k, _)| *k)
        .collect();
    for k in keys {
        if let Some(r) = running.get_mut(&k) {
            r.retain(|(w, _)| *w != id);
            if r.is_empty() {
                running.remove(&k);
            }
        }
        requeue(k, queue, names, done, running);
    }
}

/// Asks `worker` to run the range, then fetches its part into a temporary
/// directory under `dir`, piece by piece.
async fn fetch_range(
    worker: &ActorRef<WorkerMessage>,
    req: &RangeRequest,
    dir: &Path,
    limit: Duration,
) -> Result<PathBuf, Failure> {
    let json = serde_json::to_string(req).expect("a request serialises");
    let asked = Instant::now();
    // ractor_cluster times a remote call out on its side too, by dropping
    // its reply port: "channel closed" at the deadline is the deadline.
    let reply = ractor::call_t!(worker, WorkerMessage::Run, limit.as_millis() as u64, json)
        .map_err(|e| match e {
            ractor::RactorErr::Timeout => Failure::Late,
            _ if asked.elapsed() >= limit.mul_f64(0.95) => Failure::Late,
            e => Failure::Lost(e.to_string()),
        })?;
    let reply: RangeReply = serde_json::from_str(&reply)
        .map_err(|e| Failure::Lost(format!("a reply that does not decode: {e}")))?;
    if let Some(e) = reply.error {
        return Err(match e.strip_prefix("internal: ") {
            Some(why) => Failure::Internal(why.to_owned()),
            None => Failure::Refuse(e.trim_start_matches("input: ").to_owned()),
        });
    }
    let part = reply
        .part
        .ok_or_else(|| Failure::Lost("a reply without a part".into()))?;
    let tmp = part_tempdir(dir).map_err(|e| Failure::Internal(e.to_string()))?;
    let result = async {
        for (file, len) in &reply.files {
            if file.contains(['/', '\\']) || file.starts_with('.') {
                return Err(Failure::Lost(format!("a part file named {file:?}")));
            }
            let mut bytes = Vec::with_capacity(*len as usize);
            let mut offset = 0;
            while offset < *len {
                let n = PIECE.min(len - offset);
                let fetch = serde_json::to_string(&FetchRequest {
                    part: part.clone(),
                    file: file.clone(),
                    offset,
                    len: n,
                })
                .expect("a request serialises");
                let piece = ractor::call_t!(worker, WorkerMessage::Fetch, 30_000, fetch)
                    .map_err(|e| Failure::Lost(e.to_string()))?;
                if piece.len() as u64 != n {
                    return Err(Failure::Lost(format!(
                        "{file}: a piece of {} bytes, not {n}",
                        piece.len()
                    )));
                }
                bytes.extend_from_slice(&piece);
                offset += n;
            }
            std::fs::write(tmp.join(file), &bytes).map_err(|e| Failure::Internal(e.to_string()))?;
        }
        Ok(())
    }
    .await;
    let _ = worker.cast(WorkerMessage::Done(part));
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

/// Checks the part fetched into `tmp` and renames it into place. `false`:
/// the range was done already and this copy is the same (kept once); an
/// error when it differs, naming both workers.
fn accept(
    tmp: &Path,
    dir: &Path,
    key: PartKey,
    worker: &str,
    done: &BTreeMap<PartKey, String>,
) -> Result<bool, Error> {
    let m = parts::read_manifest(tmp)?;
    let check = || -> Result<(), Error> {
        if (m.job, m.range[0], m.range[1]) != key {
            return Err(Error::Internal(format!(
                "preflight: {worker} sent job {} campaigns {}..{} for job {} campaigns {}..{}",
                m.job, m.range[0], m.range[1], key.0, key.1, key.2
            )));
        }
        for (name, want) in &m.files {
            let bytes = std::fs::read(tmp.join(name))
                .map_err(|e| Error::environment(format!("preflight: {}: {e}", tmp.display())))?;
            if &sim_engine::provenance::sha256(&bytes) != want {
                return Err(Error::Internal(format!(
                    "preflight: {worker}: {name} of campaigns {}..{} of job {} does not match its manifest",
                    key.1, key.2, key.0
                )));
            }
        }
        Ok(())
    };
    let checked = check();
    let dest = dir.join(parts::part_dir_name(key));
    let outcome = match checked {
        Err(e) => Err(e),
        Ok(()) if dest.is_dir() => {
            let first = parts::read_manifest(&dest)?;
            if first.files == m.files {
                tracing::info!(?key, worker, "a range came back twice, the same: kept once");
                Ok(false)
            } else {
                Err(Error::Internal(format!(
                    "preflight: campaigns {}..{} of job {} came back twice with different results, from {} and from {worker}: a determinism bug; please report it",
                    key.1,
                    key.2,
                    key.0,
                    done.get(&key).map_or("an earlier run", |s| s.as_str())
                )))
            }
        }
        Ok(()) => std::fs::rename(tmp, &dest)
            .map(|()| true)
            .map_err(|e| Error::environment(format!("preflight: {}: {e}", dest.display()))),
    };
    if tmp.exists() {
        let _ = std::fs::remove_dir_all(tmp);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A part of range `key` holding one file with `content`, in a
    /// temporary directory under `root` (as a fetch leaves it).
    fn part(root: &Path, key: PartKey, content: &[u8]) -> PathBuf {
        let tmp = part_tempdir(root).unwrap();
        std::fs::write(tmp.join("campaigns.parquet"), content).unwrap();
        let m = parts::PartManifest {
            format: parts::FORMAT,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            run_key: "k".into(),
            job: key.0,
            job_name: "base/natural".into(),
            range: [key.1, key.2],
            rows: BTreeMap::new(),
            files: [(
                "campaigns.parquet".to_owned(),
                sim_engine::provenance::sha256(content),
            )]
            .into(),
        };
        std::fs::write(tmp.join("part.json"), serde_json::to_vec(&m).unwrap()).unwrap();
        tmp
    }

    #[test]
    fn a_range_that_comes_back_twice_is_kept_once_when_the_same_and_fails_the_run_when_not() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        let key = (0, 10, 20);
        let mut done = BTreeMap::new();
        let first = part(dir, key, b"rows");
        assert!(accept(&first, dir, key, "worker 1.5", &done).unwrap());
        done.insert(key, "worker 1.5".to_owned());
        let dest = dir.join(parts::part_dir_name(key));
        assert!(dest.join("part.json").is_file() && !first.exists());

        let same = part(dir, key, b"rows");
        assert!(!accept(&same, dir, key, "worker 2.5", &done).unwrap());
        assert!(!same.exists(), "the second copy is dropped");

        let other = part(dir, key, b"other rows");
        let e = accept(&other, dir, key, "worker 3.5", &done)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("came back twice with different results")
                && e.contains("from worker 1.5 and from worker 3.5")
                && e.contains("campaigns 10..20 of job 0"),
            "{e}"
        );
        assert!(!other.exists());
        assert_eq!(
            std::fs::read(dest.join("campaigns.parquet")).unwrap(),
            b"rows",
            "the first copy stays"
        );
    }

    #[test]
    fn a_part_whose_file_does_not_match_its_manifest_or_range_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        let done = BTreeMap::new();
        let damaged = part(dir, (0, 0, 5), b"rows");
        std::fs::write(damaged.join("campaigns.parquet"), b"rowz").unwrap();
        let e = accept(&damaged, dir, (0, 0, 5), "worker 1.5", &done)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not match its manifest"), "{e}");
        let elsewhere = part(dir, (0, 5, 10), b"rows");
        let e = accept(&elsewhere, dir, (1, 5, 10), "worker 1.5", &done)
            .unwrap_err()
            .to_string();
        assert!(e.contains("sent job 0 campaigns 5..10 for job 1"), "{e}");
        assert_eq!(parts_dirs(dir), 0, "nothing was kept");
    }

    fn parts_dirs(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                !e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .count()
    }
}
