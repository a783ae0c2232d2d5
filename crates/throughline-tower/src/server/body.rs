//! [`ResponseBody`]: the span and the duration end with the body's last frame.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::in_flight::InFlight;
use crate::body::{BodyObserver, ObservedBody};

pin_project! {
    /// The response body of [`HttpServer`](super::HttpServer): the inner body,
    /// counted and watched for its end. The request ends when the last frame
    /// has been handed to the server (or the body reports its end); a body
    /// dropped before that ends the request as abandoned.
    pub struct ResponseBody<B>
    where
        B: Body,
    {
        #[pin]
        inner: ObservedBody<MaybeEmpty<B>, InFlight>,
    }
}

impl<B: Body> ResponseBody<B> {
    pub(crate) fn new(body: B, in_flight: Option<InFlight>) -> Self {
        Self { inner: ObservedBody::new(MaybeEmpty::Body { body }, in_flight) }
    }

    /// The body of a response the layer answers itself: the 500 for a caught
    /// panic, the 504 for a spent deadline.
    pub(crate) fn empty(in_flight: Option<InFlight>) -> Self {
        Self { inner: ObservedBody::new(MaybeEmpty::Empty, in_flight) }
    }
}

impl BodyObserver for InFlight {
    fn on_frame<D: Buf>(&mut self, frame: &Frame<D>) {
        if let Some(data) = frame.data_ref() {
            self.on_data(data.remaining());
        }
    }

    fn on_error<E: std::fmt::Display>(&mut self, error: &E) {
        InFlight::on_error(self, error);
    }

    fn on_end(self) {
        self.finish();
    }
}

impl<B> Body for ResponseBody<B>
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

impl<B: Body> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody").field("in_flight", &self.inner.is_observed()).finish_non_exhaustive()
    }
}

pin_project! {
    /// The inner body, or none at all.
    #[project = MaybeEmptyProj]
    enum MaybeEmpty<B> {
        Body { #[pin] body: B },
        Empty,
    }
}

impl<B: Body> Body for MaybeEmpty<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        match self.project() {
            MaybeEmptyProj::Body { body } => body.poll_frame(cx),
            MaybeEmptyProj::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Body { body } => body.is_end_stream(),
            Self::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Body { body } => body.size_hint(),
            Self::Empty => SizeHint::with_exact(0),
        }
    }
}
