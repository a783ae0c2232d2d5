//! What retry and hedging need from a unary call: its one message read
//! whole, without waiting, so that the call can be sent again; and the
//! service that sends each attempt as a tonic request. A streaming request,
//! whose body would make the call wait for the application, is left as it
//! is and never sent twice.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderValue, Request};
use http_body::{Body as _, Frame};
use pin_project_lite::pin_project;
use throughline_core::{Deadline, ResendCount};
use throughline_resilience::ResilientRequest;
use throughline_resilience::classify::BoxError;
use tonic::body::Body;
use tower_service::Service;

use crate::retry::PREVIOUS_RPC_ATTEMPTS;

/// A unary call's request, its one message held whole so that it can be sent
/// again. Its method is in the policy, which is what makes it safe to resend.
#[derive(Debug)]
pub(crate) struct UnaryCall(pub(crate) Request<Bytes>);

/// A call that may be sent again, or the request to send once as it is.
pub(crate) enum Unary {
    /// The call's one message was read whole: replayable.
    Replayable(UnaryCall),
    /// A streaming (or too large) request, whatever was read put back in front.
    Once(Request<Body>),
}

impl Unary {
    /// Reads `request`'s body as far as it goes without waiting, up to
    /// `limit` bytes. A replayable call carries the deadline it inherits
    /// (see [`crate::deadline::inherited`]), where the retry and hedge
    /// layers read it.
    pub(crate) fn read(request: Request<Body>, limit: usize) -> Self {
        let (parts, body) = request.into_parts();
        match read_ready(body, limit) {
            Read::Whole(message) => {
                let mut call = UnaryCall(Request::from_parts(parts, message));
                if let Some(deadline) = crate::deadline::inherited(&call.0) {
                    call.set_deadline(deadline);
                }
                Self::Replayable(call)
            }
            Read::Partly(body) => Self::Once(Request::from_parts(parts, Body::new(body))),
        }
    }
}

/// How the retry and hedge layers send a call.
pub(crate) enum Sending<S> {
    /// A unary call read whole, with the readied service for its attempts.
    Attempts(Attempts<S>, UnaryCall),
    /// The request, to send once as it is.
    Once(Request<Body>),
}

impl<S: Clone> Sending<S> {
    /// Reads `request` as [`Unary::read`] does; a replayable call takes the
    /// readied `service`, and a clone takes its place.
    pub(crate) fn of(service: &mut S, request: Request<Body>, limit: usize) -> Self {
        match Unary::read(request, limit) {
            Unary::Replayable(call) => {
                let clone = service.clone();
                Self::Attempts(Attempts { inner: std::mem::replace(service, clone) }, call)
            }
            Unary::Once(request) => Self::Once(request),
        }
    }
}

/// The largest request the retry and hedge layers keep for another attempt
/// by default: a larger one is sent once.
pub(crate) const DEFAULT_MAX_BUFFERED_BYTES: usize = 64 * 1024;

pin_project! {
    /// A call's future: sent once as it is, or through the retry or hedge
    /// of its attempts.
    #[project = OnceOrRepeatedProj]
    pub(crate) enum OnceOrRepeated<D, R> {
        Once { #[pin] future: D },
        Repeated { #[pin] future: R },
    }
}

impl<D, R, T, E> Future for OnceOrRepeated<D, R>
where
    D: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    R: Future<Output = Result<T, BoxError>>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            OnceOrRepeatedProj::Once { future } => Poll::Ready(ready!(future.poll(cx)).map_err(Into::into)),
            OnceOrRepeatedProj::Repeated { future } => future.poll(cx),
        }
    }
}

/// An HTTP request as throughline-resilience copies it, but not `IS_HTTP`
/// (no HTTP idempotency rules: the policy names the methods), and each
/// resend counted in `grpc-previous-rpc-attempts` too.
impl ResilientRequest for UnaryCall {
    fn try_clone(&self) -> Option<Self> {
        self.0.try_clone().map(Self)
    }

    fn deadline(&self) -> Option<Deadline> {
        self.0.deadline()
    }

    fn set_deadline(&mut self, deadline: Deadline) {
        self.0.set_deadline(deadline);
    }

    fn set_resend_count(&mut self, resends: u32) {
        if resends > 0 {
            self.0.extensions_mut().insert(ResendCount(resends));
            self.0.headers_mut().insert(PREVIOUS_RPC_ATTEMPTS, HeaderValue::from(resends));
        }
    }
}

/// Sends each attempt of a [`UnaryCall`] as a tonic request.
#[derive(Clone, Debug)]
pub(crate) struct Attempts<S> {
    pub(crate) inner: S,
}

impl<S> Service<UnaryCall> for Attempts<S>
where
    S: Service<Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, UnaryCall(request): UnaryCall) -> Self::Future {
        self.inner.call(request.map(|message| Body::new(http_body_util::Full::new(message))))
    }
}

/// A request body read as far as it goes without waiting.
enum Read {
    /// The body ended within the limit: a unary call's one message.
    Whole(Bytes),
    /// The body would have made the call wait (a stream), carried trailers or
    /// passed the limit: what was read, then the rest.
    Partly(Prefixed),
}

/// Reads the frames `body` has ready, with a waker that is never woken: a
/// unary call's body (tonic encodes its message when polled) ends at once,
/// while a streaming body would wait for the application, and is then sent
/// as it is, never buffered.
fn read_ready(mut body: Body, limit: usize) -> Read {
    let mut cx = Context::from_waker(Waker::noop());
    let mut message = BytesMut::new();
    loop {
        match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(None) => return Read::Whole(message.freeze()),
            Poll::Ready(Some(Ok(frame))) if frame.is_data() => {
                let Ok(mut data) = frame.into_data() else { unreachable!("a data frame") };
                if message.len() + data.remaining() > limit {
                    let data = data.copy_to_bytes(data.remaining());
                    return Read::Partly(Prefixed::new(message, [Ok(Frame::data(data))], body));
                }
                message.extend_from_slice(&data);
            }
            Poll::Ready(Some(other)) => return Read::Partly(Prefixed::new(message, [other], body)),
            Poll::Pending => return Read::Partly(Prefixed::new(message, [], body)),
        }
    }
}

/// A body whose first frames were already read.
pub(crate) struct Prefixed {
    pub(crate) read: VecDeque<Result<Frame<Bytes>, tonic::Status>>,
    pub(crate) rest: Body,
}

impl Prefixed {
    /// `message` (what was read whole), then `next` (a frame read after it), then `rest`.
    fn new<const N: usize>(
        message: BytesMut,
        next: [Result<Frame<Bytes>, tonic::Status>; N],
        rest: Body,
    ) -> Self {
        let message = (!message.is_empty()).then(|| Ok(Frame::data(message.freeze())));
        Self { read: message.into_iter().chain(next).collect(), rest }
    }
}

impl http_body::Body for Prefixed {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(frame) = self.read.pop_front() {
            return Poll::Ready(Some(frame));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.read.is_empty() && self.rest.is_end_stream()
    }
}
