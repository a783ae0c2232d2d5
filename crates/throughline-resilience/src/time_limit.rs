//! [`ResponseFuture`]: a call that fails with [`TimedOut`] when its time is
//! up. The one timer future of [`EnforceDeadline`](crate::deadline::EnforceDeadline)
//! (the whole call) and [`Timeout`](crate::timeout::Timeout) (one attempt).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::classify::BoxError;
use crate::error::{TimedOut, TimeoutScope};

pin_project! {
    /// The future of a call with a time limit: the inner future, raced
    /// against a timer. Fails with [`TimedOut`] of its scope, and the time
    /// the call ran, when the timer fires first.
    pub struct ResponseFuture<F> {
        // `None` for a call not started: out of time before it began.
        #[pin]
        inner: Option<F>,
        // `None` for a call without a limit.
        #[pin]
        sleep: Option<Sleep>,
        scope: TimeoutScope,
        started: Instant,
    }
}

impl<F> ResponseFuture<F> {
    /// `inner` with no limit.
    pub(crate) fn unlimited(inner: F, scope: TimeoutScope) -> Self {
        Self { inner: Some(inner), sleep: None, scope, started: Instant::now() }
    }

    /// `inner` (if it was started) limited to the instant `until`.
    pub(crate) fn until(inner: Option<F>, until: Instant, scope: TimeoutScope, started: Instant) -> Self {
        Self { inner, sleep: Some(tokio::time::sleep_until(until)), scope, started }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(inner) = this.inner.as_pin_mut()
            && let Poll::Ready(result) = inner.poll(cx)
        {
            return Poll::Ready(result.map_err(Into::into));
        }
        match this.sleep.as_pin_mut().map(|sleep| sleep.poll(cx)) {
            Some(Poll::Ready(())) => {
                Poll::Ready(Err(TimedOut::new(*this.scope, this.started.elapsed()).into()))
            }
            _ => Poll::Pending,
        }
    }
}
