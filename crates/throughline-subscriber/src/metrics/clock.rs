//! Where span durations are read from.

use std::time::Instant;

/// A monotonic clock for [`SpanMetricsLayer`](crate::SpanMetricsLayer): the
/// real one by default, a manual one in tests that need exact durations.
///
/// A closure returning an `Instant` is a clock:
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let elapsed_ms = Arc::new(AtomicU64::new(0));
/// let reading = elapsed_ms.clone();
/// let clock = move || start + Duration::from_millis(reading.load(Ordering::Relaxed));
/// // SpanMetricsLayer::new(&provider).with_clock(clock); then advance `elapsed_ms`.
/// # let _ = clock;
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// `Instant::now()`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MonotonicClock;

impl Clock for MonotonicClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

impl<F> Clock for F
where
    F: Fn() -> Instant + Send + Sync + 'static,
{
    fn now(&self) -> Instant {
        self()
    }
}
