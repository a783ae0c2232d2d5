//! The concurrency limit as a tower layer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::limiter::{LimitPermit, Limiter, Priority};
use crate::classify::{AnyError, BoxError, Classify, classify};
use crate::error::Shed;

/// The priority of a request, for shedding the least important first.
pub trait PriorityOf<Req> {
    /// The request's priority.
    fn priority(&self, request: &Req) -> Priority;
}

/// Every request is critical (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct AllCritical;

impl<Req> PriorityOf<Req> for AllCritical {
    fn priority(&self, _: &Req) -> Priority {
        Priority::Critical
    }
}

impl<Req, F: Fn(&Req) -> Priority> PriorityOf<Req> for F {
    fn priority(&self, request: &Req) -> Priority {
        self(request)
    }
}

/// Limits the calls in flight through a service; see [`crate::limit`].
///
/// ```
/// use throughline_resilience::limit::{LimiterConfig, ConcurrencyLimitLayer, LimitAlgorithm, Priority};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let limit = LimiterConfig::new("api", LimitAlgorithm::Fixed(64)).build()?;
/// // Health checks are shed before user traffic.
/// let layer = ConcurrencyLimitLayer::new(limit).priority(|request: &http::Request<String>| {
///     if request.uri().path() == "/healthz" { Priority::Sheddable } else { Priority::Critical }
/// });
/// # let _ = layer; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ConcurrencyLimitLayer<C = AnyError, P = AllCritical> {
    limit: Option<Limiter>,
    classifier: C,
    priority: P,
}

impl ConcurrencyLimitLayer {
    /// Limits calls by `limit`; all requests critical; errors are what an
    /// adaptive limit backs off on only when they are timeouts.
    pub fn new(limit: Limiter) -> Self {
        Self::optional(Some(limit))
    }

    /// Limits calls by `limit`, or passes them all if `None` (a policy without a limit).
    pub fn optional(limit: Option<Limiter>) -> Self {
        Self { limit, classifier: AnyError, priority: AllCritical }
    }
}

impl<C, P> ConcurrencyLimitLayer<C, P> {
    /// The classifier whose overload signals (429, 503, timeouts, ...) an
    /// adaptive limit backs off on.
    pub fn classifier<C2>(self, classifier: C2) -> ConcurrencyLimitLayer<C2, P> {
        ConcurrencyLimitLayer { limit: self.limit, classifier, priority: self.priority }
    }

    /// How to tell sheddable requests from critical ones.
    pub fn priority<P2>(self, priority: P2) -> ConcurrencyLimitLayer<C, P2> {
        ConcurrencyLimitLayer { limit: self.limit, classifier: self.classifier, priority }
    }
}

impl<S, C: Clone, P: Clone> Layer<S> for ConcurrencyLimitLayer<C, P> {
    type Service = ConcurrencyLimit<S, C, P>;
    fn layer(&self, inner: S) -> Self::Service {
        ConcurrencyLimit {
            inner,
            limit: self.limit.clone(),
            classifier: self.classifier.clone(),
            priority: self.priority.clone(),
        }
    }
}

/// The service of [`ConcurrencyLimitLayer`].
#[derive(Clone, Debug)]
pub struct ConcurrencyLimit<S, C = AnyError, P = AllCritical> {
    inner: S,
    limit: Option<Limiter>,
    classifier: C,
    priority: P,
}

impl ConcurrencyLimit<()> {
    /// [`ConcurrencyLimitLayer::new`], tower-http style.
    pub fn layer(limit: Limiter) -> ConcurrencyLimitLayer {
        ConcurrencyLimitLayer::new(limit)
    }
}

impl<S, C, P> ConcurrencyLimit<S, C, P> {
    throughline_core::inner_service_accessors!();
}

type Wait = Pin<Box<dyn Future<Output = Result<LimitPermit, Shed>> + Send>>;

impl<S, C, P, Req> Service<Req> for ConcurrencyLimit<S, C, P>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    C: Classify<S::Response> + Clone,
    P: PriorityOf<Req>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, S, Req, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let classifier = self.classifier.clone();
        let Some(limit) = &self.limit else {
            return ResponseFuture {
                state: State::Running { call: self.inner.call(request), permit: None },
                classifier,
            };
        };
        let priority = self.priority.priority(&request);
        let state = if let Some(permit) = limit.try_admit(priority) {
            State::Running { call: self.inner.call(request), permit: Some(permit) }
        } else if let Some(shed) = limit.shed_unless_queued(priority) {
            State::Shed { shed: Some(shed) }
        } else {
            // The readied service goes with the request; a clone takes its place.
            let clone = self.inner.clone();
            let service = std::mem::replace(&mut self.inner, clone);
            let limit = limit.clone();
            let wait: Wait = Box::pin(async move { limit.wait(priority).await });
            State::Waiting { wait, service: Some(service), request: Some(request) }
        };
        ResponseFuture { state, classifier }
    }
}

pin_project! {
    /// The future of [`ConcurrencyLimit`].
    pub struct ResponseFuture<F, S, Req, C> {
        #[pin]
        state: State<F, S, Req>,
        classifier: C,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, Req> {
        Running { #[pin] call: F, permit: Option<LimitPermit> },
        Waiting { wait: Wait, service: Option<S>, request: Option<Req> },
        Shed { shed: Option<Shed> },
    }
}

impl<F, S, Req, C, T, E> Future for ResponseFuture<F, S, Req, C>
where
    F: Future<Output = Result<T, E>>,
    S: Service<Req, Future = F>,
    E: Into<BoxError>,
    C: Classify<T>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Running { call, permit } => {
                    let result = ready!(call.poll(cx)).map_err(Into::into);
                    if let Some(mut permit) = permit.take() {
                        permit.record(classify(this.classifier, result.as_ref()));
                    }
                    return Poll::Ready(result);
                }
                StateProj::Waiting { wait, service, request } => {
                    let permit = ready!(wait.as_mut().poll(cx))?;
                    let (Some(mut service), Some(request)) = (service.take(), request.take()) else {
                        return Poll::Ready(Err("concurrency limit future polled after completion".into()));
                    };
                    let call = service.call(request);
                    this.state.set(State::Running { call, permit: Some(permit) });
                }
                StateProj::Shed { shed } => {
                    let shed = shed.take().map(BoxError::from);
                    return Poll::Ready(Err(
                        shed.unwrap_or_else(|| "concurrency limit future polled after completion".into())
                    ));
                }
            }
        }
    }
}
