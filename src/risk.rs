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
//!
//! **Decisions.** A risk is *over* its threshold when the whole interval lies
//! above it, *under* when the whole interval lies at or below it, and
//! *undecided* when the interval straddles it: more campaigns are needed
//! before the comparison means anything. [`campaigns_to_decide`] estimates
//! how many, and `preflight run --until-decided` keeps running until every
//! handler is decided (or a cap is reached).

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

/// `(estimate, low, high)` of a risk estimated by importance sampling:
/// `n` campaigns whose breach indicators times their weights sum to
/// `sum_w` (and their squares to `sum_w2`). The estimate `sum_w / n` is
/// unbiased; the 95% interval is the normal one from the sample variance of
/// the weighted indicators, clamped to [0, 1]. With no breach at all the
/// sample variance says nothing, and the interval is Wilson's for 0 in `n`
/// (conservative when breaching paths carry weights below 1, which is what
/// biasing failures towards more frequent ones gives).
pub fn weighted(sum_w: f64, sum_w2: f64, n: u64) -> (f64, f64, f64) {
    if n == 0 {
        return (f64::NAN, 0.0, 1.0);
    }
    if sum_w <= 0.0 {
        let (_, low, high) = wilson(0, n);
        return (0.0, low, high);
    }
    let n_f = n as f64;
    let p = sum_w / n_f;
    let var = if n > 1 {
        ((sum_w2 / n_f - p * p) * n_f / (n_f - 1.0)).max(0.0)
    } else {
        0.0
    };
    let half = Z95 * (var / n_f).sqrt();
    (p, (p - half).max(0.0), (p + half).min(1.0))
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

/// Where a risk stands against a threshold, given its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The whole interval lies at or below the threshold.
    Under,
    /// The whole interval lies above the threshold.
    Over,
    /// The interval straddles the threshold.
    Undecided,
}

impl Decision {
    /// The word used in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Under => "under",
            Decision::Over => "over",
            Decision::Undecided => "undecided",
        }
    }
}

/// The decision for `k` breaches in `n` campaigns against `threshold`.
pub fn decide(k: u64, n: u64, threshold: f64) -> Decision {
    let (_, low, high) = wilson(k, n);
    decide_interval(low, high, threshold)
}

/// The decision for an interval `[low, high]` against `threshold`.
pub fn decide_interval(low: f64, high: f64, threshold: f64) -> Decision {
    if low > threshold {
        Decision::Over
    } else if high <= threshold {
        Decision::Under
    } else {
        Decision::Undecided
    }
}

/// About how many campaigns in all a risk near `p` needs before its 95%
/// interval clears `threshold` (normal approximation: the half-width
/// `z·sqrt(p(1-p)/n)` must fall below `|p - threshold|`). `None` when `p`
/// equals the threshold (no number of campaigns decides it) or is not a
/// number. With no breach at all (or only breaches) the normal
/// approximation says nothing; there the Wilson bound itself is solved: the
/// upper bound of 0 breaches in `n` is `z²/(n + z²)`, at or below
/// `threshold` from `n = z²(1 − threshold)/threshold` on (and symmetrically
/// when every campaign breached).
pub fn campaigns_to_decide(p: f64, threshold: f64) -> Option<u64> {
    if !p.is_finite() || !(0.0..=1.0).contains(&threshold) {
        return None;
    }
    let z2 = Z95 * Z95;
    if p <= 0.0 {
        return (threshold > 0.0).then(|| (z2 * (1.0 - threshold) / threshold).ceil() as u64);
    }
    if p >= 1.0 {
        return (threshold < 1.0).then(|| (z2 * threshold / (1.0 - threshold)).ceil() as u64);
    }
    let gap = (p - threshold).abs();
    if gap < 1e-12 {
        return None;
    }
    let n = z2 * p * (1.0 - p) / (gap * gap);
    (n < 1e15).then(|| n.ceil() as u64)
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

    #[test]
    fn weighted_estimate_reduces_to_the_plain_one_with_unit_weights() {
        // 30 breaches of weight 1 in 200: p = 0.15, normal interval.
        let (p, lo, hi) = weighted(30.0, 30.0, 200);
        assert!((p - 0.15).abs() < 1e-12);
        let half = Z95 * (0.15f64 * 0.85 * 200.0 / 199.0 / 200.0).sqrt();
        assert!((lo - (0.15 - half)).abs() < 1e-12 && (hi - (0.15 + half)).abs() < 1e-12);
        // Small weights: a tiny risk with a tight interval.
        let (p, lo, hi) = weighted(500.0 * 2e-5, 500.0 * 4e-10, 1000);
        assert!((p - 1e-5).abs() < 1e-15);
        assert!(lo > 0.0 && hi < 2e-5, "{lo} {hi}");
        assert_eq!(weighted(0.0, 0.0, 100).0, 0.0);
        assert!(weighted(0.0, 0.0, 0).0.is_nan());
    }

    #[test]
    fn decisions_follow_the_interval() {
        // 10/100: interval about [0.055, 0.174].
        assert_eq!(decide(10, 100, 0.05), Decision::Over);
        assert_eq!(decide(10, 100, 0.2), Decision::Under);
        assert_eq!(decide(10, 100, 0.1), Decision::Undecided);
        // No campaigns: the interval is [0, 1], nothing is decided.
        assert_eq!(decide(0, 0, 0.05), Decision::Undecided);
        // 0/1000: upper bound about 0.0038.
        assert_eq!(decide(0, 1000, 0.005), Decision::Under);
    }

    #[test]
    fn campaigns_to_decide_is_enough_and_not_wasteful() {
        // p = 0.1 against 0.05: n = z^2 * 0.09 / 0.0025 = 138.3 -> 139.
        let n = campaigns_to_decide(0.1, 0.05).unwrap();
        assert_eq!(n, 139);
        // At about that many campaigns the Wilson interval clears the
        // threshold (the two intervals differ a little near the bound).
        let k = (0.1 * 2.0 * n as f64).round() as u64;
        assert_eq!(decide(k, 2 * n, 0.05), Decision::Over);
        assert_eq!(campaigns_to_decide(0.05, 0.05), None);
        assert_eq!(campaigns_to_decide(f64::NAN, 0.05), None);
        // No breach: the Wilson upper bound z²/(n + z²) reaches 0.005 at
        // n = z² · 0.995 / 0.005 = 764.4.
        let n0 = campaigns_to_decide(0.0, 0.005).unwrap();
        assert_eq!(n0, 765);
        assert_eq!(decide(0, n0, 0.005), Decision::Under);
        assert_eq!(decide(0, n0 - 1, 0.005), Decision::Undecided);
        assert_eq!(campaigns_to_decide(0.0, 0.0), None);
        let n1 = campaigns_to_decide(1.0, 0.9).unwrap();
        assert_eq!(decide(n1, n1, 0.9), Decision::Over);
        // Closer to the threshold needs more.
        assert!(campaigns_to_decide(0.06, 0.05).unwrap() > campaigns_to_decide(0.1, 0.05).unwrap());
    }
}
