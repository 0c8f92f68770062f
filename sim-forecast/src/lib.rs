//! `preflight forecast`: telemetry read as users have it ([`data`]),
//! forecast with augurs models ([`model`]: MSTL with an ETS trend where the
//! data has seasons, ETS otherwise), the probability that each metric
//! crosses its failure threshold within the horizon from simulated sample
//! paths ([`crossing`]), and rolling-origin backtests ([`backtest`]).
//! `docs/forecast.md` is the reference.

pub mod backtest;
pub mod crossing;
pub mod data;
mod error;
pub mod model;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

pub use crossing::Threshold;
pub use data::{Naming, Series};
pub use error::Error;

/// What `preflight forecast` is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastOptions {
    /// The telemetry file.
    pub file: PathBuf,
    /// How to name its series.
    pub naming: Naming,
    /// The horizon, seconds.
    pub horizon_s: f64,
    /// Interval levels, percent.
    pub levels: Vec<f64>,
    /// Failure thresholds.
    pub thresholds: Vec<Threshold>,
    /// Season lengths in steps (`None`: detected).
    pub periods: Option<Vec<usize>>,
    /// Points fitted, the latest (`None`: [`model::fit_window`]'s rule;
    /// `Some(usize::MAX)`: all).
    pub fit_window: Option<usize>,
    /// Also backtest each series.
    pub backtest: bool,
}

/// A future step: unix seconds, mean, `(level, lower, upper)`.
pub type Step = (i64, f64, Vec<(f64, f64, f64)>);

/// The forecast of one series.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesForecast {
    /// Resource.
    pub resource: String,
    /// Metric.
    pub metric: String,
    /// Points of history, and seconds between them.
    pub points: usize,
    /// Seconds between points.
    pub step_s: i64,
    /// What was repaired to regularise it.
    pub repairs: Option<String>,
    /// The model chosen.
    pub model: String,
    /// In-sample one-step MASE.
    pub fit_mase: Option<f64>,
    /// Steps forecast.
    pub horizon_steps: usize,
    /// Unix seconds of the last forecast step.
    pub horizon_end: i64,
    /// Mean at the horizon.
    pub mean_at_horizon: f64,
    /// `(level, lower, upper)` at the horizon.
    pub interval_at_horizon: Vec<(f64, f64, f64)>,
    /// The threshold, as given.
    pub threshold: Option<String>,
    /// P(the metric crosses it within the horizon).
    pub crossing_probability: Option<f64>,
    /// Mean seconds from the last observation to the crossing, over the
    /// sample paths that cross.
    pub time_to_crossing_s: Option<f64>,
    /// The backtest, when asked.
    pub backtest: Option<backtest::Backtest>,
    /// Why the backtest could not run.
    pub backtest_error: Option<String>,
    /// Per step: `(unix seconds, mean, [(level, lower, upper)])`.
    #[serde(skip)]
    pub steps: Vec<Step>,
}

/// Forecasts every series of the file, whose content is `bytes` (the
/// caller reads it, within its own bounds).
pub fn run(opts: &ForecastOptions, bytes: &[u8]) -> Result<Vec<SeriesForecast>, Error> {
    check_options(opts)?;
    let series = data::read(&opts.file, bytes, &opts.naming)?;
    for t in &opts.thresholds {
        if !series.iter().any(|s| t.applies(&s.resource, &s.metric)) {
            return Err(Error::input(format!(
                "preflight: forecast: the threshold on `{}` matches no series of {} (it has {})",
                t.target(),
                opts.file.display(),
                series
                    .iter()
                    .map(|s| format!("{}/{}", s.resource, s.metric))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    forecast_series(&series, opts)
}

fn check_options(opts: &ForecastOptions) -> Result<(), Error> {
    if opts.levels.iter().any(|l| !(*l > 0.0 && *l < 100.0)) {
        return Err(Error::input(
            "preflight: forecast: --level: every level must be between 0 and 100 (exclusive)",
        ));
    }
    if opts.horizon_s.is_nan() || opts.horizon_s <= 0.0 {
        return Err(Error::input(
            "preflight: forecast: --horizon must be positive",
        ));
    }
    for (i, a) in opts.thresholds.iter().enumerate() {
        if opts.thresholds[..i]
            .iter()
            .any(|b| b.metric == a.metric && b.resource == a.resource)
        {
            return Err(Error::input(format!(
                "preflight: forecast: two --threshold for `{}`: give one",
                a.target()
            )));
        }
    }
    Ok(())
}

/// Forecasts `series` (read from `opts.file`) in parallel, each with the
/// most specific of `opts.thresholds` that applies to it. Series `i` draws
/// its sample paths from seed `i`: the same series in the same order give
/// the same figures whatever the thread count.
pub fn forecast_series(
    series: &[Series],
    opts: &ForecastOptions,
) -> Result<Vec<SeriesForecast>, Error> {
    check_options(opts)?;
    let file = Arc::new(opts.file.clone());
    series
        .par_iter()
        .enumerate()
        .map(|(i, s)| one(s, opts, i as u64, &file))
        .collect()
}

fn one(
    s: &Series,
    opts: &ForecastOptions,
    seed: u64,
    file: &Path,
) -> Result<SeriesForecast, Error> {
    let horizon = ((opts.horizon_s / s.step as f64).ceil() as usize).max(1);
    if horizon > 100_000 {
        return Err(Error::input(format!(
            "preflight: forecast: --horizon is {horizon} steps of {} s: more than 100,000",
            s.step
        )));
    }
    let choice = model::ModelChoice {
        periods: opts.periods.clone(),
        step_s: s.step,
        fit_window: opts.fit_window,
    };
    let f = model::forecast(&s.values, horizon, &opts.levels, &choice).map_err(|e| {
        Error::input(format!(
            "preflight: forecast: {}: {}/{}: {e}",
            file.display(),
            s.resource,
            s.metric
        ))
    })?;
    // The most specific threshold: one naming the resource before one for
    // every resource's metric.
    let threshold = opts
        .thresholds
        .iter()
        .filter(|t| t.applies(&s.resource, &s.metric))
        .min_by_key(|t| t.resource.is_none());
    let (p, when) = match threshold {
        Some(t) => {
            let (p, w) = crossing::probability(&f.mean, &f.sigma, t, seed);
            (Some(p), w.map(|w| w * s.step as f64))
        }
        None => (None, None),
    };
    let (bt, bt_err) = if opts.backtest {
        match backtest::backtest(&s.values, horizon, &opts.levels, &choice, threshold, 20) {
            Ok(b) => (Some(b), None),
            Err(e) => (None, Some(e)),
        }
    } else {
        (None, None)
    };
    let last = s.values.len() - 1;
    let steps: Vec<Step> = (0..horizon)
        .map(|h| {
            (
                s.time(last + 1 + h),
                f.mean[h],
                f.intervals
                    .iter()
                    .map(|(l, lo, hi)| (*l, lo[h], hi[h]))
                    .collect(),
            )
        })
        .collect();
    Ok(SeriesForecast {
        resource: s.resource.clone(),
        metric: s.metric.clone(),
        points: s.values.len(),
        step_s: s.step,
        repairs: s.repairs.describe(),
        model: f.model.clone(),
        fit_mase: f.fit_mase.is_finite().then_some(f.fit_mase),
        horizon_steps: horizon,
        horizon_end: s.time(last + horizon),
        mean_at_horizon: f.mean[horizon - 1],
        interval_at_horizon: f
            .intervals
            .iter()
            .map(|(l, lo, hi)| (*l, lo[horizon - 1], hi[horizon - 1]))
            .collect(),
        threshold: threshold.map(|t| {
            format!(
                "{} {} {}",
                t.target(),
                if t.above { ">" } else { "<" },
                t.value
            )
        }),
        crossing_probability: p,
        time_to_crossing_s: when,
        backtest: bt,
        backtest_error: bt_err,
        steps,
    })
}

/// Whether `path` is a `forecast.parquet` an earlier forecast wrote (its
/// columns `resource, metric, timestamp, mean` first): the only file
/// `--out` replaces.
pub fn is_forecast_parquet(path: &Path) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(b) = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f) else {
        return false;
    };
    let names: Vec<&str> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    names.starts_with(&["resource", "metric", "timestamp", "mean"])
}

/// `forecast.parquet`: one row per future step.
pub fn write_parquet(path: &Path, results: &[SeriesForecast], levels: &[f64]) -> Result<(), Error> {
    use arrow::array::{ArrayRef, Float64Array, StringArray, TimestampSecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    let rows: Vec<(&SeriesForecast, &Step)> = results
        .iter()
        .flat_map(|r| r.steps.iter().map(move |s| (r, s)))
        .collect();
    let mut fields = vec![
        Field::new("resource", DataType::Utf8, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Second, Some("UTC".into())),
            false,
        ),
        Field::new("mean", DataType::Float64, false),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(
            rows.iter()
                .map(|(r, _)| Some(r.resource.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|(r, _)| Some(r.metric.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            TimestampSecondArray::from(rows.iter().map(|(_, s)| s.0).collect::<Vec<_>>())
                .with_timezone("UTC"),
        ),
        Arc::new(
            rows.iter()
                .map(|(_, s)| Some(s.1))
                .collect::<Float64Array>(),
        ),
    ];
    for (k, l) in levels.iter().enumerate() {
        let name = format!("{}", l).replace('.', "_");
        fields.push(Field::new(
            format!("lower_{name}"),
            DataType::Float64,
            false,
        ));
        fields.push(Field::new(
            format!("upper_{name}"),
            DataType::Float64,
            false,
        ));
        cols.push(Arc::new(
            rows.iter()
                .map(|(_, s)| Some(s.2[k].1))
                .collect::<Float64Array>(),
        ));
        cols.push(Arc::new(
            rows.iter()
                .map(|(_, s)| Some(s.2[k].2))
                .collect::<Float64Array>(),
        ));
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = arrow::array::RecordBatch::try_new(schema.clone(), cols)
        .map_err(|e| Error::Internal(format!("preflight: forecast: forecast.parquet: {e}")))?;
    sim_output::write_table(path, schema, [batch])
        .map(|_| ())
        .map_err(|source| Error::Output {
            context: "writing forecast.parquet".into(),
            source,
        })
}

/// The table `preflight forecast` prints.
pub fn table(results: &[SeriesForecast]) -> String {
    let mut out = String::from(
        "resource/metric                 model                points  fit MASE  at horizon [interval]                          threshold          P(cross)  time to cross\n",
    );
    for r in results {
        let iv = r
            .interval_at_horizon
            .iter()
            .map(|(l, lo, hi)| format!("{l}% [{lo:.4}, {hi:.4}]"))
            .collect::<Vec<_>>()
            .join(" ");
        out += &format!(
            "{:31} {:20} {:>6}  {:>8}  {:.4} {:38} {:18} {:>8}  {}\n",
            format!("{}/{}", r.resource, r.metric),
            r.model,
            r.points,
            r.fit_mase.map_or("-".into(), |m| format!("{m:.3}")),
            r.mean_at_horizon,
            iv,
            r.threshold.as_deref().unwrap_or("-"),
            r.crossing_probability
                .map_or("-".into(), |p| format!("{p:.3}")),
            r.time_to_crossing_s.map_or("-".into(), human),
        );
        if let Some(rep) = &r.repairs {
            out += &format!("    regularised: {rep}\n");
        }
        if let Some(b) = &r.backtest {
            out += &format!(
                "    backtest ({} origins): MASE {:.3}; coverage {}{}\n",
                b.origins,
                b.mase,
                b.coverage
                    .iter()
                    .map(|(l, c)| format!("{l}%: {:.1}%", c * 100.0))
                    .collect::<Vec<_>>()
                    .join(", "),
                b.brier
                    .map(|br| format!(
                        "; Brier {br:.4} ({} of {} origins crossed)",
                        b.crossings, b.origins
                    ))
                    .unwrap_or_default()
            );
            for (lo, hi, n, mp, obs) in &b.reliability {
                out += &format!(
                    "      P in [{lo:.1}, {hi:.1}): {n} forecasts, mean {mp:.3}, observed {obs:.3}\n"
                );
            }
        }
        if let Some(e) = &r.backtest_error {
            out += &format!("    backtest: {e}\n");
        }
    }
    out
}

/// `5400` → `1.5h`.
pub fn human(s: f64) -> String {
    if s >= 86400.0 {
        format!("{:.1}d", s / 86400.0)
    } else if s >= 3600.0 {
        format!("{:.1}h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.0}m", s / 60.0)
    } else {
        format!("{s:.0}s")
    }
}
