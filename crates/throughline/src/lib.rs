//! throughline makes a Rust service observable and resilient with a few lines:
//! W3C context propagation across HTTP and gRPC, server and client spans with
//! RED metrics, logs that carry the trace, retries, circuit breakers and load
//! shedding that show up in traces and metrics, and export over OTLP.
//!
//! ```no_run
//! use throughline::prelude::*;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // OTEL_SERVICE_NAME=orders OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 ...
//!     let telemetry = init()?;
//!     info!("started");
//!     let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     // /health/live and /health/ready added; on SIGTERM: drain, then flush.
//!     telemetry.serve(listener, app, std::time::Duration::from_secs(10)).await?;
//!     Ok(())
//! }
//! ```
//!
//! The same, runnable here, with settings from a map instead of the
//! environment and spans printed to the console:
//!
//! ```
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::collections::HashMap;
//! use throughline::{Init, LogFormat};
//!
//! let vars = HashMap::from([("OTEL_TRACES_EXPORTER", "console"), ("OTEL_METRICS_EXPORTER", "none"), ("OTEL_LOGS_EXPORTER", "none")]);
//! let telemetry = Init::from_vars(&vars)?.service_name("orders").log_format(LogFormat::Compact).install()?;
//! tracing::info_span!("checkout", order.id = 42).in_scope(|| tracing::info!("charged"));
//! assert!(telemetry.health().is_ready());
//! telemetry.shutdown(std::time::Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```
//!
//! This facade re-exports the pieces behind one feature each, so a service
//! depends on one crate and pays only for what it turns on:
//!
//! | feature | crate | what it gives |
//! |---|---|---|
//! | (always) | [`throughline_core`] | the vocabulary the layers share: [`Deadline`] and the current [`deadline`], [`DEADLINE_HEADER`], [`GrpcCode`], [`ResendCount`] |
//! | `init` (default) | this crate | [`init()`], [`Init`], [`Guard`], [`Health`], [`prelude`] |
//! | `pipeline` | [`throughline_pipeline`] | OTEL_* configuration, OTLP and Prometheus export, tail sampling, graceful shutdown; `otlp-grpc` and `otlp-http` (both default) choose the transports compiled |
//! | `propagation` | [`throughline_propagation`] | strict W3C Trace Context, Baggage, B3, Jaeger and X-Ray codecs and carriers |
//! | `subscriber` | [`throughline_subscriber`] | tracing-subscriber layers: inherited fields, logfmt and JSON lines with trace ids, log export, span metrics, redaction |
//! | `opentelemetry` | `throughline_propagation` | the codecs as the OpenTelemetry SDK's `TextMapPropagator` |
//! | `tower` | `throughline_tower` | server middleware for tower and axum: context extraction under a trust policy, server spans and RED metrics by the HTTP semantic conventions |
//! | `tonic` | `throughline_tonic` | gRPC server and client layers for tonic: spans and metrics by the RPC semantic conventions, `grpc-timeout` deadlines carried from call to call |
//! | `axum` | `throughline_tower` | `tower`, with `http.route` from axum's `MatchedPath` |
//! | `testing` | [`throughline_testing`] | in-memory capture, an OTLP receiver, fault injection |
//! | `reqwest` | `throughline_reqwest` | reqwest-middleware middleware: client spans, context injection with opt-outs, `http.client.request.duration` and `http.client.active_requests`; with `resilience`, retries with one span per attempt |
//! | `tokio-console` | console-subscriber | `init()` adds tokio-console's layer, outside the `RUST_LOG` filter, for binaries built with `RUSTFLAGS="--cfg tokio_unstable"`; without that cfg it says so on standard error (`TOKIO_CONSOLE_NEEDS_UNSTABLE`) and installs none |
//! | `viewer` | `throughline_viewer` | a trace viewer fed in-process by [`Init::viewer`](crate::Init), its UI mounted at `/debug/traces` for loopback callers (`Viewer::debug_router`); also a standalone OTLP collector (`cargo run -p throughline-viewer`) |
//! | `resilience` | `throughline_resilience` | retry with budgets, circuit breakers, load shedding and deadlines, as tower layers and a plain async API |
//!
//! Every crate under the facade uses one version of `opentelemetry`; a test
//! in this crate checks the dependency tree.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

#[cfg(feature = "init")]
mod export_filter;
#[cfg(feature = "init")]
mod graceful;
#[cfg(feature = "init")]
mod health;
#[cfg(feature = "init")]
mod init;
pub mod prelude;

#[cfg(feature = "init")]
pub use graceful::{Graceful, Lifecycle, ServeError, shutdown_signal};
#[cfg(feature = "init")]
pub use health::Health;
#[cfg(feature = "tokio-console")]
pub use init::TOKIO_CONSOLE_NEEDS_UNSTABLE;
#[cfg(feature = "init")]
pub use init::{Guard, Init, InitError, LogFormat, init};
pub use throughline_core::{DEADLINE_HEADER, Deadline, GrpcCode, ResendCount, deadline};
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub use throughline_pipeline as pipeline;
#[cfg(feature = "propagation")]
pub use throughline_propagation as propagation;
#[cfg(feature = "reqwest")]
pub use throughline_reqwest as reqwest;
#[cfg(feature = "resilience")]
pub use throughline_resilience as resilience;
#[cfg(feature = "subscriber")]
pub use throughline_subscriber as subscriber;
#[cfg(feature = "testing")]
pub use throughline_testing as testing;
#[cfg(feature = "tonic")]
pub use throughline_tonic as tonic;
#[cfg(feature = "tower")]
pub use throughline_tower as tower;
#[cfg(feature = "viewer")]
pub use throughline_viewer as viewer;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
