//! The latency estimator behind a percentile hedge delay: the last
//! [`SAMPLES`] successful attempts' latencies in a ring of atomics, and the
//! percentile over them, recomputed every [`REFRESH`] samples and read with
//! one atomic load.
//!
//! No lock: a writer claims a slot with one `fetch_add` and stores into it;
//! the recomputation copies the ring (1 KiB) onto the stack and selects the
//! percentile there. Two threads recomputing at once both store an estimate;
//! a slot being written while it is copied gives an estimate that is one
//! sample off. Both are fine for a delay.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// How many latencies a percentile delay is taken over: the most recent ones.
pub const SAMPLES: usize = 256;
/// The percentile is recomputed every this many samples.
pub(crate) const REFRESH: u64 = 64;
/// No estimate yet: the fixed delay applies.
const NONE: u64 = u64::MAX;

#[derive(Debug)]
pub(crate) struct LatencyEstimator {
    /// Latencies in microseconds (saturating at about 71 minutes).
    ring: [AtomicU32; SAMPLES],
    recorded: AtomicU64,
    /// The current estimate in microseconds, or `NONE`.
    estimate: AtomicU64,
    /// The nearest-rank percentile, in millionths.
    percentile_ppm: u64,
    min_samples: u64,
}

impl LatencyEstimator {
    pub(crate) fn new(percentile: f64, min_samples: u32) -> Self {
        Self {
            ring: [const { AtomicU32::new(0) }; SAMPLES],
            recorded: AtomicU64::new(0),
            estimate: AtomicU64::new(NONE),
            percentile_ppm: (percentile * 1_000_000.0).round() as u64,
            min_samples: u64::from(min_samples.max(1)),
        }
    }

    /// The estimate, once `min_samples` latencies are in.
    #[inline]
    pub(crate) fn estimate(&self) -> Option<Duration> {
        match self.estimate.load(Ordering::Relaxed) {
            NONE => None,
            micros => Some(Duration::from_micros(micros)),
        }
    }

    /// How many latencies were recorded since the policy was built.
    pub(crate) fn recorded(&self) -> u64 {
        self.recorded.load(Ordering::Relaxed)
    }

    pub(crate) fn record(&self, latency: Duration) {
        let micros = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
        let n = self.recorded.fetch_add(1, Ordering::Relaxed) + 1;
        self.ring[((n - 1) % SAMPLES as u64) as usize].store(micros, Ordering::Relaxed);
        if n >= self.min_samples && (n == self.min_samples || n.is_multiple_of(REFRESH)) {
            self.refresh(n);
        }
    }

    #[cold]
    fn refresh(&self, recorded: u64) {
        let len = recorded.min(SAMPLES as u64) as usize;
        let mut copy = [0u32; SAMPLES];
        for (to, from) in copy[..len].iter_mut().zip(&self.ring) {
            *to = from.load(Ordering::Relaxed);
        }
        // Nearest rank: the smallest value with at least p of the samples at or below it.
        let rank = (len as u64 * self.percentile_ppm).div_ceil(1_000_000).clamp(1, len as u64);
        let (_, value, _) = copy[..len].select_nth_unstable(rank as usize - 1);
        self.estimate.store(u64::from(*value), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_estimate_before_the_minimum_then_the_nearest_rank() {
        let estimator = LatencyEstimator::new(0.95, 20);
        for ms in 1..20 {
            estimator.record(Duration::from_millis(ms));
        }
        assert_eq!(estimator.estimate(), None);
        estimator.record(Duration::from_millis(20));
        // 20 samples of 1..=20 ms: the 19th is the p95.
        assert_eq!(estimator.estimate(), Some(Duration::from_millis(19)));
    }

    #[test]
    fn the_estimate_follows_the_most_recent_samples() {
        let estimator = LatencyEstimator::new(0.5, 1);
        for _ in 0..SAMPLES {
            estimator.record(Duration::from_millis(100));
        }
        assert_eq!(estimator.estimate(), Some(Duration::from_millis(100)));
        for _ in 0..SAMPLES {
            estimator.record(Duration::from_millis(3));
        }
        assert_eq!(estimator.estimate(), Some(Duration::from_millis(3)), "the old samples left the ring");
    }

    #[test]
    fn threads_recording_at_once_lose_no_count_and_leave_a_whole_estimate() {
        let estimator = LatencyEstimator::new(0.95, 50);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..10_000 {
                        estimator.record(Duration::from_millis(7));
                        let _ = estimator.estimate();
                    }
                });
            }
        });
        assert_eq!(estimator.recorded(), 40_000);
        // Every slot was written on the first lap; later recomputations read only 7 ms.
        assert_eq!(estimator.estimate(), Some(Duration::from_millis(7)));
    }

    #[test]
    fn long_latencies_saturate() {
        let estimator = LatencyEstimator::new(1.0, 1);
        estimator.record(Duration::from_secs(100_000));
        assert_eq!(estimator.estimate(), Some(Duration::from_micros(u64::from(u32::MAX))));
    }
}
