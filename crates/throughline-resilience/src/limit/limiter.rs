//! The concurrency limit itself: admission, the bounded queue, priorities,
//! and the adaptive limit's feedback.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::metrics::{Meter, MeterProvider};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::algorithm::{Adaptive, LimitAlgorithm, Sample};
use crate::classify::Outcome;
use crate::error::{Shed, ShedReason};
use crate::telemetry::{Telemetry, default_meter};

/// How much a request matters when the limit is near.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Priority {
    /// May use the whole limit and wait in the queue.
    #[default]
    Critical,
    /// Admitted only while the sheddable share of the limit is free; never
    /// queued. Shed first: health checks, prefetches, batch traffic.
    Sheddable,
}

/// A limiter configuration outside its range.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LimiterConfigError {
    /// A limit of zero, or a minimum above the initial limit or the initial above the maximum.
    #[error("limits must satisfy 1 <= min <= initial <= max, got min {min}, initial {initial}, max {max}")]
    Bounds {
        /// The minimum.
        min: usize,
        /// The initial limit.
        initial: usize,
        /// The maximum.
        max: usize,
    },
    /// A factor outside its range (AIMD backoff in (0, 1), gradient
    /// tolerance ≥ 1, smoothing and sheddable share in (0, 1]).
    #[error("{name} out of range: {value}")]
    Factor {
        /// Which factor.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A queue with room for no request.
    #[error("a queue must hold at least one request")]
    EmptyQueue,
}

/// How a [`Limiter`] admits calls. Defaults: no queue (shed at
/// once), sheddable requests get 90 % of the limit, `Retry-After` of 1 s.
#[derive(Clone, Debug)]
pub struct LimiterConfig {
    name: String,
    algorithm: LimitAlgorithm,
    queue: Option<(usize, Duration)>,
    sheddable_share: f64,
    retry_after: Duration,
    meter: Option<Meter>,
}

impl LimiterConfig {
    /// A limiter named `name` (the `resilience.name` attribute) using `algorithm`.
    pub fn new(name: impl Into<String>, algorithm: LimitAlgorithm) -> Self {
        Self {
            name: name.into(),
            algorithm,
            queue: None,
            sheddable_share: 0.9,
            retry_after: Duration::from_secs(1),
            meter: None,
        }
    }

    /// Lets up to `capacity` critical requests wait, each at most `max_wait`,
    /// instead of being shed at once.
    pub fn queue(mut self, capacity: usize, max_wait: Duration) -> Self {
        self.queue = Some((capacity, max_wait));
        self
    }

    /// The share of the limit sheddable requests may use (default 0.9).
    pub fn sheddable_share(mut self, share: f64) -> Self {
        self.sheddable_share = share;
        self
    }

    /// How long shed callers are told to wait (`Retry-After`).
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = wait;
        self
    }

    /// Where the limiter's metrics are recorded (default: the global meter provider).
    pub fn meter_provider(mut self, provider: &impl MeterProvider) -> Self {
        self.meter = Some(crate::telemetry::meter_of(provider));
        self
    }

    /// Checks the configuration and builds the limiter.
    pub fn build(self) -> Result<Limiter, LimiterConfigError> {
        let (min, max) = self.algorithm.bounds();
        let initial = self.algorithm.initial();
        if min == 0 || min > initial || initial > max {
            return Err(LimiterConfigError::Bounds { min, initial, max });
        }
        let factor = |name, value: f64, ok: bool| {
            if ok { Ok(()) } else { Err(LimiterConfigError::Factor { name, value }) }
        };
        match self.algorithm {
            LimitAlgorithm::Fixed(_) => {}
            LimitAlgorithm::Aimd(a) => factor("AIMD backoff", a.backoff, a.backoff > 0.0 && a.backoff < 1.0)?,
            LimitAlgorithm::Gradient(g) => {
                factor("gradient tolerance", g.tolerance, g.tolerance.is_finite() && g.tolerance >= 1.0)?;
                factor("gradient smoothing", g.smoothing, g.smoothing > 0.0 && g.smoothing <= 1.0)?;
            }
        }
        let share = self.sheddable_share;
        factor("sheddable share", share, share > 0.0 && share <= 1.0)?;
        if matches!(self.queue, Some((0, _))) {
            return Err(LimiterConfigError::EmptyQueue);
        }
        let telemetry = Telemetry::new(&self.name, &self.meter.unwrap_or_else(default_meter));
        telemetry.limit(initial);
        let adaptive = !matches!(self.algorithm, LimitAlgorithm::Fixed(_));
        Ok(Limiter {
            shared: Arc::new(Shared {
                limit: AtomicUsize::new(initial),
                in_flight: AtomicUsize::new(0),
                waiting: AtomicUsize::new(0),
                released: Notify::new(),
                queue: self.queue,
                sheddable_share: share,
                retry_after: self.retry_after,
                adaptive: adaptive.then(|| Mutex::new(Adaptive::new(self.algorithm))),
                telemetry,
            }),
        })
    }
}

/// A concurrency limit shared by its clones. Calls over the limit are shed
/// with a typed [`Shed`], or wait a bounded time in a bounded queue.
///
/// ```
/// use throughline_resilience::limit::{LimiterConfig, LimitAlgorithm, Priority};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let limit = LimiterConfig::new("api", LimitAlgorithm::Fixed(1)).build()?;
/// let held = limit.try_acquire(Priority::Critical)?;
/// let shed = limit.try_acquire(Priority::Critical).unwrap_err();
/// assert_eq!(shed.limit(), 1);
/// drop(held);
/// assert!(limit.try_acquire(Priority::Critical).is_ok());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Limiter {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    limit: AtomicUsize,
    in_flight: AtomicUsize,
    waiting: AtomicUsize,
    released: Notify,
    queue: Option<(usize, Duration)>,
    sheddable_share: f64,
    retry_after: Duration,
    adaptive: Option<Mutex<Adaptive>>,
    telemetry: Telemetry,
}

impl Limiter {
    /// The current limit.
    pub fn limit(&self) -> usize {
        self.shared.limit.load(Ordering::Acquire)
    }

    /// The calls in flight now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Acquire)
    }

    /// Admits a call now or sheds it; never waits.
    pub fn try_acquire(&self, priority: Priority) -> Result<LimitPermit, Shed> {
        self.try_admit(priority).ok_or_else(|| self.shed(Self::reason(priority)))
    }

    /// Admits a call, waiting in the queue if one is configured and the call is critical.
    pub async fn acquire(&self, priority: Priority) -> Result<LimitPermit, Shed> {
        if let Some(permit) = self.try_admit(priority) {
            return Ok(permit);
        }
        self.wait(priority).await
    }

    /// Admits a call if there is room and nobody is queued ahead of it.
    pub(super) fn try_admit(&self, priority: Priority) -> Option<LimitPermit> {
        if self.shared.waiting.load(Ordering::Acquire) == 0 { self.admit(priority) } else { None }
    }

    fn reason(priority: Priority) -> ShedReason {
        match priority {
            Priority::Sheddable => ShedReason::Sheddable,
            Priority::Critical => ShedReason::LimitReached,
        }
    }

    /// The rejection for a call that found no room, unless it may wait in the queue.
    pub(super) fn shed_unless_queued(&self, priority: Priority) -> Option<Shed> {
        match (priority, self.shared.queue) {
            (Priority::Critical, Some(_)) => None,
            _ => Some(self.shed(Self::reason(priority))),
        }
    }

    /// Waits in the queue for a permit, or sheds if the call may not queue,
    /// the queue is full, or the wait runs out.
    pub(super) async fn wait(&self, priority: Priority) -> Result<LimitPermit, Shed> {
        let shared = &*self.shared;
        let (Priority::Critical, Some((capacity, max_wait))) = (priority, shared.queue) else {
            return Err(self.shed(Self::reason(priority)));
        };
        let deadline = Instant::now() + max_wait;
        if shared.waiting.fetch_add(1, Ordering::AcqRel) >= capacity {
            shared.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(self.shed(ShedReason::QueueFull));
        }
        // Leaves the queue however the wait ends, cancellation included.
        let _leave = LeaveQueue(&shared.waiting);
        loop {
            let released = shared.released.notified();
            tokio::pin!(released);
            // Registered before trying, so that a release in between is not missed.
            released.as_mut().enable();
            if let Some(permit) = self.admit(Priority::Critical) {
                return Ok(permit);
            }
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return Err(self.shed(ShedReason::QueueTimeout));
            }
        }
    }

    fn admit(&self, priority: Priority) -> Option<LimitPermit> {
        let shared = &*self.shared;
        let limit = shared.limit.load(Ordering::Acquire);
        let ceiling = match priority {
            Priority::Critical => limit,
            Priority::Sheddable => ((limit as f64 * shared.sheddable_share) as usize).max(1),
        };
        let previous = shared
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < ceiling).then_some(n + 1))
            .ok()?;
        let started = shared.adaptive.as_ref().map(|_| Instant::now());
        Some(LimitPermit { limit: self.clone(), in_flight: previous + 1, started, outcome: None })
    }

    #[cold]
    fn shed(&self, reason: ShedReason) -> Shed {
        let shared = &*self.shared;
        let limit = self.limit();
        shared.telemetry.shed(reason.as_str());
        tracing::info!(target: "throughline_resilience::limit", limiter = %shared.telemetry.name(), reason = reason.as_str(), limit, "request shed");
        Shed::new(shared.telemetry.name().clone(), reason, limit, shared.retry_after)
    }

    fn release(&self, permit_in_flight: usize, started: Option<Instant>, outcome: Option<Outcome>) {
        let shared = &*self.shared;
        shared.in_flight.fetch_sub(1, Ordering::AcqRel);
        if let (Some(adaptive), Some(started), Some(outcome)) = (&shared.adaptive, started, outcome)
            && outcome != Outcome::Ignored
            // A sample lost to contention changes nothing: the next one counts.
            && let Ok(mut adaptive) = adaptive.try_lock()
        {
            let overload = matches!(outcome, Outcome::Failure(f) if f.reason.is_overload());
            let sample = Sample { rtt: started.elapsed(), in_flight: permit_in_flight, overload };
            let next = adaptive.update(sample);
            drop(adaptive);
            let previous = shared.limit.swap(next, Ordering::AcqRel);
            if previous != next {
                shared.telemetry.limit(next);
                tracing::debug!(target: "throughline_resilience::limit", limiter = %shared.telemetry.name(), previous, limit = next, "concurrency limit changed");
            }
        }
        if shared.waiting.load(Ordering::Acquire) > 0 {
            shared.released.notify_one();
        }
    }
}

struct LeaveQueue<'a>(&'a AtomicUsize);

impl Drop for LeaveQueue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A call's place within the limit, given back when dropped. Record the
/// call's outcome first to let an adaptive limit learn from it.
#[derive(Debug)]
#[must_use = "the permit holds a place within the limit until dropped"]
pub struct LimitPermit {
    limit: Limiter,
    in_flight: usize,
    started: Option<Instant>,
    outcome: Option<Outcome>,
}

impl LimitPermit {
    /// Records the call's outcome for the adaptive limit; the place is given back on drop.
    pub fn record(&mut self, outcome: Outcome) {
        self.outcome = Some(outcome);
    }
}

impl Drop for LimitPermit {
    fn drop(&mut self) {
        self.limit.release(self.in_flight, self.started, self.outcome);
    }
}
