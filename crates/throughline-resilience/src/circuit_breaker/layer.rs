//! The circuit breaker as a tower layer.

use std::fmt::Display;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::breaker::{Breaker, Ticket};
use super::keyed::KeyedBreaker;
use crate::classify::{BoxError, Classify, Outcome, classify};
use crate::error::CircuitOpen;

/// Which breaker guards a request: one for all, one per key, or none.
pub trait SelectBreaker<Req> {
    /// The breaker for `request`, if any.
    fn select(&self, request: &Req) -> Option<Breaker>;
}

impl<Req> SelectBreaker<Req> for Breaker {
    fn select(&self, _: &Req) -> Option<Breaker> {
        Some(self.clone())
    }
}

/// No breaker: a policy without one.
impl<Req> SelectBreaker<Req> for Option<Breaker> {
    fn select(&self, _: &Req) -> Option<Breaker> {
        self.clone()
    }
}

/// A breaker per key of the request, from [`CircuitBreakerLayer::keyed`].
#[derive(Clone, Debug)]
pub struct ByKey<K, F> {
    breakers: KeyedBreaker<K>,
    key: F,
}

impl<Req, K, F> SelectBreaker<Req> for ByKey<K, F>
where
    K: Hash + Eq + Clone + Display,
    F: Fn(&Req) -> K,
{
    fn select(&self, request: &Req) -> Option<Breaker> {
        Some(self.breakers.get(&(self.key)(request)))
    }
}

/// Guards a service with a circuit breaker: each call's result, classified by
/// `C`, feeds the breaker; while open, calls fail at once with [`CircuitOpen`]
/// and the inner service is not called.
///
/// ```
/// use throughline_resilience::circuit_breaker::{BreakerConfig, CircuitBreakerLayer};
/// use throughline_resilience::HttpClassifier;
/// use tower::{ServiceBuilder, service_fn};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let breaker = BreakerConfig::new("inventory").build()?;
/// let client = ServiceBuilder::new()
///     .layer(CircuitBreakerLayer::new(breaker, HttpClassifier::default()))
///     .service(service_fn(|_: http::Request<String>| async {
///         Ok::<_, std::io::Error>(http::Response::new(String::new()))
///     }));
/// # let _ = client; Ok(()) }
/// ```
///
/// One breaker per host, keyed by the request's authority:
///
/// ```
/// use throughline_resilience::circuit_breaker::{BreakerConfig, CircuitBreakerLayer, KeyedBreaker};
/// use throughline_resilience::HttpClassifier;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let per_host: KeyedBreaker<String> = KeyedBreaker::new(BreakerConfig::new("upstream"), 256)?;
/// let layer = CircuitBreakerLayer::keyed(per_host, HttpClassifier::default(), |request: &http::Request<String>| {
///     request.uri().authority().map_or_else(String::new, |a| a.to_string())
/// });
/// # let _ = layer; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct CircuitBreakerLayer<C, P = Breaker> {
    select: P,
    classifier: C,
}

impl<C> CircuitBreakerLayer<C> {
    /// One breaker for every call.
    pub fn new(breaker: Breaker, classifier: C) -> Self {
        Self { select: breaker, classifier }
    }
}

impl<C> CircuitBreakerLayer<C, Option<Breaker>> {
    /// One breaker for every call, or none.
    pub fn optional(breaker: Option<Breaker>, classifier: C) -> Self {
        Self { select: breaker, classifier }
    }
}

impl<C, K, F> CircuitBreakerLayer<C, ByKey<K, F>> {
    /// A breaker per key of the request.
    pub fn keyed(breakers: KeyedBreaker<K>, classifier: C, key: F) -> Self {
        Self { select: ByKey { breakers, key }, classifier }
    }
}

impl<S, C: Clone, P: Clone> Layer<S> for CircuitBreakerLayer<C, P> {
    type Service = CircuitBreaker<S, C, P>;
    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker { inner, select: self.select.clone(), classifier: self.classifier.clone() }
    }
}

/// The service of [`CircuitBreakerLayer`].
#[derive(Clone, Debug)]
pub struct CircuitBreaker<S, C, P = Breaker> {
    inner: S,
    select: P,
    classifier: C,
}

impl<C> CircuitBreaker<(), C> {
    /// [`CircuitBreakerLayer::new`], tower-http style.
    pub fn layer(breaker: Breaker, classifier: C) -> CircuitBreakerLayer<C> {
        CircuitBreakerLayer::new(breaker, classifier)
    }
}

impl<S, C, P> CircuitBreaker<S, C, P> {
    throughline_core::inner_service_accessors!();
}

impl<S, C, P, Req> Service<Req> for CircuitBreaker<S, C, P>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response> + Clone,
    P: SelectBreaker<Req>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let Some(breaker) = self.select.select(&request) else {
            return ResponseFuture { inner: Some(self.inner.call(request)), recorder: None, rejected: None };
        };
        match breaker.acquire_ticket() {
            Ok(ticket) => ResponseFuture {
                inner: Some(self.inner.call(request)),
                recorder: Some(Recorder {
                    breaker,
                    ticket: Some(ticket),
                    classifier: self.classifier.clone(),
                }),
                rejected: None,
            },
            Err(open) => ResponseFuture { inner: None, recorder: None, rejected: Some(open) },
        }
    }
}

/// Records a call's outcome, or, if dropped first (a cancelled call), records
/// that it counts for nothing, which frees a half-open probe slot.
struct Recorder<C> {
    breaker: Breaker,
    ticket: Option<Ticket>,
    classifier: C,
}

impl<C> Recorder<C> {
    fn finish(&mut self, outcome: Outcome) {
        if let Some(ticket) = self.ticket.take() {
            self.breaker.finish(ticket, outcome);
        }
    }
}

impl<C> Drop for Recorder<C> {
    fn drop(&mut self) {
        self.finish(Outcome::Ignored);
    }
}

pin_project! {
    /// The future of [`CircuitBreaker`].
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: Option<F>,
        recorder: Option<Recorder<C>>,
        rejected: Option<CircuitOpen>,
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    C: Classify<T>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            let open = this.rejected.take().map(BoxError::from);
            return Poll::Ready(Err(
                open.unwrap_or_else(|| "circuit breaker future polled after completion".into())
            ));
        };
        let result = ready!(inner.poll(cx)).map_err(Into::into);
        if let Some(recorder) = this.recorder {
            let outcome = classify(&recorder.classifier, result.as_ref());
            recorder.finish(outcome);
        }
        Poll::Ready(result)
    }
}
