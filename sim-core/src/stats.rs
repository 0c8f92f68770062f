//! Statistics primitives: latency histograms, time-weighted averages, running moments.

use crate::time::{SimDuration, SimTime};

/// Latencies are recorded in nanoseconds from 1 ns up to this bound (about
/// 73 minutes); larger values are clamped to it and counted in
/// [`LatencyHistogram::clamped`].
pub const MAX_TRACKED_NANOS: u64 = 1 << 42;

/// A latency histogram with quantile error at most 1% (relative).
///
/// Built on HdrHistogram with two significant digits: every recorded value
/// lands in a bucket whose width is at most 1/128 of its value, and
/// quantiles are reported at the bucket's midpoint, so a reported quantile
/// is within 0.4% of a value that lies at that rank. The mean is tracked
/// exactly, outside the histogram.
///
/// # Examples
///
/// ```
/// use sim_core::{LatencyHistogram, SimDuration};
/// let mut h = LatencyHistogram::new();
/// for ms in 1..=100 {
///     h.record(SimDuration::from_millis(ms));
/// }
/// let p99 = h.quantile(0.99).as_millis_f64();
/// assert!((p99 - 99.0).abs() / 99.0 < 0.01);
/// assert!((h.mean().as_millis_f64() - 50.5).abs() < 1e-9);
/// ```
#[derive(Clone)]
pub struct LatencyHistogram {
    h: hdrhistogram::Histogram<u64>,
    sum_nanos: u128,
    clamped: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.count())
            .field("mean", &self.mean())
            .finish()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        LatencyHistogram {
            h: hdrhistogram::Histogram::new_with_bounds(1, MAX_TRACKED_NANOS, 2)
                .expect("static histogram bounds are valid"),
            sum_nanos: 0,
            clamped: 0,
        }
    }

    /// Records one latency.
    #[inline]
    pub fn record(&mut self, d: SimDuration) {
        self.sum_nanos += u128::from(d.0);
        let v = if d.0 > MAX_TRACKED_NANOS {
            self.clamped += 1;
            MAX_TRACKED_NANOS
        } else {
            d.0.max(1)
        };
        self.h.saturating_record(v);
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.h.len()
    }

    /// Bytes one histogram holds on the heap (its bucket counts): every
    /// histogram has the same bounds, so this is the same for all. Used by
    /// memory bounds (`docs/limits.md`).
    pub fn heap_bytes() -> u64 {
        let h = LatencyHistogram::new();
        (h.h.distinct_values() * std::mem::size_of::<u64>()) as u64
    }

    /// Number of values above [`MAX_TRACKED_NANOS`] (their quantiles are clamped).
    pub fn clamped(&self) -> u64 {
        self.clamped
    }

    /// Exact mean of the recorded values (zero when empty).
    pub fn mean(&self) -> SimDuration {
        let n = self.count();
        if n == 0 {
            SimDuration::ZERO
        } else {
            SimDuration((self.sum_nanos / u128::from(n)) as u64)
        }
    }

    /// The value at quantile `q` in [0, 1] (zero when empty).
    pub fn quantile(&self, q: f64) -> SimDuration {
        if self.count() == 0 {
            return SimDuration::ZERO;
        }
        let v = self.h.value_at_quantile(q.clamp(0.0, 1.0));
        SimDuration(self.h.median_equivalent(v))
    }

    /// Adds every value of `other` to this histogram.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        self.h
            .add(&other.h)
            .expect("histograms with identical bounds always merge");
        self.sum_nanos += other.sum_nanos;
        self.clamped += other.clamped;
    }

    /// Adds every value of `other` as if it had been recorded `weight` times
    /// (`weight` ≥ 0, not necessarily whole): a sample of a population
    /// scaled up to the population's size.
    ///
    /// Each bucket's count is multiplied by `weight` and rounded, carrying
    /// the rounding remainder from bucket to bucket in value order, so the
    /// total count grows by `round(weight × other.count())` and no bucket is
    /// off by more than one. The sum behind the mean is scaled exactly (up
    /// to floating point), so the mean of `other` is kept.
    ///
    /// # Examples
    ///
    /// ```
    /// use sim_core::{LatencyHistogram, SimDuration};
    /// let mut sample = LatencyHistogram::new();
    /// for ms in 1..=100 {
    ///     sample.record(SimDuration::from_millis(ms));
    /// }
    /// let mut window = LatencyHistogram::new();
    /// window.merge_scaled(&sample, 2.5);
    /// assert_eq!(window.count(), 250);
    /// assert!((window.mean().as_millis_f64() - 50.5).abs() < 0.5);
    /// ```
    pub fn merge_scaled(&mut self, other: &LatencyHistogram, weight: f64) {
        if weight == 1.0 {
            self.merge(other);
            return;
        }
        let values = other
            .h
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()));
        self.add_scaled_values(values, other.sum_nanos, other.clamped, weight);
    }

    /// The recorded values, for adding them scaled many times
    /// ([`LatencyHistogram::merge_points_scaled`]).
    pub fn points(&self) -> HistogramPoints {
        HistogramPoints {
            points: self
                .h
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
            sum_nanos: self.sum_nanos,
            clamped: self.clamped,
        }
    }

    /// [`LatencyHistogram::merge_scaled`] of the histogram whose
    /// [`LatencyHistogram::points`] `p` are: exactly the same result, at the
    /// cost of its distinct values rather than of its whole range of buckets.
    pub fn merge_points_scaled(&mut self, p: &HistogramPoints, weight: f64) {
        if weight == 1.0 {
            for &(v, n) in &p.points {
                self.h.saturating_record_n(v, n);
            }
            self.sum_nanos += p.sum_nanos;
            self.clamped += p.clamped;
            return;
        }
        self.add_scaled_values(p.points.iter().copied(), p.sum_nanos, p.clamped, weight);
    }

    /// Adds `(value, count)` pairs in value order, each count scaled by
    /// `weight` with the rounding remainder carried from value to value.
    fn add_scaled_values(
        &mut self,
        values: impl Iterator<Item = (u64, u64)>,
        sum_nanos: u128,
        clamped: u64,
        weight: f64,
    ) {
        assert!(
            weight.is_finite() && weight >= 0.0,
            "weight must be finite and non-negative, got {weight}"
        );
        let mut exact = 0.0_f64;
        let mut emitted = 0u64;
        for (value, count) in values {
            exact += count as f64 * weight;
            let target = round_non_negative(exact);
            let n = target.saturating_sub(emitted);
            if n > 0 {
                self.h.saturating_record_n(value, n);
                emitted += n;
            }
        }
        self.sum_nanos += (sum_nanos as f64 * weight).round() as u128;
        self.clamped += (clamped as f64 * weight).round() as u64;
    }

    /// Empties the histogram, keeping its memory.
    pub fn reset(&mut self) {
        self.h.reset();
        self.sum_nanos = 0;
        self.clamped = 0;
    }
}

/// `x.round() as u64` for `x ≥ 0`, without a call to the C library's
/// `round` (which the default x86-64 target has no instruction for): the
/// integer part by truncation, plus one when the fraction (exact: `x`
/// minus its integer part loses nothing) is at least one half. Above 2^52
/// `x` is whole.
#[inline(always)]
fn round_non_negative(x: f64) -> u64 {
    if x < (1u64 << 52) as f64 {
        let whole = x as u64;
        whole + u64::from(x - whole as f64 >= 0.5)
    } else {
        x.round() as u64
    }
}

/// The recorded values of a [`LatencyHistogram`] as a list of (value,
/// count) in value order ([`LatencyHistogram::points`]). A pooled sample
/// that every campaign adds scaled ([`LatencyHistogram::merge_points_scaled`])
/// then costs its few hundred distinct values per addition instead of a walk
/// over the histogram's thousands of buckets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramPoints {
    points: Vec<(u64, u64)>,
    sum_nanos: u128,
    clamped: u64,
}

impl HistogramPoints {
    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.points.iter().map(|p| p.1).sum()
    }

    /// The bytes its points take on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.points.capacity() * std::mem::size_of::<(u64, u64)>()
    }

    /// The most bytes one takes: a (value, count) pair per bucket of the
    /// histogram when every bucket holds a value (twice the histogram's
    /// bucket counts), usually far fewer. Used by memory bounds
    /// (`docs/limits.md`).
    pub fn max_bytes() -> u64 {
        2 * LatencyHistogram::heap_bytes() + std::mem::size_of::<HistogramPoints>() as u64
    }
}

/// The time-weighted average of a piecewise-constant quantity (queue length,
/// replicas up, "is available").
///
/// # Examples
///
/// ```
/// use sim_core::{SimTime, TimeWeighted};
/// let mut up = TimeWeighted::new(SimTime::ZERO, 1.0);
/// up.set(SimTime::from_secs_f64(9.0), 0.0);
/// up.set(SimTime::from_secs_f64(10.0), 1.0);
/// assert!((up.mean(SimTime::from_secs_f64(20.0)) - 0.95).abs() < 1e-12);
/// ```
#[derive(Debug, Clone)]
pub struct TimeWeighted {
    start: SimTime,
    last: SimTime,
    value: f64,
    integral: f64,
}

impl TimeWeighted {
    /// Starts tracking at `start` with the given value.
    pub fn new(start: SimTime, value: f64) -> Self {
        TimeWeighted {
            start,
            last: start,
            value,
            integral: 0.0,
        }
    }

    /// The value changes to `value` at `now`.
    #[inline]
    pub fn set(&mut self, now: SimTime, value: f64) {
        let now = now.max(self.last);
        self.integral += self.value * (now - self.last).as_secs_f64();
        self.last = now;
        self.value = value;
    }

    /// The current value.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// The average from the start to `now` (the current value if no time has passed).
    pub fn mean(&self, now: SimTime) -> f64 {
        let now = now.max(self.last);
        let total = (now - self.start).as_secs_f64();
        if total <= 0.0 {
            return self.value;
        }
        (self.integral + self.value * (now - self.last).as_secs_f64()) / total
    }
}

/// Running mean and variance (Welford), for per-campaign summaries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Moments {
    /// Adds one observation.
    #[inline]
    pub fn add(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Sample mean (NaN when empty).
    pub fn mean(&self) -> f64 {
        if self.n == 0 { f64::NAN } else { self.mean }
    }

    /// Unbiased sample variance (NaN with fewer than two observations).
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            f64::NAN
        } else {
            self.m2 / (self.n - 1) as f64
        }
    }

    /// Standard error of the mean.
    pub fn std_error(&self) -> f64 {
        (self.variance() / self.n as f64).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_without_the_c_library_is_rounding() {
        for x in [
            0.0,
            0.49999999999999994,
            0.5,
            1.5,
            2.5,
            1e6 + 0.5,
            4503599627370495.5,
        ] {
            assert_eq!(round_non_negative(x), x.round() as u64, "{x}");
        }
        for x in [4503599627370496.0, 9007199254740993.0, 1e19] {
            assert_eq!(round_non_negative(x), x.round() as u64, "{x}");
        }
        use rand_core::{Rng, SeedableRng};
        let mut rng = crate::SimRng::seed_from_u64(3);
        for _ in 0..100_000 {
            let x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 1e7;
            for y in [
                x,
                x.floor() + 0.5,
                f64::from_bits((x.floor() + 0.5).to_bits() - 1),
            ] {
                assert_eq!(round_non_negative(y), y.round() as u64, "{y}");
            }
        }
    }

    #[test]
    fn adding_points_scaled_is_adding_the_histogram_scaled() {
        use rand_core::{Rng, SeedableRng};
        let mut rng = crate::SimRng::seed_from_u64(7);
        let mut src = LatencyHistogram::new();
        for _ in 0..5_000 {
            // Six decades of latencies, and a few past the tracked range.
            let ns = 10f64.powf(3.0 + 6.0 * (rng.next_u64() as f64 / u64::MAX as f64));
            src.record(SimDuration(ns as u64));
        }
        src.record(SimDuration(MAX_TRACKED_NANOS * 2));
        let p = src.points();
        assert_eq!(p.count(), src.count());
        for w in [0.0, 0.37, 1.0, 2.5, 1234.5] {
            let (mut a, mut b) = (LatencyHistogram::new(), LatencyHistogram::new());
            a.record(SimDuration::from_millis(3));
            b.record(SimDuration::from_millis(3));
            a.merge_scaled(&src, w);
            b.merge_points_scaled(&p, w);
            assert_eq!(a.points(), b.points(), "weight {w}");
            assert_eq!((a.mean(), a.clamped()), (b.mean(), b.clamped()));
        }
    }

    #[test]
    fn histogram_quantiles_within_one_percent() {
        // Values spread over six decades: every quantile within 1% of the exact one.
        let mut h = LatencyHistogram::new();
        let mut exact: Vec<u64> = Vec::new();
        let mut x: u64 = 1_000;
        for i in 0..100_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = 1_000 + (x >> 20) % 1_000_000_000 + i;
            exact.push(v);
            h.record(SimDuration(v));
        }
        exact.sort_unstable();
        for q in [0.01, 0.1, 0.5, 0.9, 0.99, 0.999] {
            let want = exact[((q * exact.len() as f64).ceil() as usize).saturating_sub(1)] as f64;
            let got = h.quantile(q).0 as f64;
            assert!(
                (got - want).abs() / want <= 0.01,
                "q={q}: got {got}, want {want}"
            );
        }
    }

    #[test]
    fn clamps_huge_values_and_merges() {
        let mut a = LatencyHistogram::new();
        a.record(SimDuration(u64::MAX / 2));
        assert_eq!(a.clamped(), 1);
        let mut b = LatencyHistogram::new();
        b.record(SimDuration(10));
        b.merge(&a);
        assert_eq!(b.count(), 2);
        b.reset();
        assert_eq!(b.count(), 0);
        assert_eq!(b.quantile(0.5), SimDuration::ZERO);
    }

    #[test]
    fn scaled_merge_keeps_shape_and_total() {
        // 1,000 values from 1 to 1,000 ms, scaled by 37.3: the total count is
        // the rounded product, quantiles and the mean stay where they were.
        let mut sample = LatencyHistogram::new();
        for ms in 1..=1000 {
            sample.record(SimDuration::from_millis(ms));
        }
        let mut h = LatencyHistogram::new();
        h.record(SimDuration::from_millis(5));
        h.merge_scaled(&sample, 37.3);
        assert_eq!(h.count(), 1 + 37_300);
        for q in [0.1, 0.5, 0.9, 0.99] {
            let got = h.quantile(q).as_millis_f64();
            let want = sample.quantile(q).as_millis_f64();
            assert!((got - want).abs() / want < 0.01, "q={q}: {got} vs {want}");
        }
        let mean = h.mean().as_millis_f64();
        let want = (5.0 + 37.3 * 500.5 * 1000.0) / 37_301.0;
        assert!((mean - want).abs() / want < 1e-3, "{mean} vs {want}");
        // A weight below one thins the sample without losing its total.
        let mut thin = LatencyHistogram::new();
        thin.merge_scaled(&sample, 0.25);
        assert_eq!(thin.count(), 250);
        assert!((thin.quantile(0.5).as_millis_f64() - 500.0).abs() < 10.0);
        // Weight one is a plain merge; weight zero adds nothing.
        let mut a = LatencyHistogram::new();
        a.merge_scaled(&sample, 1.0);
        assert_eq!(a.count(), 1000);
        a.merge_scaled(&sample, 0.0);
        assert_eq!(a.count(), 1000);
    }

    #[test]
    fn moments() {
        let mut m = Moments::default();
        for x in [1.0, 2.0, 3.0, 4.0] {
            m.add(x);
        }
        assert!((m.mean() - 2.5).abs() < 1e-12);
        assert!((m.variance() - 5.0 / 3.0).abs() < 1e-12);
    }
}
