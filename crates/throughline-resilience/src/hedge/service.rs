//! The hedging middleware: [`HedgeLayer`], [`Hedge<S>`] and the future that
//! races the attempts.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower_layer::Layer;
use tower_service::Service;
use tracing::Span;

use super::{HedgePolicy, Idempotent, SafeToHedge, Shared};
use crate::classify::{AnyError, BoxError, Classify, Outcome, classify};
use crate::deadline::Deadline;
use crate::request::ResilientRequest;

/// Hedges calls through the inner service by a [`HedgePolicy`]; see the
/// [module docs](super).
///
/// ```
/// use std::time::Duration;
/// use throughline_resilience::hedge::{HedgeConfig, HedgeLayer};
/// use tower::{ServiceBuilder, service_fn};
///
/// # fn main() -> Result<(), throughline_resilience::hedge::HedgeConfigError> {
/// let policy = HedgeConfig::new("search").delay(Duration::from_millis(30)).build()?;
/// let client = ServiceBuilder::new().layer(HedgeLayer::new(policy)).service(service_fn(
///     |_: http::Request<String>| async { Ok::<_, std::io::Error>(http::Response::new(String::new())) },
/// ));
/// let service = client.into_inner(); // the wrapped service back, as with every layer
/// # let _ = service; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct HedgeLayer<C = AnyError, P = Idempotent> {
    policy: HedgePolicy<C, P>,
}

impl<C, P> HedgeLayer<C, P> {
    /// The layer for `policy`.
    pub fn new(policy: HedgePolicy<C, P>) -> Self {
        Self { policy }
    }
}

impl<S, C, P> Layer<S> for HedgeLayer<C, P> {
    type Service = Hedge<S, C, P>;
    fn layer(&self, inner: S) -> Self::Service {
        Hedge { inner, policy: self.policy.clone() }
    }
}

/// The service of [`HedgeLayer`].
#[derive(Debug)]
pub struct Hedge<S, C = AnyError, P = Idempotent> {
    inner: S,
    policy: HedgePolicy<C, P>,
}

impl<C, P> Hedge<(), C, P> {
    /// [`HedgeLayer::new`], tower-http style.
    pub fn layer(policy: HedgePolicy<C, P>) -> HedgeLayer<C, P> {
        HedgeLayer::new(policy)
    }
}

impl<S, C, P> Hedge<S, C, P> {
    throughline_core::inner_service_accessors!();
}

impl<S: Clone, C, P> Clone for Hedge<S, C, P> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), policy: self.policy.clone() }
    }
}

impl<S, C, P, Req> Service<Req> for Hedge<S, C, P>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    C: Classify<S::Response>,
    P: SafeToHedge<Req>,
    Req: ResilientRequest,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, S, Req, C, P>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let shared = self.policy.shared.clone();
        if let Some(budget) = &shared.budget {
            budget.deposit();
        }
        // Only a request that may be sent twice is copied, and the service cloned for it.
        let copy = shared.safe.is_safe(&request).then(|| request.try_clone()).flatten();
        let Some(copy) = copy else {
            return ResponseFuture::unhedged(self.inner.call(request), shared);
        };
        let service = self.inner.clone();
        let deadline = request.deadline();
        let span = attempt_span::<Req>(1);
        let call = span.in_scope(|| self.inner.call(request));
        let delay = shared.delay();
        ResponseFuture {
            primary: Some(call),
            timer: None,
            race: Some(Race {
                span,
                service,
                request: Some(copy),
                started: Instant::now(),
                delay,
                deadline,
                next: Next::Waiting,
                sent: 0,
                hedges: Vec::new(),
            }),
            held: None,
            shared,
        }
    }
}

fn attempt_span<Req: ResilientRequest>(attempt: u32) -> Span {
    if attempt == 1 {
        return tracing::debug_span!(
            "resilience.hedge",
            resilience.hedge.attempt = i64::from(attempt),
            resilience.hedge.winner = tracing::field::Empty,
        );
    }
    let span = tracing::info_span!(
        "resilience.hedge",
        resilience.hedge.attempt = i64::from(attempt),
        resilience.hedge.winner = tracing::field::Empty,
        http.request.resend_count = tracing::field::Empty,
    );
    if Req::IS_HTTP {
        span.record("http.request.resend_count", i64::from(attempt - 1));
    }
    span
}

pin_project! {
    /// The future of [`Hedge`]: the first attempt, the hedges sent after it,
    /// and the timer that says when the next one is due.
    pub struct ResponseFuture<F, S, Req, C, P>
    where
        S: Service<Req>,
    {
        // `None` once the first attempt has finished or was cancelled.
        #[pin]
        primary: Option<F>,
        // Armed when the first attempt is still running at its first poll,
        // so that a call answered at once never touches the timer wheel.
        #[pin]
        timer: Option<Sleep>,
        // `None` for a call that is not hedged.
        race: Option<Race<F, S, Req>>,
        // A failure kept while another attempt is in flight.
        held: Option<Result<S::Response, BoxError>>,
        shared: Arc<Shared<C, P>>,
    }
}

impl<F, S, Req, C, P> std::fmt::Debug for ResponseFuture<F, S, Req, C, P>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let race = self.race.as_ref();
        f.debug_struct("ResponseFuture")
            .field("name", self.shared.telemetry.name())
            .field("first_in_flight", &self.primary.is_some())
            .field("hedges_in_flight", &race.map_or(0, |race| race.hedges.len()))
            .finish_non_exhaustive()
    }
}

/// What a call that may be hedged carries besides its first attempt.
struct Race<F, S, Req> {
    /// The first attempt's span.
    span: Span,
    service: S,
    /// The copy each hedge is cloned from; the last hedge takes it.
    request: Option<Req>,
    started: Instant,
    delay: Duration,
    deadline: Option<Deadline>,
    next: Next,
    sent: u32,
    hedges: Vec<InFlight<F>>,
}

/// What the call does about its next hedge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    /// Waits for the timer.
    Waiting,
    /// The hedge is due and allowed: waits for the service to be ready.
    Sending,
    /// No more hedges for this call.
    Done,
}

struct InFlight<F> {
    call: Pin<Box<F>>,
    span: Span,
    sent_at: Instant,
}

impl<F, S, Req, C, P> ResponseFuture<F, S, Req, C, P>
where
    S: Service<Req>,
{
    fn unhedged(call: F, shared: Arc<Shared<C, P>>) -> Self {
        Self { primary: Some(call), timer: None, race: None, held: None, shared }
    }
}

impl<F, S, Req, C, P, T, E> Future for ResponseFuture<F, S, Req, C, P>
where
    F: Future<Output = Result<T, E>>,
    S: Service<Req, Future = F, Response = T, Error = E>,
    E: Into<BoxError>,
    C: Classify<T>,
    Req: ResilientRequest,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(race) = this.race.as_mut() else {
            // Not hedged: the first attempt is the call.
            let Some(primary) = this.primary.as_pin_mut() else {
                return Poll::Ready(Err("hedge future polled after completion".into()));
            };
            return primary.poll(cx).map_err(Into::into);
        };
        let shared = &**this.shared;
        loop {
            // The attempts first: an answer that is in wins over a hedge that is due.
            if let Some(primary) = this.primary.as_mut().as_pin_mut()
                && let Poll::Ready(result) = race.span.in_scope(|| primary.poll(cx))
            {
                this.primary.set(None);
                let result = result.map_err(Into::into);
                if let Some(done) = settle(shared, race, &mut this.primary, this.held, result, None) {
                    return Poll::Ready(done);
                }
            }
            let mut index = 0;
            while index < race.hedges.len() {
                let hedge = &mut race.hedges[index];
                let Poll::Ready(result) = hedge.span.in_scope(|| hedge.call.as_mut().poll(cx)) else {
                    index += 1;
                    continue;
                };
                let hedge = race.hedges.swap_remove(index);
                let result = result.map_err(Into::into);
                let finished = Some((hedge.span, hedge.sent_at));
                if let Some(done) = settle(shared, race, &mut this.primary, this.held, result, finished) {
                    return Poll::Ready(done);
                }
            }
            if this.primary.is_none() && race.hedges.is_empty() {
                // Every attempt failed and none is left to wait for.
                return Poll::Ready(
                    this.held.take().unwrap_or_else(|| Err("hedge future polled after completion".into())),
                );
            }
            // Then the next hedge. The attempts are polled again only after a
            // hedge was sent (to poll it): nothing else here can have woken them.
            loop {
                match race.next {
                    Next::Done => return Poll::Pending,
                    Next::Waiting => {
                        if this.timer.is_none() {
                            let due = race.started + race.delay;
                            // A hedge that could never go is not waited for.
                            if !shared.may_arm(race.deadline, due, race.delay) {
                                race.next = Next::Done;
                                return Poll::Pending;
                            }
                            this.timer.set(Some(tokio::time::sleep_until(due)));
                        }
                        if let Some(timer) = this.timer.as_mut().as_pin_mut()
                            && timer.poll(cx).is_pending()
                        {
                            return Poll::Pending;
                        }
                        race.next = if shared.may_send(race.deadline, race.delay) {
                            Next::Sending
                        } else {
                            Next::Done
                        };
                    }
                    Next::Sending => {
                        match race.service.poll_ready(cx) {
                            Poll::Pending => return Poll::Pending,
                            Poll::Ready(Err(error)) => {
                                let error: BoxError = error.into();
                                tracing::debug!(target: "throughline_resilience::hedge", policy = %shared.telemetry.name(), %error, "hedge not sent: the service is not ready");
                                race.next = Next::Done;
                                continue;
                            }
                            Poll::Ready(Ok(())) => {}
                        }
                        let last = race.sent + 1 >= shared.max_hedges;
                        let request = if last {
                            race.request.take()
                        } else {
                            race.request.as_ref().and_then(ResilientRequest::try_clone)
                        };
                        let Some(mut request) = request else {
                            race.next = Next::Done;
                            continue;
                        };
                        race.sent += 1;
                        let attempt = race.sent + 1;
                        request.set_resend_count(attempt - 1);
                        let span = attempt_span::<Req>(attempt);
                        let call = span.in_scope(|| race.service.call(request));
                        shared.telemetry.hedge_sent();
                        race.hedges.push(InFlight { call: Box::pin(call), span, sent_at: Instant::now() });
                        let due = race.started + race.delay * (race.sent + 1);
                        race.next = if last || !shared.may_arm(race.deadline, due, race.delay) {
                            Next::Done
                        } else {
                            if let Some(timer) = this.timer.as_mut().as_pin_mut() {
                                timer.reset(due);
                            }
                            Next::Waiting
                        };
                        break;
                    }
                }
            }
        }
    }
}

/// An attempt finished: the call's result if that settles it, else `None`
/// (the failure is kept while other attempts run).
fn settle<F, S, Req, C, P, T>(
    shared: &Shared<C, P>,
    race: &mut Race<F, S, Req>,
    primary: &mut Pin<&mut Option<F>>,
    held: &mut Option<Result<T, BoxError>>,
    result: Result<T, BoxError>,
    // A hedge's span and send time; `None` for the first attempt.
    hedge: Option<(Span, Instant)>,
) -> Option<Result<T, BoxError>>
where
    C: Classify<T>,
{
    let won = match classify(&shared.classifier, result.as_ref()) {
        Outcome::Success => true,
        Outcome::Failure(failure) if !failure.retryable => false,
        Outcome::Failure(_) | Outcome::Ignored => {
            *held = Some(result);
            return None;
        }
    };
    let (span, sent_at) = match &hedge {
        Some((span, sent_at)) => (span, *sent_at),
        None => (&race.span, race.started),
    };
    if won {
        if let Some(estimator) = &shared.estimator {
            estimator.record(Instant::now().saturating_duration_since(sent_at));
        }
        if race.sent > 0 {
            span.record("resilience.hedge.winner", true);
        }
        if hedge.is_some() {
            shared.telemetry.hedge_won();
        }
    }
    // The others lose: their futures are dropped here, which cancels them.
    let mut cancelled = 0;
    if primary.is_some() {
        race.span.record("resilience.hedge.winner", false);
        primary.set(None);
        cancelled += 1;
    }
    for loser in race.hedges.drain(..) {
        loser.span.record("resilience.hedge.winner", false);
        cancelled += 1;
    }
    if cancelled > 0 {
        shared.telemetry.hedge_cancelled(cancelled);
    }
    race.next = Next::Done;
    *held = None;
    Some(result)
}

impl<C, P> Shared<C, P> {
    /// Whether a hedge due at `due` could be sent at all, before a timer is
    /// armed for it: the deadline would leave it less than the delay.
    fn may_arm(&self, deadline: Option<Deadline>, due: Instant, delay: Duration) -> bool {
        match deadline {
            Some(deadline) if deadline.instant().saturating_duration_since(due) < delay => {
                tracing::debug!(target: "throughline_resilience::hedge", policy = %self.telemetry.name(), remaining = ?deadline.remaining(), ?delay, "no hedge: the deadline is nearer than the hedge delay");
                false
            }
            _ => true,
        }
    }
}
