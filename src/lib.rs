//! # preflight: the command line, campaign runner and result files
//!
//! The library behind the `preflight` binary: loading scenario files
//! ([`scenario`]), running campaigns in parallel ([`run`]), computing risk
//! ([`risk`]) and writing the run directory ([`output`]). The simulation
//! itself lives in the `sim-core` (kernel) and `sim-models` (domain) crates.
#![warn(missing_docs)]

pub mod commands;
pub mod defaults;
pub mod output;
pub mod risk;
pub mod run;
pub mod scenario;
