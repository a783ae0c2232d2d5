//! [`ResponseFuture`]: waits for the response head of a call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use crate::body::GrpcBody;
use crate::call::Call;
use crate::deadline;

pin_project! {
    /// The response future of both layers. Polls the inner future inside
    /// the call's span (and, on the server, with the call's deadline
    /// current, so the handler's spans are children and its outgoing calls
    /// inherit the deadline), then hands the call on to the [`GrpcBody`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        call: Option<Call>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, call: Option<Call>) -> Self {
        Self { inner, call }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: std::fmt::Display,
    B: http_body::Body,
{
    type Output = Result<Response<GrpcBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = match this.call.as_ref() {
            Some(call) => {
                let _entered = call.enter();
                let inner = this.inner;
                match deadline::sync_scope(call.deadline(), || inner.poll(cx)) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(output) => output,
                }
            }
            None => match this.inner.poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(output) => output,
            },
        };
        let mut call = this.call.take();
        match output {
            Ok(response) => {
                if let Some(call) = &mut call {
                    call.on_head(response.status(), response.headers());
                }
                Poll::Ready(Ok(response.map(|body| GrpcBody::new(body, call))))
            }
            Err(error) => {
                if let Some(mut call) = call {
                    call.on_error(&error);
                    call.finish();
                }
                Poll::Ready(Err(error))
            }
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").field("in_flight", &self.call.is_some()).finish_non_exhaustive()
    }
}
