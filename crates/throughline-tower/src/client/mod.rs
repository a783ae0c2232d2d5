//! The client side: a client span per outgoing request, the caller's
//! context injected into its headers, and `http.client.request.duration` and `http.client.active_requests`,
//! by the OpenTelemetry HTTP semantic conventions.
//!
//! One implementation serves every client: [`ClientInstrumentation`] starts
//! a [`ClientCall`] from a [`ClientRequest`] (borrowed pieces of any
//! request type) and the adapter tells the call how it ended.
//! [`HttpClientLayer`] is the adapter for tower clients (hyper-util's
//! `Client`, or any `Service<http::Request<B>>`); `throughline-reqwest`'s
//! middleware is the one for reqwest.
//!
//! ```
//! use http::Request;
//! use http_body_util::Empty;
//! use throughline_tower::client::{ClientInstrumentation, HttpClientLayer, UrlTemplate};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use opentelemetry::trace::TracerProvider as _;
//! # use tracing_subscriber::layer::SubscriberExt;
//! # let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
//! # let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("doc"));
//! # let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(otel));
//! // With tracing-opentelemetry's layer installed, as `throughline::init()` does:
//! let instrumentation = ClientInstrumentation::new().no_propagation_to([".partner.example"]);
//! // A test double stands in for hyper-util's client: it answers 200 when the context came along.
//! let client = ServiceBuilder::new()
//!     .layer(HttpClientLayer::with_instrumentation(instrumentation))
//!     .service(service_fn(|request: Request<Empty<bytes::Bytes>>| async move {
//!         let status = if request.headers().contains_key("traceparent") { 200 } else { 400 };
//!         http::Response::builder().status(status).body(Empty::<bytes::Bytes>::new())
//!     }));
//! let mut request = Request::get("http://users.internal/users/42").body(Empty::new())?;
//! request.extensions_mut().insert(UrlTemplate::new("/users/{id}")); // span name `GET /users/{id}`
//! let response = client.oneshot(request).await?;
//! assert_eq!(response.status(), 200);
//! # Ok(()) }
//! ```
//!
//! # What a request records
//!
//! | attribute | value |
//! |---|---|
//! | `http.request.method` | the method, or `_OTHER` with `http.request.method_original` |
//! | `server.address`, `server.port` | the URL's host and port (the scheme's default when none is written) |
//! | `url.full` | the URL without its userinfo, sensitive query values redacted |
//! | `url.template` | from a [`UrlTemplate`] extension |
//! | `http.request.resend_count` | on a retry, from throughline-core's `ResendCount`, which the resilience layers set |
//! | `http.response.status_code`, `network.protocol.version` | from the response |
//! | `error.type` | the status code of a 4xx or 5xx (and the span status is an error), or the kind of error ([`error_kind`]: `timeout`, `connect`, ...) |
//!
//! `OTEL_SEMCONV_STABILITY_OPT_IN=http/dup` adds the old names
//! (`http.method`, `http.url`, `net.peer.name`, ...), as on the server.
//!
//! # Propagation
//!
//! The context is injected with the process-wide propagator by default
//! (what `Propagator::set_global` or `throughline::init()` installed from
//! `OTEL_PROPAGATORS`, else `tracecontext,baggage`), with the random flag
//! and the `tracestate` members OpenTelemetry's types cannot hold kept as
//! the context's `TraceOrigin` says. It is injected even
//! when the client span is not recorded: a span sampled out sends its own
//! (unsampled) context, a span disabled by a level filter sends the current
//! context. A [`SuppressPropagation`] extension, or a host excluded with
//! [`ClientInstrumentation::no_propagation_to`], sends no context at all.
//!
//! # Sampling
//!
//! With the tracer provider's sampler known ([`HeadSampling`]: what
//! `throughline::init()` publishes, by default), a call that will not be
//! recorded (under an unrecorded request, say) gets no span at all: only the
//! span context the SDK would have given it (the caller's trace, a new span
//! id, flags cleared), which is injected. [`ClientCall::span`] is then a
//! disabled span, and [`ClientCall::context`] the context sent.

mod body;
mod call;
mod error;
mod extensions;
mod future;
mod inject;
mod instrumentation;
mod layer;
mod metrics;
mod request;
mod setters;
mod span;

pub use crate::direct_spans::{DirectSpans, SpanTracerProvider};
pub use crate::head_sampling::HeadSampling;
pub use crate::span_start::SpanStart;
pub use body::ResponseBody;
pub use call::ClientCall;
pub use error::{CONNECT, CONNECTION_RESET, TIMEOUT, error_kind};
pub use extensions::{SuppressPropagation, UrlTemplate};
pub use future::ResponseFuture;
pub use inject::Injection;
pub use instrumentation::{ClientInstrumentation, host_list};
pub use layer::{HttpClient, HttpClientLayer};
pub use request::ClientRequest;
pub use span::{TARGET, start_span};
/// The propagator type the client setters take (throughline-propagation's).
pub use throughline_propagation::Propagator;
