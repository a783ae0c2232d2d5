//! The OpenTelemetry SDK side of throughline: where telemetry goes, how it is
//! sampled, and how it leaves the process without ever making a request wait
//! or getting lost on shutdown.
//!
//! - **Configuration the OpenTelemetry way**: [`Config`] reads the standard
//!   `OTEL_*` variables (service and resource, exporters, OTLP endpoint,
//!   headers, timeout, compression and certificates per signal, samplers,
//!   batch sizes); an invalid, zero or absurd value is a [`ConfigError`]
//!   naming the variable and the accepted range, never printing a secret.
//!   Code overrides the environment through [`PipelineBuilder`].
//! - **Export that never blocks**: every exporter runs on a dedicated thread
//!   with its own small runtime; spans and logs wait in bounded queues whose
//!   drops are counted ([`ExportStats`], [`Telemetry::export_failures`], and
//!   the `otel.sdk.*` metrics); requests stay under a byte limit.
//! - **OTLP over gRPC and HTTP/protobuf or JSON**, over TLS (rustls; the
//!   platform's roots or `OTEL_EXPORTER_OTLP_CERTIFICATE`, client
//!   certificates), retried by the OTLP rules within the export timeout; a
//!   human-readable console exporter, and a Prometheus `/metrics` endpoint
//!   ([`Prometheus`]).
//! - **Tail sampling** in the process ([`TailSampling`]): whole local traces
//!   kept when they failed or were slow, a share of the rest, in bounded
//!   memory.
//! - **Shutdown that keeps its deadline**: [`Telemetry::shutdown`] flushes the
//!   three signals at once and cuts what is still running at the deadline
//!   (the facade's `Graceful` drains an axum server first).
//!
//! ```
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::collections::HashMap;
//! use std::time::Duration;
//! use opentelemetry::trace::{Tracer, TracerProvider};
//! use throughline_pipeline::Pipeline;
//!
//! // In a service: `Pipeline::from_env()?`, with OTEL_EXPORTER_OTLP_ENDPOINT and friends.
//! let vars = HashMap::from([("OTEL_TRACES_EXPORTER", "console"), ("OTEL_METRICS_EXPORTER", "none"), ("OTEL_LOGS_EXPORTER", "none")]);
//! let telemetry = Pipeline::from_vars(&vars)?.service_name("orders").build()?;
//! if let Some(provider) = telemetry.tracer_provider() {
//!     provider.tracer("orders").in_span("startup", |_cx| {});
//! }
//! telemetry.shutdown(Duration::from_secs(5)).await?; // prints: span ... "startup" ...
//! # Ok(()) }
//! ```
//!
//! Only this crate depends on `opentelemetry_sdk` and the exporters; the
//! instrumentation crates use the `opentelemetry` API alone. Installing the
//! providers globally is the facade's `throughline::init()`.

#![deny(missing_docs)]

mod config;
mod error;
mod export;
mod pipeline;
mod prometheus;
mod resource;
mod sampler;
mod tail_sampling;
mod telemetry;

pub use config::{
    BatchConfig, COUNT_LIMIT_RANGE, Compression, Config, ConfigError, DURATION_RANGE_MS, EXPORT_BYTES_RANGE,
    Env, Exporter, OtlpConfig, OtlpProtocol, SIZE_RANGE, SamplerConfig, Signal, SpanLimitsConfig, TlsConfig,
    Vars,
};
pub use error::{PipelineError, ShutdownError};
pub use export::activity::is_export_activity;
pub use export::failure::ExportFailure;
pub use export::processors::SpanTransform;
pub use pipeline::{Pipeline, PipelineBuilder};
pub use prometheus::Prometheus;
pub use tail_sampling::{Reason, TailSampling};
pub use telemetry::{ExportStats, Telemetry};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
