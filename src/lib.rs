//! # preflight: the command line, campaign runner and result files
//!
//! The library behind the `preflight` binary: loading scenario files
//! ([`scenario`]), running campaigns in parallel ([`run`]), computing risk
//! ([`risk`]), writing the run directory ([`output`]) and fitting failure
//! distributions to incident history ([`fit`]). The simulation
//! itself lives in the `sim-core` (kernel) and `sim-models` (domain) crates.
#![warn(missing_docs)]

pub mod analyze;
pub mod calibrate;
pub mod calibration;
pub mod commands;
pub mod console;
pub mod defaults;
pub mod fit;
pub mod inputs;
pub mod limits;
pub mod output;
pub mod paths;
pub mod paths_run;
pub mod remediate;
pub mod risk;
pub mod run;
pub mod scenario;
pub mod scenarios;
pub mod synth;
pub mod timing;
