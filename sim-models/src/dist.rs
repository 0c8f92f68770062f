//! Samplers for the scenario's distributions, in simulated time.
//!
//! A [`Dist`] is the compiled form of a scenario `Distribution`: parameters
//! in seconds, ready to draw from a [`SimRng`]. Besides plain draws it
//! provides the two draws a failure process needs at the start of a
//! campaign:
//!
//! - [`Dist::sample_forward_recurrence`]: the time until the next renewal of a
//!   process that has been running for a long time (the *equilibrium* or
//!   forward-recurrence distribution, density `S(x)/mean`). It is drawn as
//!   `U · L`, where `L` is a length-biased draw (density `x f(x) / mean`) and
//!   `U` is uniform on (0, 1): a random point inside the interval that covers
//!   the start. Length-biased forms: exponential → exponential (memoryless);
//!   Weibull(k, λ) → λ·G^(1/k) with G ~ Gamma(1 + 1/k, 1); lognormal(μ, σ) →
//!   lognormal(μ + σ², σ); gamma(k, θ) → gamma(k + 1, θ); uniform(a, b) →
//!   √(a² + U(b² − a²)); constant → itself; empirical → a sample picked with
//!   probability proportional to its value.
//! - [`Dist::sample_residual_after`]: the remaining life of a component known
//!   to have survived to age `a` (the distribution of `X − a` given `X > a`),
//!   by inverting the survival function.

use rand::RngExt;
use rand_distr::{Distribution as _, Exp1, Gamma, StandardNormal};
use sim_core::{SimDuration, SimRng};
use statrs::distribution::{ContinuousCDF, Gamma as GammaCdf, LogNormal as LogNormalCdf};
use std::sync::Arc;

/// A compiled distribution of durations (parameters in seconds).
#[derive(Debug, Clone)]
pub enum Dist {
    /// Always `value`.
    Constant {
        /// Seconds.
        value: f64,
    },
    /// Exponential with the given mean.
    Exponential {
        /// Seconds.
        mean: f64,
    },
    /// Weibull with shape `k` and scale `lambda`.
    Weibull {
        /// Shape parameter `k` (> 0).
        shape: f64,
        /// Scale parameter `λ` in seconds.
        scale: f64,
    },
    /// Lognormal: `exp(mu + sigma·N)`; the median is `exp(mu)`.
    Lognormal {
        /// Log of the median (in seconds).
        mu: f64,
        /// Standard deviation of the log.
        sigma: f64,
    },
    /// Uniform on `[min, max]`.
    Uniform {
        /// Seconds.
        min: f64,
        /// Seconds.
        max: f64,
    },
    /// Gamma with shape `k` and scale `theta`.
    Gamma {
        /// Shape `k` (> 0).
        shape: f64,
        /// Scale `θ` in seconds.
        scale: f64,
        /// Prepared sampler for Gamma(shape, scale).
        sampler: Gamma<f64>,
    },
    /// Resampling of observed values (seconds), uniformly.
    Empirical {
        /// The samples, in seconds, sorted ascending.
        samples: Arc<[f64]>,
    },
}

/// A reason a distribution cannot be compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct DistError(pub String);

impl std::fmt::Display for DistError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn positive(name: &str, v: f64) -> Result<f64, DistError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(DistError(format!(
            "{name} must be a positive finite number, got {v}"
        )))
    }
}

/// Shape parameters outside this range make samplers overflow (or describe
/// no real failure process): `1/shape` must stay finite for the
/// equilibrium draw of a Weibull.
const SHAPE_RANGE: std::ops::RangeInclusive<f64> = 1e-3..=1e3;

fn shape_param(v: f64) -> Result<f64, DistError> {
    if SHAPE_RANGE.contains(&v) {
        Ok(v)
    } else {
        Err(DistError(format!(
            "shape must be between {} and {}, got {v:e}",
            SHAPE_RANGE.start(),
            SHAPE_RANGE.end()
        )))
    }
}

fn non_negative(name: &str, v: f64) -> Result<f64, DistError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(DistError(format!(
            "{name} must be a non-negative finite number, got {v}"
        )))
    }
}

impl Dist {
    /// A constant distribution.
    pub fn constant(secs: f64) -> Result<Dist, DistError> {
        Ok(Dist::Constant {
            value: non_negative("value", secs)?,
        })
    }

    /// An exponential distribution with the given mean in seconds.
    pub fn exponential(mean: f64) -> Result<Dist, DistError> {
        Ok(Dist::Exponential {
            mean: positive("mean", mean)?,
        })
    }

    /// A Weibull distribution (shape `k`, scale in seconds).
    pub fn weibull(shape: f64, scale: f64) -> Result<Dist, DistError> {
        Ok(Dist::Weibull {
            shape: shape_param(shape)?,
            scale: positive("scale", scale)?,
        })
    }

    /// A lognormal distribution given its median (seconds) and sigma.
    pub fn lognormal(median: f64, sigma: f64) -> Result<Dist, DistError> {
        Ok(Dist::Lognormal {
            mu: positive("median", median)?.ln(),
            sigma: non_negative("sigma", sigma)?,
        })
    }

    /// A uniform distribution on `[min, max]` seconds.
    pub fn uniform(min: f64, max: f64) -> Result<Dist, DistError> {
        let min = non_negative("min", min)?;
        let max = non_negative("max", max)?;
        if min > max {
            return Err(DistError(format!(
                "min ({min}s) is larger than max ({max}s)"
            )));
        }
        Ok(Dist::Uniform { min, max })
    }

    /// A gamma distribution (shape `k`, scale in seconds).
    pub fn gamma(shape: f64, scale: f64) -> Result<Dist, DistError> {
        let shape = shape_param(shape)?;
        let scale = positive("scale", scale)?;
        let sampler = Gamma::new(shape, scale).map_err(|e| DistError(e.to_string()))?;
        Ok(Dist::Gamma {
            shape,
            scale,
            sampler,
        })
    }

    /// An empirical distribution of observed values in seconds.
    pub fn empirical(samples: &[f64]) -> Result<Dist, DistError> {
        if samples.is_empty() {
            return Err(DistError(
                "an empirical distribution needs at least one value".into(),
            ));
        }
        if let Some(bad) = samples.iter().find(|v| !v.is_finite() || **v < 0.0) {
            return Err(DistError(format!(
                "empirical values must be non-negative finite numbers, found {bad}"
            )));
        }
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        Ok(Dist::Empirical { samples: v.into() })
    }

    /// The mean in seconds.
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Constant { value } => *value,
            Dist::Exponential { mean } => *mean,
            Dist::Weibull { shape, scale } => {
                scale * statrs::function::gamma::gamma(1.0 + 1.0 / shape)
            }
            Dist::Lognormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Gamma { shape, scale, .. } => shape * scale,
            Dist::Empirical { samples } => samples.iter().sum::<f64>() / samples.len() as f64,
        }
    }

    /// One draw, in seconds.
    #[inline]
    pub fn sample_secs(&self, rng: &mut SimRng) -> f64 {
        match self {
            Dist::Constant { value } => *value,
            Dist::Exponential { mean } => {
                let e: f64 = Exp1.sample(rng);
                mean * e
            }
            Dist::Weibull { shape, scale } => {
                let e: f64 = Exp1.sample(rng);
                scale * e.powf(1.0 / shape)
            }
            Dist::Lognormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * z).exp()
            }
            Dist::Uniform { min, max } => min + (max - min) * rng.random::<f64>(),
            Dist::Gamma { sampler, .. } => sampler.sample(rng),
            Dist::Empirical { samples } => samples[rng.random_range(0..samples.len())],
        }
    }

    /// One draw, as a simulated duration.
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        SimDuration::from_secs_f64(self.sample_secs(rng))
    }

    /// A draw from the length-biased distribution (density `x f(x) / mean`).
    fn sample_length_biased(&self, rng: &mut SimRng) -> f64 {
        match self {
            Dist::Constant { value } => *value,
            Dist::Exponential { mean } => {
                // Length-biased exponential is Gamma(2, mean): the sum of two exponentials.
                let a: f64 = Exp1.sample(rng);
                let b: f64 = Exp1.sample(rng);
                mean * (a + b)
            }
            Dist::Weibull { shape, scale } => {
                let g = Gamma::new(1.0 + 1.0 / shape, 1.0).expect("shape > 0");
                scale * g.sample(rng).powf(1.0 / shape)
            }
            Dist::Lognormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * sigma + sigma * z).exp()
            }
            Dist::Uniform { min, max } => {
                let u: f64 = rng.random();
                (min * min + u * (max * max - min * min)).sqrt()
            }
            Dist::Gamma { shape, scale, .. } => {
                let g = Gamma::new(shape + 1.0, *scale).expect("shape > 0, scale > 0");
                g.sample(rng)
            }
            Dist::Empirical { samples } => {
                let total: f64 = samples.iter().sum();
                if total <= 0.0 {
                    return 0.0;
                }
                let mut target = rng.random::<f64>() * total;
                for &s in samples.iter() {
                    if target < s {
                        return s;
                    }
                    target -= s;
                }
                *samples.last().expect("non-empty")
            }
        }
    }

    /// Time to the next renewal of a process in equilibrium (forward recurrence), in seconds.
    pub fn sample_forward_recurrence_secs(&self, rng: &mut SimRng) -> f64 {
        if let Dist::Exponential { mean } = self {
            let e: f64 = Exp1.sample(rng);
            return mean * e;
        }
        let l = self.sample_length_biased(rng);
        let u: f64 = rng.random();
        u * l
    }

    /// Time to the next renewal of a process in equilibrium (forward recurrence).
    pub fn sample_forward_recurrence(&self, rng: &mut SimRng) -> SimDuration {
        SimDuration::from_secs_f64(self.sample_forward_recurrence_secs(rng))
    }

    /// Survival function `P(X > x)`, `x` in seconds.
    pub fn survival(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 1.0;
        }
        match self {
            Dist::Constant { value } => {
                if x < *value {
                    1.0
                } else {
                    0.0
                }
            }
            Dist::Exponential { mean } => (-x / mean).exp(),
            Dist::Weibull { shape, scale } => (-(x / scale).powf(*shape)).exp(),
            Dist::Lognormal { mu, sigma } => match LogNormalCdf::new(*mu, sigma.max(1e-300)) {
                Ok(d) => d.sf(x),
                Err(_) => 0.0,
            },
            Dist::Uniform { min, max } => {
                if x <= *min {
                    1.0
                } else if x >= *max {
                    0.0
                } else {
                    (max - x) / (max - min)
                }
            }
            Dist::Gamma { shape, scale, .. } => match GammaCdf::new(*shape, 1.0 / scale) {
                Ok(d) => d.sf(x),
                Err(_) => 0.0,
            },
            Dist::Empirical { samples } => {
                let above = samples.len() - samples.partition_point(|s| *s <= x);
                above as f64 / samples.len() as f64
            }
        }
    }

    /// Remaining life of a component that has survived to age `age` seconds:
    /// a draw of `X − age` given `X > age`, in seconds.
    pub fn sample_residual_after(&self, age: f64, rng: &mut SimRng) -> f64 {
        if age <= 0.0 {
            return self.sample_secs(rng);
        }
        let s_age = self.survival(age);
        let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        match self {
            Dist::Exponential { mean } => {
                let e: f64 = Exp1.sample(rng);
                mean * e
            }
            Dist::Weibull { shape, scale } => {
                // S(x) = exp(-(x/λ)^k); solve S(x) = u·S(age).
                let h = (age / scale).powf(*shape) - u.ln();
                scale * h.powf(1.0 / shape) - age
            }
            _ if s_age <= 0.0 => 0.0, // past the support: fails at once
            Dist::Constant { value } => value - age,
            Dist::Uniform { max, .. } => {
                // Uniform on [age, max].
                (max - age) * rng.random::<f64>()
            }
            Dist::Lognormal { mu, sigma } => {
                // Inverse survival by the normal quantile: ln x = mu + sigma·Φ⁻¹(1 − u·S(age)).
                match statrs::distribution::Normal::new(0.0, 1.0) {
                    Ok(n) => {
                        let p = 1.0 - u * s_age;
                        (mu + sigma * n.inverse_cdf(p.clamp(1e-300, 1.0 - 1e-16))).exp() - age
                    }
                    Err(_) => 0.0,
                }
                .max(0.0)
            }
            Dist::Gamma { shape, scale, .. } => match GammaCdf::new(*shape, 1.0 / scale) {
                Ok(d) => (d.inverse_cdf((1.0 - u * s_age).clamp(0.0, 1.0 - 1e-16)) - age).max(0.0),
                Err(_) => 0.0,
            },
            Dist::Empirical { samples } => {
                let start = samples.partition_point(|s| *s <= age);
                let rest = &samples[start..];
                rest[rng.random_range(0..rest.len())] - age
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::CampaignSeed;

    fn rng() -> SimRng {
        CampaignSeed::derive(7, 0, 0).stream(1)
    }

    fn mean_of(n: usize, mut f: impl FnMut() -> f64) -> f64 {
        (0..n).map(|_| f()).sum::<f64>() / n as f64
    }

    /// The equilibrium forward-recurrence mean is E[X²] / (2 E[X]).
    fn check_forward_mean(d: &Dist, second_moment: f64) {
        let want = second_moment / (2.0 * d.mean());
        let mut r = rng();
        let got = mean_of(400_000, || d.sample_forward_recurrence_secs(&mut r));
        assert!(
            (got - want).abs() / want < 0.01,
            "{d:?}: forward-recurrence mean {got}, want {want}"
        );
    }

    #[test]
    fn sample_means_match() {
        let cases = [
            Dist::exponential(3.0).unwrap(),
            Dist::weibull(0.8, 2.0).unwrap(),
            Dist::lognormal(1.0, 0.5).unwrap(),
            Dist::uniform(1.0, 5.0).unwrap(),
            Dist::gamma(2.0, 1.5).unwrap(),
            Dist::empirical(&[1.0, 2.0, 6.0]).unwrap(),
        ];
        for d in cases {
            let mut r = rng();
            let got = mean_of(400_000, || d.sample_secs(&mut r));
            assert!((got - d.mean()).abs() / d.mean() < 0.01, "{d:?}: {got}");
        }
    }

    #[test]
    fn forward_recurrence_means() {
        use statrs::function::gamma::gamma;
        check_forward_mean(&Dist::exponential(3.0).unwrap(), 2.0 * 9.0);
        let (k, l) = (0.7, 2.0);
        check_forward_mean(&Dist::weibull(k, l).unwrap(), l * l * gamma(1.0 + 2.0 / k));
        let (mu, s): (f64, f64) = (0.0, 0.8);
        check_forward_mean(
            &Dist::lognormal(1.0, s).unwrap(),
            (2.0 * mu + 2.0 * s * s).exp(),
        );
        check_forward_mean(&Dist::uniform(1.0, 5.0).unwrap(), (125.0 - 1.0) / 12.0);
        check_forward_mean(&Dist::gamma(2.0, 1.5).unwrap(), 2.0 * 3.0 * 1.5 * 1.5);
        check_forward_mean(&Dist::constant(4.0).unwrap(), 16.0);
        check_forward_mean(&Dist::empirical(&[1.0, 3.0]).unwrap(), 5.0);
    }

    #[test]
    fn residual_life_matches_conditional_survival() {
        // P(X - a > t | X > a) = S(a + t) / S(a) for every kind.
        let cases = [
            Dist::weibull(0.7, 2.0).unwrap(),
            Dist::lognormal(1.0, 0.9).unwrap(),
            Dist::gamma(2.5, 0.8).unwrap(),
            Dist::uniform(0.0, 5.0).unwrap(),
        ];
        let (a, t) = (1.0, 0.8);
        for d in cases {
            let want = d.survival(a + t) / d.survival(a);
            let mut r = rng();
            let n = 200_000;
            let hits = (0..n)
                .filter(|_| d.sample_residual_after(a, &mut r) > t)
                .count();
            let got = hits as f64 / n as f64;
            assert!((got - want).abs() < 0.005, "{d:?}: {got} vs {want}");
        }
    }

    #[test]
    fn bad_parameters_are_rejected() {
        assert!(Dist::exponential(0.0).is_err());
        assert!(Dist::weibull(-1.0, 1.0).is_err());
        assert!(
            Dist::weibull(1e-320, 1.0).is_err(),
            "1/shape would overflow"
        );
        assert!(Dist::gamma(1e9, 1.0).is_err());
        assert!(Dist::uniform(3.0, 1.0).is_err());
        assert!(Dist::lognormal(f64::NAN, 1.0).is_err());
        assert!(Dist::empirical(&[]).is_err());
        assert!(Dist::empirical(&[1.0, -2.0]).is_err());
    }
}
