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

/// The two-sided normal quantile of a 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// `(estimate, low, high)`: the proportion `k / n` with its 95% Wilson
/// score interval. With `n = 0` the estimate is NaN and the interval [0, 1].
///
/// # Examples
///
/// ```
/// let (p, lo, hi) = sim_engine::risk::wilson(0, 100);
/// assert_eq!(p, 0.0);
/// assert_eq!(lo, 0.0);
/// assert!((hi - 0.037).abs() < 0.001);
/// ```
pub fn wilson(k: u64, n: u64) -> (f64, f64, f64) {
    wilson_z(k, n, Z95)
}

/// [`wilson`] at the two-sided level whose normal quantile is `z` (1.96 for
/// 95%; see [`z_two_sided`]).
pub fn wilson_z(k: u64, n: u64, z: f64) -> (f64, f64, f64) {
    if n == 0 {
        return (f64::NAN, 0.0, 1.0);
    }
    let n_f = n as f64;
    let p = k as f64 / n_f;
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denom;
    let half = z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denom;
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
    weighted_z(sum_w, sum_w2, n, Z95)
}

/// [`weighted`] at the two-sided level whose normal quantile is `z`.
pub fn weighted_z(sum_w: f64, sum_w2: f64, n: u64, z: f64) -> (f64, f64, f64) {
    if n == 0 {
        return (f64::NAN, 0.0, 1.0);
    }
    if sum_w <= 0.0 {
        let (_, low, high) = wilson_z(0, n, z);
        return (0.0, low, high);
    }
    let n_f = n as f64;
    let p = sum_w / n_f;
    let var = if n > 1 {
        ((sum_w2 / n_f - p * p) * n_f / (n_f - 1.0)).max(0.0)
    } else {
        0.0
    };
    let half = z * (var / n_f).sqrt();
    (p, (p - half).max(0.0), (p + half).min(1.0))
}

/// `(difference, low, high)`: the difference `p_variant − p_base` of two
/// proportions observed on the same `n` campaigns (paired data), with
/// Newcombe's (1998) hybrid score interval for paired proportions, his
/// method 10.
///
/// The paired table counts campaigns in which the handler breached under
/// `both` runs, under the base only (`base_only`), under the variant only
/// (`variant_only`) and under `neither`; `n` is their sum. The difference is
/// `(variant_only − base_only) / n`. The interval is built from the 95%
/// Wilson intervals `[l, u]` of the two marginal proportions and the phi
/// coefficient of the table:
///
/// ```text
/// low  = d − sqrt((p_v − l_v)² − 2φ(p_v − l_v)(u_b − p_b) + (u_b − p_b)²)
/// high = d + sqrt((p_b − l_b)² − 2φ(p_b − l_b)(u_v − p_v) + (u_v − p_v)²)
/// ```
///
/// with φ = (ad − bc)/√(efgh) over the table's cells and margins, taken as
/// `(ad − bc − n/2)/√(efgh)` when `ad − bc > n/2`, as 0 when
/// `0 ≤ ad − bc ≤ n/2` or a margin is empty (Newcombe's correction, as in
/// Altman et al., *Statistics with Confidence*, 2000, and Fagerland, Lydersen
/// and Laake, *Statistical Analysis of Contingency Tables*, 2017). When most
/// campaigns agree (φ near 1, which common random numbers give), the
/// interval is much narrower than the two marginal intervals suggest. With
/// `n = 0` the difference is NaN and the interval [−1, 1].
///
/// # Examples
///
/// ```
/// // 161 campaigns: 59 breached under both, 16 under the base only, 6 under the variant only.
/// let (d, lo, hi) = sim_engine::risk::newcombe_paired(59, 16, 6, 80);
/// assert!((d + 0.0621).abs() < 1e-4);
/// assert!((lo + 0.1186).abs() < 1e-4 && (hi + 0.0046).abs() < 1e-4);
/// ```
pub fn newcombe_paired(
    both: u64,
    base_only: u64,
    variant_only: u64,
    neither: u64,
) -> (f64, f64, f64) {
    newcombe_paired_z(both, base_only, variant_only, neither, Z95)
}

/// [`newcombe_paired`] built from Wilson intervals at the two-sided level
/// whose normal quantile is `z`.
pub fn newcombe_paired_z(
    both: u64,
    base_only: u64,
    variant_only: u64,
    neither: u64,
    z: f64,
) -> (f64, f64, f64) {
    let n = both + base_only + variant_only + neither;
    if n == 0 {
        return (f64::NAN, -1.0, 1.0);
    }
    // Newcombe's notation: the first proportion is the variant's.
    let (a, b, c, d) = (
        both as f64,
        variant_only as f64,
        base_only as f64,
        neither as f64,
    );
    let n_f = n as f64;
    let (p_v, l_v, u_v) = wilson_z(both + variant_only, n, z);
    let (p_b, l_b, u_b) = wilson_z(both + base_only, n, z);
    let margins = [a + b, c + d, a + c, b + d];
    let phi = if margins.contains(&0.0) {
        0.0
    } else {
        let cross = a * d - b * c;
        let corrected = if cross > n_f / 2.0 {
            cross - n_f / 2.0
        } else if cross >= 0.0 {
            0.0
        } else {
            cross
        };
        corrected / margins.iter().product::<f64>().sqrt()
    };
    let diff = p_v - p_b;
    let (dl_v, du_v, dl_b, du_b) = (p_v - l_v, u_v - p_v, p_b - l_b, u_b - p_b);
    let delta = (dl_v * dl_v - 2.0 * phi * dl_v * du_b + du_b * du_b)
        .max(0.0)
        .sqrt();
    let epsilon = (dl_b * dl_b - 2.0 * phi * dl_b * du_v + du_v * du_v)
        .max(0.0)
        .sqrt();
    (diff, (diff - delta).max(-1.0), (diff + epsilon).min(1.0))
}

/// `(difference, low, high)` of a risk difference estimated by importance
/// sampling on paired campaigns: `n` campaigns whose paired differences
/// `w_v·y_v − w_b·y_b` (weights times breach indicators, variant minus
/// base) sum to `sum_d` and their squares to `sum_d2`. The 95% interval is
/// the normal one of the mean difference, clamped to [−1, 1]. `None` when
/// every difference is zero (the sample variance then says nothing; the
/// caller falls back on [`newcombe_paired`] of the counts).
pub fn paired_weighted(sum_d: f64, sum_d2: f64, n: u64) -> Option<(f64, f64, f64)> {
    paired_weighted_z(sum_d, sum_d2, n, Z95)
}

/// [`paired_weighted`] at the two-sided level whose normal quantile is `z`.
pub fn paired_weighted_z(sum_d: f64, sum_d2: f64, n: u64, z: f64) -> Option<(f64, f64, f64)> {
    if n == 0 || sum_d2 <= 0.0 {
        return None;
    }
    let n_f = n as f64;
    let mean = sum_d / n_f;
    let var = if n > 1 {
        ((sum_d2 / n_f - mean * mean) * n_f / (n_f - 1.0)).max(0.0)
    } else {
        0.0
    };
    let half = z * (var / n_f).sqrt();
    Some((mean, (mean - half).max(-1.0), (mean + half).min(1.0)))
}

/// The normal quantile `z` of a two-sided interval at level `1 − alpha`
/// (1.96 for `alpha = 0.05`).
pub fn z_two_sided(alpha: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    let alpha = alpha.clamp(1e-12, 1.0);
    Normal::standard().inverse_cdf(1.0 - alpha / 2.0)
}

/// Whether a difference interval excludes zero (the difference is
/// significant at the 5% level).
pub fn significant(low: f64, high: f64) -> bool {
    low > 0.0 || high < 0.0
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

/// The scenario's name for a criticality.
pub fn criticality_str(c: sim_models::spec::Criticality) -> &'static str {
    match c {
        sim_models::spec::Criticality::Low => "low",
        sim_models::spec::Criticality::Medium => "medium",
        sim_models::spec::Criticality::High => "high",
        sim_models::spec::Criticality::Critical => "critical",
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
    #[test]
    fn newcombe_paired_matches_published_and_hand_computed_values() {
        // Fagerland, Lydersen & Laake (2017), ch. 8, Cavo et al. (2012):
        // table [[59, 6], [16, 80]], p1 − p2 = −0.0621 (95% CI −0.1186 to
        // −0.0046). Here the first proportion is the variant's: 6 campaigns
        // breached under the variant only, 16 under the base only.
        let (d, lo, hi) = newcombe_paired(59, 16, 6, 80);
        assert!((d - (-10.0 / 161.0)).abs() < 1e-12);
        assert!((lo - -0.118_621).abs() < 1e-5, "{lo}");
        assert!((hi - -0.004_625).abs() < 1e-5, "{hi}");
        // Altman et al. (2000), table 6.2: [[14, 5], [0, 22]], 0.122 (0.011 to 0.226).
        let (d, lo, hi) = newcombe_paired(14, 0, 5, 22);
        assert!((d - 5.0 / 41.0).abs() < 1e-12);
        assert!((lo - 0.011_483).abs() < 1e-5 && (hi - 0.226_493).abs() < 1e-5);
        // By hand (Wilson limits, phi = (10·20 − 15·5 − 25)/sqrt(25·25·15·35)
        // = 0.1746): a = 10, b = 15 (variant only), c = 5, d = 20.
        let (d, lo, hi) = newcombe_paired(10, 5, 15, 20);
        assert!((d - 0.2).abs() < 1e-12);
        assert!((lo - 0.025_838).abs() < 1e-5 && (hi - 0.356_937).abs() < 1e-5);
        // Swapping the roles mirrors the interval.
        let (d2, lo2, hi2) = newcombe_paired(10, 15, 5, 20);
        assert!((d2 + d).abs() < 1e-12 && (lo2 + hi).abs() < 1e-12 && (hi2 + lo).abs() < 1e-12);
        // Perfect agreement: difference 0, a narrow interval (phi = 0.976).
        let (d, lo, hi) = newcombe_paired(30, 0, 0, 70);
        assert_eq!(d, 0.0);
        assert!((hi - 0.024_267).abs() < 1e-5 && (lo + hi).abs() < 1e-12);
        // An empty margin: phi = 0, the interval of two independent Wilson intervals.
        let (d, lo, hi) = newcombe_paired(0, 0, 0, 50);
        assert_eq!(d, 0.0);
        assert!((hi - 0.071_348).abs() < 1e-5 && (lo + hi).abs() < 1e-12);
        let (d, lo, hi) = newcombe_paired(0, 0, 0, 0);
        assert!(d.is_nan() && lo == -1.0 && hi == 1.0);
    }

    /// Coverage sanity check: pairs with a known difference and a strong
    /// correlation (what common random numbers give); the 95% interval
    /// must hold the true difference in about 95% of replications.
    #[test]
    fn newcombe_paired_covers_the_true_difference() {
        let mut state = 0x5EED_u64;
        let mut uniform = || {
            state = sim_core::splitmix64(state);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        // base breaches when u < 0.3; the variant shares u with
        // probability 0.8 (else draws its own) and breaches when u < 0.2:
        // P(variant) = 0.2, true difference −0.1.
        let (reps, n) = (2000, 200);
        let mut covered = 0;
        let mut width = 0.0;
        for _ in 0..reps {
            let mut t = [0u64; 4]; // both, base only, variant only, neither
            for _ in 0..n {
                let u = uniform();
                let v = if uniform() < 0.8 { u } else { uniform() };
                let (yb, yv) = (u < 0.3, v < 0.2);
                t[match (yb, yv) {
                    (true, true) => 0,
                    (true, false) => 1,
                    (false, true) => 2,
                    (false, false) => 3,
                }] += 1;
            }
            let (_, lo, hi) = newcombe_paired(t[0], t[1], t[2], t[3]);
            covered += u64::from(lo <= -0.1 && -0.1 <= hi);
            width += hi - lo;
        }
        let coverage = covered as f64 / reps as f64;
        // ±5 standard errors of a 95% coverage estimated from 2000 replications.
        assert!((0.925..=0.975).contains(&coverage), "coverage {coverage}");
        // And the pairing pays: narrower than two independent Wilson intervals' sum.
        let (_, l1, h1) = wilson(60, 200);
        let (_, l2, h2) = wilson(40, 200);
        let independent = ((h1 - 0.3f64).powi(2) + (0.2 - l2).powi(2)).sqrt()
            + ((0.3 - l1).powi(2) + (h2 - 0.2f64).powi(2)).sqrt();
        assert!(
            width / (reps as f64) < 0.8 * independent,
            "{} vs {independent}",
            width / reps as f64
        );
    }

    #[test]
    fn paired_weighted_is_the_normal_interval_of_the_differences() {
        // Differences: +1 five times, −1 fifteen times, 0 eighty times.
        let (m, lo, hi) = paired_weighted(-10.0, 20.0, 100).unwrap();
        assert!((m + 0.1).abs() < 1e-12);
        let var = (0.2 - 0.01) * 100.0 / 99.0;
        let half = Z95 * (var / 100.0f64).sqrt();
        assert!((lo - (m - half)).abs() < 1e-12 && (hi - (m + half)).abs() < 1e-12);
        assert!(paired_weighted(0.0, 0.0, 100).is_none());
        assert!(significant(lo, hi) == (hi < 0.0));
    }

    #[test]
    fn intervals_at_another_level_widen_with_z() {
        assert!((z_two_sided(0.05) - Z95).abs() < 1e-9);
        assert!((z_two_sided(0.01) - 2.575_829).abs() < 1e-5);
        assert_eq!(wilson_z(7, 100, Z95), wilson(7, 100));
        assert_eq!(
            newcombe_paired_z(5, 3, 1, 91, Z95),
            newcombe_paired(5, 3, 1, 91)
        );
        let (_, l95, h95) = newcombe_paired(5, 3, 1, 91);
        let (_, l99, h99) = newcombe_paired_z(5, 3, 1, 91, z_two_sided(0.01));
        assert!(l99 < l95 && h95 < h99);
        let (_, l, h) = weighted_z(3.0, 2.0, 100, z_two_sided(0.01));
        let (_, l5, h5) = weighted(3.0, 2.0, 100);
        assert!(l < l5 && h5 < h);
    }
}
