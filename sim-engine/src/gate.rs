//! The gate's decision policy: a verdict per handler that a pipeline can
//! trust, decided on the risk's interval rather than its point estimate.
//!
//! `preflight gate` runs natural campaigns and, while some handler's
//! interval straddles `risk.gate`, doubles them up to a cap
//! (`--until-decided`, by default [`DEFAULT_CAP_FACTOR`] × the campaigns):
//! `L` looks at the data in all. At each look the interval is two-sided at
//! level `1 − α/L` (α = [`ALPHA`]), so that over all looks the chance of a
//! wrong verdict is at most α per handler (union bound, whatever the true
//! risk):
//!
//! - **fail** when the whole interval lies above the gate: if the true risk
//!   is at or below the gate, this happens with probability at most α/2;
//! - **pass** when the whole interval lies at or below it: if the true risk
//!   is above the gate, at most α/2;
//! - **undecided** when the interval still straddles the gate at the cap:
//!   the risk is too close to the gate to tell with that many campaigns. It
//!   fails the gate unless `--undecided pass` (a pipeline may prefer to let
//!   it through and look later); `--json` says `"undecided"` either way.
//!
//! With a calibration map the interval's bounds are mapped too (the map is
//! non-decreasing, so the mapped bounds bound the calibrated risk).

use crate::calibrate::map::IsotonicMap;
use crate::risk::{Decision, decide_interval, z_two_sided};
use crate::run::HandlerTally;
use sim_output::RiskRow;

/// The gate's error rate per handler, over all its looks.
pub const ALPHA: f64 = 0.05;

/// Without `--until-decided`, the gate doubles undecided runs up to this
/// many times their campaigns (three looks).
pub const DEFAULT_CAP_FACTOR: u64 = 4;

/// Looks at the data when doubling from `campaigns` while below `cap`:
/// 1 + the number of doublings.
pub fn looks(campaigns: u64, cap: u64) -> u32 {
    let mut n = campaigns.max(1);
    let mut looks = 1;
    while n < cap {
        n = n.saturating_mul(2).min(cap);
        looks += 1;
    }
    looks
}

/// The normal quantile of each look's two-sided interval: level
/// `1 − ALPHA / looks`.
pub fn z(looks: u32) -> f64 {
    z_two_sided(ALPHA / f64::from(looks.max(1)))
}

/// The two-sided level of an interval whose normal quantile is `z`
/// (0.95 for [`crate::risk::Z95`]).
pub fn level_of(z: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    2.0 * Normal::standard().cdf(z) - 1.0
}

/// A handler's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The interval lies at or below the gate.
    Pass,
    /// The interval lies above the gate.
    Fail,
    /// The interval straddles the gate at the campaign cap.
    Undecided,
}

impl Verdict {
    /// `pass`, `fail` or `undecided`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Undecided => "undecided",
        }
    }
}

/// One handler's verdict with the figures behind it.
#[derive(Debug, Clone)]
pub struct HandlerVerdict {
    /// The verdict.
    pub verdict: Verdict,
    /// The risk decided on (calibrated where a map applies).
    pub risk: f64,
    /// Its interval at the gate's level, `(low, high)`.
    pub interval: (f64, f64),
}

/// The verdict for a handler's tally and risk row against `gate`, with
/// intervals at quantile `z`, calibrated by `map` when given.
pub fn verdict(
    t: &HandlerTally,
    r: &RiskRow,
    gate: f64,
    z: f64,
    weighted: bool,
    map: Option<&IsotonicMap>,
) -> HandlerVerdict {
    let (_, low, high) = t.interval_z(weighted, z);
    let (risk, low, high) = match map {
        Some(m) => (m.apply(r.risk), m.apply(low), m.apply(high)),
        None => (r.risk, low, high),
    };
    let verdict = match decide_interval(low, high, gate) {
        Decision::Over => Verdict::Fail,
        Decision::Under => Verdict::Pass,
        Decision::Undecided => Verdict::Undecided,
    };
    HandlerVerdict {
        verdict,
        risk,
        interval: (low, high),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_count_the_doublings_up_to_the_cap() {
        assert_eq!(looks(1000, 1000), 1);
        assert_eq!(looks(1000, 4000), 3);
        assert_eq!(looks(1000, 3000), 3); // 1000, 2000, 3000
        assert_eq!(looks(300, 100_000), 10);
    }

    #[test]
    fn more_looks_give_wider_intervals() {
        assert!((z(1) - crate::risk::Z95).abs() < 1e-9);
        assert!(z(3) > z(1));
        // 1 − 0.05/3: 98.33% two-sided.
        assert!((z(3) - 2.394).abs() < 1e-3, "{}", z(3));
        assert!((level_of(z(3)) - (1.0 - 0.05 / 3.0)).abs() < 1e-9);
    }
}
