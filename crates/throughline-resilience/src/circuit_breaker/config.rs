//! The circuit breaker's configuration, checked when the breaker is built.

use std::time::Duration;

use opentelemetry::metrics::{Meter, MeterProvider};

use super::Breaker;

/// Over which calls the failure and slow-call rates are measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlidingWindow {
    /// The last `n` calls (1 to 100 000).
    Count(u32),
    /// The calls of the last `duration` (10 ms to 1 h), in ten buckets, so
    /// calls leave the window a tenth of it at a time. Each call reads the clock.
    Time(Duration),
}

/// A configuration value out of its range.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BreakerConfigError {
    /// A rate is not a fraction in (0, 1].
    #[error("{name} must be in (0, 1], got {value}")]
    Rate {
        /// Which rate.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A count window of 0 or more than 100 000 calls.
    #[error("count window must hold 1 to 100000 calls, got {0}")]
    WindowSize(u32),
    /// A time window shorter than 10 ms or longer than 1 h.
    #[error("time window must be 10 ms to 1 h, got {0:?}")]
    WindowDuration(Duration),
    /// More minimum calls than a count window holds: the breaker could never open.
    #[error("minimum calls {min_calls} exceed the count window of {window}")]
    MinCallsAboveWindow {
        /// The minimum number of calls.
        min_calls: u32,
        /// The window size.
        window: u32,
    },
    /// Half-open probes must be 1 to 65 535.
    #[error("half-open probes must be 1 to 65535, got {0}")]
    Probes(u32),
    /// The open-duration multiplier is below 1 or not finite.
    #[error("open duration multiplier must be a finite number of at least 1, got {0}")]
    Multiplier(f64),
    /// A keyed breaker must allow 1 to 65 536 keys
    /// ([`MAX_KEYS`](super::MAX_KEYS)).
    #[error("a keyed breaker allows 1 to 65536 keys, got {0}")]
    MaxKeys(usize),
}

/// How a [`Breaker`] decides. The defaults:
///
/// | setting | default |
/// |---|---|
/// | window | the last 100 calls |
/// | failure rate threshold | 50 % |
/// | slow-call threshold | off |
/// | minimum calls before deciding | 20 |
/// | open duration | 30 s, constant |
/// | half-open probes | 3 |
#[derive(Clone, Debug)]
pub struct BreakerConfig {
    pub(super) name: String,
    pub(super) window: SlidingWindow,
    pub(super) failure_rate: f64,
    pub(super) slow_call: Option<(Duration, f64)>,
    pub(super) min_calls: u32,
    pub(super) open_duration: Duration,
    pub(super) open_multiplier: f64,
    pub(super) max_open_duration: Duration,
    pub(super) probes: u32,
    pub(super) meter: Option<Meter>,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self::new("default")
    }
}

impl BreakerConfig {
    /// The defaults, for a breaker named `name` (the `resilience.name` attribute).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            window: SlidingWindow::Count(100),
            failure_rate: 0.5,
            slow_call: None,
            min_calls: 20,
            open_duration: Duration::from_secs(30),
            open_multiplier: 1.0,
            max_open_duration: Duration::from_secs(30),
            probes: 3,
            meter: None,
        }
    }

    /// The window the rates are measured over.
    pub fn window(mut self, window: SlidingWindow) -> Self {
        self.window = window;
        self
    }

    /// Opens when at least this fraction of the window's calls failed.
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = rate;
        self
    }

    /// Opens when at least `rate` of the window's calls took `threshold` or
    /// longer, failed or not: a dependency that answers slowly is failing too.
    pub fn slow_calls(mut self, threshold: Duration, rate: f64) -> Self {
        self.slow_call = Some((threshold, rate));
        self
    }

    /// The window must hold this many calls before the breaker decides anything.
    pub fn min_calls(mut self, min_calls: u32) -> Self {
        self.min_calls = min_calls;
        self
    }

    /// How long the breaker stays open before letting probes through.
    pub fn open_duration(mut self, duration: Duration) -> Self {
        self.open_duration = duration;
        self.max_open_duration = self.max_open_duration.max(duration);
        self
    }

    /// Grows the open duration by `multiplier` each time the probes fail,
    /// up to `max`; it starts over when the breaker closes.
    pub fn growing_open_duration(mut self, multiplier: f64, max: Duration) -> Self {
        self.open_multiplier = multiplier;
        self.max_open_duration = max.max(self.open_duration);
        self
    }

    /// How many probe calls the half-open state lets through; their failure
    /// rate decides between closing and opening again.
    pub fn half_open_probes(mut self, probes: u32) -> Self {
        self.probes = probes;
        self
    }

    /// Where the breaker's metrics are recorded (default: the global meter provider).
    pub fn meter_provider(mut self, provider: &impl MeterProvider) -> Self {
        self.meter = Some(crate::telemetry::meter_of(provider));
        self
    }

    /// Checks the configuration and builds the breaker.
    pub fn build(self) -> Result<Breaker, BreakerConfigError> {
        self.validate()?;
        Ok(Breaker::from_config(self))
    }

    pub(super) fn validate(&self) -> Result<(), BreakerConfigError> {
        let rate = |name, value: f64| {
            if value > 0.0 && value <= 1.0 { Ok(()) } else { Err(BreakerConfigError::Rate { name, value }) }
        };
        rate("failure rate", self.failure_rate)?;
        if let Some((_, slow)) = self.slow_call {
            rate("slow-call rate", slow)?;
        }
        match self.window {
            SlidingWindow::Count(n) if !(1..=100_000).contains(&n) => {
                return Err(BreakerConfigError::WindowSize(n));
            }
            SlidingWindow::Count(window) if self.min_calls > window => {
                return Err(BreakerConfigError::MinCallsAboveWindow { min_calls: self.min_calls, window });
            }
            SlidingWindow::Time(d)
                if !(Duration::from_millis(10)..=Duration::from_secs(3600)).contains(&d) =>
            {
                return Err(BreakerConfigError::WindowDuration(d));
            }
            _ => {}
        }
        if !(1..=u32::from(u16::MAX)).contains(&self.probes) {
            return Err(BreakerConfigError::Probes(self.probes));
        }
        if !self.open_multiplier.is_finite() || self.open_multiplier < 1.0 {
            return Err(BreakerConfigError::Multiplier(self.open_multiplier));
        }
        Ok(())
    }
}
