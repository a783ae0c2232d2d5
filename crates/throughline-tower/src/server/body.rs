//! [`ResponseBody`]: the span and the duration end with the body's last frame.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::in_flight::InFlight;

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
        inner: Inner<B>,
        in_flight: Option<InFlight>,
    }

    impl<B> PinnedDrop for ResponseBody<B>
    where
        B: Body,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // A body with nothing (more) to send is never polled to its end;
            // otherwise dropping `InFlight` records the abandoned body.
            if let Some(in_flight) = this.in_flight.take()
                && this.inner.is_end_stream()
            {
                in_flight.finish();
            }
        }
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner<B> {
        Body { #[pin] body: B },
        // The 500 that answers a caught panic.
        Empty,
    }
}

impl<B: Body> Inner<B> {
    fn is_end_stream(&self) -> bool {
        match self {
            Self::Body { body } => body.is_end_stream(),
            Self::Empty => true,
        }
    }
}

impl<B: Body> ResponseBody<B> {
    pub(crate) fn new(body: B, in_flight: Option<InFlight>) -> Self {
        Self { inner: Inner::Body { body }, in_flight }
    }

    pub(crate) fn empty(in_flight: Option<InFlight>) -> Self {
        Self { inner: Inner::Empty, in_flight }
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
        let mut this = self.project();
        let polled = match this.inner.as_mut().project() {
            InnerProj::Body { body } => body.poll_frame(cx),
            InnerProj::Empty => Poll::Ready(None),
        };
        let Some(in_flight) = this.in_flight.as_mut() else { return polled };
        match &polled {
            Poll::Pending => return polled,
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    in_flight.on_data(data.remaining());
                }
                if !this.inner.is_end_stream() {
                    return polled;
                }
            }
            Poll::Ready(Some(Err(error))) => in_flight.on_error(error),
            Poll::Ready(None) => {}
        }
        if let Some(in_flight) = this.in_flight.take() {
            in_flight.finish();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Body { body } => body.size_hint(),
            Inner::Empty => SizeHint::with_exact(0),
        }
    }
}

impl<B: Body> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody").field("in_flight", &self.in_flight.is_some()).finish_non_exhaustive()
    }
}
