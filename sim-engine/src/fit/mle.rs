//! Maximum-likelihood fits of lifetime distributions to right-censored samples.
//!
//! Each family is fitted by maximising
//! `Σ_uncensored ln f(t) + Σ_censored ln S(t)`:
//!
//! - exponential: closed form (mean = total time / failures);
//! - Weibull: the profile-likelihood equation in the shape, solved by a
//!   safeguarded Newton iteration; the scale follows in closed form;
//! - lognormal and gamma: Nelder–Mead (`argmin`) on (μ, ln σ) and
//!   (ln k, ln θ), started from the moments of the uncensored values.
//!
//! Values are divided by their mean before fitting (so every family works on
//! numbers near 1) and the parameters and log-likelihood are converted back.
//! The goodness of fit is the largest vertical distance between the fitted
//! CDF and the Kaplan–Meier estimate (the Kolmogorov–Smirnov statistic when
//! nothing is censored).

use argmin::core::{CostFunction, Error as ArgminError, Executor, State};
use argmin::solver::neldermead::NelderMead;
use sim_models::rare::ln_normal_sf;
use statrs::function::erf::erfc;
use statrs::function::gamma::{gamma_lr, gamma_ur, ln_gamma};

/// One observation: a duration in seconds, and whether it was cut short
/// (right-censored: the true value is larger).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Obs {
    /// The value (seconds, > 0).
    pub value: f64,
    /// True when the value is a lower bound.
    pub censored: bool,
}

impl Obs {
    /// An observed (uncensored) value.
    pub fn exact(value: f64) -> Self {
        Obs {
            value,
            censored: false,
        }
    }

    /// A right-censored value.
    pub fn censored(value: f64) -> Self {
        Obs {
            value,
            censored: true,
        }
    }
}

/// A fitted distribution. Durations are in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Family {
    /// Exponential with this mean.
    Exponential {
        /// Mean (s).
        mean: f64,
    },
    /// Weibull with shape k and scale λ.
    Weibull {
        /// Shape k.
        shape: f64,
        /// Scale λ (s).
        scale: f64,
    },
    /// Lognormal: ln X ~ N(mu, sigma²), mu in ln-seconds.
    Lognormal {
        /// Mean of ln X (ln s).
        mu: f64,
        /// Standard deviation of ln X.
        sigma: f64,
    },
    /// Gamma with shape k and scale θ.
    Gamma {
        /// Shape k.
        shape: f64,
        /// Scale θ (s).
        scale: f64,
    },
}

/// The four candidate families, in the order they are reported.
pub const FAMILIES: [&str; 4] = ["exponential", "weibull", "lognormal", "gamma"];

impl Family {
    /// The `dist:` name of the family.
    pub fn name(&self) -> &'static str {
        match self {
            Family::Exponential { .. } => "exponential",
            Family::Weibull { .. } => "weibull",
            Family::Lognormal { .. } => "lognormal",
            Family::Gamma { .. } => "gamma",
        }
    }

    /// Number of free parameters (for AIC).
    pub fn n_params(&self) -> usize {
        match self {
            Family::Exponential { .. } => 1,
            _ => 2,
        }
    }

    /// The mean (s).
    pub fn mean(&self) -> f64 {
        match *self {
            Family::Exponential { mean } => mean,
            Family::Weibull { shape, scale } => scale * ln_gamma(1.0 + 1.0 / shape).exp(),
            Family::Lognormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Family::Gamma { shape, scale } => shape * scale,
        }
    }

    /// The CDF at `t` seconds.
    pub fn cdf(&self, t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        match *self {
            Family::Exponential { mean } => -(-t / mean).exp_m1(),
            Family::Weibull { shape, scale } => -(-(t / scale).powf(shape)).exp_m1(),
            Family::Lognormal { mu, sigma } => {
                0.5 * erfc(-(t.ln() - mu) / (sigma * std::f64::consts::SQRT_2))
            }
            Family::Gamma { shape, scale } => gamma_lr(shape, t / scale),
        }
    }

    /// `ln S(t)` (survival) at `t` seconds.
    fn ln_sf(&self, t: f64) -> f64 {
        match *self {
            Family::Exponential { mean } => -t / mean,
            Family::Weibull { shape, scale } => -(t / scale).powf(shape),
            Family::Lognormal { mu, sigma } => ln_normal_sf((t.ln() - mu) / sigma),
            Family::Gamma { shape, scale } => {
                gamma_ur(shape, t / scale).max(f64::MIN_POSITIVE).ln()
            }
        }
    }

    /// The log-likelihood of `data` under this distribution:
    /// `Σ_uncensored ln f(t) + Σ_censored ln S(t)`.
    pub fn log_likelihood(&self, data: &[Obs]) -> f64 {
        let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        // Terms of ln f that do not depend on t, computed once.
        let c0 = match *self {
            Family::Exponential { mean } => -mean.ln(),
            Family::Weibull { shape, scale } => shape.ln() - scale.ln(),
            Family::Lognormal { sigma, .. } => -sigma.ln() - half_ln_2pi,
            Family::Gamma { shape, scale } => -ln_gamma(shape) - shape * scale.ln(),
        };
        data.iter()
            .map(|o| {
                let t = o.value;
                if o.censored {
                    return self.ln_sf(t);
                }
                c0 + match *self {
                    Family::Exponential { mean } => -t / mean,
                    Family::Weibull { shape, scale } => {
                        let r = t / scale;
                        (shape - 1.0) * r.ln() - r.powf(shape)
                    }
                    Family::Lognormal { mu, sigma } => {
                        let z = (t.ln() - mu) / sigma;
                        -t.ln() - 0.5 * z * z
                    }
                    Family::Gamma { shape, scale } => (shape - 1.0) * t.ln() - t / scale,
                }
            })
            .sum()
    }

    /// The same distribution for values multiplied by `c`.
    fn rescaled(&self, c: f64) -> Family {
        match *self {
            Family::Exponential { mean } => Family::Exponential { mean: mean * c },
            Family::Weibull { shape, scale } => Family::Weibull {
                shape,
                scale: scale * c,
            },
            Family::Lognormal { mu, sigma } => Family::Lognormal {
                mu: mu + c.ln(),
                sigma,
            },
            Family::Gamma { shape, scale } => Family::Gamma {
                shape,
                scale: scale * c,
            },
        }
    }
}

/// One candidate fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// The fitted distribution.
    pub dist: Family,
    /// Maximised log-likelihood (times in seconds).
    pub log_likelihood: f64,
    /// Akaike information criterion, `2p − 2 ln L`.
    pub aic: f64,
    /// Largest distance between the fitted CDF and the Kaplan–Meier estimate.
    pub gof_ks: f64,
}

/// The fits of every family to one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct FitSet {
    /// Observations.
    pub n: usize,
    /// Of which censored.
    pub censored: usize,
    /// One per family that could be fitted, in [`FAMILIES`] order.
    pub fits: Vec<Fit>,
    /// Index into `fits` of the lowest AIC.
    pub best: usize,
}

impl FitSet {
    /// The fit with the lowest AIC.
    pub fn best(&self) -> &Fit {
        &self.fits[self.best]
    }

    /// The fit of the named family, if it could be fitted.
    pub fn get(&self, name: &str) -> Option<&Fit> {
        self.fits.iter().find(|f| f.dist.name() == name)
    }
}

/// Why a sample could not be fitted.
#[derive(Debug, Clone, PartialEq)]
pub enum FitError {
    /// Fewer than two uncensored values.
    TooFew {
        /// Uncensored values found.
        uncensored: usize,
    },
    /// A value is not finite and positive.
    BadValue(f64),
    /// No family could be fitted (the likelihood was not finite anywhere tried).
    NoFit,
}

impl std::fmt::Display for FitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FitError::TooFew { uncensored } => write!(
                f,
                "{uncensored} uncensored value{} (at least 2 needed)",
                if *uncensored == 1 { "" } else { "s" }
            ),
            FitError::BadValue(v) => write!(f, "value {v} is not a positive duration"),
            FitError::NoFit => f.write_str("no distribution could be fitted"),
        }
    }
}

/// Fits all four families to `data` (seconds) and picks the lowest AIC.
pub fn fit_all(data: &[Obs]) -> Result<FitSet, FitError> {
    if let Some(o) = data
        .iter()
        .find(|o| !(o.value.is_finite() && o.value > 0.0))
    {
        return Err(FitError::BadValue(o.value));
    }
    let d = data.iter().filter(|o| !o.censored).count();
    if d < 2 {
        return Err(FitError::TooFew { uncensored: d });
    }
    // Work on values near 1.
    let c = data.iter().map(|o| o.value).sum::<f64>() / data.len() as f64;
    let norm: Vec<Obs> = data
        .iter()
        .map(|o| Obs {
            value: o.value / c,
            censored: o.censored,
        })
        .collect();
    let candidates = [
        Some(fit_exponential(&norm)),
        fit_weibull(&norm),
        fit_lognormal(&norm),
        fit_gamma(&norm),
    ];
    let km = kaplan_meier(data);
    let mut fits = Vec::new();
    for dist in candidates.into_iter().flatten() {
        let dist = dist.rescaled(c);
        let ll = dist.log_likelihood(data);
        if !ll.is_finite() {
            continue;
        }
        fits.push(Fit {
            dist,
            log_likelihood: ll,
            aic: 2.0 * dist.n_params() as f64 - 2.0 * ll,
            gof_ks: ks_distance(&km, &dist),
        });
    }
    let best = fits
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.aic.total_cmp(&b.1.aic))
        .map(|(i, _)| i)
        .ok_or(FitError::NoFit)?;
    Ok(FitSet {
        n: data.len(),
        censored: data.len() - d,
        fits,
        best,
    })
}

/// Exponential: mean = Σ t / d.
pub fn fit_exponential(data: &[Obs]) -> Family {
    let d = data.iter().filter(|o| !o.censored).count() as f64;
    let total: f64 = data.iter().map(|o| o.value).sum();
    Family::Exponential { mean: total / d }
}

/// Weibull by the profile-likelihood equation in the shape k:
/// `Σ tᵏ ln t / Σ tᵏ − 1/k − (1/d) Σ_uncensored ln t = 0`, whose left side
/// increases with k; then `λ = (Σ tᵏ / d)^(1/k)`.
pub fn fit_weibull(data: &[Obs]) -> Option<Family> {
    let d = data.iter().filter(|o| !o.censored).count() as f64;
    let logs: Vec<f64> = data.iter().map(|o| o.value.ln()).collect();
    let mean_log_unc = data
        .iter()
        .zip(&logs)
        .filter(|(o, _)| !o.censored)
        .map(|(_, l)| l)
        .sum::<f64>()
        / d;
    // g(k) and g'(k), computed with the largest k·ln t factored out.
    let g = |k: f64| -> (f64, f64) {
        let m = logs.iter().map(|l| k * l).fold(f64::NEG_INFINITY, f64::max);
        let (mut a, mut b, mut c2) = (0.0, 0.0, 0.0);
        for l in &logs {
            let w = (k * l - m).exp();
            a += w;
            b += w * l;
            c2 += w * l * l;
        }
        let r = b / a;
        (r - 1.0 / k - mean_log_unc, c2 / a - r * r + 1.0 / (k * k))
    };
    // Bracket the root.
    let (mut lo, mut hi) = (1e-3, 1.0);
    while g(hi).0 < 0.0 {
        lo = hi;
        hi *= 2.0;
        if hi > 1e4 {
            return None;
        }
    }
    if g(lo).0 > 0.0 {
        return None;
    }
    let mut k = 0.5 * (lo + hi);
    for _ in 0..200 {
        let (v, dv) = g(k);
        if v == 0.0 {
            break;
        }
        if v < 0.0 {
            lo = k;
        } else {
            hi = k;
        }
        let newton = k - v / dv;
        let next = if dv > 0.0 && newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
        if (next - k).abs() <= 1e-14 * k {
            k = next;
            break;
        }
        k = next;
    }
    let m = logs.iter().map(|l| k * l).fold(f64::NEG_INFINITY, f64::max);
    let a: f64 = logs.iter().map(|l| (k * l - m).exp()).sum();
    let ln_scale = (m + (a / d).ln()) / k;
    Some(Family::Weibull {
        shape: k,
        scale: ln_scale.exp(),
    })
}

/// Negative log-likelihood of a two-parameter family on a fixed sample.
struct NegLogLik<'a, F: Fn(&[f64]) -> Option<Family>> {
    data: &'a [Obs],
    make: F,
}

impl<F: Fn(&[f64]) -> Option<Family>> CostFunction for NegLogLik<'_, F> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, p: &Self::Param) -> Result<f64, ArgminError> {
        // Per observation, so that the simplex's stopping rule (a standard
        // deviation of the costs) means the same whatever the sample size.
        let v = match (self.make)(p) {
            Some(dist) => -dist.log_likelihood(self.data) / self.data.len() as f64,
            None => f64::NAN,
        };
        // Out of range: a large value keeps the simplex away.
        Ok(if v.is_finite() { v } else { 1e300 })
    }
}

/// Minimises with Nelder–Mead from `x0`, restarting once from the result.
fn nelder_mead<F: Fn(&[f64]) -> Option<Family>>(
    data: &[Obs],
    x0: [f64; 2],
    make: F,
) -> Option<Family> {
    let cost = NegLogLik { data, make };
    let mut x = x0.to_vec();
    for step in [0.5, 0.05, 0.005] {
        let simplex = vec![x.clone(), vec![x[0] + step, x[1]], vec![x[0], x[1] + step]];
        let solver = NelderMead::new(simplex).with_sd_tolerance(1e-14).ok()?;
        let res = Executor::new(&cost, solver)
            .configure(|s| s.max_iters(5000))
            .run()
            .ok()?;
        x = res.state().get_best_param()?.clone();
    }
    (cost.make)(&x)
}

impl<F: Fn(&[f64]) -> Option<Family>> CostFunction for &NegLogLik<'_, F> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, p: &Self::Param) -> Result<f64, ArgminError> {
        (*self).cost(p)
    }
}

/// Mean and variance of the uncensored values (or of their logs).
fn moments(data: &[Obs], log: bool) -> (f64, f64) {
    let xs: Vec<f64> = data
        .iter()
        .filter(|o| !o.censored)
        .map(|o| if log { o.value.ln() } else { o.value })
        .collect();
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var)
}

/// Lognormal by Nelder–Mead on (μ, ln σ).
pub fn fit_lognormal(data: &[Obs]) -> Option<Family> {
    let (m, v) = moments(data, true);
    let s0 = v.sqrt().max(0.05);
    nelder_mead(data, [m, s0.ln()], |p| {
        let sigma = p[1].exp();
        (p[0].is_finite() && sigma > 1e-6 && sigma < 1e3)
            .then_some(Family::Lognormal { mu: p[0], sigma })
    })
}

/// Gamma by Nelder–Mead on (ln k, ln θ).
pub fn fit_gamma(data: &[Obs]) -> Option<Family> {
    let (m, v) = moments(data, false);
    let k0 = if v > 0.0 {
        (m * m / v).clamp(0.05, 100.0)
    } else {
        1.0
    };
    let th0 = m / k0;
    nelder_mead(data, [k0.ln(), th0.ln()], |p| {
        let (shape, scale) = (p[0].exp(), p[1].exp());
        (shape > 1e-4 && shape < 1e5 && scale > 1e-12 && scale < 1e12)
            .then_some(Family::Gamma { shape, scale })
    })
}

/// The Kaplan–Meier estimate: distinct uncensored times with the estimated
/// CDF just before and at each, plus the censored times (where the estimate
/// is flat) with the CDF there.
#[derive(Debug, Clone, Default)]
pub struct KaplanMeier {
    /// (time, F(t−), F(t)).
    pub steps: Vec<(f64, f64, f64)>,
}

/// Kaplan–Meier estimate of the CDF of `data`.
pub fn kaplan_meier(data: &[Obs]) -> KaplanMeier {
    let mut sorted: Vec<Obs> = data.to_vec();
    // At tied times, failures come before censorings (the usual convention).
    sorted.sort_by(|a, b| {
        a.value
            .total_cmp(&b.value)
            .then(a.censored.cmp(&b.censored))
    });
    let mut at_risk = sorted.len() as f64;
    let mut surv = 1.0;
    let mut steps = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let t = sorted[i].value;
        let (mut deaths, mut cens) = (0.0, 0.0);
        while i < sorted.len() && sorted[i].value == t {
            if sorted[i].censored {
                cens += 1.0;
            } else {
                deaths += 1.0;
            }
            i += 1;
        }
        let before = 1.0 - surv;
        if deaths > 0.0 {
            surv *= 1.0 - deaths / at_risk;
        }
        steps.push((t, before, 1.0 - surv));
        at_risk -= deaths + cens;
    }
    KaplanMeier { steps }
}

/// `sup |F̂_KM(t) − F(t)|` over the observed range.
pub fn ks_distance(km: &KaplanMeier, dist: &Family) -> f64 {
    km.steps
        .iter()
        .map(|&(t, before, at)| {
            let f = dist.cdf(t);
            (f - before).abs().max((f - at).abs())
        })
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;
    use sim_core::CampaignSeed;

    /// A deterministic generator for the tests.
    fn rng(seed: u64) -> sim_core::SimRng {
        CampaignSeed::from_u64(seed).stream(0)
    }

    /// Draws `n` values from `dist` by inversion of its CDF (bisection), and
    /// censors each at an independent exponential time of mean `cens_mean`.
    fn sample(dist: Family, n: usize, cens_mean: f64, seed: u64) -> Vec<Obs> {
        let mut r = rng(seed);
        (0..n)
            .map(|_| {
                let u: f64 = r.random_range(1e-12..1.0);
                let (mut lo, mut hi) = (0.0_f64, dist.mean() * 1e3);
                for _ in 0..200 {
                    let mid = 0.5 * (lo + hi);
                    if dist.cdf(mid) < u {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                let x = 0.5 * (lo + hi);
                let c = -cens_mean * (1.0 - r.random::<f64>()).ln();
                if c < x {
                    Obs::censored(c)
                } else {
                    Obs::exact(x)
                }
            })
            .collect()
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        ((a - b) / b).abs() < rel
    }

    #[test]
    fn exponential_recovers_its_mean_with_censoring() {
        let data = sample(Family::Exponential { mean: 3600.0 }, 4000, 3.0 * 3600.0, 1);
        assert!(data.iter().filter(|o| o.censored).count() > 500);
        let fits = fit_all(&data).unwrap();
        let Family::Exponential { mean } = fits.get("exponential").unwrap().dist else {
            unreachable!()
        };
        // Standard error of the mean estimate: mean/√d ≈ 1.8%.
        assert!(close(mean, 3600.0, 0.06), "{mean}");
    }

    #[test]
    fn weibull_recovers_shape_and_scale_with_censoring() {
        let truth = Family::Weibull {
            shape: 0.7,
            scale: 86_400.0,
        };
        let data = sample(truth, 4000, 5.0 * 86_400.0, 2);
        assert!(data.iter().filter(|o| o.censored).count() > 300);
        let fits = fit_all(&data).unwrap();
        let Family::Weibull { shape, scale } = fits.get("weibull").unwrap().dist else {
            unreachable!()
        };
        assert!(close(shape, 0.7, 0.05), "{shape}");
        assert!(close(scale, 86_400.0, 0.08), "{scale}");
        assert_eq!(fits.best().dist.name(), "weibull");
    }

    #[test]
    fn lognormal_recovers_median_and_sigma_with_censoring() {
        let truth = Family::Lognormal {
            mu: 3600f64.ln(),
            sigma: 1.2,
        };
        let data = sample(truth, 4000, 20_000.0, 3);
        assert!(data.iter().filter(|o| o.censored).count() > 300);
        let fits = fit_all(&data).unwrap();
        let Family::Lognormal { mu, sigma } = fits.get("lognormal").unwrap().dist else {
            unreachable!()
        };
        assert!(close(mu.exp(), 3600.0, 0.08), "{}", mu.exp());
        assert!(close(sigma, 1.2, 0.05), "{sigma}");
        assert_eq!(fits.best().dist.name(), "lognormal");
    }

    #[test]
    fn gamma_recovers_shape_and_scale_with_censoring() {
        let truth = Family::Gamma {
            shape: 2.5,
            scale: 600.0,
        };
        let data = sample(truth, 4000, 6000.0, 4);
        assert!(data.iter().filter(|o| o.censored).count() > 300);
        let fits = fit_all(&data).unwrap();
        let Family::Gamma { shape, scale } = fits.get("gamma").unwrap().dist else {
            unreachable!()
        };
        assert!(close(shape, 2.5, 0.08), "{shape}");
        assert!(close(scale, 600.0, 0.1), "{scale}");
        assert_eq!(fits.best().dist.name(), "gamma");
    }

    #[test]
    fn weibull_profile_solution_is_a_maximum() {
        let data = sample(
            Family::Weibull {
                shape: 1.7,
                scale: 10.0,
            },
            300,
            30.0,
            5,
        );
        let fits = fit_all(&data).unwrap();
        let w = fits.get("weibull").unwrap();
        let Family::Weibull { shape, scale } = w.dist else {
            unreachable!()
        };
        for (dk, ds) in [(1e-3, 0.0), (-1e-3, 0.0), (0.0, 1e-3), (0.0, -1e-3)] {
            let other = Family::Weibull {
                shape: shape * (1.0 + dk),
                scale: scale * (1.0 + ds),
            };
            assert!(other.log_likelihood(&data) < w.log_likelihood);
        }
    }

    #[test]
    fn exponential_mle_without_censoring_is_the_sample_mean() {
        let data: Vec<Obs> = [1.0, 2.0, 3.0, 6.0].into_iter().map(Obs::exact).collect();
        assert_eq!(fit_exponential(&data), Family::Exponential { mean: 3.0 });
    }

    #[test]
    fn kaplan_meier_without_censoring_is_the_empirical_cdf() {
        let data: Vec<Obs> = [1.0, 2.0, 2.0, 4.0].into_iter().map(Obs::exact).collect();
        let km = kaplan_meier(&data);
        assert_eq!(
            km.steps,
            vec![(1.0, 0.0, 0.25), (2.0, 0.25, 0.75), (4.0, 0.75, 1.0)]
        );
    }

    #[test]
    fn degenerate_samples_do_not_panic() {
        // All equal: no Weibull maximum exists (the shape grows without bound).
        let same: Vec<Obs> = [60.0; 5].into_iter().map(Obs::exact).collect();
        let fits = fit_all(&same).unwrap();
        assert!(fits.get("weibull").is_none());
        assert!(fits.get("exponential").is_some());
        // Tiny and huge values together.
        let wide: Vec<Obs> = [1e-6, 1e9, 3.0, 7e4]
            .into_iter()
            .map(Obs::exact)
            .chain([Obs::censored(1e10)])
            .collect();
        assert!(fit_all(&wide).is_ok());
    }

    #[test]
    fn too_few_failures_is_an_error_not_a_panic() {
        assert_eq!(
            fit_all(&[Obs::exact(1.0), Obs::censored(3.0)]),
            Err(FitError::TooFew { uncensored: 1 })
        );
        assert!(matches!(
            fit_all(&[Obs::exact(0.0), Obs::exact(1.0), Obs::exact(2.0)]),
            Err(FitError::BadValue(_))
        ));
    }
}
