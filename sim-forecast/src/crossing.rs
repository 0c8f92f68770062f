//! The probability that a metric crosses its failure threshold at any step
//! within the horizon, from simulated sample paths of the forecast.
//!
//! A path is the forecast mean plus an error that accumulates step by
//! step: `X_h = X_{h−1} + e_h`, with `e_h` normal of variance
//! `σ_h² − σ_{h−1}²` (never negative), so that each step's spread is the
//! model's (`X_h` has standard deviation `σ_h`, read from its widest
//! prediction interval) and successive steps are as correlated as
//! accumulated forecast errors are. The crossing probability is the share
//! of paths whose maximum (or minimum, for a floor) passes the threshold,
//! not the last step's alone; the time to crossing is the mean first
//! crossing step of the paths that cross. Paths come from a fixed seed: the
//! same inputs give the same figures.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// A failure threshold on a metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// Only this resource's series (`None`: every resource's).
    pub resource: Option<String>,
    /// The metric.
    pub metric: String,
    /// Crossed when the metric goes above (`true`) or below the value.
    pub above: bool,
    /// The value.
    pub value: f64,
}

impl Threshold {
    /// `resource/metric`, or `metric` for every resource's.
    pub fn target(&self) -> String {
        match &self.resource {
            Some(r) => format!("{r}/{}", self.metric),
            None => self.metric.clone(),
        }
    }

    /// Parses `metric>0.95`, `resource/metric<10`.
    pub fn parse(s: &str) -> Result<Threshold, String> {
        let (lhs, rhs, above) = if let Some((a, b)) = s.split_once('>') {
            (a, b, true)
        } else if let Some((a, b)) = s.split_once('<') {
            (a, b, false)
        } else {
            return Err(format!(
                "`{s}`: expected METRIC>VALUE or RESOURCE/METRIC<VALUE"
            ));
        };
        let value: f64 = rhs
            .trim()
            .trim_start_matches('=')
            .trim()
            .parse()
            .map_err(|_| format!("`{s}`: `{rhs}` is not a number"))?;
        if !value.is_finite() {
            return Err(format!("`{s}`: the value must be a finite number"));
        }
        let (resource, metric) = match lhs.trim().split_once('/') {
            Some((r, m)) => (Some(r.trim().to_owned()), m.trim().to_owned()),
            None => (None, lhs.trim().to_owned()),
        };
        if metric.is_empty() {
            return Err(format!("`{s}`: no metric"));
        }
        Ok(Threshold {
            resource,
            metric,
            above,
            value,
        })
    }

    /// Whether it applies to `resource`/`metric`.
    pub fn applies(&self, resource: &str, metric: &str) -> bool {
        self.metric == metric && self.resource.as_deref().is_none_or(|r| r == resource)
    }

    /// Whether `x` is past it.
    pub fn crossed(&self, x: f64) -> bool {
        if self.above {
            x > self.value
        } else {
            x < self.value
        }
    }
}

/// Sample paths per crossing probability.
pub const PATHS: usize = 4000;

/// `(P(cross within the horizon), mean first-crossing step (1-based) of the
/// paths that cross)`.
pub fn probability(mean: &[f64], sigma: &[f64], t: &Threshold, seed: u64) -> (f64, Option<f64>) {
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
    let mut crossed = 0usize;
    let mut first_sum = 0usize;
    for _ in 0..PATHS {
        let mut x = 0.0;
        let mut prev_var = 0.0;
        for (h, (&m, &s)) in mean.iter().zip(sigma).enumerate() {
            let var = s * s;
            let inc = (var - prev_var).max(0.0);
            prev_var = prev_var.max(var);
            let z: f64 = StandardNormal.sample(&mut rng);
            x += z * inc.sqrt();
            if t.crossed(m + x) {
                crossed += 1;
                first_sum += h + 1;
                break;
            }
        }
    }
    let p = crossed as f64 / PATHS as f64;
    (p, (crossed > 0).then(|| first_sum as f64 / crossed as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_path_counts_not_the_last_step() {
        let t = Threshold::parse("disk/used>0.95").unwrap();
        assert!(t.applies("disk", "used") && !t.applies("other", "used"));
        // A flat mean at the threshold's level minus one sigma: the last
        // step alone crosses with 16%; some step of 50 does far more often.
        let mean = vec![0.9; 50];
        let sigma: Vec<f64> = (1..=50).map(|h| 0.05 * (h as f64 / 50.0).sqrt()).collect();
        let (p, when) = probability(&mean, &sigma, &t, 1);
        assert!(p > 0.25 && p < 0.45, "{p}");
        assert!(when.is_some_and(|w| w > 1.0 && w <= 50.0));
        // Deterministic.
        assert_eq!(probability(&mean, &sigma, &t, 1), (p, when));
        // A rising mean crosses for sure, at the step it passes.
        let mean: Vec<f64> = (1..=20).map(|h| 0.9 + 0.011 * h as f64).collect();
        let (p, when) = probability(&mean, &[0.0; 20], &t, 1);
        assert_eq!(p, 1.0);
        assert_eq!(when, Some(5.0), "0.955 at step 5, 0.944 at 4");
        assert!(Threshold::parse("x=3").is_err());
        assert!(!Threshold::parse("free<10").unwrap().above);
    }
}
