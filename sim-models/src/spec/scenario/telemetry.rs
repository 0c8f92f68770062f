//! `telemetry`: the metrics file forecast before a run, and the thresholds
//! at which a metric means a failure mode.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::FailureMode;
use crate::spec::Duration;

/// `telemetry:` — the file alone (`telemetry: datasets/x.csv`, with the
/// default thresholds), or a map naming the file and what its metrics mean.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(with = "TelemetrySchema")]
pub struct Telemetry {
    /// The file: long-form CSV or Parquet (`timestamp, resource, metric,
    /// value`), a single-series CSV (`timestamp, value`, with `resource` and
    /// `metric` below), or a Prometheus `query_range` JSON response.
    pub file: String,
    /// How far ahead to forecast (default: 24h, or the risk window when
    /// shorter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon: Option<Duration>,
    /// When a metric means a failure mode. Absent: the defaults of
    /// `docs/forecast.md` (`disk_used_fraction > 0.95` is `disk_error`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<TelemetryThreshold>,
    /// A single-series file: the resource it measures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// A single-series file: the metric it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// A Prometheus response: the label naming the resource (default `instance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_label: Option<String>,
    /// A Prometheus response: the label naming the metric (default `__name__`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_label: Option<String>,
}

impl Telemetry {
    /// `telemetry: FILE`: the file alone, every other field at its default.
    pub fn file(name: impl Into<String>) -> Telemetry {
        Telemetry {
            file: name.into(),
            horizon: None,
            thresholds: Vec::new(),
            resource: None,
            metric: None,
            resource_label: None,
            metric_label: None,
        }
    }
}

/// The map form of [`Telemetry`], as written (all but `file` optional).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TelemetryMap {
    file: String,
    #[serde(default)]
    horizon: Option<Duration>,
    #[serde(default)]
    thresholds: Vec<TelemetryThreshold>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    metric: Option<String>,
    #[serde(default)]
    resource_label: Option<String>,
    #[serde(default)]
    metric_label: Option<String>,
}

/// The JSON Schema of [`Telemetry`]: a file name, or the map.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only its schema is used
enum TelemetrySchema {
    /// The telemetry file, with the default thresholds.
    File(String),
    /// The file and what its metrics mean.
    Map(TelemetryMap),
}

/// A metric's failure threshold: crossing it means `mode` on the resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetryThreshold {
    /// The resource (absent: every resource with this metric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The metric, as named in the telemetry.
    pub metric: String,
    /// The metric fails when above this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<f64>,
    /// The metric fails when below this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<f64>,
    /// The failure mode a crossing means (it must be one of the resource's
    /// failure modes, whose repair and effect it takes).
    pub mode: FailureMode,
}

/// Hand-written: a file name or a map, each with an error that says which.
impl<'de> Deserialize<'de> for Telemetry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TelemetryVisitor)
    }
}

struct TelemetryVisitor;

impl<'de> Visitor<'de> for TelemetryVisitor {
    type Value = Telemetry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a telemetry file name, or a map `{file: <path>, thresholds: [...]}`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Telemetry, E> {
        Ok(Telemetry::file(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Telemetry, A::Error> {
        let m = TelemetryMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Telemetry {
            file: m.file,
            horizon: m.horizon,
            thresholds: m.thresholds,
            resource: m.resource,
            metric: m.metric,
            resource_label: m.resource_label,
            metric_label: m.metric_label,
        })
    }
}

/// The thresholds used when `telemetry:` lists none: `(metric, above,
/// value, mode)`. Fractions in [0, 1], as exporters give them.
pub const DEFAULT_TELEMETRY_THRESHOLDS: &[(&str, bool, f64, FailureMode)] = &[
    ("disk_used_fraction", true, 0.95, FailureMode::DiskError),
    (
        "memory_used_fraction",
        true,
        0.95,
        FailureMode::MemoryStarvation,
    ),
    ("cpu_utilization", true, 0.95, FailureMode::CpuThrottle),
    (
        "disk_io_utilization",
        true,
        0.95,
        FailureMode::DiskIoStarvation,
    ),
];
