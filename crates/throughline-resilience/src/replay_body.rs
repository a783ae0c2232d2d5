//! Retrying requests whose body is not `Clone`: buffer it, up to a limit.
//!
//! [`BufferBodyLayer`] reads the body of a request that retry may send again
//! (an idempotent method or an `Idempotency-Key`) into memory, up to `limit`
//! bytes, and hands the inner service a [`ReplayBody`] that can be replayed.
//! A body over the limit is streamed on as it is, with what was read put back
//! in front, and is simply not retried. A request that is not safe to retry is
//! never buffered.
//!
//! Put it outside the retry layer:
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full, combinators::BoxBody};
//! use throughline_resilience::ResilientRequest;
//! use throughline_resilience::replay_body::{ReplayBody, BufferBodyLayer};
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//!
//! type Body = BoxBody<Bytes, std::convert::Infallible>; // not `Clone`
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let mut client = ServiceBuilder::new()
//!     .layer(BufferBodyLayer::new(64 * 1024))
//!     // .layer(RetryLayer::new(policy)) goes here
//!     .service(service_fn(|request: http::Request<ReplayBody<Body>>| async move {
//!         assert!(request.try_clone().is_some(), "a small body is replayable");
//!         Ok::<_, std::io::Error>(request.into_body().collect().await.unwrap().to_bytes())
//!     }));
//! let body = Full::new(Bytes::from_static(b"{\"sku\":7}")).boxed();
//! let request = http::Request::put("http://inventory/items/7").body(body)?;
//! assert_eq!(client.ready().await?.call(request).await?, "{\"sku\":7}");
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http::request::Parts;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::classify::BoxError;
use crate::request::ReplayableBody;

pin_project! {
    /// A request body that retry can replay when it was buffered.
    pub struct ReplayBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        /// Read whole into memory: replayable.
        Buffered { data: Bytes, trailers: Option<HeaderMap>, data_sent: bool, trailers_sent: bool },
        /// Not buffered (the request is not retried): passed through.
        Streaming { #[pin] body: B },
        /// Over the limit: what was read, then the rest; not replayable.
        Overflowed { prefix: VecDeque<Frame<Bytes>>, body: Pin<Box<B>> },
    }
}

impl<B> ReplayBody<B> {
    /// A body that is passed through and never replayed.
    pub fn streaming(body: B) -> Self {
        Self { kind: Kind::Streaming { body } }
    }

    /// A replayable body of `data`.
    pub fn buffered(data: Bytes) -> Self {
        Self::buffered_with_trailers(data, None)
    }

    fn buffered_with_trailers(data: Bytes, trailers: Option<HeaderMap>) -> Self {
        Self { kind: Kind::Buffered { data, trailers, data_sent: false, trailers_sent: false } }
    }

    /// Whether the body can be replayed.
    pub fn is_replayable(&self) -> bool {
        matches!(self.kind, Kind::Buffered { .. })
    }
}

impl<B> ReplayableBody for ReplayBody<B> {
    fn try_replay(&self) -> Option<Self> {
        match &self.kind {
            Kind::Buffered { data, trailers, .. } => {
                Some(Self::buffered_with_trailers(data.clone(), trailers.clone()))
            }
            _ => None,
        }
    }
}

fn to_bytes<D: Buf>(frame: Frame<D>) -> Frame<Bytes> {
    frame.map_data(|mut data| data.copy_to_bytes(data.remaining()))
}

impl<B: Body> Body for ReplayBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProj::Buffered { data, trailers, data_sent, trailers_sent } => {
                if !*data_sent {
                    *data_sent = true;
                    if !data.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(data.clone()))));
                    }
                }
                if !*trailers_sent {
                    *trailers_sent = true;
                    if let Some(trailers) = trailers {
                        return Poll::Ready(Some(Ok(Frame::trailers(trailers.clone()))));
                    }
                }
                Poll::Ready(None)
            }
            KindProj::Streaming { body } => body.poll_frame(cx).map(|f| f.map(|f| f.map(to_bytes))),
            KindProj::Overflowed { prefix, body } => match prefix.pop_front() {
                Some(frame) => Poll::Ready(Some(Ok(frame))),
                None => body.as_mut().poll_frame(cx).map(|f| f.map(|f| f.map(to_bytes))),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Buffered { data, trailers, data_sent, trailers_sent } => {
                (*data_sent || data.is_empty()) && (*trailers_sent || trailers.is_none())
            }
            Kind::Streaming { body } => body.is_end_stream(),
            Kind::Overflowed { prefix, body } => prefix.is_empty() && body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Buffered { data, data_sent, .. } => {
                SizeHint::with_exact(if *data_sent { 0 } else { data.len() as u64 })
            }
            Kind::Streaming { body } => body.size_hint(),
            Kind::Overflowed { prefix, body } => {
                let read: u64 = prefix.iter().filter_map(Frame::data_ref).map(|d| d.len() as u64).sum();
                let rest = body.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower() + read);
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper + read);
                }
                hint
            }
        }
    }
}

/// Buffers replayable request bodies up to `limit` bytes; see the [module docs](self).
#[derive(Clone, Copy, Debug)]
pub struct BufferBodyLayer {
    limit: usize,
}

impl BufferBodyLayer {
    /// Buffers bodies of at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for BufferBodyLayer {
    type Service = BufferBody<S>;
    fn layer(&self, inner: S) -> Self::Service {
        BufferBody { inner, limit: self.limit }
    }
}

/// The service of [`BufferBodyLayer`].
#[derive(Clone, Debug)]
pub struct BufferBody<S> {
    inner: S,
    limit: usize,
}

impl BufferBody<()> {
    /// [`BufferBodyLayer::new`], tower-http style.
    pub fn layer(limit: usize) -> BufferBodyLayer {
        BufferBodyLayer::new(limit)
    }
}

impl<S> BufferBody<S> {
    throughline_core::inner_service_accessors!();
}

impl<S, B> Service<http::Request<B>> for BufferBody<S>
where
    S: Service<http::Request<ReplayBody<B>>> + Clone,
    S::Error: Into<BoxError>,
    B: Body,
    B::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let (parts, body) = request.into_parts();
        let retryable = crate::request::is_idempotent_method(&parts.method)
            || parts.headers.contains_key(crate::request::IDEMPOTENCY_KEY);
        let state = if body.is_end_stream() {
            State::Calling {
                call: self.inner.call(http::Request::from_parts(parts, ReplayBody::buffered(Bytes::new()))),
            }
        } else if !retryable || body.size_hint().lower() > self.limit as u64 {
            State::Calling {
                call: self.inner.call(http::Request::from_parts(parts, ReplayBody::streaming(body))),
            }
        } else {
            // The readied service waits with the request; a clone takes its place.
            let clone = self.inner.clone();
            let service = std::mem::replace(&mut self.inner, clone);
            State::Buffering {
                service: Some(service),
                parts: Some(parts),
                body: Some(Box::pin(body)),
                frames: VecDeque::new(),
                read: 0,
                limit: self.limit,
            }
        };
        ResponseFuture { state }
    }
}

pin_project! {
    /// The future of [`BufferBody`].
    pub struct ResponseFuture<S, B>
    where
        S: Service<http::Request<ReplayBody<B>>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<http::Request<ReplayBody<B>>>,
    {
        Buffering {
            service: Option<S>,
            parts: Option<Parts>,
            body: Option<Pin<Box<B>>>,
            frames: VecDeque<Frame<Bytes>>,
            read: usize,
            limit: usize,
        },
        Calling { #[pin] call: S::Future },
    }
}

impl<S, B> Future for ResponseFuture<S, B>
where
    S: Service<http::Request<ReplayBody<B>>>,
    S::Error: Into<BoxError>,
    B: Body,
    B::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { call } => return call.poll(cx).map_err(Into::into),
                StateProj::Buffering { service, parts, body, frames, read, limit } => {
                    let Some(stream) = body.as_mut() else {
                        return Poll::Ready(Err("replay body future polled after completion".into()));
                    };
                    let replay = match ready!(stream.as_mut().poll_frame(cx)) {
                        Some(Err(error)) => return Poll::Ready(Err(error.into())),
                        Some(Ok(frame)) => {
                            let frame = to_bytes(frame);
                            *read += frame.data_ref().map_or(0, Bytes::len);
                            frames.push_back(frame);
                            if *read <= *limit {
                                continue;
                            }
                            body.take().map(|rest| ReplayBody {
                                kind: Kind::Overflowed { prefix: std::mem::take(frames), body: rest },
                            })
                        }
                        None => Some(concatenate(std::mem::take(frames), *read)),
                    };
                    let (Some(mut service), Some(parts), Some(replay)) =
                        (service.take(), parts.take(), replay)
                    else {
                        return Poll::Ready(Err("replay body future polled after completion".into()));
                    };
                    let call = service.call(http::Request::from_parts(parts, replay));
                    this.state.set(State::Calling { call });
                }
            }
        }
    }
}

fn concatenate<B>(frames: VecDeque<Frame<Bytes>>, len: usize) -> ReplayBody<B> {
    let mut data = BytesMut::with_capacity(len);
    let mut trailers = None;
    for frame in frames {
        match frame.into_data() {
            Ok(chunk) => data.extend_from_slice(&chunk),
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    ReplayBody::buffered_with_trailers(data.freeze(), trailers)
}
