//! Server middleware: every request a server span in the caller's trace,
//! with the HTTP server metrics.
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use opentelemetry::trace::TracerProvider as _;
//! use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
//! use throughline_tower::server::HttpServerLayer;
//! use tower::ServiceExt;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The usual OpenTelemetry wiring: spans are `tracing` spans, exported by
//! // tracing-opentelemetry.
//! let exporter = InMemorySpanExporter::default();
//! let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
//! let subscriber = tracing_subscriber::registry()
//!     .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("orders")));
//! let _default = tracing::subscriber::set_default(subscriber);
//!
//! let app = Router::new()
//!     .route("/users/{id}", get(|| async { "alice" }))
//!     .layer(HttpServerLayer::new().trace_response_header(true));
//!
//! let request = http::Request::get("/users/7")
//!     .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
//!     .body(Body::empty())?;
//! let response = app.oneshot(request).await?;
//! let timing = response.headers()["server-timing"].to_str()?.to_owned();
//! assert!(timing.starts_with("traceparent;desc=\"00-4bf92f3577b34da6a3ce929d0e0e4736-"));
//! // The span ends when the body has been sent, not with the headers.
//! axum::body::to_bytes(response.into_body(), usize::MAX).await?;
//!
//! let spans = exporter.get_finished_spans()?;
//! assert_eq!(spans[0].name, "GET /users/{id}");
//! assert_eq!(spans[0].span_kind, opentelemetry::trace::SpanKind::Server);
//! assert_eq!(spans[0].parent_span_id.to_string(), "00f067aa0ba902b7");
//! # Ok(())
//! # }
//! ```
//!
//! # What a request becomes
//!
//! - **Context.** The incoming context is read with the configured
//!   propagator (by default the process-wide one: what
//!   `Propagator::set_global` or `throughline::init()` installed from
//!   `OTEL_PROPAGATORS`, else `tracecontext,baggage`) and becomes the parent of a `tracing` span,
//!   bridged to OpenTelemetry by tracing-opentelemetry. The handler's own
//!   `#[instrument]` spans nest under it, and its outgoing calls continue the
//!   trace. A malformed `traceparent` starts a new trace; the request goes on.
//! - **Sampling.** With the tracer provider's sampler known ([`HeadSampling`]:
//!   what `throughline::init()` publishes, by default), the layer decides
//!   before building any span. A request that will not be recorded gets no
//!   span at all, only the span context the SDK would have given it; a
//!   recorded one gets an OpenTelemetry span built directly with the tracer
//!   provider's tracer ([`DirectSpans`]: the global provider `init()` sets,
//!   or [`HttpServerLayer::tracer_provider`]), skipping the `tracing`
//!   bridge. Either context is attached as OpenTelemetry's current context
//!   while the handler runs: outgoing calls carry it, log lines name its
//!   ids, the handler's `#[instrument]` spans take it as their parent, and
//!   events written straight in the handler reach the span through
//!   throughline-subscriber's `ContextEventsLayer` (which `init()`
//!   installs). Such a handler has no `tracing` span of its own, so where
//!   code used the server span through `tracing::Span::current()`, use the
//!   context instead:
//!   `opentelemetry::Context::current().span().set_attribute(..)` rather
//!   than `OpenTelemetrySpanExt::set_attribute`, [`current_trace_id`] for
//!   the ids, and `fut.with_current_context()`
//!   (`opentelemetry::context::FutureExt`) rather than
//!   `fut.instrument(Span::current())` to carry the request into a spawned
//!   task. With no sampler known, or [`HeadSampling::Off`], every request
//!   is a bridged `tracing` span.
//! - **Trust.** A [`TrustPolicy`] decides per request: a trusted caller's
//!   context is the parent; a public caller's is only linked, in a new
//!   trace, and its sampled flag and baggage are ignored.
//! - **Span.** Named `{method} {http.route}` (`{method}` without a route,
//!   `HTTP` for unknown methods), kind server, with the stable HTTP
//!   attributes: `http.request.method` (`_OTHER` and
//!   `http.request.method_original` for unknown methods), `url.path`,
//!   `url.query` (sensitive keys redacted), `url.scheme`, `http.route`,
//!   `http.response.status_code`, `error.type`, `server.address`,
//!   `server.port`, `client.address`, `network.protocol.version`,
//!   `user_agent.original`, and the headers you name. With
//!   `OTEL_SEMCONV_STABILITY_OPT_IN=http/dup` also the old names.
//! - **Outcome.** A 5xx is an error with `error.type` set to the status
//!   code; a 4xx is not an error on a server span. An error returned by the
//!   inner service, a failing body and a panic are recorded as an
//!   `exception` event and `error.type`; with
//!   [`catch_panic`](HttpServerLayer::catch_panic) a panic becomes a 500.
//! - **Timing.** The span and `http.server.request.duration` end when the
//!   last frame of the response body has been handed to the server, not
//!   when the headers are; both are read at the same two points. A body
//!   dropped early ends the request with `error.type =
//!   response_body_dropped`.
//! - **Metrics.** `http.server.request.duration` (s, the conventions'
//!   buckets), `http.server.active_requests`, and, opt-in as in the
//!   conventions, `http.server.request.body.size` and
//!   `http.server.response.body.size`; only low-cardinality attributes
//!   (method, scheme, route template, status code, `error.type`, protocol
//!   version).
//! - **Filter.** A predicate turns tracing and/or metrics off per request
//!   ([`Record`]), for health checks and `/metrics`.
//! - **Trace id for support.** With
//!   [`trace_response_header`](HttpServerLayer::trace_response_header), the
//!   response carries `server-timing: traceparent;desc="00-…-…-01"`. The W3C
//!   Trace Context Level 2 draft's `traceresponse` header was dropped from
//!   the specification; `Server-Timing` is what browsers expose to scripts
//!   (`PerformanceServerTiming`) and what OpenTelemetry's browser
//!   instrumentation reads. It never carries `tracestate` or baggage.
//!
//! # Cost: the sampler decides first
//!
//! With a head sampler, an unrecorded request costs the extraction, the
//! decision and one attached context; a recorded one, the SDK's span and
//! the attributes, built only then, straight into the span in one call.
//! With none, the span is created as a `tracing` span with a static name
//! (the method) and no fields, then started, which is when the sampler
//! decides; only a span that records gets its name with the route and its
//! attributes. Samplers therefore see the span name, kind, parent and
//! links, not the attributes. The figures against the peers are in
//! `docs/benchmarks.md`.
//!
//! # Where it fits
//!
//! - axum: `Router::layer` or `Router::route_layer`; both run after
//!   routing, so `http.route` is known. Wrapping the whole `Router` from the
//!   outside (`ServiceBuilder`) runs before routing, so spans are named by
//!   the method only.
//! - hyper, tonic, or any `Service<http::Request<B>>` returning
//!   `http::Response<B2>`: any body types, errors that implement `Display`.
//! - The peer address for `client.address` and
//!   [`TrustPolicy::trusted_peers`] is read from a `SocketAddr` request
//!   extension, or with the `axum` feature from axum's `ConnectInfo`
//!   (`into_make_service_with_connect_info::<SocketAddr>()`).

mod body;
mod deadline;
mod extract;
mod filter;
mod future;
mod in_flight;
mod layer;
mod metrics;
mod peer;
mod request_span;
mod route;
mod service;
mod span;
mod trace_id;
mod trust;

pub use crate::direct_spans::{DirectSpans, SpanTracerProvider};
pub use crate::head_sampling::HeadSampling;
pub use crate::span_start::SpanStart;
pub use body::ResponseBody;
pub use extract::{Extraction, Incoming};
pub use filter::Record;
pub use future::ResponseFuture;
pub use layer::HttpServerLayer;
pub use request_span::{Entered, RequestSpan};
pub use route::RouteExtractor;
pub use service::HttpServer;
pub use span::TARGET;
pub use trace_id::current_trace_id;
pub use trust::{Trust, TrustPolicy};
