//! [`GrpcBody`]: the call ends with the response stream, where gRPC puts
//! its status.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use throughline_tower::semconv::Role;

use crate::call::Call;
use crate::deadline;

pin_project! {
    /// The response body of both layers: the inner body, watched for the
    /// trailers that carry the status and for its end. The call ends at the
    /// last frame (or when the body reports its end); a body dropped before
    /// that ends the call `CANCELLED`, unless its status was already known
    /// from a trailers-only response.
    pub struct GrpcBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
    }

    impl<B> PinnedDrop for GrpcBody<B> {
        fn drop(this: Pin<&mut Self>) {
            // Dropping `Call` records the abandoned stream, or the status a
            // trailers-only response already gave.
            drop(this.project().call.take());
        }
    }
}

impl<B> GrpcBody<B> {
    pub(crate) fn new(inner: B, call: Option<Call>) -> Self {
        Self { inner, call }
    }
}

impl<B> Body for GrpcBody<B>
where
    B: Body,
    B::Error: std::fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        let Some(call) = this.call.as_mut() else { return this.inner.poll_frame(cx) };
        let polled = if call.role() == Role::Server {
            // A streaming handler's work happens here, as the stream is
            // polled: inside its span, with its deadline current.
            let _entered = call.span().enter();
            let inner = this.inner.as_mut();
            deadline::sync_scope(call.deadline(), || inner.poll_frame(cx))
        } else {
            this.inner.as_mut().poll_frame(cx)
        };
        match &polled {
            Poll::Pending => return polled,
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    call.on_trailers(trailers);
                }
                if !this.inner.is_end_stream() {
                    return polled;
                }
            }
            Poll::Ready(Some(Err(error))) => call.on_error(error),
            Poll::Ready(None) => {}
        }
        if let Some(call) = this.call.take() {
            call.end_of_stream();
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

impl<B> std::fmt::Debug for GrpcBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcBody").field("in_flight", &self.call.is_some()).finish_non_exhaustive()
    }
}
