//! Fitting and forecasting on augurs: season lengths found from the data
//! (augurs' periodogram detector) or given; with seasons, MSTL with an
//! AutoETS trend; without, AutoETS alone. Prediction intervals at every
//! requested level, and the per-step spread the crossing probability's
//! sample paths are drawn from.

use augurs::ets::AutoETS;
use augurs::ets::trend::AutoETSTrendModel;
use augurs::mstl::MSTLModel;
use augurs::seasons::{Detector, PeriodogramDetector};
use augurs::{Fit, Predict};

/// How to choose the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelChoice {
    /// Season lengths in steps; `None`: detected from the data.
    pub periods: Option<Vec<usize>>,
    /// Seconds between points (for the calendar's seasons).
    pub step_s: i64,
    /// Points of history the model is fitted on, the latest (`None`: the
    /// [`fit_window`] rule; `Some(usize::MAX)`: all of it).
    pub fit_window: Option<usize>,
}

/// A forecast of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// The model, e.g. `MSTL(288) + ETS(A,N,N)` or `ETS(A,A,N)`.
    pub model: String,
    /// Season lengths used.
    pub periods: Vec<usize>,
    /// Mean per future step.
    pub mean: Vec<f64>,
    /// Per level (0–100): lower and upper bounds per step.
    pub intervals: Vec<(f64, Vec<f64>, Vec<f64>)>,
    /// The standard deviation of the forecast error per step (from the
    /// widest interval, as a normal's).
    pub sigma: Vec<f64>,
    /// In-sample one-step MASE against the seasonal naive forecast.
    pub fit_mase: f64,
}

/// The standard normal quantile of `p` (Acklam's rational approximation,
/// relative error below 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.383_577_518_672_69e2,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-03,
        3.224671290700398e-01,
        2.445134137142996e+00,
        3.754408661907416e+00,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The autocorrelation at `lag` of the first differences of `y`: how much
/// of the step-to-step movement repeats a season later (differences, so
/// that a trend or a level shift does not pass for a season).
pub fn diff_acf(y: &[f64], lag: usize) -> f64 {
    if y.len() < lag + 3 {
        return 0.0;
    }
    let d: Vec<f64> = y.windows(2).map(|w| w[1] - w[0]).collect();
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let c: Vec<f64> = d.iter().map(|x| x - mean).collect();
    let den: f64 = c.iter().map(|x| x * x).sum();
    if den.is_nan() || den <= 0.0 {
        return 0.0;
    }
    c.iter().zip(&c[lag..]).map(|(a, b)| a * b).sum::<f64>() / den
}

/// The least autocorrelation of differences a season must show.
pub const MIN_SEASON_ACF: f64 = 0.1;

/// Season lengths of `y` (a point every `step_s` seconds): candidates are
/// the peaks of augurs' periodogram detector and the calendar's day and
/// week in steps; a candidate is kept when the series' differences repeat
/// at that lag (autocorrelation at least [`MIN_SEASON_ACF`]) and two
/// seasons fit in the data; at most two, strongest first.
pub fn detect_periods(y: &[f64], step_s: i64) -> Vec<usize> {
    if y.len() < 24 {
        return Vec::new();
    }
    let max = (y.len() / 3).min(4096) as u32;
    let detector = PeriodogramDetector::builder()
        .max_period(max.max(4))
        .build();
    let mut candidates: Vec<usize> = detector.detect(y).into_iter().map(|p| p as usize).collect();
    for cal in [86_400_i64, 7 * 86_400] {
        if step_s > 0 && cal % step_s == 0 {
            candidates.push((cal / step_s) as usize);
        }
    }
    candidates.sort_unstable();
    candidates.dedup();
    let mut kept: Vec<(f64, usize)> = candidates
        .into_iter()
        .filter(|p| *p >= 4 && *p * 2 <= y.len())
        .map(|p| (diff_acf(y, p), p))
        .filter(|(acf, _)| *acf >= MIN_SEASON_ACF)
        .collect();
    kept.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut p: Vec<usize> = kept.into_iter().take(2).map(|(_, p)| p).collect();
    p.sort_unstable();
    p
}

/// Mean absolute error of the seasonal naive forecast one season ahead
/// (lag `m`, 1 without seasons) over `y`: the MASE scale.
pub fn naive_scale(y: &[f64], m: usize) -> f64 {
    let m = m.max(1);
    if y.len() <= m {
        return f64::NAN;
    }
    let s: f64 = y.windows(m + 1).map(|w| (w[m] - w[0]).abs()).sum();
    s / (y.len() - m) as f64
}

/// The fewest points [`fit_window`] fits on.
pub const MIN_FIT_POINTS: usize = 1000;

/// How many of the latest points a model is fitted on, by default: three of
/// the longest season, ten horizons, and at least [`MIN_FIT_POINTS`] (all
/// of a shorter history). Exponential smoothing weighs the latest points
/// most; older ones mostly cost time (the fit is linear in them).
pub fn fit_window(n: usize, periods: &[usize], horizon: usize) -> usize {
    let longest = periods.iter().copied().max().unwrap_or(0);
    MIN_FIT_POINTS.max(3 * longest).max(10 * horizon).min(n)
}

/// Fits `y` and forecasts `horizon` steps with intervals at `levels`
/// (percent). Seasons are detected on the whole history; the model is
/// fitted on its latest points ([`ModelChoice::fit_window`]).
pub fn forecast(
    y: &[f64],
    horizon: usize,
    levels: &[f64],
    choice: &ModelChoice,
) -> Result<Forecast, String> {
    let periods = match &choice.periods {
        Some(p) => p.clone(),
        None => detect_periods(y, choice.step_s),
    };
    let window = choice
        .fit_window
        .unwrap_or_else(|| fit_window(y.len(), &periods, horizon))
        .clamp(1, y.len());
    let y = &y[y.len() - window..];
    // A season kept must still fit twice in what is fitted.
    let periods: Vec<usize> = periods.into_iter().filter(|p| 2 * p <= y.len()).collect();
    let widest = levels.iter().copied().fold(0.0, f64::max);
    let (model, (mean, intervals, in_sample)) = if periods.is_empty() {
        let fitted = AutoETS::non_seasonal()
            .fit(y)
            .map_err(|e| format!("ETS did not fit: {e}"))?;
        let name = format!("ETS({})", comma(&fitted.model().model_type().to_string()));
        (name, predictions(&fitted, horizon, levels)?)
    } else {
        let trend = AutoETSTrendModel::from(AutoETS::non_seasonal());
        let fitted = MSTLModel::new(periods.clone(), trend)
            .fit(y)
            .map_err(|e| format!("MSTL did not fit: {e}"))?;
        let name = format!(
            "MSTL({}) + ETS",
            periods
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        (name, predictions(&fitted, horizon, levels)?)
    };
    // The spread per step, from the widest interval as a normal's.
    let z = normal_quantile(0.5 + widest / 200.0);
    let sigma: Vec<f64> = match intervals.iter().find(|(l, _, _)| *l == widest) {
        Some((_, lo, hi)) if z > 0.0 => lo
            .iter()
            .zip(hi)
            .map(|(a, b)| ((b - a) / (2.0 * z)).max(0.0))
            .collect(),
        _ => vec![0.0; mean.len()],
    };
    let m = periods.first().copied().unwrap_or(1);
    let scale = naive_scale(y, m);
    let errs: Vec<f64> = y
        .iter()
        .zip(&in_sample)
        .skip(m)
        .filter(|(_, f)| f.is_finite())
        .map(|(a, f)| (a - f).abs())
        .collect();
    let fit_mase = if errs.is_empty() || scale.is_nan() || scale <= 0.0 {
        f64::NAN
    } else {
        errs.iter().sum::<f64>() / errs.len() as f64 / scale
    };
    Ok(Forecast {
        model,
        periods,
        mean,
        intervals,
        sigma,
        fit_mase,
    })
}

/// Per-level intervals of a fitted model.
type Intervals = Vec<(f64, Vec<f64>, Vec<f64>)>;

/// A fitted model's mean over `horizon`, its intervals at `levels`
/// (percent) and its in-sample one-step predictions.
fn predictions<P: Predict>(
    fitted: &P,
    horizon: usize,
    levels: &[f64],
) -> Result<(Vec<f64>, Intervals, Vec<f64>), String> {
    let mut mean = Vec::new();
    let mut intervals = Vec::new();
    for &l in levels {
        let f = fitted
            .predict(horizon, l / 100.0)
            .map_err(|e| e.to_string())?;
        let iv = f.intervals.ok_or("no intervals")?;
        intervals.push((l, iv.lower, iv.upper));
        mean = f.point;
    }
    if levels.is_empty() {
        mean = fitted
            .predict(horizon, None)
            .map_err(|e| e.to_string())?
            .point;
    }
    let in_sample = fitted
        .predict_in_sample(None)
        .map_err(|e| e.to_string())?
        .point;
    Ok((mean, intervals, in_sample))
}

/// `ANN` → `A,N,N`.
fn comma(s: &str) -> String {
    s.chars()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_a_seasonal_series() {
        assert!((normal_quantile(0.975) - 1.959964).abs() < 1e-5);
        assert!((normal_quantile(0.9) - 1.281552).abs() < 1e-5);
        assert!((normal_quantile(0.01) + 2.326348).abs() < 1e-5);
        let y: Vec<f64> = (0..480)
            .map(|i| 10.0 + 3.0 * (i as f64 * std::f64::consts::TAU / 24.0).sin() + 0.01 * i as f64)
            .collect();
        // The day, and (hourly data over 20 days) the week it repeats in.
        assert_eq!(detect_periods(&y, 3600)[0], 24);
        assert!(detect_periods(&y[..100], 3600) == vec![24]);
        let choice = ModelChoice {
            periods: None,
            step_s: 3600,
            fit_window: None,
        };
        let f = forecast(&y, 24, &[80.0, 95.0], &choice).unwrap();
        assert!(f.model.starts_with("MSTL(24"), "{}", f.model);
        // The next day repeats the pattern.
        let want = 10.0
            + 3.0 * (480.0 * std::f64::consts::TAU / 24.0 + std::f64::consts::TAU / 4.0).sin()
            + 0.01 * 486.0;
        assert!((f.mean[6] - want).abs() < 0.5, "{} vs {want}", f.mean[6]);
        assert_eq!(f.intervals.len(), 2);
        assert!(f.intervals[1].1[0] <= f.intervals[0].1[0]);
    }

    #[test]
    fn the_fit_window_is_three_seasons_ten_horizons_and_at_least_a_thousand_points() {
        assert_eq!(fit_window(10_000, &[], 24), 1000);
        assert_eq!(fit_window(10_000, &[288, 2016], 24), 6048);
        assert_eq!(fit_window(10_000, &[288], 200), 2000);
        assert_eq!(fit_window(500, &[288], 24), 500);
        // Fitting on a window is fitting on those points alone.
        let y: Vec<f64> = (0..3000)
            .map(|i| 50.0 + (i as f64 * 0.37).sin() + 0.001 * i as f64)
            .collect();
        let choice = |w| ModelChoice {
            periods: Some(Vec::new()),
            step_s: 60,
            fit_window: Some(w),
        };
        let a = forecast(&y, 12, &[80.0], &choice(1000)).unwrap();
        let b = forecast(&y[2000..], 12, &[80.0], &choice(usize::MAX)).unwrap();
        assert_eq!(a.mean, b.mean);
        assert_eq!(a.intervals, b.intervals);
        let all = forecast(&y, 12, &[80.0], &choice(usize::MAX)).unwrap();
        assert_ne!(all.mean, a.mean);
    }
}
