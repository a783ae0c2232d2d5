//! A trace viewer for throughline: see a trace before any backend exists.
//!
//! - **Ingest**: OTLP over gRPC ([`Viewer::grpc_routes`]) and over HTTP with
//!   protobuf or JSON bodies, gzip or not ([`Viewer::otlp_http_router`],
//!   decoded by throughline-otlp-decode, which throughline-testing's
//!   receiver shares), all three signals; and SDK processors
//!   ([`Viewer::span_processor`], [`Viewer::log_processor`]) for a service
//!   that feeds its own viewer in-process.
//! - **A bounded store** ([`StoreConfig`]): the most recent traces within a
//!   span and a byte bound (100,000 spans and 128 MiB by default), and
//!   beside them the latest traces with an error (200) and, per service and
//!   route, the latest traces in each zPages latency bucket (2 each), so
//!   that what matters survives a flood. Evictions are counted
//!   ([`StoreStats`]).
//! - **A web UI** ([`Viewer::router`]): server-rendered HTML that reads
//!   without a script. The trace list filters by service, span name or
//!   route, errors, minimum duration and trace id, beside each route's
//!   rate, error ratio and p50/p95/p99; a trace's page draws its waterfall
//!   on one time axis, with service colours, client spans right above the
//!   server spans they caused, errors, retries and breaker events marked,
//!   and each span opening on its attributes, events, links, status,
//!   resource and log records. JSON for scripts at `/api/traces` and
//!   `/api/traces/{id}`.
//!
//! Three ways to run it: `cargo run -p throughline-viewer` (a local
//! collector, see [`Addresses`]); mounted in a service at `/debug/traces`
//! ([`Viewer::debug_router`], loopback only unless [`Access`] says
//! otherwise; the facade's `viewer` feature feeds it from `init()`); and
//! `cargo xtask demo`, which makes it the order system's collector.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use opentelemetry::trace::{Tracer, TracerProvider};
//! use throughline_viewer::{TraceQuery, Viewer};
//! use tower::ServiceExt;
//!
//! let viewer = Viewer::default();
//! let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
//!     .with_span_processor(viewer.span_processor())
//!     .build();
//! provider.tracer("shop").in_span("GET /orders/{id}", |_| {});
//! let trace = &viewer.traces(&TraceQuery::default())[0];
//!
//! let page = viewer.router()
//!     .oneshot(axum::http::Request::get(format!("/trace/{}", trace.trace_id)).body(axum::body::Body::empty()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(page.status(), 200);
//! # }
//! ```

#![deny(missing_docs)]

mod ingest;
mod model;
mod query;
mod server;
mod stats;
mod store;
mod ui;
mod viewer;

pub use ingest::grpc::MAX_GRPC_MESSAGE_BYTES;
pub use ingest::http::MAX_HTTP_BODY_BYTES;
pub use ingest::processor::{ViewerLogProcessor, ViewerSpanProcessor};
pub use model::{InvalidId, Origin, SpanId, StoredLog, StoredSpan, TraceId, display_value, find};
pub use query::{MAX_LIMIT, TraceQuery, TraceSummary};
pub use server::{Addresses, Listeners};
pub use stats::{LATENCY_BUCKET_NAMES, LATENCY_BUCKETS, RouteKey, RouteSummary, latency_bucket};
pub use store::{StoreConfig, StoreStats, StoredTrace};
pub use ui::Access;
pub use viewer::Viewer;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
