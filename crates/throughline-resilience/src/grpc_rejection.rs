//! For gRPC servers: the crate's rejections as trailers-only gRPC responses,
//! not errors, so that a tonic server can shed load with the limiter.
//!
//! [`GrpcRejectionLayer`] answers a [`Shed`] call with `RESOURCE_EXHAUSTED`
//! (or `UNAVAILABLE`, configurable) and `grpc-retry-pushback-ms`, a
//! [`CircuitOpen`] with `UNAVAILABLE` and the time to the next probe as
//! pushback, and a [`TimedOut`] with `DEADLINE_EXCEEDED`: HTTP 200, the status
//! in the headers, an empty body, which is how gRPC fails a call before any
//! message (and what a client's retry policy may retry). Other errors pass
//! through. Put it inside the server's instrumentation, so that the server
//! span records the status, and above the limit:
//!
//! ```
//! use std::time::Duration;
//! use throughline_resilience::grpc_rejection::GrpcRejectionLayer;
//! use throughline_resilience::limit::{ConcurrencyLimitLayer, LimitAlgorithm, LimiterConfig};
//! use throughline_resilience::GrpcClassifier;
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let limit = LimiterConfig::new("inventory", LimitAlgorithm::Fixed(1)).retry_after(Duration::from_millis(200)).build()?;
//! let mut server = ServiceBuilder::new()
//!     .layer(GrpcRejectionLayer::new())
//!     .layer(ConcurrencyLimitLayer::new(limit.clone()).classifier(GrpcClassifier))
//!     .service(service_fn(|_: http::Request<String>| async { Ok::<_, std::io::Error>(http::Response::new(String::new())) }));
//!
//! let _busy = limit.try_acquire(Default::default())?; // the one slot is taken
//! let response = server.ready().await?.call(http::Request::new(String::new())).await?;
//! assert_eq!(response.headers()["grpc-status"], "8"); // RESOURCE_EXHAUSTED
//! assert_eq!(response.headers()["grpc-retry-pushback-ms"], "200");
//! # Ok(()) }
//! ```

use std::fmt::Write as _;
use std::task::{Context, Poll};

use http::HeaderValue;
use tower_layer::Layer;
use tower_service::Service;

use crate::classify::BoxError;
#[cfg(doc)]
use crate::error::{CircuitOpen, TimedOut};
use crate::error::{RejectionStatus, Shed};
use crate::grpc::{GRPC_RETRY_PUSHBACK_MS, GRPC_STATUS, GrpcCode};
use crate::rejection::Answer;
pub use crate::rejection::ResponseFuture;

/// Answers the crate's rejections with trailers-only gRPC responses; see the
/// [module docs](self).
#[derive(Clone, Copy, Debug)]
pub struct GrpcRejectionLayer {
    shed_code: GrpcCode,
}

impl Default for GrpcRejectionLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl GrpcRejectionLayer {
    /// `RESOURCE_EXHAUSTED` for a shed call, `UNAVAILABLE` for an open
    /// breaker, `DEADLINE_EXCEEDED` for a timeout.
    pub fn new() -> Self {
        Self { shed_code: GrpcCode::ResourceExhausted }
    }

    /// The code for shed calls: `RESOURCE_EXHAUSTED` (the default: this
    /// caller sends too much) or `UNAVAILABLE` (the server is overloaded;
    /// clients retry it by default, within their budgets).
    pub fn shed_code(mut self, code: GrpcCode) -> Self {
        self.shed_code = code;
        self
    }
}

impl<S> Layer<S> for GrpcRejectionLayer {
    type Service = GrpcRejection<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcRejection { inner, answer: *self }
    }
}

/// The service of [`GrpcRejectionLayer`].
#[derive(Clone, Debug)]
pub struct GrpcRejection<S> {
    inner: S,
    answer: GrpcRejectionLayer,
}

impl GrpcRejection<()> {
    /// [`GrpcRejectionLayer::new`], tower-http style.
    pub fn layer() -> GrpcRejectionLayer {
        GrpcRejectionLayer::new()
    }
}

impl<S> GrpcRejection<S> {
    throughline_core::inner_service_accessors!();
}

impl<S, Req, B> Service<Req> for GrpcRejection<S>
where
    S: Service<Req, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    B: Default,
{
    type Response = http::Response<B>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, GrpcRejectionLayer>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        ResponseFuture::new(self.inner.call(request), self.answer)
    }
}

impl Answer for GrpcRejectionLayer {
    fn answer<B: Default>(&self, mut status: RejectionStatus, error: &BoxError) -> http::Response<B> {
        if error.is::<Shed>() {
            status.grpc = self.shed_code;
        }
        trailers_only(&status, &error.to_string())
    }
}

/// A gRPC failure before any message: the status in the headers.
fn trailers_only<B: Default>(status: &RejectionStatus, message: &str) -> http::Response<B> {
    let mut response = http::Response::new(B::default());
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(GRPC_STATUS, HeaderValue::from(status.grpc as i32));
    // Percent-encoded, so visible ASCII only: always a valid header value.
    if let Ok(message) = HeaderValue::from_str(&percent_encode(message)) {
        headers.insert("grpc-message", message);
    }
    if let Some(pushback) = status.grpc_retry_pushback_ms() {
        headers.insert(GRPC_RETRY_PUSHBACK_MS, pushback);
    }
    response
}

/// gRPC's `grpc-message` encoding: printable ASCII but `%` as is, the rest
/// as `%XX` of its UTF-8 bytes.
fn percent_encode(message: &str) -> String {
    let mut encoded = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            encoded.push(byte as char);
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_message_is_percent_encoded() {
        assert_eq!(percent_encode("limit reached: 8 in flight"), "limit reached: 8 in flight");
        assert_eq!(percent_encode("100% é\n"), "100%25 %C3%A9%0A");
    }
}
