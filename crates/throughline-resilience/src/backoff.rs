//! How long to wait before each retry: exponential with a cap, and jitter so
//! that clients that failed together do not retry together.
//!
//! The three jitters are the ones of the AWS Architecture Blog's "Exponential
//! Backoff And Jitter", where `exp = min(max, base × multiplier^(n-1))` for the
//! n-th retry:
//!
//! | jitter | delay |
//! |---|---|
//! | [`Jitter::None`] | `exp` |
//! | [`Jitter::Full`] (default) | uniform in `[0, exp]` |
//! | [`Jitter::Equal`] | `exp/2` + uniform in `[0, exp/2]` |
//! | [`Jitter::Decorrelated`] | `min(max, uniform in [base, 3 × previous delay])` |
//!
//! ```
//! use std::time::Duration;
//! use throughline_resilience::{Backoff, Jitter};
//!
//! let backoff = Backoff::exponential(Duration::from_millis(100))
//!     .max_delay(Duration::from_secs(1))
//!     .jitter(Jitter::None);
//! let delays: Vec<_> = backoff.delays(0).take(5).map(|d| d.as_millis()).collect();
//! assert_eq!(delays, [100, 200, 400, 800, 1000]);
//!
//! // With jitter, a seed makes the schedule reproducible.
//! let full = backoff.jitter(Jitter::Full);
//! assert_eq!(full.delays(7).take(3).collect::<Vec<_>>(), full.delays(7).take(3).collect::<Vec<_>>());
//! ```

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// How a delay is randomised; see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Jitter {
    /// The exponential delay itself.
    None,
    /// Uniform between zero and the exponential delay: the least contention.
    #[default]
    Full,
    /// Half the exponential delay plus up to half again: never retries at once.
    Equal,
    /// Uniform between the base and three times the previous delay, capped.
    Decorrelated,
}

/// A multiplier below 1 or not finite.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("backoff multiplier must be a finite number of at least 1, got {0}")]
pub struct BackoffError(pub f64);

/// The retry delay schedule. The default is exponential from 50 ms, doubling,
/// capped at 5 s, with full jitter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    multiplier: f64,
    jitter: Jitter,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::exponential(Duration::from_millis(50))
    }
}

impl Backoff {
    /// Doubling delays from `base`, capped at 5 s, with full jitter.
    pub fn exponential(base: Duration) -> Self {
        Self { base, max: Duration::from_secs(5).max(base), multiplier: 2.0, jitter: Jitter::Full }
    }

    /// The same delay before every retry, without jitter.
    pub fn constant(delay: Duration) -> Self {
        Self { base: delay, max: delay, multiplier: 1.0, jitter: Jitter::None }
    }

    /// The longest delay (and the cap of decorrelated jitter). Never below the base.
    pub fn max_delay(mut self, max: Duration) -> Self {
        self.max = max.max(self.base);
        self
    }

    /// The growth factor per retry.
    pub fn multiplier(mut self, multiplier: f64) -> Result<Self, BackoffError> {
        if !multiplier.is_finite() || multiplier < 1.0 {
            return Err(BackoffError(multiplier));
        }
        self.multiplier = multiplier;
        Ok(self)
    }

    /// How delays are randomised.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The delays before the first, second, ... retry, drawn from a
    /// generator seeded with `seed`.
    pub fn delays(&self, seed: u64) -> Delays {
        Delays { backoff: *self, rng: SmallRng::seed_from_u64(seed), retry: 0, previous: self.base }
    }

    /// The delay before the `retry`-th retry (from 1) without jitter.
    pub fn exponential_delay(&self, retry: u32) -> Duration {
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let secs = self.base.as_secs_f64() * self.multiplier.powi(exponent);
        // `min` first, so that an overflow to infinity is capped, never converted.
        Duration::try_from_secs_f64(secs.min(self.max.as_secs_f64())).unwrap_or(self.max)
    }
}

/// The infinite schedule of [`Backoff::delays`].
#[derive(Clone, Debug)]
pub struct Delays {
    backoff: Backoff,
    rng: SmallRng,
    retry: u32,
    previous: Duration,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.retry = self.retry.saturating_add(1);
        let Backoff { base, max, jitter, .. } = self.backoff;
        let exp = self.backoff.exponential_delay(self.retry);
        let delay = match jitter {
            Jitter::None => exp,
            Jitter::Full => uniform(&mut self.rng, Duration::ZERO, exp),
            Jitter::Equal => exp / 2 + uniform(&mut self.rng, Duration::ZERO, exp - exp / 2),
            Jitter::Decorrelated => {
                uniform(&mut self.rng, base, self.previous.saturating_mul(3).max(base)).min(max)
            }
        };
        self.previous = delay;
        Some(delay)
    }
}

fn uniform(rng: &mut SmallRng, low: Duration, high: Duration) -> Duration {
    let (low, high) = (low.as_nanos() as u64, high.as_nanos().min(u128::from(u64::MAX)) as u64);
    Duration::from_nanos(if high <= low { low } else { rng.random_range(low..=high) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_multiplier_below_one_or_not_finite_is_an_error() {
        for bad in [0.5, f64::NAN, f64::INFINITY, -2.0] {
            assert!(Backoff::default().multiplier(bad).is_err());
        }
        assert!(Backoff::default().multiplier(1.5).is_ok());
    }

    #[test]
    fn a_huge_retry_number_stays_at_the_cap() {
        let backoff = Backoff::exponential(MS).max_delay(Duration::from_secs(3)).multiplier(10.0).unwrap();
        assert_eq!(backoff.exponential_delay(u32::MAX), Duration::from_secs(3));
    }

    #[test]
    fn constant_backoff_never_changes() {
        let delays: Vec<_> = Backoff::constant(20 * MS).delays(1).take(4).collect();
        assert_eq!(delays, [20 * MS; 4]);
    }
}
