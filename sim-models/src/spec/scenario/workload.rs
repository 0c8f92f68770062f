//! The workload: `workload` entries, the arrivals of requests at a handler.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::Rate;
/// Requests sent to one handler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// A name for this workload, unique among workloads: its arrivals draw
    /// from the random stream `workload/<id>`, so adding, removing or
    /// reordering other workloads does not change them (common random
    /// numbers between variants). Default: the handler's id for a
    /// handler's first workload without one, `<handler>#<k>` for its k-th
    /// ([`workload_ids`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The id of the handler receiving the requests.
    pub handler: String,
    /// The arrival process.
    pub arrivals: Arrivals,
    /// Optional daily shape: a rate multiplier per hour of day (24 non-negative numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(equal = 24))]
    pub diurnal: Option<Vec<f64>>,
}

/// The id of every workload, in order: its own `id:`, else the handler's id
/// for the handler's first workload without one and `<handler>#<k>` for the
/// k-th (k ≥ 2). Ids must be unique (the semantic checks say so).
pub fn workload_ids(workloads: &[Workload]) -> Vec<String> {
    let mut unnamed: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    workloads
        .iter()
        .map(|w| match &w.id {
            Some(id) => id.clone(),
            None => {
                let k = unnamed.entry(w.handler.as_str()).or_insert(0);
                *k += 1;
                if *k == 1 {
                    w.handler.clone()
                } else {
                    format!("{}#{k}", w.handler)
                }
            }
        })
        .collect()
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
