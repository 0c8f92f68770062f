//! The workload: `workload` entries, the arrivals of requests at a handler.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::Rate;
/// Requests sent to one handler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// The id of the handler receiving the requests.
    pub handler: String,
    /// The arrival process.
    pub arrivals: Arrivals,
    /// Optional daily shape: a rate multiplier per hour of day (24 non-negative numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(equal = 24))]
    pub diurnal: Option<Vec<f64>>,
}

/// An arrival process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Arrivals {
    /// The kind of process: poisson.
    pub process: ArrivalProcess,
    /// The mean arrival rate (`200/s`).
    pub rate: Rate,
}

/// The kind of arrival process.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalProcess {
    /// Independent arrivals at a constant mean rate.
    Poisson,
}
