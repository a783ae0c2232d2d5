//! [`HttpServer`]: the middleware service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::request::Parts;
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use super::body::ResponseBody;
use super::filter::Record;
use super::future::ResponseFuture;
use super::in_flight::InFlight;
use super::layer::Config;

/// The service [`HttpServerLayer`](super::HttpServerLayer) wraps around
/// `S`: any HTTP service, whatever its body types and errors.
#[derive(Clone)]
pub struct HttpServer<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for HttpServer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<S> HttpServer<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        Self { inner, config }
    }

    throughline_core::inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpServer<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: std::fmt::Display,
    ReqBody: Body,
    ResBody: Body,
    ResBody::Error: std::fmt::Display,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        // Decided once, when first needed: a policy may be a caller's predicate.
        let trust = std::cell::OnceCell::new();
        let decide = |parts: &Parts| *trust.get_or_init(|| self.config.trust.decide(parts));
        let deadline = self.config.deadlines.of(&parts, || decide(&parts));
        if let Some(deadline) = deadline {
            parts.extensions.insert(deadline);
        }
        let record = self.config.filter.as_ref().map_or(Record::EVERYTHING, |filter| filter(&parts));
        let in_flight = (record != Record::NOTHING).then(|| {
            let mut in_flight = InFlight::start(self.config.clone(), &parts, record, decide(&parts));
            in_flight.request_body_size(known_size(&body, &parts));
            in_flight
        });
        if deadline.is_some_and(|deadline| deadline.is_expired()) {
            // The caller has given up by now: no work is started for it.
            return ResponseFuture::expired(in_flight);
        }
        // Not entered around `call`: services do their work in the future,
        // which is polled inside the span, and an enter costs as much as the
        // rest of the sampled-out path.
        let future = self.inner.call(Request::from_parts(parts, body));
        ResponseFuture::new(future, in_flight, self.config.catch_panic, deadline)
    }
}

/// The size of a request body when its length is known up front: from the
/// body itself, or its `Content-Length`. A streamed body of unknown length
/// is not counted, so the inner service gets the request body untouched.
fn known_size<B: Body>(body: &B, parts: &Parts) -> Option<u64> {
    body.size_hint()
        .exact()
        .or_else(|| parts.headers.get(http::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok())
}
