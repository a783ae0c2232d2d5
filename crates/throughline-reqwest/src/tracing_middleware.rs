//! [`TracingMiddleware`]: the client span and the injection, for reqwest.

use http::Extensions;
use opentelemetry::context::FutureExt as _;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use throughline_tower::client::{ClientInstrumentation, ClientRequest, error_kind};
use throughline_tower::semconv::error_type_of;
use tracing::Instrument;

use crate::BoxFuture;

/// A reqwest-middleware [`Middleware`] that makes each request a client
/// span, injects the context into its headers and records
/// `http.client.request.duration`: [`ClientInstrumentation`], the core the
/// tower client layer shares, applied to reqwest.
///
/// The span ends when the response head arrives (reqwest hands the body to
/// the caller, who may never read it).
///
/// Request extensions, set with `RequestBuilder::with_extension`:
/// [`UrlTemplate`](crate::UrlTemplate) names the span and sets
/// `url.template`; [`SuppressPropagation`](crate::SuppressPropagation)
/// sends no context headers; `throughline_core::ResendCount` (set by
/// [`ResilienceMiddleware`](crate::ResilienceMiddleware) on each retry)
/// becomes `http.request.resend_count`.
#[derive(Clone, Debug, Default)]
pub struct TracingMiddleware {
    instrumentation: ClientInstrumentation,
}

impl TracingMiddleware {
    /// The middleware with [`ClientInstrumentation::new`]'s defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The middleware with this configuration (propagator, hosts that get no
    /// context, query redaction, meter provider, ...).
    pub fn with_instrumentation(instrumentation: ClientInstrumentation) -> Self {
        Self { instrumentation }
    }

    throughline_tower::forward_client_setters!();
}

// Written out rather than with `#[async_trait]`: it is what the macro
// expands to, without the dependency.
impl Middleware for TracingMiddleware {
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        mut request: Request,
        extensions: &'life1 mut Extensions,
        next: Next<'life2>,
    ) -> BoxFuture<'async_trait, reqwest_middleware::Result<Response>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        let mut headers = std::mem::take(request.headers_mut());
        let call = {
            let url = request.url();
            let view = ClientRequest {
                method: request.method(),
                scheme: url.scheme(),
                host: url.host_str().unwrap_or_default(),
                explicit_port: url.port(),
                path: url.path(),
                query: url.query(),
                version: request.version(),
                extensions: None,
                resend_count: 0,
            }
            // Reads `UrlTemplate`, `SuppressPropagation` and `ResendCount`.
            .with_extensions(extensions);
            self.instrumentation.start(&view, &mut headers)
        };
        *request.headers_mut() = headers;
        Box::pin(async move {
            let mut call = call;
            // The rest of the chain runs in the call: its span, or, when it
            // has none (built directly, or not recorded), its context.
            let rest = next.run(request, extensions);
            let result = if call.span().is_disabled() {
                rest.with_context(call.context().clone()).await
            } else {
                rest.instrument(call.span().clone()).await
            };
            match &result {
                Ok(response) => call.on_response(response.status(), response.version()),
                Err(error) => call.on_error(kind(error), error),
            }
            call.finish();
            result
        })
    }
}

/// `error.type` for a failed reqwest call: reqwest's own classification
/// first, then the error's chain, then the type name.
fn kind(error: &reqwest_middleware::Error) -> &'static str {
    match error {
        reqwest_middleware::Error::Reqwest(error) => reqwest_kind(error),
        reqwest_middleware::Error::Middleware(error) => {
            let error: &(dyn std::error::Error + 'static) = error.as_ref();
            // Another middleware's error of unknown type: the conventions' fallback.
            error_kind(error).unwrap_or("_OTHER")
        }
    }
}

/// The kind of a reqwest error, low-cardinality.
pub(crate) fn reqwest_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        return throughline_tower::client::TIMEOUT;
    }
    if error.is_connect() {
        return throughline_tower::client::CONNECT;
    }
    if let Some(kind) = error_kind(error) {
        return kind;
    }
    if error.is_redirect() {
        "redirect"
    } else if error.is_body() {
        "body"
    } else if error.is_decode() {
        "decode"
    } else if error.is_builder() {
        "builder"
    } else if error.is_request() {
        "request"
    } else {
        error_type_of::<reqwest::Error>()
    }
}
