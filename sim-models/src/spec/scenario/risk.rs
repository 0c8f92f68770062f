//! Risk and variants: `risk` (window, thresholds, gate) and `variants`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::defaults::{default_gate, default_window};
use crate::spec::Duration;
/// How risk is scored and gated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Risk {
    /// Risk score = P(an SLO is breached within this window). Default 30d.
    #[serde(default = "default_window")]
    pub window: Duration,
    /// Base thresholds, scaled by criticality. Default low 0.01, medium 0.05, high 0.2.
    #[serde(default)]
    pub threshold: RiskThresholds,
    /// `preflight gate` fails when any handler's risk is above this (in [0, 1]). Default 0.05.
    #[serde(default = "default_gate")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub gate: f64,
}

impl Default for Risk {
    fn default() -> Self {
        Risk {
            window: default_window(),
            threshold: RiskThresholds::default(),
            gate: default_gate(),
        }
    }
}

/// Risk thresholds, probabilities in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskThresholds {
    /// Risk above this is at least low. Default 0.01.
    #[serde(default = "RiskThresholds::default_low")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub low: f64,
    /// Risk above this is at least medium. Default 0.05.
    #[serde(default = "RiskThresholds::default_medium")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub medium: f64,
    /// Risk above this is high. Default 0.2.
    #[serde(default = "RiskThresholds::default_high")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub high: f64,
}

impl RiskThresholds {
    fn default_low() -> f64 {
        0.01
    }
    fn default_medium() -> f64 {
        0.05
    }
    fn default_high() -> f64 {
        0.2
    }
}

impl Default for RiskThresholds {
    fn default() -> Self {
        RiskThresholds {
            low: Self::default_low(),
            medium: Self::default_medium(),
            high: Self::default_high(),
        }
    }
}

/// A what-if variant: the base scenario with changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Unique name.
    pub name: String,
    /// Changes: field path (`resources[orders-db].replicas`) -> new value.
    /// `[x]` selects an array element by `id` (or `name`), or by index when x is a number.
    #[serde(default)]
    pub set: BTreeMap<String, serde_json::Value>,
}
