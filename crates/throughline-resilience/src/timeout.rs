//! The per-attempt timeout: one slow attempt must not use the whole deadline.
//!
//! It fails the attempt with [`TimedOut`](crate::TimedOut) (scope `Attempt`), which retry
//! treats as retryable and the breaker counts as a failure. It also writes the
//! tighter of the call's [`Deadline`] and its own into the request, so the
//! callee is told the attempt's budget, not the call's.
//!
//! ```
//! use std::time::Duration;
//! use throughline_resilience::timeout::TimeoutLayer;
//! use throughline_resilience::{Deadline, TimedOut};
//! use tower::{Service, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let mut slow = TimeoutLayer::new(Duration::from_millis(100)).layer_service(service_fn(|request: http::Request<()>| async move {
//!     assert!(request.extensions().get::<Deadline>().is_some(), "the callee sees the budget");
//!     tokio::time::sleep(Duration::from_secs(1)).await;
//!     Ok::<_, std::io::Error>(())
//! }));
//! let error = slow.ready().await.unwrap().call(http::Request::new(())).await.unwrap_err();
//! assert!(error.is::<TimedOut>());
//! # }
//! ```

use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

use crate::classify::BoxError;
use crate::deadline::Deadline;
use crate::error::TimeoutScope;
use crate::request::ResilientRequest;
pub use crate::time_limit::ResponseFuture;

/// Fails an attempt that takes longer than `timeout`.
#[derive(Clone, Copy, Debug)]
pub struct TimeoutLayer {
    timeout: Option<Duration>,
}

impl TimeoutLayer {
    /// Each attempt gets at most `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self::optional(Some(timeout))
    }

    /// Each attempt gets at most `timeout`, or has no timeout if `None` (a policy without one).
    pub fn optional(timeout: Option<Duration>) -> Self {
        Self { timeout }
    }

    /// Wraps `service`; the same as [`Layer::layer`], named for use without tower's traits in scope.
    pub fn layer_service<S>(&self, service: S) -> Timeout<S> {
        self.layer(service)
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Timeout { inner, timeout: self.timeout }
    }
}

/// The service of [`TimeoutLayer`].
#[derive(Clone, Debug)]
pub struct Timeout<S> {
    inner: S,
    timeout: Option<Duration>,
}

impl Timeout<()> {
    /// [`TimeoutLayer::new`], tower-http style.
    pub fn layer(timeout: Duration) -> TimeoutLayer {
        TimeoutLayer::new(timeout)
    }
}

impl<S> Timeout<S> {
    throughline_core::inner_service_accessors!();
}

impl<S, Req> Service<Req> for Timeout<S>
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
        let Some(timeout) = self.timeout else {
            return ResponseFuture::unlimited(self.inner.call(request), TimeoutScope::Attempt);
        };
        let started = Instant::now();
        let own = Deadline::at(started + timeout);
        request.set_deadline(request.deadline().map_or(own, |call| call.min(own)));
        ResponseFuture::until(Some(self.inner.call(request)), own.instant(), TimeoutScope::Attempt, started)
    }
}
