//! Rolling-origin evaluation on a series' own history: from each origin,
//! fit on everything before it and forecast the horizon; score the
//! forecast against what followed. MASE: the forecast's mean absolute
//! error over the seasonal naive forecast's from the same origins (below 1:
//! better than repeating the last season, or the last value), interval
//! coverage per level, and for a threshold the Brier
//! score of the crossing probability with its reliability table.

use crate::crossing::{Threshold, probability};
use crate::model::{ModelChoice, forecast};

/// The scores of one series.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Backtest {
    /// Origins evaluated.
    pub origins: usize,
    /// Mean absolute error over all origins and steps, relative to the
    /// seasonal naive forecast's from the same origins (below 1: better
    /// than repeating the last season).
    pub mase: f64,
    /// `(level, share of held-back points inside the interval)`.
    pub coverage: Vec<(f64, f64)>,
    /// Brier score of the crossing probability (with a threshold).
    pub brier: Option<f64>,
    /// Origins where the threshold was crossed within the horizon.
    pub crossings: usize,
    /// `(bin low, bin high, forecasts, mean probability, observed rate)`.
    pub reliability: Vec<(f64, f64, usize, f64, f64)>,
}

/// Backtests `y` from up to `max_origins` origins spread over its last
/// third (each with at least two seasons, or 48 points, before it).
pub fn backtest(
    y: &[f64],
    horizon: usize,
    levels: &[f64],
    choice: &ModelChoice,
    threshold: Option<&Threshold>,
    max_origins: usize,
) -> Result<Backtest, String> {
    let n = y.len();
    let first = (2 * n / 3).max(48);
    if first + horizon > n {
        return Err(format!(
            "{n} points are too few to backtest a horizon of {horizon} (two thirds of the history, at least 48 points, must come before the first origin)"
        ));
    }
    let last = n - horizon;
    let count = max_origins.max(1).min(last - first + 1);
    let origins: Vec<usize> = (0..count)
        .map(|i| first + (last - first) * i / count.max(2).saturating_sub(1).max(1))
        .map(|o| o.min(last))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let (mut abs_err, mut scale_sum, mut steps) = (0.0, 0.0, 0usize);
    let mut inside = vec![0usize; levels.len()];
    let mut probs: Vec<(f64, bool)> = Vec::new();
    for &o in &origins {
        let train = &y[..o];
        let actual = &y[o..o + horizon];
        let f = forecast(train, horizon, levels, choice)?;
        // The seasonal naive forecast from the same origin: the last
        // season repeated (the last value without seasons).
        let m = f.periods.first().copied().unwrap_or(1).min(train.len());
        for (h, (a, p)) in actual.iter().zip(&f.mean).enumerate() {
            let naive = train[train.len() - m + h % m];
            abs_err += (a - p).abs();
            scale_sum += (a - naive).abs();
        }
        steps += actual.len();
        for (k, (_, lo, hi)) in f.intervals.iter().enumerate() {
            inside[k] += actual
                .iter()
                .zip(lo.iter().zip(hi))
                .filter(|(a, (l, h))| **a >= **l && **a <= **h)
                .count();
        }
        if let Some(t) = threshold {
            let (p, _) = probability(&f.mean, &f.sigma, t, o as u64);
            probs.push((p, actual.iter().any(|&a| t.crossed(a))));
        }
    }
    if steps == 0 || scale_sum.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Err("the seasonal naive forecast is exact at every origin: no error scale".into());
    }
    let brier = (!probs.is_empty()).then(|| {
        probs
            .iter()
            .map(|(p, o)| (p - f64::from(u8::from(*o))).powi(2))
            .sum::<f64>()
            / probs.len() as f64
    });
    let mut reliability = Vec::new();
    if !probs.is_empty() {
        for b in 0..5 {
            let (lo, hi) = (b as f64 * 0.2, (b + 1) as f64 * 0.2);
            let bin: Vec<&(f64, bool)> = probs
                .iter()
                .filter(|(p, _)| *p >= lo && (*p < hi || (b == 4 && *p <= 1.0)))
                .collect();
            if !bin.is_empty() {
                let mp = bin.iter().map(|(p, _)| p).sum::<f64>() / bin.len() as f64;
                let obs = bin.iter().filter(|(_, o)| *o).count() as f64 / bin.len() as f64;
                reliability.push((lo, hi, bin.len(), mp, obs));
            }
        }
    }
    Ok(Backtest {
        origins: origins.len(),
        mase: abs_err / scale_sum,
        coverage: levels
            .iter()
            .zip(&inside)
            .map(|(l, k)| (*l, *k as f64 / steps as f64))
            .collect(),
        brier,
        crossings: probs.iter().filter(|(_, o)| *o).count(),
        reliability,
    })
}
