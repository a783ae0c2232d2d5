//! The shutdown deadline every export honours: once `Telemetry::shutdown`
//! starts, no export, flush or retry may run past it, whatever its own
//! timeout says.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Shared by the telemetry and its exporters; unset until shutdown starts.
#[derive(Clone, Debug, Default)]
pub(crate) struct ShutdownDeadline(Arc<Mutex<Option<Instant>>>);

impl ShutdownDeadline {
    /// Shutdown has started, and must be over at `at`.
    pub(crate) fn set(&self, at: Instant) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(at);
    }

    /// The instant by which work given `timeout` now must end: now plus
    /// `timeout`, or the shutdown deadline when that comes first.
    pub(crate) fn bound(&self, timeout: Duration) -> Instant {
        let own = Instant::now() + timeout;
        match *self.0.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(shutdown) => own.min(shutdown),
            None => own,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shutdown_deadline_shortens_a_longer_timeout_only() {
        let deadline = ShutdownDeadline::default();
        let far = deadline.bound(Duration::from_secs(30));
        assert!(far >= Instant::now() + Duration::from_secs(29));
        deadline.set(Instant::now() + Duration::from_millis(100));
        assert!(deadline.bound(Duration::from_secs(30)) <= Instant::now() + Duration::from_millis(100));
        let short = deadline.bound(Duration::from_millis(1));
        assert!(short <= Instant::now() + Duration::from_millis(1));
    }
}
