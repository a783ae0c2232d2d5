//! How a concurrency limit is chosen: fixed, or found from observed latency
//! and overload signals (AIMD, gradient), in the manner of Netflix's
//! concurrency-limits.

use std::time::Duration;

/// The limit algorithm of a [`super::Limiter`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LimitAlgorithm {
    /// A fixed number of calls in flight.
    Fixed(usize),
    /// Additive increase, multiplicative decrease on overload.
    Aimd(Aimd),
    /// Follows the ratio of the long-term to the recent latency.
    Gradient(Gradient),
}

impl LimitAlgorithm {
    pub(super) fn initial(&self) -> usize {
        match self {
            Self::Fixed(n) => *n,
            Self::Aimd(a) => a.initial,
            Self::Gradient(g) => g.initial,
        }
    }

    pub(super) fn bounds(&self) -> (usize, usize) {
        match self {
            Self::Fixed(n) => (*n, *n),
            Self::Aimd(a) => (a.min, a.max),
            Self::Gradient(g) => (g.min, g.max),
        }
    }
}

/// Additive increase, multiplicative decrease: +1 for each call that
/// succeeded while the limit was at least half used; × `backoff` for each
/// call that ended in an overload signal (a timeout, 429, 503,
/// `RESOURCE_EXHAUSTED`, `UNAVAILABLE`) or took longer than `timeout`.
///
/// Defaults: initial 20, min 1, max 1000, backoff 0.9, timeout 5 s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Aimd {
    /// The limit at start.
    pub initial: usize,
    /// The lowest limit.
    pub min: usize,
    /// The highest limit.
    pub max: usize,
    /// The factor applied on overload, in (0, 1).
    pub backoff: f64,
    /// A call slower than this counts as overload.
    pub timeout: Duration,
}

impl Default for Aimd {
    fn default() -> Self {
        Self { initial: 20, min: 1, max: 1000, backoff: 0.9, timeout: Duration::from_secs(5) }
    }
}

/// Netflix's Gradient2: the limit follows `tolerance × long RTT / short RTT`,
/// clamped to [0.5, 1], plus a queue allowance of √limit, smoothed. When
/// latency rises above its long-term average the limit falls; when it is
/// steady the limit grows by the allowance. Overload signals multiply the
/// limit by 0.9, as AIMD does.
///
/// Defaults: initial 20, min 1, max 1000, tolerance 1.5, smoothing 0.2,
/// long window 600 samples, short window 10 samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gradient {
    /// The limit at start.
    pub initial: usize,
    /// The lowest limit.
    pub min: usize,
    /// The highest limit.
    pub max: usize,
    /// How much latency may rise over its long-term average before the limit falls (≥ 1).
    pub tolerance: f64,
    /// How fast the limit moves toward its new value, in (0, 1].
    pub smoothing: f64,
    /// Samples in the long-term latency average.
    pub long_window: u32,
    /// Samples in the recent latency average.
    pub short_window: u32,
}

impl Default for Gradient {
    fn default() -> Self {
        Self {
            initial: 20,
            min: 1,
            max: 1000,
            tolerance: 1.5,
            smoothing: 0.2,
            long_window: 600,
            short_window: 10,
        }
    }
}

/// One finished call, as the algorithm sees it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sample {
    pub rtt: Duration,
    pub in_flight: usize,
    pub overload: bool,
}

/// The mutable state of an adaptive algorithm.
#[derive(Debug)]
pub(super) struct Adaptive {
    algorithm: LimitAlgorithm,
    limit: f64,
    long_rtt: f64,
    short_rtt: f64,
}

impl Adaptive {
    pub(super) fn new(algorithm: LimitAlgorithm) -> Self {
        Self { algorithm, limit: algorithm.initial() as f64, long_rtt: 0.0, short_rtt: 0.0 }
    }

    /// The new limit after `sample`.
    pub(super) fn update(&mut self, sample: Sample) -> usize {
        let (min, max) = self.algorithm.bounds();
        match self.algorithm {
            LimitAlgorithm::Fixed(n) => return n,
            LimitAlgorithm::Aimd(aimd) => {
                if sample.overload || sample.rtt > aimd.timeout {
                    self.limit = (self.limit * aimd.backoff).floor();
                } else if sample.in_flight * 2 >= self.limit as usize {
                    self.limit += 1.0;
                }
            }
            LimitAlgorithm::Gradient(g) => {
                if sample.overload {
                    self.limit = (self.limit * 0.9).floor();
                } else {
                    self.gradient(g, sample);
                }
            }
        }
        self.limit = self.limit.clamp(min as f64, max as f64);
        self.limit as usize
    }

    fn gradient(&mut self, g: Gradient, sample: Sample) {
        let rtt = sample.rtt.as_secs_f64().max(1e-9);
        let ewma = |average: f64, window: u32| {
            if average == 0.0 { rtt } else { average + (rtt - average) * 2.0 / (f64::from(window) + 1.0) }
        };
        self.short_rtt = ewma(self.short_rtt, g.short_window);
        self.long_rtt = ewma(self.long_rtt, g.long_window);
        // After a long stretch of higher latency, let the baseline recover.
        if self.long_rtt / self.short_rtt > 2.0 {
            self.long_rtt *= 0.95;
        }
        // A limit that is not being used says nothing about the dependency.
        if (sample.in_flight as f64) < self.limit / 2.0 {
            return;
        }
        let gradient = (g.tolerance * self.long_rtt / self.short_rtt).clamp(0.5, 1.0);
        let target = self.limit * gradient + self.limit.sqrt();
        self.limit = self.limit * (1.0 - g.smoothing) + target * g.smoothing;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rtt_ms: u64, in_flight: usize, overload: bool) -> Sample {
        Sample { rtt: Duration::from_millis(rtt_ms), in_flight, overload }
    }

    #[test]
    fn aimd_adds_one_when_used_and_multiplies_down_on_overload() {
        let mut aimd = Adaptive::new(LimitAlgorithm::Aimd(Aimd { initial: 10, ..Aimd::default() }));
        assert_eq!(aimd.update(sample(10, 5, false)), 11);
        assert_eq!(aimd.update(sample(10, 1, false)), 11, "an idle limit does not grow");
        assert_eq!(aimd.update(sample(10, 5, true)), 9, "floor(11 × 0.9)");
        assert_eq!(aimd.update(sample(6_000, 5, false)), 8, "slower than the timeout is overload");
    }

    #[test]
    fn aimd_stays_within_bounds() {
        let mut aimd =
            Adaptive::new(LimitAlgorithm::Aimd(Aimd { initial: 2, min: 2, max: 3, ..Aimd::default() }));
        for _ in 0..5 {
            aimd.update(sample(1, 3, true));
        }
        assert_eq!(aimd.update(sample(1, 3, true)), 2);
        for _ in 0..5 {
            aimd.update(sample(1, 3, false));
        }
        assert_eq!(aimd.update(sample(1, 3, false)), 3);
    }

    #[test]
    fn gradient_grows_at_steady_latency_and_falls_when_latency_rises() {
        let mut gradient =
            Adaptive::new(LimitAlgorithm::Gradient(Gradient { initial: 20, ..Gradient::default() }));
        let mut limit = 20;
        for _ in 0..50 {
            limit = gradient.update(sample(10, limit, false));
        }
        assert!(limit > 40, "steady latency grows the limit, got {limit}");
        let grown = limit;
        for _ in 0..50 {
            limit = gradient.update(sample(100, limit, false));
        }
        assert!(limit < grown / 2, "10× latency halves the limit at least, {grown} -> {limit}");
    }
}
