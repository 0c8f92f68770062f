//! Calibration figures and the recalibration map.
//!
//! A backtest pairs predicted breach probabilities `p` with what happened
//! (`o`, 0 or 1). From the pairs:
//!
//! - **Brier score**: `mean((p − o)²)`; 0 is perfect, and a constant
//!   prediction of the base rate `r` scores `r(1 − r)`.
//! - **Expected calibration error (ECE)**: predictions are put in ten equal
//!   bins of `p` ([0, 0.1), …, [0.9, 1]); ECE is `Σ (n_b / n)·|mean p_b −
//!   mean o_b|`, the gap between predicted and observed frequency weighted
//!   by how many predictions fall in each bin.
//! - **Reliability diagram**: observed frequency against mean prediction per
//!   bin, as SVG.
//! - **Isotonic recalibration**: the non-decreasing map `g` minimising
//!   `Σ (g(p) − o)²` (pool-adjacent-violators). Between the fitted points
//!   `g` is interpolated linearly, and it is constant beyond the first and
//!   last; `calibrated_risk = g(risk)`.

use std::path::Path;

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

/// Bins of the ECE and of the reliability diagram.
pub const BINS: usize = 10;

/// `mean((p − o)²)`; NaN without pairs.
pub fn brier(pairs: &[(f64, bool)]) -> f64 {
    if pairs.is_empty() {
        return f64::NAN;
    }
    pairs
        .iter()
        .map(|(p, o)| (p - f64::from(u8::from(*o))).powi(2))
        .sum::<f64>()
        / pairs.len() as f64
}

/// One bin of the reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Lower edge of the bin.
    pub from: f64,
    /// Upper edge.
    pub to: f64,
    /// Predictions in the bin.
    pub n: u64,
    /// Their mean.
    pub mean_predicted: f64,
    /// How often the event happened among them.
    pub observed: f64,
}

/// The ten equal-width bins of `p` (empty bins included, with NaN means).
pub fn reliability(pairs: &[(f64, bool)]) -> Vec<Bin> {
    let mut sums = [(0u64, 0.0f64, 0u64); BINS];
    for (p, o) in pairs {
        let b = ((p * BINS as f64) as usize).min(BINS - 1);
        sums[b].0 += 1;
        sums[b].1 += p;
        sums[b].2 += u64::from(*o);
    }
    sums.iter()
        .enumerate()
        .map(|(i, (n, sp, so))| Bin {
            from: i as f64 / BINS as f64,
            to: (i + 1) as f64 / BINS as f64,
            n: *n,
            mean_predicted: if *n == 0 { f64::NAN } else { sp / *n as f64 },
            observed: if *n == 0 {
                f64::NAN
            } else {
                *so as f64 / *n as f64
            },
        })
        .collect()
}

/// Expected calibration error over [`BINS`] equal bins; NaN without pairs.
pub fn ece(pairs: &[(f64, bool)]) -> f64 {
    if pairs.is_empty() {
        return f64::NAN;
    }
    let n = pairs.len() as f64;
    reliability(pairs)
        .iter()
        .filter(|b| b.n > 0)
        .map(|b| b.n as f64 / n * (b.mean_predicted - b.observed).abs())
        .sum()
}

/// A non-decreasing map from predicted to calibrated probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsotonicMap {
    /// `(prediction, calibrated)` points, increasing in both.
    pub points: Vec<(f64, f64)>,
}

impl IsotonicMap {
    /// The isotonic regression of the outcomes on the predictions
    /// (pool-adjacent-violators). Each pooled block becomes one point at the
    /// mean prediction of its members.
    pub fn fit(pairs: &[(f64, bool)]) -> IsotonicMap {
        let mut sorted: Vec<(f64, f64)> = pairs
            .iter()
            .filter(|(p, _)| p.is_finite())
            .map(|(p, o)| (*p, f64::from(u8::from(*o))))
            .collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Equal predictions are one point first (their outcomes averaged),
        // so that the map is a function. Blocks are (sum of p, sum of o,
        // count), merged while the block means decrease.
        let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
        let mut i = 0;
        while i < sorted.len() {
            let p = sorted[i].0;
            let (mut so, mut n) = (0.0, 0.0);
            while i < sorted.len() && sorted[i].0 == p {
                so += sorted[i].1;
                n += 1.0;
                i += 1;
            }
            blocks.push((p * n, so, n));
            while blocks.len() >= 2 {
                let (p2, o2, n2) = blocks[blocks.len() - 1];
                let (p1, o1, n1) = blocks[blocks.len() - 2];
                if o1 / n1 <= o2 / n2 {
                    break;
                }
                blocks.pop();
                let last = blocks.len() - 1;
                blocks[last] = (p1 + p2, o1 + o2, n1 + n2);
            }
        }
        IsotonicMap {
            points: blocks.iter().map(|(p, o, n)| (p / n, o / n)).collect(),
        }
    }

    /// The calibrated probability of `p`.
    pub fn apply(&self, p: f64) -> f64 {
        let pts = &self.points;
        if pts.is_empty() || !p.is_finite() {
            return p;
        }
        if p <= pts[0].0 {
            return pts[0].1;
        }
        let last = pts[pts.len() - 1];
        if p >= last.0 {
            return last.1;
        }
        let i = pts.partition_point(|q| q.0 <= p);
        let (a, b) = (pts[i - 1], pts[i]);
        if b.0 == a.0 {
            return b.1;
        }
        a.1 + (b.1 - a.1) * (p - a.0) / (b.0 - a.0)
    }
}

/// The reliability diagram as an SVG document.
pub fn reliability_svg(bins: &[Bin], title: &str) -> Result<String, String> {
    sim_output::plot_font::register();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (520, 520)).into_drawing_area();
        let e = |x: DrawingAreaErrorKind<_>| x.to_string();
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(52)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(|x| x.to_string())?;
        chart
            .configure_mesh()
            .x_desc("predicted breach probability (bin mean)")
            .y_desc("observed breach frequency")
            .draw()
            .map_err(|x| x.to_string())?;
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], &BLACK.mix(0.4)))
            .map_err(|x| x.to_string())?;
        let filled: Vec<&Bin> = bins.iter().filter(|b| b.n > 0).collect();
        chart
            .draw_series(LineSeries::new(
                filled.iter().map(|b| (b.mean_predicted, b.observed)),
                &BLUE,
            ))
            .map_err(|x| x.to_string())?;
        let max_n = filled.iter().map(|b| b.n).max().unwrap_or(1) as f64;
        chart
            .draw_series(filled.iter().map(|b| {
                // Marker area grows with the number of predictions in the bin.
                let r = 3.0 + 7.0 * (b.n as f64 / max_n).sqrt();
                Circle::new((b.mean_predicted, b.observed), r as i32, BLUE.filled())
            }))
            .map_err(|x| x.to_string())?;
        root.present().map_err(|x| x.to_string())?;
    }
    Ok(out)
}

/// What `preflight calibrate` stores: the map and the backtest it came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CalibrationFile {
    /// Always `isotonic`.
    pub method: String,
    /// The scenario's `name`.
    pub scenario: String,
    /// Hash of the scenario file the backtest ran on.
    pub scenario_hash: String,
    /// The incident history used.
    pub history: String,
    /// The map applied to `calibrated_risk`.
    pub map: IsotonicMap,
    /// Backtest figures before recalibration.
    pub brier: f64,
    /// Expected calibration error before recalibration.
    pub ece: f64,
    /// Windows × handlers in the backtest.
    pub predictions: u64,
    /// Of which the SLO was breached.
    pub breaches: u64,
    /// The reliability bins that hold predictions.
    pub bins: Vec<Bin>,
}

impl CalibrationFile {
    /// Reads a calibration file.
    pub fn read(path: &Path) -> Result<CalibrationFile, String> {
        let bytes = crate::inputs::read_regular(path, crate::inputs::MAX_DATA_FILE_BYTES)
            .map_err(|m| format!("{}: {m}", path.display()))?;
        // The message names the place, not the content: the file may be
        // anything a user pointed at.
        serde_json::from_slice(&bytes).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Data => "JSON, but not a calibration file",
                _ => "not JSON, so not a calibration file",
            };
            format!(
                "{}: line {}, column {}: {what} (expected a map written by `preflight calibrate`)",
                path.display(),
                e.line(),
                e.column()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brier_and_ece_of_simple_cases() {
        let pairs = [(0.0, false), (1.0, true), (0.5, true), (0.5, false)];
        assert!((brier(&pairs) - 0.125).abs() < 1e-12);
        // Bin 5 holds both 0.5s: mean 0.5, observed 0.5; the others are exact.
        assert!(ece(&pairs).abs() < 1e-12);
        // Always saying 0.9 for something that happens half the time.
        let over: Vec<(f64, bool)> = (0..100).map(|i| (0.9, i % 2 == 0)).collect();
        assert!((ece(&over) - 0.4).abs() < 1e-12);
        assert!((brier(&over) - (0.5 * 0.81 + 0.5 * 0.01)).abs() < 1e-12);
        assert!(brier(&[]).is_nan() && ece(&[]).is_nan());
    }

    #[test]
    fn isotonic_map_is_monotone_and_fixes_a_biased_forecaster() {
        // A forecaster that says 0.2 when the truth is 0.4 and 0.6 when it is 0.3:
        // the violators pool into one block.
        let mut pairs = Vec::new();
        for i in 0..100 {
            pairs.push((0.2, i < 40));
            pairs.push((0.6, i < 30));
        }
        let m = IsotonicMap::fit(&pairs);
        assert_eq!(m.points.len(), 1);
        assert!((m.points[0].1 - 0.35).abs() < 1e-12);
        assert!((m.apply(0.0) - 0.35).abs() < 1e-12);
        // Ordered forecasts keep their own blocks, and recalibration makes
        // them exact: ECE after is 0.
        let mut pairs = Vec::new();
        for i in 0..100 {
            pairs.push((0.1, i < 20));
            pairs.push((0.5, i < 70));
        }
        let m = IsotonicMap::fit(&pairs);
        assert_eq!(m.points.len(), 2);
        for ((x, y), (ex, ey)) in m.points.iter().zip([(0.1, 0.2), (0.5, 0.7)]) {
            assert!(
                (x - ex).abs() < 1e-12 && (y - ey).abs() < 1e-12,
                "{:?}",
                m.points
            );
        }
        assert!((m.apply(0.3) - 0.45).abs() < 1e-12, "linear between points");
        // Ties are one point whatever the order of their outcomes.
        let tied = [
            (0.3, false),
            (0.3, false),
            (0.3, true),
            (0.3, true),
            (0.3, false),
        ];
        let m3 = IsotonicMap::fit(&tied);
        assert_eq!(m3.points.len(), 1);
        assert!((m3.apply(0.3) - 0.4).abs() < 1e-12);
        let after: Vec<(f64, bool)> = pairs.iter().map(|(p, o)| (m.apply(*p), *o)).collect();
        assert!(ece(&after) < 1e-12);
        assert!(brier(&after) < brier(&pairs));
        // Monotone everywhere.
        let mut last = -1.0;
        for k in 0..=100 {
            let y = m.apply(k as f64 / 100.0);
            assert!(y >= last);
            last = y;
        }
    }

    #[test]
    fn the_diagram_is_an_svg_document() {
        let pairs: Vec<(f64, bool)> = (0..200).map(|i| (i as f64 / 200.0, i % 3 == 0)).collect();
        let svg = reliability_svg(&reliability(&pairs), "test").unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("observed breach frequency"));
    }
}
