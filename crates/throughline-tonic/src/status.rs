//! A unary call's status where resilience classifiers see it (feature
//! `resilience`).
//!
//! A breaker or a limiter classifies a call when its response future
//! resolves, from the response headers: that is all of a trailers-only
//! response (how a server fails a call before any message), but a server
//! that sent its headers first puts the status in the trailers, after the
//! message. [`UnaryStatusLayer`] reads the whole response of the unary
//! methods it is given (one message and the trailers, what tonic waits for
//! anyway) before resolving, and puts a status found in the trailers in the
//! response's extensions as [`TrailersStatus`], which
//! [`GrpcClassifier`](throughline_resilience::GrpcClassifier) reads: counted
//! by the breaker, never retried (the call was committed). The response goes
//! on unchanged. A response over the size bound is passed on as it is, its
//! status unread.
//!
//! Put it under the layers that classify:
//!
//! ```
//! use throughline_resilience::GrpcClassifier;
//! use throughline_resilience::circuit_breaker::{BreakerConfig, CircuitBreakerLayer};
//! use throughline_tonic::status::UnaryStatusLayer;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let breaker = BreakerConfig::new("echo").build()?;
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
//! let service = tower::ServiceBuilder::new()
//!     .layer(CircuitBreakerLayer::new(breaker, GrpcClassifier))
//!     .layer(UnaryStatusLayer::new(["/throughline.test.v1.Echo/Unary"]))
//!     .service(channel);
//! # let _ = service; Ok(()) }
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use http::response::Parts;
use http::{Request, Response};
use http_body::{Body as _, Frame};
use pin_project_lite::pin_project;
use throughline_core::{GrpcCode, TrailersStatus};
use throughline_resilience::hedge::SafeMethods;
use tonic::body::Body;
use tower_layer::Layer;
use tower_service::Service;

use crate::unary::Prefixed;

/// Reads the whole response of the unary methods it names, so that a status
/// in the trailers is known when the response future resolves; see the
/// [module docs](self).
#[derive(Clone, Debug)]
pub struct UnaryStatusLayer {
    methods: SafeMethods,
    max_bytes: usize,
}

impl UnaryStatusLayer {
    /// For the unary `methods` (`/package.Service/Method`, or
    /// `/package.Service/` for every method of a service); responses of up
    /// to 4 MiB, tonic's default message limit.
    pub fn new<I>(methods: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self { methods: SafeMethods::new(methods), max_bytes: 4 * 1024 * 1024 }
    }

    /// The largest response read whole; a larger one goes on as it is.
    pub fn max_bytes(mut self, limit: usize) -> Self {
        self.max_bytes = limit;
        self
    }
}

impl<S> Layer<S> for UnaryStatusLayer {
    type Service = UnaryStatus<S>;

    fn layer(&self, inner: S) -> Self::Service {
        UnaryStatus { inner, layer: self.clone() }
    }
}

/// The service of [`UnaryStatusLayer`].
#[derive(Clone, Debug)]
pub struct UnaryStatus<S> {
    inner: S,
    layer: UnaryStatusLayer,
}

impl UnaryStatus<()> {
    /// [`UnaryStatusLayer::new`], tower-http style.
    pub fn layer<I>(methods: I) -> UnaryStatusLayer
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        UnaryStatusLayer::new(methods)
    }
}

impl<S> UnaryStatus<S> {
    throughline_core::inner_service_accessors!();
}

impl<S, ReqBody> Service<Request<ReqBody>> for UnaryStatus<S>
where
    S: Service<Request<ReqBody>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let read = self.layer.methods.contains(request.uri().path()).then_some(self.layer.max_bytes);
        ResponseFuture { state: State::Calling { call: self.inner.call(request), read } }
    }
}

pin_project! {
    /// The future of [`UnaryStatus`].
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Calling { #[pin] call: F, read: Option<usize> },
        Reading { head: Option<Parts>, body: Body, frames: VecDeque<Result<Frame<Bytes>, tonic::Status>>, left: usize },
        Done,
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project().state.project() {
                StateProj::Calling { call, read } => {
                    let response = ready!(call.poll(cx))?;
                    let Some(left) = *read else {
                        self.set(Self { state: State::Done });
                        return Poll::Ready(Ok(response));
                    };
                    // A trailers-only response says it all in its headers.
                    if GrpcCode::from_headers(response.headers()).is_some() {
                        self.set(Self { state: State::Done });
                        return Poll::Ready(Ok(response));
                    }
                    let (head, body) = response.into_parts();
                    let state = State::Reading { head: Some(head), body, frames: VecDeque::new(), left };
                    self.set(Self { state });
                }
                StateProj::Reading { head, body, frames, left } => {
                    let frame = ready!(Pin::new(&mut *body).poll_frame(cx));
                    let status = match &frame {
                        None => None,
                        Some(Ok(frame)) => frame.trailers_ref().and_then(GrpcCode::from_headers),
                        Some(Err(_)) => None,
                    };
                    let size = frame.as_ref().and_then(|f| f.as_ref().ok()?.data_ref().map(Buf::remaining));
                    let over = size.is_some_and(|size| size > *left);
                    *left = left.saturating_sub(size.unwrap_or(0));
                    let ended = frame.is_none() || status.is_some() || matches!(frame, Some(Err(_)));
                    if let Some(frame) = frame {
                        frames.push_back(frame.map(|f| f.map_data(|mut d| d.copy_to_bytes(d.remaining()))));
                    }
                    if ended || over {
                        let mut head = head.take().expect("the head is taken once");
                        if let Some(code) = status {
                            head.extensions.insert(TrailersStatus(code));
                        }
                        let rest = std::mem::take(body);
                        let body = Body::new(Prefixed { read: std::mem::take(frames), rest });
                        self.set(Self { state: State::Done });
                        return Poll::Ready(Ok(Response::from_parts(head, body)));
                    }
                }
                StateProj::Done => panic!("UnaryStatus's future polled after completion"),
            }
        }
    }
}
