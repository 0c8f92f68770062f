//! # sim-engine: Preflight as a library
//!
//! Everything a program needs to run Preflight without its command line:
//! load and prepare a scenario, plan and run campaigns in parallel, compute
//! risk, predict injection scenarios, propose and verify remediations, fit
//! failure distributions to incident history and calibrate risk. The
//! simulation itself lives in `sim-core` (kernel) and `sim-models`
//! (domain); the result files in `sim-output`. The `preflight` binary is a
//! thin layer on top (arguments, exit codes, progress bars, printing).
//!
//! The library never prints to stdout and never exits the process: it
//! returns values, rendered text and typed [`Error`]s. Notes and warnings
//! go to stderr; progress goes to the sink installed with
//! [`progress::set_sink`].
//!
//! ```no_run
//! use sim_engine::job::{RunOptions, execute};
//!
//! # fn main() -> Result<(), sim_engine::Error> {
//! let mut opts = RunOptions::new("scenarios/checkout.yaml");
//! opts.campaigns = Some(200);
//! opts.out = Some("reports/checkout-200".into());
//! let done = execute(&opts)?; // writes the run directory, atomically
//! for r in &done.report.risk {
//!     println!("{} {}: {:.4} [{:.4}, {:.4}]", r.variant, r.handler, r.risk, r.ci_low, r.ci_high);
//! }
//! # Ok(()) }
//! ```
//!
//! Below [`job::execute`], a run is a list of jobs ([`run::plan_jobs`]),
//! each prepared once ([`run::ReadyJob::prepare`]) and run a range of
//! campaigns at a time ([`run::ReadyJob::run_range`]): campaign `c` of a
//! job gives the same outcome whatever range or machine runs it.
//!
//! Modules:
//! - [`scenario`]: reading, parsing and validating scenario files, variants.
//! - [`inputs`]: the rules for files a scenario names (regular, capped, where).
//! - [`prepare`]: loading and compiling the variants of a run.
//! - [`provenance`]: content hashes of the scenario and its inputs, the build's commit.
//! - [`replay`]: re-running one campaign of a run directory to check its row.
//! - [`job`]: one run end to end ([`job::execute`]), as `run` and `gate` do it.
//! - [`gate`]: the gate's verdict policy: intervals, looks, error rates.
//! - [`run`]: planning and running campaigns in parallel, the run report.
//! - [`risk`]: risk estimates, intervals and decisions.
//! - [`analyze`]: static failure points of a model.
//! - [`predict`]: predicted injection scenarios and live injection plans.
//! - [`remediate`]: remediation candidates and their verification.
//! - [`service_paths`]: service paths solved (compositions, placement) and
//!   simulated (their campaigns in a run).
//! - [`fit`]: fitting failure and repair laws to incident history.
//! - [`calibrate`]: backtests against incident history, and the
//!   recalibration map ([`calibrate::map`]) runs apply.
//! - [`synth`]: incident histories drawn from a scenario's own model.
//! - [`limits`]: memory and work bounds of a run.
//! - [`defaults`]: built-in failure modes per resource type.
//! - [`timing`]: wall and CPU time per phase.
//! - [`progress`]: progress reporting.
//! - [`text`]: plain-text helpers for rendered tables.
//! - [`error`]: the library's error type.
#![warn(missing_docs, unreachable_pub)]

pub mod analyze;
pub mod calibrate;
pub mod defaults;
pub mod error;
pub mod fit;
pub mod gate;
pub mod inputs;
pub mod job;
pub mod limits;
pub mod parts;
pub mod predict;
pub mod prepare;
pub mod progress;
pub mod provenance;
pub mod remediate;
pub mod replay;
pub mod risk;
pub mod run;
pub mod scenario;
pub mod service_paths;
pub mod shard;
pub mod synth;
pub mod telemetry;
pub mod text;
pub mod timing;

pub use error::{Error, Result};
