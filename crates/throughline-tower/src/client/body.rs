//! [`ResponseBody`]: the client span ends with the body's last frame.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::call::ClientCall;
use crate::semconv::error_type_of;

pin_project! {
    /// The response body of [`HttpClient`](super::HttpClient): the inner
    /// body, watched for its end. The call ends with the last frame, an
    /// error, or when the body is dropped; a body dropped early is not an
    /// error on a client (the caller had what it needed).
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        call: Option<ClientCall>,
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B, mut call: Option<ClientCall>) -> Self
    where
        B: Body,
    {
        // An empty body may never be polled: the call ends now.
        if inner.is_end_stream()
            && let Some(call) = call.take()
        {
            call.finish();
        }
        Self { inner, call }
    }

    /// The wrapped body, unwrapped; the call ends now.
    pub fn into_inner(self) -> B {
        self.inner
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
        let polled = this.inner.as_mut().poll_frame(cx);
        if this.call.is_none() {
            return polled;
        }
        let ended = match &polled {
            Poll::Pending => false,
            Poll::Ready(Some(Ok(_))) => this.inner.is_end_stream(),
            Poll::Ready(Some(Err(error))) => {
                if let Some(call) = this.call.as_mut() {
                    call.on_error(error_type_of::<B::Error>(), error);
                }
                true
            }
            Poll::Ready(None) => true,
        };
        if ended && let Some(call) = this.call.take() {
            call.finish();
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

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody").field("call", &self.call).finish_non_exhaustive()
    }
}
