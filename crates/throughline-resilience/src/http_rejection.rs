//! For HTTP servers: the crate's rejections as responses, not errors.
//!
//! [`HttpRejectionLayer`] turns a [`CircuitOpen`] into
//! 503 with `Retry-After` (the time to the next probe), a
//! [`Shed`] into 503 (or 429) with `Retry-After`, and a
//! [`TimedOut`] into 504, with empty bodies. Other errors
//! pass through. Put it outermost, above the policy:
//!
//! ```
//! use std::time::Duration;
//! use throughline_resilience::http_rejection::HttpRejectionLayer;
//! use throughline_resilience::limit::{LimiterConfig, ConcurrencyLimitLayer, LimitAlgorithm};
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let limit = LimiterConfig::new("api", LimitAlgorithm::Fixed(1)).retry_after(Duration::from_secs(2)).build()?;
//! let mut server = ServiceBuilder::new()
//!     .layer(HttpRejectionLayer::new().shed_status(http::StatusCode::TOO_MANY_REQUESTS))
//!     .layer(ConcurrencyLimitLayer::new(limit.clone()))
//!     .service(service_fn(|_: http::Request<String>| async { Ok::<_, std::io::Error>(http::Response::new(String::new())) }));
//!
//! let _busy = limit.try_acquire(Default::default())?; // the one slot is taken
//! let response = server.ready().await?.call(http::Request::new(String::new())).await?;
//! assert_eq!(response.status(), 429);
//! assert_eq!(response.headers()["retry-after"], "2");
//! # Ok(()) }
//! ```

use std::task::{Context, Poll};

use http::StatusCode;
use tower_layer::Layer;
use tower_service::Service;

use crate::classify::BoxError;
#[cfg(doc)]
use crate::error::{CircuitOpen, TimedOut};
use crate::error::{RejectionStatus, Shed};
use crate::rejection::Answer;
pub use crate::rejection::ResponseFuture;

/// Answers the crate's rejections with HTTP responses; see the [module docs](self).
#[derive(Clone, Copy, Debug)]
pub struct HttpRejectionLayer {
    shed_status: StatusCode,
}

impl Default for HttpRejectionLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpRejectionLayer {
    /// 503 for an open breaker and a shed request, 504 for a timeout.
    pub fn new() -> Self {
        Self { shed_status: StatusCode::SERVICE_UNAVAILABLE }
    }

    /// The status for shed requests: 503 (the server is overloaded, the
    /// default) or 429 (this client sends too much).
    pub fn shed_status(mut self, status: StatusCode) -> Self {
        self.shed_status = status;
        self
    }
}

impl<S> Layer<S> for HttpRejectionLayer {
    type Service = HttpRejection<S>;
    fn layer(&self, inner: S) -> Self::Service {
        HttpRejection { inner, answer: *self }
    }
}

/// The service of [`HttpRejectionLayer`].
#[derive(Clone, Debug)]
pub struct HttpRejection<S> {
    inner: S,
    answer: HttpRejectionLayer,
}

impl HttpRejection<()> {
    /// [`HttpRejectionLayer::new`], tower-http style.
    pub fn layer() -> HttpRejectionLayer {
        HttpRejectionLayer::new()
    }
}

impl<S> HttpRejection<S> {
    throughline_core::inner_service_accessors!();
}

impl<S, Req, B> Service<Req> for HttpRejection<S>
where
    S: Service<Req, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    B: Default,
{
    type Response = http::Response<B>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, HttpRejectionLayer>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        ResponseFuture::new(self.inner.call(request), self.answer)
    }
}

impl Answer for HttpRejectionLayer {
    fn answer<B: Default>(&self, mut status: RejectionStatus, error: &BoxError) -> http::Response<B> {
        if error.is::<Shed>() {
            status.http = self.shed_status;
        }
        status.to_http_response()
    }
}
