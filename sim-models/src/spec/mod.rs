//! The scenario file format: serde types for every section of
//! `shared/spec/scenario.md`, and the semantic checks on them.
//!
//! One set of types serves YAML, TOML and JSON. Every struct denies unknown
//! fields. Units are strings (`250ms`, `200/s`, `8GiB`, `1Gbit/s`) parsed into
//! [`Duration`], [`Rate`], [`Size`] and [`Bandwidth`]; probabilities are plain
//! `f64` whose range is checked by validation.

mod distribution;
mod scenario;
mod units;
pub mod validate;

pub use distribution::*;
pub use scenario::*;
pub use units::*;
pub use validate::{Issue, distributions, validate};

#[cfg(test)]
mod tests;
