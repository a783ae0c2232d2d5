//! Retry: try a failed call again, when that is safe, useful and affordable.
//!
//! A failed attempt is retried only if every one of these holds:
//!
//! 1. the classifier calls the failure retryable (for HTTP: connect errors,
//!    timeouts, 408, 429, 500, 502, 503, 504; for gRPC: `UNAVAILABLE`, and
//!    `RESOURCE_EXHAUSTED` with pushback);
//! 2. the request is safe to send again: an idempotent method or an
//!    `Idempotency-Key` for HTTP, and a replayable body ([`crate::ResilientRequest`]);
//! 3. attempts remain (`max_attempts`, default 3, counting the first);
//! 4. a server's `Retry-After` or pushback, if any, is within the cap (default
//!    30 s): a server asking for longer is not argued with, the call fails;
//! 5. after the delay, the call would still be within `max_elapsed` and would
//!    have, before its [`Deadline`], at least as long as the last attempt took;
//! 6. the [`RetryBudget`] has a retry left (default 20 % + 10/s, shared by clones).
//!
//! The delay is the server's `Retry-After` when it sent one, else the next
//! [`Backoff`] delay. Each attempt runs in a child span `resilience.attempt`
//! carrying `resilience.attempt` (from 1), `resilience.retry.reason` and, for
//! HTTP, `http.request.resend_count`; the first attempt's span is at DEBUG,
//! retries' at INFO, so a trace at INFO shows exactly the retries.
//!
//! ```
//! use std::time::Duration;
//! use throughline_resilience::retry::{RetryConfig, RetryLayer};
//! use throughline_resilience::{Backoff, HttpClassifier};
//! use tower::ServiceBuilder;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = RetryConfig::new("inventory")
//!     .max_attempts(4)
//!     .backoff(Backoff::exponential(Duration::from_millis(25)))
//!     .classifier(HttpClassifier::default())
//!     .build()?;
//! let layer = RetryLayer::new(policy); // put it on any client: hyper, tonic's channel, ...
//! # let _ = ServiceBuilder::new().layer(layer); Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use opentelemetry::metrics::{Meter, MeterProvider};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower_layer::Layer;
use tower_service::Service;
use tracing::Span;

use crate::backoff::{Backoff, Delays};
use crate::budget::RetryBudget;
use crate::classify::{AnyError, BoxError, Classify, Outcome, Reason, classify};
use crate::deadline::Deadline;
use crate::request::ResilientRequest;
use crate::telemetry::{Telemetry, default_meter};

/// A retry configuration outside its range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RetryConfigError {
    /// `max_attempts` must count at least the first attempt.
    #[error("max_attempts must be at least 1")]
    NoAttempts,
}

/// How [`RetryPolicy`] decides; see the [module docs](self). Defaults: 3
/// attempts, [`Backoff::default`], [`RetryBudget::default`], `Retry-After`
/// capped at 30 s, no `max_elapsed`, classifier [`AnyError`].
#[derive(Clone, Debug)]
pub struct RetryConfig<C = AnyError> {
    name: String,
    max_attempts: u32,
    max_elapsed: Option<Duration>,
    backoff: Backoff,
    budget: Option<RetryBudget>,
    retry_after_cap: Duration,
    classifier: C,
    seed: Option<u64>,
    meter: Option<Meter>,
}

impl RetryConfig {
    /// The defaults, for a policy named `name` (the `resilience.name` attribute).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            max_attempts: 3,
            max_elapsed: None,
            backoff: Backoff::default(),
            budget: Some(RetryBudget::default()),
            retry_after_cap: Duration::from_secs(30),
            classifier: AnyError,
            seed: None,
            meter: None,
        }
    }
}

impl<C> RetryConfig<C> {
    /// Attempts in all, counting the first (1 turns retry off).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// No retry starts later than this after the call began.
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = Some(elapsed);
        self
    }

    /// The delay schedule.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The budget retries draw from; share one budget between policies by cloning it.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Retries are limited by attempts and time only. Not recommended: without
    /// a budget, an outage multiplies the load by `max_attempts`.
    pub fn without_budget(mut self) -> Self {
        self.budget = None;
        self
    }

    /// The longest `Retry-After` or pushback honoured; longer ones end the call.
    pub fn retry_after_cap(mut self, cap: Duration) -> Self {
        self.retry_after_cap = cap;
        self
    }

    /// Makes the jitter reproducible: call `n` of the policy draws its delays
    /// from the generator seeded with `seed + n`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Where the policy's metrics are recorded (default: the global meter provider).
    pub fn meter_provider(mut self, provider: &impl MeterProvider) -> Self {
        self.meter = Some(crate::telemetry::meter_of(provider));
        self
    }

    /// What a result means; shared with the circuit breaker in a [`crate::Policy`].
    pub fn classifier<C2>(self, classifier: C2) -> RetryConfig<C2> {
        RetryConfig {
            name: self.name,
            max_attempts: self.max_attempts,
            max_elapsed: self.max_elapsed,
            backoff: self.backoff,
            budget: self.budget,
            retry_after_cap: self.retry_after_cap,
            classifier,
            seed: self.seed,
            meter: self.meter,
        }
    }

    /// Checks the configuration and builds the policy.
    pub fn build(self) -> Result<RetryPolicy<C>, RetryConfigError> {
        if self.max_attempts == 0 {
            return Err(RetryConfigError::NoAttempts);
        }
        let telemetry = Telemetry::new(&self.name, &self.meter.unwrap_or_else(default_meter));
        Ok(RetryPolicy {
            shared: Arc::new(Shared {
                max_attempts: self.max_attempts,
                max_elapsed: self.max_elapsed,
                backoff: self.backoff,
                budget: self.budget,
                retry_after_cap: self.retry_after_cap,
                classifier: self.classifier,
                seed: self.seed.unwrap_or_else(rand::random),
                calls: AtomicU64::new(0),
                telemetry,
            }),
        })
    }
}

/// A built retry policy. Clones share its budget and its jitter sequence.
#[derive(Debug)]
pub struct RetryPolicy<C = AnyError> {
    shared: Arc<Shared<C>>,
}

impl<C> Clone for RetryPolicy<C> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone() }
    }
}

#[derive(Debug)]
struct Shared<C> {
    max_attempts: u32,
    max_elapsed: Option<Duration>,
    backoff: Backoff,
    budget: Option<RetryBudget>,
    retry_after_cap: Duration,
    classifier: C,
    seed: u64,
    calls: AtomicU64,
    telemetry: Telemetry,
}

impl<C> RetryPolicy<C> {
    /// The budget this policy draws from, if any.
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.shared.budget.as_ref()
    }

    /// The most attempts a call gets, counting the first.
    pub fn max_attempts(&self) -> u32 {
        self.shared.max_attempts
    }
}

/// Retries calls through the inner service by a [`RetryPolicy`].
#[derive(Clone, Debug)]
pub struct RetryLayer<C = AnyError> {
    policy: RetryPolicy<C>,
}

impl<C> RetryLayer<C> {
    /// The layer for `policy`.
    pub fn new(policy: RetryPolicy<C>) -> Self {
        Self { policy }
    }
}

impl<S, C> Layer<S> for RetryLayer<C> {
    type Service = Retry<S, C>;
    fn layer(&self, inner: S) -> Self::Service {
        Retry { inner, policy: self.policy.clone() }
    }
}

/// The service of [`RetryLayer`].
#[derive(Debug)]
pub struct Retry<S, C = AnyError> {
    inner: S,
    policy: RetryPolicy<C>,
}

impl<C> Retry<(), C> {
    /// [`RetryLayer::new`], tower-http style.
    pub fn layer(policy: RetryPolicy<C>) -> RetryLayer<C> {
        RetryLayer::new(policy)
    }
}

impl<S, C> Retry<S, C> {
    throughline_core::inner_service_accessors!();
}

impl<S: Clone, C> Clone for Retry<S, C> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), policy: self.policy.clone() }
    }
}

impl<S, C, Req> Service<Req> for Retry<S, C>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    C: Classify<S::Response>,
    Req: ResilientRequest,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, S, Req, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let shared = self.policy.shared.clone();
        if let Some(budget) = &shared.budget {
            budget.deposit();
        }
        // Only a request that may be sent again is kept, and the service cloned for it.
        let replay =
            (shared.max_attempts > 1 && request.is_idempotent()).then(|| request.try_clone()).flatten();
        let service = replay.as_ref().map(|_| self.inner.clone());
        let started = Instant::now();
        let deadline = request.deadline();
        let span = attempt_span::<Req>(1, None);
        let call = span.in_scope(|| self.inner.call(request));
        ResponseFuture {
            state: State::Calling { call },
            service,
            replay,
            shared,
            attempt: 1,
            span,
            started,
            attempt_started: started,
            deadline,
            delays: None,
            reason: None,
        }
    }
}

fn attempt_span<Req: ResilientRequest>(attempt: u32, reason: Option<Reason>) -> Span {
    let Some(reason) = reason else {
        return tracing::debug_span!("resilience.attempt", resilience.attempt = i64::from(attempt));
    };
    let span = tracing::info_span!(
        "resilience.attempt",
        resilience.attempt = i64::from(attempt),
        resilience.retry.reason = %reason,
        http.request.resend_count = tracing::field::Empty,
    );
    if Req::IS_HTTP {
        span.record("http.request.resend_count", i64::from(attempt - 1));
    }
    span
}

pin_project! {
    /// The future of [`Retry`].
    #[project = ResponseFutureProj]
    pub struct ResponseFuture<F, S, Req, C> {
        #[pin]
        state: State<F>,
        service: Option<S>,
        replay: Option<Req>,
        shared: Arc<Shared<C>>,
        attempt: u32,
        span: Span,
        started: Instant,
        attempt_started: Instant,
        deadline: Option<Deadline>,
        delays: Option<Delays>,
        reason: Option<Reason>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Calling { #[pin] call: F },
        // Boxed: only calls that retry pay for a timer.
        Waiting { sleep: Pin<Box<Sleep>> },
        Readying,
    }
}

impl<F, S, Req, C, T, E> Future for ResponseFuture<F, S, Req, C>
where
    F: Future<Output = Result<T, E>>,
    S: Service<Req, Future = F, Error = E>,
    E: Into<BoxError>,
    C: Classify<T>,
    Req: ResilientRequest,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { call } => {
                    let result = ready!(this.span.in_scope(|| call.poll(cx))).map_err(Into::into);
                    let outcome = classify(&this.shared.classifier, result.as_ref());
                    let Some(delay) = next_delay(outcome, &mut this) else {
                        return Poll::Ready(result);
                    };
                    // The failed response is dropped here, before the wait.
                    drop(result);
                    this.state.set(State::Waiting { sleep: Box::pin(tokio::time::sleep(delay)) });
                }
                StateProj::Waiting { sleep } => {
                    ready!(sleep.as_mut().poll(cx));
                    this.state.set(State::Readying);
                }
                StateProj::Readying => {
                    let Some(service) = this.service.as_mut() else {
                        return Poll::Ready(Err("retry future polled after completion".into()));
                    };
                    ready!(service.poll_ready(cx)).map_err(Into::into)?;
                    *this.attempt += 1;
                    // The last attempt takes the kept request; earlier ones a copy of it.
                    let request = if *this.attempt < this.shared.max_attempts {
                        this.replay.as_ref().and_then(ResilientRequest::try_clone)
                    } else {
                        this.replay.take()
                    };
                    let Some(mut request) = request else {
                        return Poll::Ready(Err("retry lost its request copy".into()));
                    };
                    request.set_resend_count(*this.attempt - 1);
                    *this.span = attempt_span::<Req>(*this.attempt, *this.reason);
                    *this.attempt_started = Instant::now();
                    let call = this.span.in_scope(|| service.call(request));
                    this.state.set(State::Calling { call });
                }
            }
        }
    }
}

/// The wait before the next attempt, or `None` if the call ends here.
fn next_delay<F, S, Req, C>(
    outcome: Outcome,
    this: &mut ResponseFutureProj<'_, F, S, Req, C>,
) -> Option<Duration> {
    let Outcome::Failure(failure) = outcome else { return None };
    let shared = &**this.shared;
    let name = shared.telemetry.name();
    if !failure.retryable || this.replay.is_none() || *this.attempt >= shared.max_attempts {
        return None;
    }
    let delay = match failure.retry_after {
        Some(wait) if wait > shared.retry_after_cap => {
            tracing::debug!(target: "throughline_resilience::retry", policy = %name, retry_after = ?wait, cap = ?shared.retry_after_cap, "not retried: the server asked to wait longer than the cap");
            return None;
        }
        Some(wait) => wait,
        None => {
            let seed = || shared.seed.wrapping_add(shared.calls.fetch_add(1, Ordering::Relaxed));
            this.delays.get_or_insert_with(|| shared.backoff.delays(seed())).next().unwrap_or_default()
        }
    };
    let now = Instant::now();
    if shared.max_elapsed.is_some_and(|max| (now + delay).saturating_duration_since(*this.started) > max) {
        return None;
    }
    if let Some(deadline) = this.deadline {
        // An attempt that cannot finish before the deadline is not started:
        // the last attempt's duration is the estimate of the next one's.
        let estimate = now.saturating_duration_since(*this.attempt_started);
        if now + delay + estimate >= deadline.instant() {
            tracing::debug!(target: "throughline_resilience::retry", policy = %name, remaining = ?deadline.remaining(), "not retried: the next attempt could not finish before the deadline");
            return None;
        }
    }
    if let Some(budget) = &shared.budget
        && !budget.try_withdraw()
    {
        shared.telemetry.budget_exhausted();
        tracing::info!(target: "throughline_resilience::retry", policy = %name, reason = %failure.reason, "not retried: retry budget exhausted");
        return None;
    }
    shared.telemetry.retry(failure.reason.label());
    *this.reason = Some(failure.reason);
    Some(delay)
}
