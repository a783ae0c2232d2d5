//! [`ResilienceMiddleware`]: a `throughline_resilience::Policy`
//! run around the rest of the middleware chain.

use std::future::poll_fn;
use std::task::{Context, Poll};

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use throughline_resilience::{
    BoxError, Classify, Deadline, IDEMPOTENCY_KEY, Policy, ResendCount, ResilienceError, ResilientRequest,
    is_idempotent_method,
};
use tower_layer::Layer;
use tower_service::Service;

use crate::BoxFuture;

/// Runs each request under a [`Policy`]: retries (only when safe:
/// an idempotent method or an `Idempotency-Key` header, and a body that can
/// be cloned), `Retry-After`, the circuit breaker, the deadline and the
/// attempt timeout, as the policy says.
///
/// Put it **before** [`TracingMiddleware`](crate::TracingMiddleware) (outside
/// it): every attempt then goes through the tracing middleware and is its
/// own client span, a retry with `http.request.resend_count`.
///
/// Each attempt gets a copy of the request's extensions; what the
/// middlewares after this one insert into them stays with that attempt.
///
/// ```
/// use throughline_reqwest::{ResilienceMiddleware, TracingMiddleware};
/// use throughline_resilience::{HttpClassifier, Policy};
/// use throughline_resilience::retry::RetryConfig;
///
/// let policy = Policy::builder("inventory")
///     .retry(RetryConfig::new("inventory").max_attempts(3))
///     .classifier(HttpClassifier::default())
///     .build()?;
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(ResilienceMiddleware::new(policy))
///     .with(TracingMiddleware::default())
///     .build();
/// # let _ = client;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The classifier sees each attempt's response as an `http::Response`
/// carrying the status and headers ([`HttpClassifier`](throughline_resilience::HttpClassifier)
/// works as it is). Errors the policy raises itself (`CircuitOpen`, `Shed`,
/// `TimedOut`) come back as `reqwest_middleware::Error::Middleware`; a
/// server answers them with
/// [`RejectionStatus::of(error.as_ref())`](throughline_resilience::RejectionStatus::of)
/// (503 with `Retry-After` for an open circuit).
#[derive(Clone, Debug)]
pub struct ResilienceMiddleware<C> {
    policy: Policy<C>,
}

impl<C> ResilienceMiddleware<C> {
    /// The middleware running `policy`.
    pub fn new(policy: Policy<C>) -> Self {
        Self { policy }
    }
}

/// One attempt's response as the policy's classifier sees it: the status,
/// version and headers of an `http::Response` whose body is the reqwest
/// response itself (its headers are moved out and back, not copied).
#[derive(Debug)]
pub struct AttemptResponse(Response);

impl AttemptResponse {
    fn into_http(mut response: Response) -> http::Response<Self> {
        let headers = std::mem::take(response.headers_mut());
        let (status, version) = (response.status(), response.version());
        let mut head = http::Response::new(Self(response));
        *head.status_mut() = status;
        *head.version_mut() = version;
        *head.headers_mut() = headers;
        head
    }

    fn from_http(response: http::Response<Self>) -> Response {
        let (parts, Self(mut response)) = response.into_parts();
        *response.headers_mut() = parts.headers;
        response
    }

    /// The reqwest response, without its headers (they are on the
    /// `http::Response` around it).
    pub fn get_ref(&self) -> &Response {
        &self.0
    }
}

/// One attempt's request: the reqwest request and the extensions that go
/// down the chain with it.
struct AttemptRequest {
    request: Request,
    extensions: Extensions,
}

impl ResilientRequest for AttemptRequest {
    const IS_HTTP: bool = true;

    fn try_clone(&self) -> Option<Self> {
        // `None` for a streamed body: such a request is not retried.
        Some(Self { request: self.request.try_clone()?, extensions: self.extensions.clone() })
    }

    fn is_idempotent(&self) -> bool {
        is_idempotent_method(self.request.method()) || self.request.headers().contains_key(IDEMPOTENCY_KEY)
    }

    fn deadline(&self) -> Option<Deadline> {
        self.extensions.get::<Deadline>().copied()
    }

    fn set_deadline(&mut self, deadline: Deadline) {
        self.extensions.insert(deadline);
    }

    fn set_resend_count(&mut self, resends: u32) {
        if resends > 0 || self.extensions.get::<ResendCount>().is_some() {
            self.extensions.insert(ResendCount(resends));
        }
    }
}

/// The rest of the chain as the policy's innermost service.
#[derive(Clone)]
struct Rest<'a> {
    next: Next<'a>,
}

impl<'a> Service<AttemptRequest> for Rest<'a> {
    type Response = http::Response<AttemptResponse>;
    type Error = reqwest_middleware::Error;
    type Future = BoxFuture<'a, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, attempt: AttemptRequest) -> Self::Future {
        let next = self.next.clone();
        Box::pin(async move {
            let AttemptRequest { request, mut extensions } = attempt;
            let response = next.run(request, &mut extensions).await?;
            Ok(AttemptResponse::into_http(response))
        })
    }
}

impl<C> Middleware for ResilienceMiddleware<C>
where
    C: Classify<http::Response<AttemptResponse>> + Clone,
{
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        request: Request,
        extensions: &'life1 mut Extensions,
        next: Next<'life2>,
    ) -> BoxFuture<'async_trait, reqwest_middleware::Result<Response>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        let mut service = self.policy.layer().layer(Rest { next });
        let attempt = AttemptRequest { request, extensions: extensions.clone() };
        Box::pin(async move {
            let result = match poll_fn(|cx| service.poll_ready(cx)).await {
                Ok(()) => service.call(attempt).await,
                Err(error) => Err(error),
            };
            result.map(AttemptResponse::from_http).map_err(into_middleware_error)
        })
    }
}

/// The chain's own error as it was; the policy's (`CircuitOpen`, `Shed`,
/// `TimedOut`) as a middleware error made from the typed value, so that it
/// downcasts both through anyhow and through `std::error::Error`
/// (`RejectionStatus::of(error.as_ref())`).
fn into_middleware_error(error: BoxError) -> reqwest_middleware::Error {
    let middleware = reqwest_middleware::Error::Middleware;
    match ResilienceError::<reqwest_middleware::Error>::try_from_box(error) {
        Ok(ResilienceError::Inner(error)) => error,
        Ok(ResilienceError::CircuitOpen(open)) => middleware(anyhow::Error::new(open)),
        Ok(ResilienceError::Shed(shed)) => middleware(anyhow::Error::new(shed)),
        Ok(ResilienceError::TimedOut(timed_out)) => middleware(anyhow::Error::new(timed_out)),
        Err(other) => middleware(anyhow::Error::from_boxed(other)),
    }
}
