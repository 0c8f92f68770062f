//! A worker pool for teams without a batch scheduler (`docs/distributed.md`):
//! `preflight run SCENARIO --cluster ADDR` is the coordinator, and
//! `preflight worker --connect ADDR` on each machine a worker.
//!
//! The coordinator hands out the run's ranges ([`sim_engine::shard::plan_ranges`]);
//! a worker runs each with all its cores ([`sim_engine::shard::WorkerRun`])
//! into a part, and the coordinator fetches the part's files in pieces well
//! under the 16 MiB frame limit, checks every hash, and renames the part into
//! the run's parts directory. When every range is there, the run finishes as
//! a local run whose ranges are all done ([`sim_engine::shard::Parts::Filled`]):
//! the same files as a run on one machine.
//!
//! Transport: ractor_cluster node servers, the shared secret as their
//! cookie (a challenge–response: the secret never crosses the wire); the
//! coordinator finds workers through a process group ([`GROUP`]). What
//! ractor_cluster does not cover is done here: a worker that disconnects
//! has its range queued again; one that stops answering (SIGSTOP raises no
//! event) is caught by the range's deadline; a range that comes back twice
//! (an idle worker duplicates the slowest range in flight once the queue is
//! empty) is kept once when the copies hash the same, and fails the run,
//! naming both workers, when they differ. On an untrusted network the
//! connection can be TLS ([`ServerTls`], [`ClientTls`]).

mod coordinator;
mod protocol;
mod tls;
mod worker;

pub use coordinator::{ClusterOptions, run};
pub use protocol::{GROUP, WorkerMessage, read_secret};
pub use tls::{ClientTls, ServerTls};
pub use worker::{WorkerOptions, work};
