//! [`ResponseBody`]: the client span ends with the body's last frame.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::call::ClientCall;
use crate::body::{BodyObserver, ObservedBody};
use crate::semconv::error_type_of;

pin_project! {
    /// The response body of [`HttpClient`](super::HttpClient): the inner
    /// body, watched for its end. The call ends with the last frame, an
    /// error, or when the body is dropped; a body dropped early is not an
    /// error on a client (the caller had what it needed).
    pub struct ResponseBody<B>
    where
        B: Body,
    {
        #[pin]
        inner: ObservedBody<B, ClientCall>,
    }
}

impl<B: Body> ResponseBody<B> {
    pub(crate) fn new(inner: B, call: Option<ClientCall>) -> Self {
        Self { inner: ObservedBody::new(inner, call) }
    }
}

impl BodyObserver for ClientCall {
    fn on_error<E: std::fmt::Display>(&mut self, error: &E) {
        ClientCall::on_error(self, error_type_of::<E>(), error);
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
        f.debug_struct("ResponseBody").field("call", &self.inner.is_observed()).finish_non_exhaustive()
    }
}
