//! `preflight worker --connect ADDR`: runs the ranges a coordinator sends.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use sim_engine::error::Error;
use sim_engine::shard::WorkerRun;
use tokio::sync::mpsc;

use crate::protocol::{
    FRAME_LIMIT, FetchRequest, GROUP, PIECE, RangeReply, RangeRequest, WorkerMessage,
};

/// Options of `preflight worker`.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The coordinator's address.
    pub connect: SocketAddr,
    /// The shared secret ([`crate::read_secret`]).
    pub secret: String,
    /// Threads per range (default: all cores).
    pub threads: Option<usize>,
    /// Say nothing but errors.
    pub quiet: bool,
    /// TLS to the coordinator (`--tls-ca`, `--tls-name`).
    pub tls: Option<crate::ClientTls>,
}

/// Why the worker stopped.
enum Stop {
    Refused(String),
}

struct WorkerActor;

struct WorkerState {
    threads: Option<usize>,
    /// Runs planned so far, by run key.
    runs: BTreeMap<String, Arc<WorkerRun>>,
    /// Where parts are built.
    dir: PathBuf,
    /// Parts finished and not yet fetched: name → directory.
    parts: BTreeMap<String, PathBuf>,
    stop: mpsc::UnboundedSender<Stop>,
    quiet: bool,
}

impl Actor for WorkerActor {
    type Msg = WorkerMessage;
    type State = WorkerState;
    type Arguments = WorkerState;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: WorkerState,
    ) -> Result<WorkerState, ActorProcessingErr> {
        ractor::pg::join(GROUP.to_string(), vec![myself.get_cell()]);
        Ok(state)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut WorkerState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            WorkerMessage::Hello(_, reply) => {
                let _ = reply.send(env!("CARGO_PKG_VERSION").to_owned());
            }
            WorkerMessage::Run(json, reply) => {
                let answer = run_range(state, &json).await;
                let _ = reply.send(serde_json::to_string(&answer).expect("a reply serialises"));
            }
            WorkerMessage::Fetch(json, reply) => {
                let _ = reply.send(fetch(state, &json).unwrap_or_default());
            }
            WorkerMessage::Done(part) => {
                if let Some(dir) = state.parts.remove(&part) {
                    let _ = std::fs::remove_dir_all(dir);
                }
            }
            WorkerMessage::Refuse(why) => {
                let _ = state.stop.send(Stop::Refused(why));
            }
        }
        Ok(())
    }
}

/// Runs the range of request `json` on a blocking thread (all cores).
async fn run_range(state: &mut WorkerState, json: &str) -> RangeReply {
    let failed = |e: String| RangeReply {
        part: None,
        files: Vec::new(),
        error: Some(e),
    };
    let req: RangeRequest = match serde_json::from_str(json) {
        Ok(r) => r,
        Err(e) => return failed(format!("input: a range request that does not decode: {e}")),
    };
    let key = req.spec.run_key.clone();
    let run = match state.runs.get(&key) {
        Some(r) => r.clone(),
        None => {
            let (spec, threads) = (req.spec.clone(), state.threads);
            match tokio::task::spawn_blocking(move || WorkerRun::new(spec, threads)).await {
                Ok(Ok(r)) => {
                    let r = Arc::new(r);
                    state.runs.insert(key, r.clone());
                    r
                }
                Ok(Err(e)) => return failed(format!("input: {e}")),
                Err(e) => return failed(format!("internal: {e}")),
            }
        }
    };
    let dir = state.dir.clone();
    let part_key = (req.job, req.range[0], req.range[1]);
    if !state.quiet {
        eprintln!(
            "preflight: worker: job {} campaigns {}..{}",
            req.job, req.range[0], req.range[1]
        );
    }
    let done = tokio::task::spawn_blocking(move || run.run_part(part_key, &dir)).await;
    let path = match done {
        Ok(Ok(p)) => p,
        Ok(Err(e @ Error::Internal(_))) => return failed(format!("internal: {e}")),
        Ok(Err(e)) => return failed(format!("input: {e}")),
        Err(e) => return failed(format!("internal: {e}")),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut files = Vec::new();
    for e in std::fs::read_dir(&path).into_iter().flatten().flatten() {
        let len = e.metadata().map(|m| m.len()).unwrap_or(0);
        files.push((e.file_name().to_string_lossy().into_owned(), len));
    }
    files.sort();
    state.parts.insert(name.clone(), path);
    RangeReply {
        part: Some(name),
        files,
        error: None,
    }
}

/// A piece of a file of a finished part; empty for anything else (the
/// coordinator then finds the hash wrong).
fn fetch(state: &WorkerState, json: &str) -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let req: FetchRequest = serde_json::from_str(json).ok()?;
    let dir = state.parts.get(&req.part)?;
    // Only a file of the part itself: no path separators, no `..`.
    if req.file.contains(['/', '\\']) || req.file.starts_with('.') || req.len > PIECE {
        return None;
    }
    let mut f = std::fs::File::open(dir.join(&req.file)).ok()?;
    f.seek(SeekFrom::Start(req.offset)).ok()?;
    let mut buf = Vec::with_capacity(req.len as usize);
    f.take(req.len).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// Connects to the coordinator and runs what it sends until it closes the
/// connection (exit 0), refuses this worker (exit 2, with its reason) or
/// cannot be reached (exit 3).
pub fn work(opts: &WorkerOptions) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::environment(format!("preflight: worker: a runtime: {e}")))?;
    rt.block_on(work_async(opts))
}

async fn work_async(opts: &WorkerOptions) -> Result<(), Error> {
    let unreachable = |e: String| {
        Error::environment(format!(
            "preflight: worker: the coordinator at {} cannot be reached: {e}",
            opts.connect
        ))
    };
    let server = ractor_cluster::NodeServer::new(
        0,
        opts.secret.clone(),
        format!("preflight-worker-{}", std::process::id()),
        "localhost".to_owned(),
        None,
        None,
    )
    .with_listen_addr(std::net::Ipv4Addr::LOCALHOST.into())
    .with_max_inbound_frame_size(FRAME_LIMIT);
    let (node, node_handle) = Actor::spawn(None, server, ())
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let tls = opts
        .tls
        .as_ref()
        .map(|t| t.connector(opts.connect))
        .transpose()?;
    match tls {
        None => ractor_cluster::client_connect(&node, opts.connect)
            .await
            .map_err(|e| unreachable(e.to_string()))?,
        Some((connector, name)) => {
            ractor_cluster::client_connect_enc(&node, opts.connect, connector, name)
                .await
                .map_err(|e| match e {
                    ractor_cluster::ClientConnectErr::Encryption(e) => Error::input(format!(
                        "preflight: worker: the TLS handshake with the coordinator at {} failed: {e} (is --tls-ca the CA that signed its --tls-cert, and --tls-name a name in that certificate?)",
                        opts.connect
                    )),
                    e => unreachable(e.to_string()),
                })?
        }
    }
    if !authenticated(&node, Duration::from_secs(10)).await {
        node.stop(None);
        let tls = if opts.tls.is_some() {
            "another secret (PREFLIGHT_CLUSTER_SECRET or --secret-file)"
        } else {
            "another secret (PREFLIGHT_CLUSTER_SECRET or --secret-file), a coordinator that uses TLS (give --tls-ca)"
        };
        return Err(Error::input(format!(
            "preflight: worker: the coordinator at {} did not accept this worker: {tls}, or not a Preflight coordinator",
            opts.connect
        )));
    }
    let dir = tempfile::Builder::new()
        .prefix("preflight-worker-")
        .tempdir()
        .map_err(|e| Error::environment(format!("preflight: worker: a work directory: {e}")))?;
    let (stop_tx, mut stop_rx) = mpsc::unbounded_channel();
    let state = WorkerState {
        threads: opts.threads,
        runs: BTreeMap::new(),
        dir: dir.path().to_path_buf(),
        parts: BTreeMap::new(),
        stop: stop_tx,
        quiet: opts.quiet,
    };
    let (actor, actor_handle) = Actor::spawn(None, WorkerActor, state)
        .await
        .map_err(|e| Error::environment(format!("preflight: worker: {e}")))?;
    if !opts.quiet {
        eprintln!(
            "preflight: worker: connected to {}; waiting for ranges",
            opts.connect
        );
    }
    let result = loop {
        tokio::select! {
            Some(Stop::Refused(why)) = stop_rx.recv() => {
                break Err(Error::input(format!("preflight: worker: the coordinator refused this worker: {why}")));
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                if !has_session(&node).await {
                    if !opts.quiet {
                        eprintln!("preflight: worker: the coordinator closed the connection; done");
                    }
                    break Ok(());
                }
            }
        }
    };
    actor.stop(None);
    node.stop(None);
    let _ = actor_handle.await;
    let _ = node_handle.await;
    result
}

/// Whether the node has a session with a peer.
async fn has_session(node: &ActorRef<ractor_cluster::NodeServerMessage>) -> bool {
    ractor::call_t!(node, ractor_cluster::NodeServerMessage::GetSessions, 2000)
        .map(|s| !s.is_empty())
        .unwrap_or(false)
}

/// Waits until the session with the coordinator is authenticated; `false`
/// when it is closed or `limit` passes first.
async fn authenticated(
    node: &ActorRef<ractor_cluster::NodeServerMessage>,
    limit: Duration,
) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Ok(sessions) =
            ractor::call_t!(node, ractor_cluster::NodeServerMessage::GetSessions, 500)
        {
            for s in sessions.values() {
                if let Ok(true) = ractor::call_t!(
                    s.actor,
                    ractor_cluster::NodeSessionMessage::GetAuthenticationState,
                    500
                ) {
                    return true;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
