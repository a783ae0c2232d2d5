//! One policy, composed in the right order, for tower and for plain async code.

use std::error::Error;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use opentelemetry::metrics::{Meter, MeterProvider};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::circuit_breaker::{Breaker, CircuitBreaker, CircuitBreakerLayer};
use crate::classify::{AnyError, BoxError, Classify, Outcome, classify};
use crate::deadline::{EnforceDeadline, EnforceDeadlineLayer};
use crate::error::{CircuitOpen, ResilienceError, Shed, TimedOut};
use crate::limit::{AllCritical, ConcurrencyLimit, ConcurrencyLimitLayer, Limiter, PriorityOf};
use crate::request::{Attempt, ResilientRequest};
use crate::retry::{Retry, RetryConfig, RetryConfigError, RetryLayer, RetryPolicy};
use crate::telemetry::{CallOutcome, Telemetry, default_meter};
use crate::timeout::{Timeout, TimeoutLayer};

/// Builds a [`Policy`]; every stage is optional.
#[derive(Clone, Debug)]
pub struct PolicyBuilder<C = AnyError, P = AllCritical> {
    name: String,
    timeout: Option<Duration>,
    retry: Option<RetryConfig>,
    breaker: Option<Breaker>,
    limit: Option<Limiter>,
    attempt_timeout: Option<Duration>,
    classifier: C,
    priority: P,
    meter: Option<Meter>,
}

impl<C, P> PolicyBuilder<C, P> {
    /// The overall deadline of a call, retries and waits included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Retries failed attempts; the policy's classifier replaces the config's.
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Guards each attempt with a circuit breaker (clone one breaker into
    /// every policy that calls the same dependency).
    pub fn circuit_breaker(mut self, breaker: Breaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Limits the attempts in flight.
    pub fn concurrency_limit(mut self, limit: Limiter) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The timeout of each attempt.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Where `resilience.calls` are recorded (default: the global meter provider).
    pub fn meter_provider(mut self, provider: &impl MeterProvider) -> Self {
        self.meter = Some(crate::telemetry::meter_of(provider));
        self
    }

    /// What a result means, for retry, the breaker and the adaptive limit alike.
    pub fn classifier<C2>(self, classifier: C2) -> PolicyBuilder<C2, P> {
        self.retyped(|_, priority| (classifier, priority))
    }

    /// Each request's priority at the concurrency limit (default: all
    /// critical): when the limit is reached, sheddable requests go first.
    ///
    /// ```
    /// use throughline_resilience::Policy;
    /// use throughline_resilience::limit::{LimitAlgorithm, LimiterConfig, Priority};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let policy = Policy::builder("api")
    ///     .concurrency_limit(LimiterConfig::new("api", LimitAlgorithm::Fixed(64)).build()?)
    ///     .priority(|request: &http::Request<String>| match request.headers().contains_key("x-batch") {
    ///         true => Priority::Sheddable,
    ///         false => Priority::Critical,
    ///     })
    ///     .build()?;
    /// # let _ = policy; Ok(()) }
    /// ```
    pub fn priority<P2>(self, priority: P2) -> PolicyBuilder<C, P2> {
        self.retyped(|classifier, _| (classifier, priority))
    }

    /// The same settings with the classifier and priority `change` returns.
    fn retyped<C2, P2>(self, change: impl FnOnce(C, P) -> (C2, P2)) -> PolicyBuilder<C2, P2> {
        let (classifier, priority) = change(self.classifier, self.priority);
        PolicyBuilder {
            name: self.name,
            timeout: self.timeout,
            retry: self.retry,
            breaker: self.breaker,
            limit: self.limit,
            attempt_timeout: self.attempt_timeout,
            classifier,
            priority,
            meter: self.meter,
        }
    }

    /// Checks the configuration and builds the policy.
    pub fn build(self) -> Result<Policy<C, P>, RetryConfigError>
    where
        C: Clone,
    {
        let meter = self.meter.unwrap_or_else(default_meter);
        let retry = match self.retry {
            Some(retry) => retry,
            None => RetryConfig::new(self.name.clone()).max_attempts(1).without_budget(),
        };
        Ok(Policy {
            telemetry: Telemetry::new(&self.name, &meter),
            timeout: self.timeout,
            retry: retry.classifier(self.classifier.clone()).build()?,
            breaker: self.breaker,
            limit: self.limit,
            attempt_timeout: self.attempt_timeout,
            classifier: self.classifier,
            priority: self.priority,
        })
    }
}

/// A resilience policy: an overall deadline, retry, a circuit breaker, a
/// concurrency limit and an attempt timeout, composed in the one order that
/// works, sharing one classifier. Use it as a tower layer ([`Policy::layer`])
/// or around any async call ([`Policy::call`]). Clones share all state.
///
/// See the [crate docs](crate) for the composition order and why.
#[derive(Clone, Debug)]
pub struct Policy<C = AnyError, P = AllCritical> {
    telemetry: Telemetry,
    timeout: Option<Duration>,
    retry: RetryPolicy<C>,
    breaker: Option<Breaker>,
    limit: Option<Limiter>,
    attempt_timeout: Option<Duration>,
    classifier: C,
    priority: P,
}

impl Policy {
    /// A policy named `name` (the `resilience.name` attribute on its metrics).
    pub fn builder(name: impl Into<String>) -> PolicyBuilder {
        PolicyBuilder {
            name: name.into(),
            timeout: None,
            retry: None,
            breaker: None,
            limit: None,
            attempt_timeout: None,
            classifier: AnyError,
            priority: AllCritical,
            meter: None,
        }
    }
}

impl<C: Clone, P: Clone> Policy<C, P> {
    /// The policy as a tower layer, for clients and servers alike.
    pub fn layer(&self) -> ResilienceLayer<C, P> {
        ResilienceLayer { policy: self.clone() }
    }

    /// The retry policy, with its budget.
    pub fn retry_policy(&self) -> &RetryPolicy<C> {
        &self.retry
    }

    /// The circuit breaker, if the policy has one.
    pub fn circuit_breaker(&self) -> Option<&Breaker> {
        self.breaker.as_ref()
    }

    /// Runs `call` under the policy: attempts are retried, guarded, limited
    /// and timed out as the policy says.
    ///
    /// ```
    /// use std::time::Duration;
    /// use throughline_resilience::{Policy, ResilienceError};
    /// use throughline_resilience::retry::RetryConfig;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let policy = Policy::builder("orders-db")
    ///     .timeout(Duration::from_secs(2))
    ///     .retry(RetryConfig::new("orders-db").max_attempts(3))
    ///     .build()
    ///     .unwrap();
    /// let tries = std::sync::atomic::AtomicU32::new(0);
    /// let rows = policy.call(|| async {
    ///     match tries.fetch_add(1, std::sync::atomic::Ordering::Relaxed) {
    ///         0 => Err(std::io::Error::other("deadlock")),
    ///         _ => Ok(42),
    ///     }
    /// }).await;
    /// assert_eq!(rows.unwrap(), 42);
    /// # }
    /// ```
    pub async fn call<F, Fut, T, E>(&self, call: F) -> Result<T, ResilienceError<E>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Error + Send + Sync + 'static,
        C: Classify<T>,
        P: PriorityOf<Attempt>,
    {
        self.call_with(|_| call()).await
    }

    /// As [`Policy::call`], telling the closure which attempt it is and
    /// its deadline, to pass on (a statement timeout, a gRPC deadline).
    pub async fn call_with<F, Fut, T, E>(&self, call: F) -> Result<T, ResilienceError<E>>
    where
        F: Fn(Attempt) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Error + Send + Sync + 'static,
        C: Classify<T>,
        P: PriorityOf<Attempt>,
    {
        let mut service = self.layer().layer(CallFn(&call));
        let result = match poll_fn(|cx| service.poll_ready(cx)).await {
            Ok(()) => service.call(Attempt::default()).await,
            Err(error) => Err(error),
        };
        result.map_err(ResilienceError::from_box)
    }
}

/// A closure as the innermost service of the plain API.
struct CallFn<'a, F>(&'a F);

impl<F> Clone for CallFn<'_, F> {
    fn clone(&self) -> Self {
        Self(self.0)
    }
}

impl<F, Fut, T, E> Service<Attempt> for CallFn<'_, F>
where
    F: Fn(Attempt) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Response = T;
    type Error = E;
    type Future = Fut;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), E>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, attempt: Attempt) -> Fut {
        (self.0)(attempt)
    }
}

/// The tower layer of a [`Policy`].
#[derive(Clone, Debug)]
pub struct ResilienceLayer<C = AnyError, P = AllCritical> {
    policy: Policy<C, P>,
}

/// The stages of a policy, outermost first.
type Stack<S, C, P> =
    EnforceDeadline<Retry<CircuitBreaker<ConcurrencyLimit<Timeout<S>, C, P>, C, Option<Breaker>>, C>>;

impl<S, C: Clone, P: Clone> Layer<S> for ResilienceLayer<C, P> {
    type Service = Resilience<S, C, P>;

    fn layer(&self, inner: S) -> Self::Service {
        let policy = &self.policy;
        let timeout = TimeoutLayer::optional(policy.attempt_timeout).layer(inner);
        let limit = ConcurrencyLimitLayer::optional(policy.limit.clone())
            .classifier(policy.classifier.clone())
            .priority(policy.priority.clone());
        let breaker = CircuitBreakerLayer::optional(policy.breaker.clone(), policy.classifier.clone());
        let retry = RetryLayer::new(policy.retry.clone());
        let deadline = match policy.timeout {
            Some(timeout) => EnforceDeadlineLayer::new(timeout),
            None => EnforceDeadlineLayer::inherited(),
        };
        let stack = deadline.layer(retry.layer(breaker.layer(limit.layer(timeout))));
        Resilience { stack, telemetry: policy.telemetry.clone(), classifier: policy.classifier.clone() }
    }
}

/// The service of a [`ResilienceLayer`]: the policy's stages around `S`,
/// with each call's outcome counted on `resilience.calls`.
#[derive(Clone)]
pub struct Resilience<S, C = AnyError, P = AllCritical> {
    stack: Stack<S, C, P>,
    telemetry: Telemetry,
    classifier: C,
}

impl<C: Clone, P: Clone> Resilience<(), C, P> {
    /// [`Policy::layer`], tower-http style.
    pub fn layer(policy: &Policy<C, P>) -> ResilienceLayer<C, P> {
        policy.layer()
    }
}

impl<S, C, P> Resilience<S, C, P> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        self.stack.get_ref().get_ref().get_ref().get_ref().get_ref()
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        self.stack.get_mut().get_mut().get_mut().get_mut().get_mut()
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.stack.into_inner().into_inner().into_inner().into_inner().into_inner()
    }
}

impl<S, C, P> std::fmt::Debug for Resilience<S, C, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resilience").field("name", self.telemetry.name()).finish_non_exhaustive()
    }
}

impl<S, C, P, Req> Service<Req> for Resilience<S, C, P>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    C: Classify<S::Response> + Clone,
    P: PriorityOf<Req> + Clone,
    Req: ResilientRequest,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<<Stack<S, C, P> as Service<Req>>::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.stack.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        ResponseFuture {
            inner: self.stack.call(request),
            telemetry: self.telemetry.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

pin_project! {
    /// The future of [`Resilience`].
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: F,
        telemetry: Telemetry,
        classifier: C,
    }
}

impl<F, C, T> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, BoxError>>,
    C: Classify<T>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let outcome = match &result {
            Err(e) if e.is::<CircuitOpen>() => CallOutcome::Rejected,
            Err(e) if e.is::<Shed>() => CallOutcome::Shed,
            Err(e) if e.is::<TimedOut>() => CallOutcome::Timeout,
            _ => match classify(this.classifier, result.as_ref()) {
                Outcome::Failure(_) => CallOutcome::Failure,
                Outcome::Success | Outcome::Ignored => CallOutcome::Success,
            },
        };
        this.telemetry.call(outcome);
        Poll::Ready(result)
    }
}
