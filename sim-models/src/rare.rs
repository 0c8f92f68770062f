//! Importance sampling for rare failures: failure biasing by time scaling,
//! with likelihood-ratio weights.
//!
//! When a failure is rare within the horizon (a risk of 1e-4 and below),
//! plain Monte Carlo sees almost no breaches. Failure biasing runs a failure
//! process's clock `b` times faster during its up-times: every time between
//! failures `X` is drawn as `X / b` (the distribution scaled by `1/b`), and
//! each campaign carries the weight
//!
//! ```text
//! w = P(path under the true model) / P(path under the biased model)
//! ```
//!
//! so that the weighted mean of any campaign figure is an unbiased estimate
//! of its mean under the true model, whatever `b`. For a process with
//! density `f`, survival `S` and mean `μ`, the biased law has density
//! `b·f(b·x)` and survival `S(b·x)`, and the path's ratio is a product over
//! its up-intervals:
//!
//! | up-interval | true / biased |
//! |---|---|
//! | complete, length `x` | `f(x) / (b·f(b·x))` |
//! | cut by the horizon after `x` | `S(x) / S(b·x)` |
//! | first, from age `a` (given `age:`), complete | `f(a+x) / (b·f(a+b·x))` |
//! | first, from age `a`, cut by the horizon | `S(a+x) / S(a+b·x)` |
//! | first, in equilibrium (forward recurrence), complete | `S(x) / (b·S(b·x))` |
//! | first, in equilibrium, cut by the horizon | `Se(x) / Se(b·x)` |
//!
//! where `Se(x) = ∫ₓ^∞ S(u) du / μ` is the survival of the forward-recurrence
//! law. In equilibrium a process is also down at the start with probability
//! `p = μR / (μ + μR)` (`μR`: mean repair time), `p_b = μR / (μ/b + μR)`
//! when biased, which adds `p / p_b` or `(1 − p) / (1 − p_b)`. Repair times
//! are not biased, so they do not enter the weight.
//!
//! Only distributions with a density on all of `(0, ∞)` can be scaled this
//! way (exponential, Weibull, lognormal, gamma): a scaled uniform, constant
//! or empirical law puts mass where the true one has none, and the weight
//! would not be defined. Processes with those laws are left unbiased.

use statrs::distribution::{Continuous, ContinuousCDF, LogNormal as LogNormalLaw, Normal};
use statrs::function::gamma::{gamma_ur, ln_gamma};

use crate::dist::Dist;
use crate::model::FaultDef;

/// The likelihood ratio of one failure process's path, built up as the
/// process runs: the caller reports when up-intervals start and end, and
/// the horizon. For a process with `bias == 1` every call is a no-op and the
/// weight stays exactly 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathWeight {
    ln: f64,
    /// The up-interval in progress: when it started (seconds) and how.
    up: Option<(f64, Start)>,
}

impl Default for PathWeight {
    fn default() -> Self {
        PathWeight { ln: 0.0, up: None }
    }
}

impl PathWeight {
    /// The equilibrium start: down (`down = true`) or up at time zero.
    pub fn initial_state(&mut self, def: &FaultDef, down: bool) {
        if def.bias != 1.0 {
            self.ln += ln_ratio_initial(def.time_between.mean(), def.repair.mean(), def.bias, down);
        }
    }

    /// An up-interval begins at `t` seconds.
    pub fn up_from(&mut self, t: f64, start: Start) {
        self.up = Some((t, start));
    }

    /// The up-interval in progress ends with a failure at `t` seconds.
    pub fn failed_at(&mut self, def: &FaultDef, t: f64) {
        if let Some((t0, start)) = self.up.take()
            && def.bias != 1.0
        {
            self.ln += ln_ratio(&def.time_between, def.bias, start, t - t0, true);
        }
    }

    /// The horizon at `t` seconds: an up-interval in progress is cut there.
    pub fn end(&mut self, def: &FaultDef, t: f64) {
        if let Some((t0, start)) = self.up.take()
            && def.bias != 1.0
        {
            self.ln += ln_ratio(&def.time_between, def.bias, start, (t - t0).max(0.0), false);
        }
    }

    /// `ln(true / biased)` so far.
    pub fn ln(&self) -> f64 {
        self.ln
    }
}

/// Whether [`Dist`] can be biased by time scaling.
pub fn can_bias(d: &Dist) -> bool {
    matches!(
        d,
        Dist::Exponential { .. }
            | Dist::Weibull { .. }
            | Dist::Lognormal { .. }
            | Dist::Gamma { .. }
    )
}

/// `ln f(x)`, `x` in seconds (`-inf` outside the support).
pub fn ln_pdf(d: &Dist, x: f64) -> f64 {
    if x <= 0.0 {
        return f64::NEG_INFINITY;
    }
    match d {
        Dist::Exponential { mean } => -mean.ln() - x / mean,
        Dist::Weibull { shape, scale } => {
            let z = x / scale;
            shape.ln() - scale.ln() + (shape - 1.0) * z.ln() - z.powf(*shape)
        }
        Dist::Lognormal { mu, sigma } => match LogNormalLaw::new(*mu, *sigma) {
            Ok(l) => l.ln_pdf(x),
            Err(_) => f64::NEG_INFINITY,
        },
        Dist::Gamma { shape, scale, .. } => {
            (shape - 1.0) * x.ln() - x / scale - ln_gamma(*shape) - shape * scale.ln()
        }
        _ => f64::NEG_INFINITY,
    }
}

/// `ln S(x) = ln P(X > x)`, `x` in seconds, computed in log space where the
/// law allows it (so far tails do not underflow to `-inf`).
pub fn ln_sf(d: &Dist, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    match d {
        Dist::Exponential { mean } => -x / mean,
        Dist::Weibull { shape, scale } => -(x / scale).powf(*shape),
        Dist::Lognormal { mu, sigma } => ln_normal_sf((x.ln() - mu) / sigma),
        Dist::Gamma { shape, scale, .. } => gamma_ur(*shape, x / scale).ln(),
        other => other.survival(x).ln(),
    }
}

/// `ln P(Z > z)` for a standard normal Z, accurate in the far tail.
pub fn ln_normal_sf(z: f64) -> f64 {
    if z < 8.0 {
        (0.5 * statrs::function::erf::erfc(z / std::f64::consts::SQRT_2))
            .max(f64::MIN_POSITIVE)
            .ln()
    } else {
        // Mills ratio asymptotic series.
        let z2 = z * z;
        -0.5 * z2 - z.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
            + (1.0 - 1.0 / z2 + 3.0 / (z2 * z2)).ln()
    }
}

/// `Se(x)`: the survival of the forward-recurrence (equilibrium) law,
/// `∫ₓ^∞ S(u) du / μ = E[(X − x)⁺] / μ`.
pub fn forward_sf(d: &Dist, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    match d {
        Dist::Exponential { mean } => (-x / mean).exp(),
        Dist::Weibull { shape, .. } => {
            // ∫ₓ^∞ exp(-(u/λ)^k) du = (λ/k)·Γ(1/k)·Q(1/k, (x/λ)^k), and
            // μ = λ·Γ(1 + 1/k) = (λ/k)·Γ(1/k): the ratio is Q.
            let z = (x / d_scale(d)).powf(*shape);
            gamma_ur(1.0 / shape, z)
        }
        Dist::Lognormal { mu, sigma } => {
            // E[(X − x)⁺] = e^{μ+σ²/2}·Φ((μ + σ² − ln x)/σ) − x·Φ((μ − ln x)/σ).
            let n = Normal::standard();
            let l = x.ln();
            let mean = (mu + sigma * sigma / 2.0).exp();
            let e = mean * n.cdf((mu + sigma * sigma - l) / sigma) - x * n.cdf((mu - l) / sigma);
            (e / mean).clamp(0.0, 1.0)
        }
        Dist::Gamma { shape, scale, .. } => {
            // E[(X − x)⁺] = kθ·Q(k + 1, x/θ) − x·Q(k, x/θ).
            let z = x / scale;
            let mean = shape * scale;
            let e = mean * gamma_ur(shape + 1.0, z) - x * gamma_ur(*shape, z);
            (e / mean).clamp(0.0, 1.0)
        }
        other => {
            // Not used for biasing; a plain numeric integral for completeness.
            let mean = other.mean();
            if mean <= 0.0 {
                return 0.0;
            }
            let hi = x.max(mean) * 50.0;
            let steps = 4000;
            let h = (hi - x) / steps as f64;
            let mut sum = 0.0;
            for i in 0..steps {
                let u = x + (i as f64 + 0.5) * h;
                sum += other.survival(u);
            }
            (sum * h / mean).clamp(0.0, 1.0)
        }
    }
}

fn d_scale(d: &Dist) -> f64 {
    match d {
        Dist::Weibull { scale, .. } => *scale,
        _ => 1.0,
    }
}

/// How a biased up-interval began.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Start {
    /// After a repair (or at the start with `age: 0`): a fresh interval.
    Fresh,
    /// At the campaign's start, the component being `age` seconds old.
    Aged(f64),
    /// At the campaign's start, in equilibrium (forward recurrence).
    Equilibrium,
}

/// `ln(true / biased)` of one up-interval of length `x` seconds under the
/// time scale `b`, complete (ended by a failure) or cut by the horizon.
pub fn ln_ratio(d: &Dist, b: f64, start: Start, x: f64, complete: bool) -> f64 {
    if b == 1.0 {
        return 0.0;
    }
    let a = match start {
        Start::Fresh => 0.0,
        Start::Aged(a) => a,
        Start::Equilibrium => {
            return if complete {
                ln_sf(d, x) - b.ln() - ln_sf(d, b * x)
            } else {
                forward_sf(d, x).ln() - forward_sf(d, b * x).ln()
            };
        }
    };
    if complete {
        ln_pdf(d, a + x) - b.ln() - ln_pdf(d, a + b * x)
    } else {
        ln_sf(d, a + x) - ln_sf(d, a + b * x)
    }
}

/// `ln(true / biased)` of the state at the start of an equilibrium campaign:
/// down (`down = true`) or up, for a process with mean time between
/// failures `mtbf` and mean repair `mttr`, biased by `b`.
pub fn ln_ratio_initial(mtbf: f64, mttr: f64, b: f64, down: bool) -> f64 {
    if b == 1.0 {
        return 0.0;
    }
    let p = mttr / (mtbf + mttr);
    let pb = mttr / (mtbf / b + mttr);
    if down {
        p.ln() - pb.ln()
    } else {
        (1.0 - p).ln() - (1.0 - pb).ln()
    }
}

/// The time scale for each failure process when biasing automatically:
/// processes whose expected failures within `horizon_s` are few are sped up
/// so that, together, about one failure is expected per campaign; frequent
/// processes (and those that cannot be biased) keep `b = 1`. `means` are the
/// processes' mean times between failures in seconds (`None`: cannot be
/// biased).
pub fn auto_factors(means: &[Option<f64>], horizon_s: f64) -> Vec<f64> {
    let n = means.iter().filter(|m| m.is_some()).count().max(1) as f64;
    means
        .iter()
        .map(|m| match m {
            Some(mean) if *mean > 0.0 && horizon_s > 0.0 => (mean / (n * horizon_s)).max(1.0),
            _ => 1.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::CampaignSeed;

    fn laws() -> Vec<Dist> {
        vec![
            Dist::exponential(100.0).unwrap(),
            Dist::weibull(0.7, 80.0).unwrap(),
            Dist::weibull(2.5, 120.0).unwrap(),
            Dist::lognormal(60.0, 0.9).unwrap(),
            Dist::gamma(2.0, 40.0).unwrap(),
        ]
    }

    #[test]
    fn densities_integrate_to_their_survival() {
        for d in laws() {
            // ∫ₓ^∞ f = S(x), by the midpoint rule on a fine grid.
            let x0 = 30.0;
            let hi = 5000.0;
            let steps = 200_000;
            let h = (hi - x0) / steps as f64;
            let integral: f64 = (0..steps)
                .map(|i| ln_pdf(&d, x0 + (i as f64 + 0.5) * h).exp() * h)
                .sum();
            let s = ln_sf(&d, x0).exp();
            assert!((integral - s).abs() < 1e-4, "{d:?}: {integral} vs {s}");
            // The forward-recurrence survival matches ∫S/μ.
            let fe: f64 = (0..steps)
                .map(|i| d.survival(x0 + (i as f64 + 0.5) * h) * h)
                .sum::<f64>()
                / d.mean();
            assert!((fe - forward_sf(&d, x0)).abs() < 1e-4, "{d:?}: {fe}");
        }
    }

    /// Under the biased law, the weight of "the first interval, observed up
    /// to the horizon T" has mean 1, and the weighted indicator of a failure
    /// before T estimates the true probability. For every start kind.
    #[test]
    fn weights_are_unbiased_for_every_law_and_start() {
        let mut rng = CampaignSeed::derive(11, 0, 0).stream(3);
        let horizon = 20.0;
        let b = 6.0;
        for d in laws() {
            for start in [Start::Fresh, Start::Aged(50.0), Start::Equilibrium] {
                let exact = match start {
                    Start::Fresh => 1.0 - d.survival(horizon),
                    Start::Aged(a) => 1.0 - d.survival(a + horizon) / d.survival(a),
                    Start::Equilibrium => 1.0 - forward_sf(&d, horizon),
                };
                let n = 200_000;
                let (mut w_sum, mut hit_sum) = (0.0, 0.0);
                for _ in 0..n {
                    // Draw the first interval under the biased law: the true
                    // draw divided by b.
                    let x = match start {
                        Start::Fresh => d.sample_secs(&mut rng),
                        Start::Aged(a) => d.sample_residual_after(a, &mut rng),
                        Start::Equilibrium => d.sample_forward_recurrence_secs(&mut rng),
                    };
                    // Aged: the biased residual is the residual scaled by 1/b.
                    let y = x / b;
                    let complete = y <= horizon;
                    let w = if complete {
                        ln_ratio(&d, b, start, y, true)
                    } else {
                        ln_ratio(&d, b, start, horizon, false)
                    };
                    // (Aged: the residual law's 1/S(a) is the same in both
                    // laws and cancels in the ratio.)
                    let w = w.exp();
                    w_sum += w;
                    if complete {
                        hit_sum += w;
                    }
                }
                let mean_w = w_sum / n as f64;
                let est = hit_sum / n as f64;
                assert!(
                    (mean_w - 1.0).abs() < 0.02,
                    "{d:?} {start:?}: mean weight {mean_w}"
                );
                let rel = (est - exact).abs() / exact;
                assert!(rel < 0.03, "{d:?} {start:?}: {est} vs exact {exact}");
            }
        }
    }

    #[test]
    fn lognormal_survival_stays_finite_in_the_far_tail() {
        // Both branches of ln_normal_sf agree where they meet.
        let below = ln_normal_sf(8.0 - 1e-9);
        let above = ln_normal_sf(8.0);
        assert!((below - above).abs() < 1e-4, "{below} vs {above}");
        // Forty standard deviations out, where P(Z > z) underflows to 0.
        let d = Dist::lognormal(1.0, 0.5).unwrap();
        let x = (20.0f64).exp(); // ln x = 20, z = 40
        let l = ln_sf(&d, x);
        assert!(l.is_finite() && l < -700.0, "{l}");
    }

    #[test]
    fn initial_state_weights_balance() {
        let (mtbf, mttr, b) = (1000.0, 10.0, 50.0);
        let p = mttr / (mtbf + mttr);
        let pb = mttr / (mtbf / b + mttr);
        let mean = pb * ln_ratio_initial(mtbf, mttr, b, true).exp()
            + (1.0 - pb) * ln_ratio_initial(mtbf, mttr, b, false).exp();
        assert!((mean - 1.0).abs() < 1e-12);
        assert!((pb * ln_ratio_initial(mtbf, mttr, b, true).exp() - p).abs() < 1e-12);
    }

    #[test]
    fn auto_factors_aim_at_one_failure_per_campaign() {
        let f = auto_factors(&[Some(1e6), Some(2e6), None, Some(10.0)], 100.0);
        assert_eq!(f[2], 1.0);
        assert_eq!(f[3], 1.0, "frequent processes are not biased");
        // Three biasable processes: each aims at 1/3 failure per campaign.
        assert!((100.0 * f[0] / 1e6 - 1.0 / 3.0).abs() < 1e-12);
        assert!((100.0 * f[1] / 2e6 - 1.0 / 3.0).abs() < 1e-12);
    }
}
