//! What the HTTP and gRPC rejection layers share: the future that turns the
//! crate's rejections into responses, each layer saying how it answers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use crate::classify::BoxError;
use crate::error::RejectionStatus;

/// How a server layer answers one of the crate's rejections: implemented by
/// [`HttpRejectionLayer`](crate::http_rejection::HttpRejectionLayer) and
/// [`GrpcRejectionLayer`](crate::grpc_rejection::GrpcRejectionLayer).
pub trait Answer: Copy {
    /// The response to `error`, whose status `RejectionStatus::of` gave.
    fn answer<B: Default>(&self, status: RejectionStatus, error: &BoxError) -> http::Response<B>;
}

pin_project! {
    /// The future of [`HttpRejection`](crate::http_rejection::HttpRejection)
    /// and [`GrpcRejection`](crate::grpc_rejection::GrpcRejection): the
    /// inner service's, with the crate's rejections answered and every other
    /// error passed on.
    pub struct ResponseFuture<F, A> {
        #[pin]
        inner: F,
        answer: A,
    }
}

impl<F, A> ResponseFuture<F, A> {
    pub(crate) fn new(inner: F, answer: A) -> Self {
        Self { inner, answer }
    }
}

impl<F, A, B, E> Future for ResponseFuture<F, A>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: Into<BoxError>,
    A: Answer,
    B: Default,
{
    type Output = Result<http::Response<B>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let error = match ready!(this.inner.poll(cx)) {
            Ok(response) => return Poll::Ready(Ok(response)),
            Err(error) => error.into(),
        };
        Poll::Ready(match RejectionStatus::of(error.as_ref()) {
            Some(status) => Ok(this.answer.answer(status, &error)),
            None => Err(error),
        })
    }
}
