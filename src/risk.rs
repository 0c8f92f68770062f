//! Risk figures: confidence intervals and thresholds.
//!
//! **Risk** is the probability that a handler breaches its SLO within a
//! campaign's horizon, estimated as `breaches / campaigns` over natural-mode
//! campaigns, with a 95% Wilson score interval (it behaves well at 0 and 1
//! and with few campaigns, where the normal approximation does not).
//!
//! **Threshold rule.** `risk.threshold` gives three base thresholds; the one
//! that applies to a handler is chosen by the criticality of the resource it
//! runs on, so that more critical resources tolerate less risk:
//!
//! | criticality | threshold |
//! |---|---|
//! | `low` | `risk.threshold.high` |
//! | `medium` | `risk.threshold.medium` |
//! | `high` | `risk.threshold.low` |
//! | `critical` | `risk.threshold.low / 2` |
//!
//! With the defaults (0.01, 0.05, 0.2) that is 0.2, 0.05, 0.01 and 0.005.

use sim_models::spec::{Criticality, Risk};

/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// `(estimate, low, high)`: the proportion `k / n` with its 95% Wilson
/// score interval. With `n = 0` the estimate is NaN and the interval [0, 1].
///
/// # Examples
///
/// ```
/// let (p, lo, hi) = preflight::risk::wilson(0, 100);
/// assert_eq!(p, 0.0);
/// assert_eq!(lo, 0.0);
/// assert!((hi - 0.037).abs() < 0.001);
/// ```
pub fn wilson(k: u64, n: u64) -> (f64, f64, f64) {
    if n == 0 {
        return (f64::NAN, 0.0, 1.0);
    }
    let n_f = n as f64;
    let p = k as f64 / n_f;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denom;
    let half = Z95 * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denom;
    // At k = 0 (k = n) the bound is exactly 0 (1); say so rather than leave rounding noise.
    let low = if k == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let high = if k == n {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    (p, low, high)
}

/// The risk threshold for a handler on a resource of criticality `c`.
pub fn threshold_for(risk: &Risk, c: Criticality) -> f64 {
    match c {
        Criticality::Low => risk.threshold.high,
        Criticality::Medium => risk.threshold.medium,
        Criticality::High => risk.threshold.low,
        Criticality::Critical => risk.threshold.low / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_reference_values() {
        // Reference: Wilson interval for 10/100 is [0.0552, 0.1744] (Newcombe 1998, method 3).
        let (p, lo, hi) = wilson(10, 100);
        assert_eq!(p, 0.1);
        assert!((lo - 0.0552).abs() < 5e-4, "{lo}");
        assert!((hi - 0.1744).abs() < 5e-4, "{hi}");
        let (_, lo, hi) = wilson(100, 100);
        assert!(hi == 1.0 && lo > 0.96);
        assert!(wilson(0, 0).0.is_nan());
    }

    #[test]
    fn critical_resources_tolerate_less() {
        let r = Risk::default();
        let t: Vec<f64> = [
            Criticality::Low,
            Criticality::Medium,
            Criticality::High,
            Criticality::Critical,
        ]
        .iter()
        .map(|c| threshold_for(&r, *c))
        .collect();
        assert!(t.windows(2).all(|w| w[0] > w[1]), "{t:?}");
        assert_eq!(t, vec![0.2, 0.05, 0.01, 0.005]);
    }
}
