//! [`ResponseFuture`]: waits for the response head inside the client span.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;

use super::body::ResponseBody;
use super::call::ClientCall;
use super::error::error_kind;
use crate::semconv::error_type_of;

pin_project! {
    /// The response future of [`HttpClient`](super::HttpClient).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        call: Option<ClientCall>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, call: ClientCall) -> Self {
        Self { inner, call: Some(call) }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: std::error::Error + 'static,
    B: http_body::Body,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = {
            let _entered = this.call.as_ref().map(ClientCall::enter);
            ready!(this.inner.poll(cx))
        };
        let mut call = this.call.take();
        Poll::Ready(match output {
            Ok(response) => {
                if let Some(call) = &mut call {
                    call.on_response(response.status(), response.version());
                }
                Ok(response.map(|body| ResponseBody::new(body, call)))
            }
            Err(error) => {
                if let Some(mut call) = call {
                    let kind = error_kind(&error).unwrap_or_else(error_type_of::<E>);
                    call.on_error(kind, &error);
                    call.finish();
                }
                Err(error)
            }
        })
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").field("call", &self.call).finish_non_exhaustive()
    }
}
