//! The breaker's state machine, in one atomic word.
//!
//! The word holds the state (4 bits), a generation (16 bits, bumped by every
//! transition) and, when open, the instant the next probe may go (44 bits of
//! milliseconds since the breaker was built). One load tells a caller all it
//! needs; one compare-and-swap makes a transition, so exactly one caller wins
//! it and reports it. A result whose generation is not the current one (a call
//! that started before the breaker opened, say) is not recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::config::{BreakerConfig, SlidingWindow};
use super::window::{Window, WindowSnapshot, outcome_bits};
use crate::classify::{Failure, Outcome, Reason};
use crate::error::{CircuitOpen, ResilienceError};
use crate::telemetry::{Telemetry, default_meter};

const CLOSED: u64 = 0;
const HALF_OPEN: u64 = 1;
const OPEN: u64 = 2;
const FORCED_OPEN: u64 = 3;
const FORCED_CLOSED: u64 = 4;
const DISABLED: u64 = 5;

const STATE_MASK: u64 = 0xF;
const GENERATION_SHIFT: u32 = 4;
const GENERATION_MASK: u64 = 0xFFFF << GENERATION_SHIFT;
const UNTIL_SHIFT: u32 = 20;

/// A breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Calls pass and are counted.
    Closed,
    /// A few probe calls pass; their results decide.
    HalfOpen,
    /// Calls are rejected until the open duration has passed.
    Open,
    /// Held open by [`Breaker::force_open`].
    ForcedOpen,
    /// Held closed by [`Breaker::force_closed`]: calls are counted, never rejected.
    ForcedClosed,
    /// Switched off by [`Breaker::disable`]: calls pass, nothing is counted.
    Disabled,
}

impl CircuitState {
    fn from_bits(bits: u64) -> Self {
        match bits & STATE_MASK {
            CLOSED => Self::Closed,
            HALF_OPEN => Self::HalfOpen,
            OPEN => Self::Open,
            FORCED_OPEN => Self::ForcedOpen,
            FORCED_CLOSED => Self::ForcedClosed,
            _ => Self::Disabled,
        }
    }

    /// The name used in events and on `resilience.circuit_breaker.transitions`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::HalfOpen => "half_open",
            Self::Open => "open",
            Self::ForcedOpen => "forced_open",
            Self::ForcedClosed => "forced_closed",
            Self::Disabled => "disabled",
        }
    }

    /// The value of the `resilience.circuit_breaker.state` gauge.
    pub const fn gauge_value(self) -> u64 {
        match self {
            Self::Closed => 0,
            Self::HalfOpen => 1,
            Self::Open => 2,
            Self::ForcedOpen => 3,
            Self::ForcedClosed => 4,
            Self::Disabled => 5,
        }
    }
}

/// A circuit breaker. Clones share one state: clone it into every service
/// that calls the same dependency.
///
/// ```
/// use std::time::Duration;
/// use throughline_resilience::circuit_breaker::{BreakerConfig, CircuitState};
/// use throughline_resilience::classify::{Failure, Outcome, Reason};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let breaker = BreakerConfig::new("ledger").min_calls(2).window(
///     throughline_resilience::circuit_breaker::SlidingWindow::Count(2),
/// ).open_duration(Duration::from_secs(5)).build()?;
///
/// for _ in 0..2 {
///     let permit = breaker.try_acquire()?;
///     permit.record(Outcome::Failure(Failure::retryable(Reason::Error)));
/// }
/// assert_eq!(breaker.state(), CircuitState::Open);
/// let open = breaker.try_acquire().unwrap_err();
/// assert_eq!(open.retry_in(), Some(Duration::from_secs(5)));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Breaker {
    pub(super) core: Arc<Core>,
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.core.telemetry.name())
            .field("state", &self.state())
            .field("window", &self.snapshot())
            .finish()
    }
}

pub(super) struct Core {
    word: AtomicU64,
    /// Half-open probes: generation (16 bits) | admitted | completed | failed (16 bits each).
    probes: AtomicU64,
    consecutive_opens: AtomicU32,
    window: Window,
    slow_threshold: Option<Duration>,
    failure_rate_ppm: u64,
    slow_rate_ppm: u64,
    min_calls: u32,
    probes_allowed: u64,
    open_duration: Duration,
    open_multiplier: f64,
    max_open_duration: Duration,
    epoch: Instant,
    telemetry: Telemetry,
}

/// What a caller holds between admission and result: the word it was admitted
/// under and, if the breaker measures slow calls, when it started.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ticket {
    word: u64,
    started: Option<Instant>,
}

fn ppm(rate: f64) -> u64 {
    (rate * 1_000_000.0).round() as u64
}

impl Breaker {
    pub(super) fn from_config(config: BreakerConfig) -> Self {
        let epoch = Instant::now();
        let meter = config.meter.unwrap_or_else(default_meter);
        let telemetry = Telemetry::new(&config.name, &meter);
        telemetry.breaker_state(CircuitState::Closed.gauge_value());
        let window = match config.window {
            SlidingWindow::Count(n) => Window::count(n),
            SlidingWindow::Time(d) => Window::time(d, epoch),
        };
        Self {
            core: Arc::new(Core {
                word: AtomicU64::new(CLOSED),
                probes: AtomicU64::new(0),
                consecutive_opens: AtomicU32::new(0),
                window,
                slow_threshold: config.slow_call.map(|(threshold, _)| threshold),
                failure_rate_ppm: ppm(config.failure_rate),
                slow_rate_ppm: config.slow_call.map_or(u64::MAX, |(_, rate)| ppm(rate)),
                min_calls: config.min_calls.max(1),
                probes_allowed: u64::from(config.probes),
                open_duration: config.open_duration,
                open_multiplier: config.open_multiplier,
                max_open_duration: config.max_open_duration,
                epoch,
                telemetry,
            }),
        }
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        self.core.telemetry.name()
    }

    /// The state now. An open breaker whose open duration has passed reports
    /// `Open` until a call moves it to half-open.
    pub fn state(&self) -> CircuitState {
        CircuitState::from_bits(self.core.word.load(Ordering::Acquire))
    }

    /// The calls, failures and slow calls in the window now.
    pub fn snapshot(&self) -> WindowSnapshot {
        self.core.window.snapshot(None)
    }

    /// Asks to make a call: a permit to record its outcome with, or the typed
    /// rejection. In the closed state this is one atomic load.
    pub fn try_acquire(&self) -> Result<CallPermit<'_>, CircuitOpen> {
        let ticket = self.core.acquire()?;
        Ok(CallPermit { breaker: self, ticket: Some(ticket) })
    }

    /// Runs `call` through the breaker; an `Err` counts as a failure.
    pub async fn call<T, E, F>(&self, call: F) -> Result<T, ResilienceError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire().map_err(ResilienceError::CircuitOpen)?;
        let result = call.await;
        permit.record(match &result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure(Failure::retryable(Reason::Error)),
        });
        result.map_err(ResilienceError::Inner)
    }

    /// Holds the breaker open until [`Breaker::reset`]: for maintenance
    /// or a dependency known to be down.
    pub fn force_open(&self) {
        self.core.force(FORCED_OPEN);
    }

    /// Holds the breaker closed: calls are counted but never rejected.
    pub fn force_closed(&self) {
        self.core.force(FORCED_CLOSED);
    }

    /// Switches the breaker off: calls pass and nothing is counted.
    pub fn disable(&self) {
        self.core.force(DISABLED);
    }

    /// Back to closed with an empty window, ending a forced state.
    pub fn reset(&self) {
        self.core.window.reset();
        self.core.consecutive_opens.store(0, Ordering::Relaxed);
        self.core.force(CLOSED);
    }

    pub(super) fn acquire_ticket(&self) -> Result<Ticket, CircuitOpen> {
        self.core.acquire()
    }

    pub(super) fn finish(&self, ticket: Ticket, outcome: Outcome) {
        self.core.finish(ticket, outcome);
    }
}

/// Permission to make one call. Record its outcome with [`CallPermit::record`];
/// a permit dropped unrecorded (a cancelled call) counts for nothing and
/// frees its half-open probe slot.
#[derive(Debug)]
#[must_use = "a permit records the call's outcome; dropping it discards the call"]
pub struct CallPermit<'a> {
    breaker: &'a Breaker,
    ticket: Option<Ticket>,
}

impl CallPermit<'_> {
    /// Records the call's outcome.
    pub fn record(mut self, outcome: Outcome) {
        if let Some(ticket) = self.ticket.take() {
            self.breaker.core.finish(ticket, outcome);
        }
    }
}

impl Drop for CallPermit<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.breaker.core.finish(ticket, Outcome::Ignored);
        }
    }
}

impl Core {
    fn now_millis(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(u64::MAX >> UNTIL_SHIFT)
    }

    #[inline]
    fn acquire(&self) -> Result<Ticket, CircuitOpen> {
        let word = self.word.load(Ordering::Acquire);
        if word & STATE_MASK == CLOSED {
            let started = self.slow_threshold.map(|_| Instant::now());
            return Ok(Ticket { word, started });
        }
        self.acquire_slow(word)
    }

    #[cold]
    fn acquire_slow(&self, word: u64) -> Result<Ticket, CircuitOpen> {
        let admitted = self.admit(word);
        if let Err(open) = &admitted {
            self.telemetry.breaker_rejection();
            tracing::info!(target: "throughline_resilience::circuit_breaker", breaker = %open.breaker(), retry_in = ?open.retry_in(), "call rejected: circuit breaker open");
        }
        admitted
    }

    fn admit(&self, mut word: u64) -> Result<Ticket, CircuitOpen> {
        loop {
            match word & STATE_MASK {
                CLOSED | FORCED_CLOSED | DISABLED => {
                    return Ok(Ticket { word, started: self.slow_threshold.map(|_| Instant::now()) });
                }
                FORCED_OPEN => return Err(CircuitOpen::new(self.telemetry.name().clone(), None)),
                OPEN => {
                    let now = self.now_millis(Instant::now());
                    let until = word >> UNTIL_SHIFT;
                    if now < until {
                        let wait = Duration::from_millis(until - now);
                        return Err(CircuitOpen::new(self.telemetry.name().clone(), Some(wait)));
                    }
                    match self.transition(word, HALF_OPEN, 0) {
                        Ok(next) => word = next,
                        Err(current) => word = current,
                    }
                }
                _ => return self.admit_probe(word),
            }
        }
    }

    fn admit_probe(&self, word: u64) -> Result<Ticket, CircuitOpen> {
        let generation = (word & GENERATION_MASK) >> GENERATION_SHIFT;
        let admitted = self.probes.fetch_update(Ordering::AcqRel, Ordering::Acquire, |probes| {
            let probes = if probes >> 48 == generation { probes } else { generation << 48 };
            let admitted = (probes >> 32) & 0xFFFF;
            (admitted < self.probes_allowed).then_some(probes + (1 << 32))
        });
        match admitted {
            Ok(_) => Ok(Ticket { word, started: self.slow_threshold.map(|_| Instant::now()) }),
            Err(_) => Err(CircuitOpen::new(self.telemetry.name().clone(), None)),
        }
    }

    #[inline]
    fn finish(&self, ticket: Ticket, outcome: Outcome) {
        let state = ticket.word & STATE_MASK;
        if state == DISABLED {
            return;
        }
        if state == HALF_OPEN {
            return self.finish_probe(ticket, outcome);
        }
        let (Outcome::Failure(_) | Outcome::Success) = outcome else { return };
        // A result from before the latest transition says nothing about now.
        if (self.word.load(Ordering::Acquire) ^ ticket.word) & (STATE_MASK | GENERATION_MASK) != 0 {
            return;
        }
        let now = (ticket.started.is_some() || self.window.needs_clock()).then(Instant::now);
        let slow = self.is_slow(ticket, now);
        let failed = outcome.is_failure();
        self.window.record(outcome_bits(failed, slow), now);
        if state == CLOSED && (failed || slow) {
            self.maybe_open(ticket.word, now);
        }
    }

    fn is_slow(&self, ticket: Ticket, now: Option<Instant>) -> bool {
        match (self.slow_threshold, ticket.started, now) {
            (Some(threshold), Some(started), Some(now)) => {
                now.saturating_duration_since(started) >= threshold
            }
            _ => false,
        }
    }

    #[cold]
    fn maybe_open(&self, word: u64, now: Option<Instant>) {
        let WindowSnapshot { calls, failures, slow } = self.window.snapshot(now);
        if calls < self.min_calls {
            return;
        }
        let over = |count: u32, rate_ppm: u64| {
            u64::from(count) * 1_000_000 >= rate_ppm.saturating_mul(u64::from(calls))
        };
        if over(failures, self.failure_rate_ppm) || over(slow, self.slow_rate_ppm) {
            self.consecutive_opens.store(0, Ordering::Relaxed);
            let _ = self.transition(word, OPEN, self.now_millis(now.unwrap_or_else(Instant::now)));
        }
    }

    #[cold]
    fn finish_probe(&self, ticket: Ticket, outcome: Outcome) {
        let generation = (ticket.word & GENERATION_MASK) >> GENERATION_SHIFT;
        let now = ticket.started.map(|_| Instant::now());
        let failed = outcome.is_failure() || self.is_slow(ticket, now);
        let ignored = outcome == Outcome::Ignored;
        let updated = self.probes.fetch_update(Ordering::AcqRel, Ordering::Acquire, |probes| {
            if probes >> 48 != generation {
                return None;
            }
            Some(if ignored {
                probes - (1 << 32) // frees the slot for another probe
            } else {
                probes + (1 << 16) + u64::from(failed)
            })
        });
        let Ok(before) = updated else { return };
        if ignored {
            return;
        }
        let completed = ((before >> 16) & 0xFFFF) + 1;
        if completed < self.probes_allowed {
            return;
        }
        let failed_probes = (before & 0xFFFF) + u64::from(failed);
        let reopen = failed_probes * 1_000_000 >= self.failure_rate_ppm * completed;
        if reopen {
            // Counted before the transition, which reads it for the open duration.
            self.consecutive_opens.fetch_add(1, Ordering::Relaxed);
            let _ = self.transition(ticket.word, OPEN, self.now_millis(Instant::now()));
        } else {
            // Emptied before the transition, while no closed-state call can record.
            self.window.reset();
            self.consecutive_opens.store(0, Ordering::Relaxed);
            let _ = self.transition(ticket.word, CLOSED, 0);
        }
    }

    /// The open duration, grown by each consecutive failed half-open round.
    fn open_duration(&self) -> Duration {
        let opens = self.consecutive_opens.load(Ordering::Relaxed);
        let factor = self.open_multiplier.powi(i32::try_from(opens).unwrap_or(i32::MAX));
        let secs = (self.open_duration.as_secs_f64() * factor).min(self.max_open_duration.as_secs_f64());
        Duration::try_from_secs_f64(secs).unwrap_or(self.max_open_duration)
    }

    /// Moves from exactly `from` to `to`; only the winner of the race reports it.
    fn transition(&self, from: u64, to: u64, now_millis: u64) -> Result<u64, u64> {
        let generation = (((from & GENERATION_MASK) >> GENERATION_SHIFT) + 1) & 0xFFFF;
        let until = if to == OPEN {
            now_millis.saturating_add(u64::try_from(self.open_duration().as_millis()).unwrap_or(u64::MAX))
        } else {
            0
        };
        let next = (until.min(u64::MAX >> UNTIL_SHIFT) << UNTIL_SHIFT) | generation << GENERATION_SHIFT | to;
        self.word.compare_exchange(from, next, Ordering::AcqRel, Ordering::Acquire)?;
        self.report(from, next);
        Ok(next)
    }

    fn force(&self, to: u64) {
        let previous = self
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                let generation = (((word & GENERATION_MASK) >> GENERATION_SHIFT) + 1) & 0xFFFF;
                Some(generation << GENERATION_SHIFT | to)
            })
            .unwrap_or_else(|word| word);
        let now = self.word.load(Ordering::Acquire);
        if previous & STATE_MASK != to {
            self.report(previous, now);
        }
    }

    #[cold]
    fn report(&self, from: u64, to: u64) {
        let (from, to) = (CircuitState::from_bits(from), CircuitState::from_bits(to));
        let name = self.telemetry.name();
        self.telemetry.breaker_transition(from.as_str(), to.as_str());
        self.telemetry.breaker_state(to.gauge_value());
        match to {
            CircuitState::Open => {
                let open_for = self.open_duration();
                tracing::warn!(target: "throughline_resilience::circuit_breaker", breaker = %name, from = from.as_str(), to = to.as_str(), open_for = ?open_for, "circuit breaker opened");
            }
            CircuitState::ForcedOpen => {
                tracing::warn!(target: "throughline_resilience::circuit_breaker", breaker = %name, from = from.as_str(), to = to.as_str(), "circuit breaker forced open");
            }
            _ => {
                tracing::info!(target: "throughline_resilience::circuit_breaker", breaker = %name, from = from.as_str(), to = to.as_str(), "circuit breaker {}", to.as_str());
            }
        }
    }
}
