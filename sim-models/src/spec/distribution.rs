//! Probability distributions of durations, written `{ dist: <kind>, ... }`.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::units::Duration;

/// A distribution of durations: service times, network delays, times between
/// failures, repair times. Tagged by the field `dist`.
///
/// ```yaml
/// { dist: constant,    value: 10ms }
/// { dist: exponential, mean: 720h }
/// { dist: weibull,     shape: 0.8, scale: 720h }
/// { dist: lognormal,   median: 5m, sigma: 1.1 }
/// { dist: uniform,     min: 1ms, max: 5ms }
/// { dist: gamma,       shape: 2.0, scale: 3ms }
/// { dist: empirical,   file: datasets/repair_minutes.csv, column: minutes, unit: m }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Always the same value.
    Constant {
        /// The value.
        value: Duration,
    },
    /// Exponential (memoryless) with the given mean.
    Exponential {
        /// The mean (1 / rate).
        mean: Duration,
    },
    /// Weibull with shape k and scale λ (mean λ·Γ(1 + 1/k)).
    /// Shape < 1: failures get rarer with age (infant mortality); > 1: wear-out.
    Weibull {
        /// The shape parameter k (> 0).
        shape: f64,
        /// The scale parameter λ (> 0).
        scale: Duration,
    },
    /// Log-normal: ln(X) is normal with mean ln(median) and standard deviation sigma.
    Lognormal {
        /// The median, exp(μ) (> 0).
        median: Duration,
        /// The standard deviation of ln(X) (> 0).
        sigma: f64,
    },
    /// Uniform between `min` and `max`.
    Uniform {
        /// The lower bound.
        min: Duration,
        /// The upper bound (≥ `min`).
        max: Duration,
    },
    /// Gamma with shape k and scale θ (mean k·θ).
    Gamma {
        /// The shape parameter k (> 0).
        shape: f64,
        /// The scale parameter θ (> 0).
        scale: Duration,
    },
    /// Resampled from a column of a CSV file (a header row, comma-separated).
    Empirical {
        /// The CSV file, relative to the scenario file's directory.
        file: String,
        /// The column holding the samples.
        column: String,
        /// The duration unit of the samples (`us`, `ms`, `s`, `m`, `h`, `d`); default `s`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
    },
}

/// Gamma function for positive arguments (Lanczos approximation, g = 7, n = 9).
fn gamma_fn(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        std::f64::consts::PI / ((std::f64::consts::PI * x).sin() * gamma_fn(1.0 - x))
    } else {
        let x = x - 1.0;
        let mut a = C[0];
        let t = x + G + 0.5;
        for (i, c) in C.iter().enumerate().skip(1) {
            a += c / (x + i as f64);
        }
        (2.0 * std::f64::consts::PI).sqrt() * t.powf(x + 0.5) * (-t).exp() * a
    }
}

impl Distribution {
    /// The mean in seconds; `None` for [`Distribution::Empirical`] (the samples
    /// live in a file; the loader knows them).
    pub fn mean_secs(&self) -> Option<f64> {
        match self {
            Distribution::Constant { value } => Some(value.secs()),
            Distribution::Exponential { mean } => Some(mean.secs()),
            Distribution::Weibull { shape, scale } => {
                Some(scale.secs() * gamma_fn(1.0 + 1.0 / shape))
            }
            Distribution::Lognormal { median, sigma } => {
                Some(median.secs() * (sigma * sigma / 2.0).exp())
            }
            Distribution::Uniform { min, max } => Some((min.secs() + max.secs()) / 2.0),
            Distribution::Gamma { shape, scale } => Some(shape * scale.secs()),
            Distribution::Empirical { .. } => None,
        }
    }

    /// The value of `dist` for this distribution (`"lognormal"`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Distribution::Constant { .. } => "constant",
            Distribution::Exponential { .. } => "exponential",
            Distribution::Weibull { .. } => "weibull",
            Distribution::Lognormal { .. } => "lognormal",
            Distribution::Uniform { .. } => "uniform",
            Distribution::Gamma { .. } => "gamma",
            Distribution::Empirical { .. } => "empirical",
        }
    }
}

const KINDS: &[&str] = &[
    "constant",
    "exponential",
    "weibull",
    "lognormal",
    "uniform",
    "gamma",
    "empirical",
];

const ALL_FIELDS: &[&str] = &[
    "dist", "value", "mean", "shape", "scale", "median", "sigma", "min", "max", "file", "column",
    "unit",
];

/// The fields each kind takes (besides `dist`).
fn fields_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "constant" => &["value"],
        "exponential" => &["mean"],
        "weibull" | "gamma" => &["shape", "scale"],
        "lognormal" => &["median", "sigma"],
        "uniform" => &["min", "max"],
        "empirical" => &["file", "column", "unit"],
        _ => &[],
    }
}

/// Hand-written so that errors name the exact field (`scale`, not just the
/// distribution) and say which fields a kind takes.
impl<'de> Deserialize<'de> for Distribution {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(DistVisitor)
    }
}

struct DistVisitor;

#[derive(Default)]
struct DistFields {
    dist: Option<String>,
    value: Option<Duration>,
    mean: Option<Duration>,
    shape: Option<f64>,
    scale: Option<Duration>,
    median: Option<Duration>,
    sigma: Option<f64>,
    min: Option<Duration>,
    max: Option<Duration>,
    file: Option<String>,
    column: Option<String>,
    unit: Option<String>,
    /// Field names in the order they were seen.
    seen: Vec<&'static str>,
}

fn take<T, E: de::Error>(v: Option<T>, field: &'static str, kind: &str) -> Result<T, E> {
    v.ok_or_else(|| {
        E::custom(format!(
            "missing field `{field}` (a {kind} distribution needs {})",
            super::quoted_list(fields_of(kind).iter().filter(|f| **f != "unit").copied())
        ))
    })
}

impl<'de> Visitor<'de> for DistVisitor {
    type Value = Distribution;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a distribution like `{ dist: exponential, mean: 5m }`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Distribution, A::Error> {
        let mut f = DistFields::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "dist" => take_field!(map, f, dist),
                "value" => take_field!(map, f, value),
                "mean" => take_field!(map, f, mean),
                "shape" => take_field!(map, f, shape),
                "scale" => take_field!(map, f, scale),
                "median" => take_field!(map, f, median),
                "sigma" => take_field!(map, f, sigma),
                "min" => take_field!(map, f, min),
                "max" => take_field!(map, f, max),
                "file" => take_field!(map, f, file),
                "column" => take_field!(map, f, column),
                "unit" => take_field!(map, f, unit),
                other => return Err(de::Error::unknown_field(other, ALL_FIELDS)),
            }
        }
        let Some(kind) = f.dist.take() else {
            return Err(de::Error::custom(format!(
                "missing field `dist` (one of {})",
                super::quoted_list(KINDS.iter().copied())
            )));
        };
        if !KINDS.contains(&kind.as_str()) {
            return Err(de::Error::unknown_variant(&kind, KINDS));
        }
        let allowed = fields_of(&kind);
        if let Some(extra) = f
            .seen
            .iter()
            .find(|s| **s != "dist" && !allowed.contains(s))
        {
            return Err(de::Error::custom(format!(
                "unknown field `{extra}` for a {kind} distribution, expected {}",
                super::quoted_list(std::iter::once("dist").chain(allowed.iter().copied()))
            )));
        }
        let k = kind.as_str();
        Ok(match k {
            "constant" => Distribution::Constant {
                value: take(f.value, "value", k)?,
            },
            "exponential" => Distribution::Exponential {
                mean: take(f.mean, "mean", k)?,
            },
            "weibull" => Distribution::Weibull {
                shape: take(f.shape, "shape", k)?,
                scale: take(f.scale, "scale", k)?,
            },
            "lognormal" => Distribution::Lognormal {
                median: take(f.median, "median", k)?,
                sigma: take(f.sigma, "sigma", k)?,
            },
            "uniform" => Distribution::Uniform {
                min: take(f.min, "min", k)?,
                max: take(f.max, "max", k)?,
            },
            "gamma" => Distribution::Gamma {
                shape: take(f.shape, "shape", k)?,
                scale: take(f.scale, "scale", k)?,
            },
            _ => Distribution::Empirical {
                file: take(f.file, "file", k)?,
                column: take(f.column, "column", k)?,
                unit: f.unit,
            },
        })
    }
}
