//! What the coordinator and its workers say to each other.
//!
//! Every message carries plain strings or bytes, decoded here with errors
//! rather than by ractor's blanket serde (which panics on bytes it cannot
//! decode); frames are capped at [`FRAME_LIMIT`] by the node servers before
//! anything is decoded, and part files travel in [`PIECE`]-sized pieces.

use std::path::{Path, PathBuf};

use ractor::RpcReplyPort;
use ractor_cluster::RactorClusterMessage;
use serde::{Deserialize, Serialize};
use sim_engine::error::Error;
use sim_engine::parts::RunSpec;

/// The process group workers join and the coordinator reads.
pub const GROUP: &str = "preflight-workers";

/// Largest frame a node server accepts (ractor_cluster's default, set
/// explicitly): a larger one disconnects the peer.
pub const FRAME_LIMIT: u64 = 16 << 20;

/// Bytes of a part file per fetch: a quarter of the frame limit.
pub const PIECE: u64 = 4 << 20;

/// The messages a worker actor takes.
#[derive(RactorClusterMessage)]
pub enum WorkerMessage {
    /// The coordinator's version; the reply is the worker's.
    #[rpc]
    Hello(String, RpcReplyPort<String>),
    /// Run a range: a JSON `RangeRequest`; the reply is a JSON `RangeReply`.
    #[rpc]
    Run(String, RpcReplyPort<String>),
    /// A piece of a finished part's file: a JSON `FetchRequest`; the
    /// reply is the bytes.
    #[rpc]
    Fetch(String, RpcReplyPort<Vec<u8>>),
    /// The coordinator holds the part now: the worker may delete it.
    Done(String),
    /// The coordinator will not use this worker, and says why.
    Refuse(String),
}

/// Run range `[first, end)` of job `job` of the run `spec` describes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RangeRequest {
    /// The run (the worker plans it once per run key).
    pub spec: RunSpec,
    /// The job's index in the plan.
    pub job: usize,
    /// The campaigns.
    pub range: [u64; 2],
}

/// A finished range: the part's directory name and its files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RangeReply {
    /// The part's directory name, or `None` with `error`.
    pub part: Option<String>,
    /// `(file name, bytes)` of every file of the part.
    pub files: Vec<(String, u64)>,
    /// Why the range could not run: `input: …` (this worker cannot run
    /// this run) or `internal: …` (a bug; the run fails).
    pub error: Option<String>,
}

/// `len` bytes of `file` of `part` from `offset`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchRequest {
    /// The part's directory name.
    pub part: String,
    /// A file of it.
    pub file: String,
    /// Where the piece starts.
    pub offset: u64,
    /// Its length (at most [`PIECE`]).
    pub len: u64,
}

/// The cluster secret: `PREFLIGHT_CLUSTER_SECRET`, or the first line of
/// `file`. Never a command-line argument, which every user of the machine
/// sees in `ps`.
pub fn read_secret(file: Option<&Path>) -> Result<String, Error> {
    let secret = match file {
        Some(f) => {
            let text = std::fs::read_to_string(f).map_err(|e| {
                Error::input(format!("preflight: --secret-file {}: {e}", f.display()))
            })?;
            text.lines().next().unwrap_or("").trim().to_owned()
        }
        None => std::env::var("PREFLIGHT_CLUSTER_SECRET").unwrap_or_default(),
    };
    if secret.len() < 16 {
        return Err(Error::input(
            "preflight: the worker pool needs a shared secret of at least 16 characters, from PREFLIGHT_CLUSTER_SECRET or --secret-file FILE (never on the command line)",
        ));
    }
    Ok(secret)
}

/// A temporary directory for parts under `dir`, named so that part scans
/// skip it.
pub fn part_tempdir(dir: &Path) -> Result<PathBuf, Error> {
    tempfile::Builder::new()
        .prefix(".part-")
        .tempdir_in(dir)
        .map(tempfile::TempDir::keep)
        .map_err(|e| Error::environment(format!("preflight: {}: {e}", dir.display())))
}
