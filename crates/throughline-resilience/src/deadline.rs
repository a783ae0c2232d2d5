//! The overall deadline of a call: a value that travels with the request, and
//! the layer that sets and enforces it.
//!
//! [`EnforceDeadlineLayer`] gives every call a deadline (the earlier of its own
//! timeout and a deadline the request already carries, say from an incoming
//! `grpc-timeout`), stores it in the request as a [`Deadline`] extension, and
//! fails the call with [`TimedOut`](crate::TimedOut) when it passes. Layers below read it: retry
//! starts no attempt that cannot finish before it, the attempt timeout never
//! outlives it, and client adapters send the remaining time on
//! (`grpc-timeout` in throughline-tonic; throughline-core's
//! `DEADLINE_HEADER` in throughline-tower's HTTP client layer and
//! throughline-reqwest). [`Deadline`] itself lives in throughline-core, the
//! vocabulary every layer shares:
//!
//! ```
//! use std::time::Duration;
//! use throughline_resilience::Deadline;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let mut request = http::Request::get("http://inventory/items").body(()).unwrap();
//! request.extensions_mut().insert(Deadline::after(Duration::from_millis(1500)));
//!
//! // What an adapter does before sending:
//! if let Some(deadline) = request.extensions().get::<Deadline>() {
//!     let value = deadline.grpc_timeout();
//!     request.headers_mut().insert("grpc-timeout", value);
//! }
//! assert_eq!(request.headers()["grpc-timeout"], "1500000u");
//! # }
//! ```

use std::task::{Context, Poll};
use std::time::Duration;

pub use throughline_core::{Deadline, GrpcTimeoutError};
use tokio::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

use crate::classify::BoxError;
use crate::error::TimeoutScope;
use crate::request::ResilientRequest;
pub use crate::time_limit::ResponseFuture;

/// Gives each call a [`Deadline`] and fails it with [`TimedOut`](crate::TimedOut) (scope
/// `Deadline`) when the deadline passes. The outermost stage of a policy.
#[derive(Clone, Copy, Debug)]
pub struct EnforceDeadlineLayer {
    timeout: Option<Duration>,
}

impl EnforceDeadlineLayer {
    /// Every call gets at most `timeout`, or less if the request already
    /// carries an earlier deadline.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout: Some(timeout) }
    }

    /// Only the deadline the request already carries is enforced (a server
    /// that set it from `grpc-timeout`, say).
    pub fn inherited() -> Self {
        Self { timeout: None }
    }
}

impl<S> Layer<S> for EnforceDeadlineLayer {
    type Service = EnforceDeadline<S>;
    fn layer(&self, inner: S) -> Self::Service {
        EnforceDeadline { inner, timeout: self.timeout }
    }
}

/// The service of [`EnforceDeadlineLayer`].
#[derive(Clone, Debug)]
pub struct EnforceDeadline<S> {
    inner: S,
    timeout: Option<Duration>,
}

impl EnforceDeadline<()> {
    /// [`EnforceDeadlineLayer::new`], tower-http style.
    pub fn layer(timeout: Duration) -> EnforceDeadlineLayer {
        EnforceDeadlineLayer::new(timeout)
    }
}

impl<S> EnforceDeadline<S> {
    throughline_core::inner_service_accessors!();
}

impl<S, Req> Service<Req> for EnforceDeadline<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    Req: ResilientRequest,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Req) -> Self::Future {
        let started = Instant::now();
        let own = self.timeout.map(|t| Deadline::at(started + t));
        let deadline = Deadline::earliest(own, request.deadline());
        let Some(deadline) = deadline else {
            return ResponseFuture::unlimited(self.inner.call(request), TimeoutScope::Deadline);
        };
        request.set_deadline(deadline);
        // A call that is already out of time is not started.
        let inner = (!deadline.is_expired()).then(|| self.inner.call(request));
        ResponseFuture::until(inner, deadline.instant(), TimeoutScope::Deadline, started)
    }
}
