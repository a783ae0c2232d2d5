//! [`GrpcBody`]: the call ends with the response stream, where gRPC puts
//! its status.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use throughline_tower::body::{BodyObserver, ObservedBody};
use throughline_tower::semconv::Role;

use crate::call::Call;
use crate::deadline;

pin_project! {
    /// The response body of both layers: the inner body, watched for the
    /// trailers that carry the status and for its end. The call ends at the
    /// last frame (or when the body reports its end); a body dropped before
    /// that ends the call `CANCELLED`, unless its status was already known
    /// from a trailers-only response.
    pub struct GrpcBody<B>
    where
        B: Body,
    {
        #[pin]
        inner: ObservedBody<B, Call>,
    }
}

impl<B: Body> GrpcBody<B> {
    pub(crate) fn new(inner: B, call: Option<Call>) -> Self {
        Self { inner: ObservedBody::new(inner, call) }
    }
}

impl BodyObserver for Call {
    fn around_poll<R>(&mut self, poll: impl FnOnce() -> R) -> R {
        if self.role() == Role::Server {
            // A streaming handler's work happens here, as the stream is
            // polled: inside its span, with its deadline current.
            let _entered = self.enter();
            deadline::sync_scope(self.deadline(), poll)
        } else {
            poll()
        }
    }

    fn on_frame<D: Buf>(&mut self, frame: &Frame<D>) {
        if let Some(trailers) = frame.trailers_ref() {
            self.on_trailers(trailers);
        }
    }

    fn on_error<E: std::fmt::Display>(&mut self, error: &E) {
        Call::on_error(self, error);
    }

    fn on_end(self) {
        self.end_of_stream();
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
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body> std::fmt::Debug for GrpcBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcBody").field("in_flight", &self.inner.is_observed()).finish_non_exhaustive()
    }
}
