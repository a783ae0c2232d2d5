//! [`HttpClientLayer`] and its service, [`HttpClient`].

use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::body::ResponseBody;
use super::future::ResponseFuture;
use super::instrumentation::ClientInstrumentation;
use super::request::ClientRequest;

/// A tower [`Layer`] that makes every request of an HTTP client a client
/// span, injects the context into its headers and records
/// `http.client.request.duration` and `http.client.active_requests`, with hyper-util's client or any
/// `Service<http::Request<B>, Response = http::Response<B2>>`.
///
/// The span ends when the response body ends (or is dropped), so its
/// duration covers the whole exchange.
///
/// ```
/// use http_body_util::Full;
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
/// use throughline_tower::client::HttpClientLayer;
/// use tower::ServiceBuilder;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
/// let client = ServiceBuilder::new().layer(HttpClientLayer::new()).service(client);
/// # let _ = client;
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct HttpClientLayer {
    instrumentation: ClientInstrumentation,
}

impl HttpClientLayer {
    /// The layer with [`ClientInstrumentation::new`]'s defaults.
    pub fn new() -> Self {
        Self { instrumentation: ClientInstrumentation::new() }
    }

    /// The layer with this instrumentation's configuration.
    pub fn with_instrumentation(instrumentation: ClientInstrumentation) -> Self {
        Self { instrumentation }
    }

    crate::forward_client_setters!();
}

impl<S> Layer<S> for HttpClientLayer {
    type Service = HttpClient<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpClient { inner, instrumentation: self.instrumentation.clone() }
    }
}

/// The service [`HttpClientLayer`] wraps around a client `S`.
#[derive(Clone, Debug)]
pub struct HttpClient<S> {
    inner: S,
    instrumentation: ClientInstrumentation,
}

impl<S> HttpClient<S> {
    throughline_core::inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpClient<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: std::error::Error + 'static,
    ResBody: http_body::Body,
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
        let mut headers = std::mem::take(&mut parts.headers);
        let call = self.instrumentation.start(&ClientRequest::from_parts(&parts), &mut headers);
        parts.headers = headers;
        // Entered so that whatever the client does eagerly is in the span.
        let future = {
            let _entered = call.enter();
            self.inner.call(Request::from_parts(parts, body))
        };
        ResponseFuture::new(future, call)
    }
}
