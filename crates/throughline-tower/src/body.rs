//! [`ObservedBody`]: a response body watched to its end. The one place that
//! decides when a response stream is over, for every layer: the HTTP server
//! and client here, throughline-tonic's gRPC layers.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// What watches a body until its end: a request or call in flight, which
/// ends its span and records its duration in [`on_end`](Self::on_end).
pub trait BodyObserver {
    /// Runs one poll of the body. An observer may wrap it: enter its span,
    /// make its deadline current (a gRPC server's streaming handler works
    /// while its response stream is polled).
    fn around_poll<R>(&mut self, poll: impl FnOnce() -> R) -> R {
        poll()
    }

    /// A frame arrived: data or trailers.
    fn on_frame<D: bytes::Buf>(&mut self, frame: &Frame<D>) {
        let _ = frame;
    }

    /// The body failed; it ends right after.
    fn on_error<E: fmt::Display>(&mut self, error: &E);

    /// The body is over: its last frame, an error, or nothing (more) to
    /// send when it was built or dropped. A body dropped before its end
    /// drops the observer instead, whose `Drop` records the abandonment.
    fn on_end(self);
}

pin_project! {
    /// `B`, watched by `O` until its end (see [`BodyObserver`]).
    pub struct ObservedBody<B, O>
    where
        B: Body,
        O: BodyObserver,
    {
        #[pin]
        inner: B,
        observer: Option<O>,
    }

    impl<B, O> PinnedDrop for ObservedBody<B, O>
    where
        B: Body,
        O: BodyObserver,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // A body with nothing more to send may never be polled to its end.
            if let Some(observer) = this.observer.take()
                && this.inner.is_end_stream()
            {
                observer.on_end();
            }
        }
    }
}

impl<B: Body, O: BodyObserver> ObservedBody<B, O> {
    /// Watches `inner` with `observer`; `None` watches nothing. An empty
    /// body ends now: it may never be polled.
    pub fn new(inner: B, mut observer: Option<O>) -> Self {
        if inner.is_end_stream()
            && let Some(observer) = observer.take()
        {
            observer.on_end();
        }
        Self { inner, observer }
    }

    /// Whether the body is still watched.
    pub fn is_observed(&self) -> bool {
        self.observer.is_some()
    }
}

impl<B, O> Body for ObservedBody<B, O>
where
    B: Body,
    B::Error: fmt::Display,
    O: BodyObserver,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        let Some(observer) = this.observer.as_mut() else { return this.inner.poll_frame(cx) };
        let inner = this.inner.as_mut();
        let polled = observer.around_poll(|| inner.poll_frame(cx));
        match &polled {
            Poll::Pending => return polled,
            Poll::Ready(Some(Ok(frame))) => {
                observer.on_frame(frame);
                if !this.inner.is_end_stream() {
                    return polled;
                }
            }
            Poll::Ready(Some(Err(error))) => observer.on_error(error),
            Poll::Ready(None) => {}
        }
        if let Some(observer) = this.observer.take() {
            observer.on_end();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body, O: BodyObserver> fmt::Debug for ObservedBody<B, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObservedBody").field("observed", &self.observer.is_some()).finish_non_exhaustive()
    }
}
