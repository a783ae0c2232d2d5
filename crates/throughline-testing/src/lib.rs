//! Test support for services built with throughline, and for throughline itself.
//!
//! - [`Capture`]: tracer, meter and logger providers wired to in-memory
//!   exporters, with assertions on what was captured (find a span by name,
//!   check its parent, attributes and status; read metric points).
//! - [`OtlpReceiver`]: a real OTLP endpoint, gRPC and HTTP/protobuf, on
//!   127.0.0.1, that records what exporters send and can be told to fail or
//!   stall, to test exporter behaviour when the collector is down; plaintext,
//!   or TLS only ([`OtlpReceiver::start_tls`]) with certificates a
//!   [`TestPki`] makes on the spot, optionally requiring a client certificate.
//! - [`FaultLayer`]: a tower layer that injects seeded errors, timeouts,
//!   latency and outage windows into an HTTP service.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use throughline_testing::OtlpReceiver;
//!
//! let receiver = OtlpReceiver::start().await?;
//! // Export to receiver.grpc_endpoint() or receiver.http_endpoint() ...
//! let spans = receiver.wait_for_spans(0, Duration::from_secs(1)).await?;
//! assert!(spans.is_empty());
//! # Ok(()) }
//! ```
//!
//! This crate depends on `opentelemetry_sdk` (its in-memory exporters) and on
//! `opentelemetry-proto`: it is for tests, never for a service's own path.

#![deny(missing_docs)]

mod capture;
mod fault;
mod pki;
mod received;
mod receiver;

pub use capture::{Capture, CapturedLog, Metrics, Point, PointValue, SpanRef, Spans};
pub use fault::{Fault, FaultLayer, FaultStats, Faults, Latency, Outage};
pub use pki::{PkiFiles, TestPki};
pub use received::{Protocol, ReceivedLog, ReceivedMetric, ReceivedSpan, Value};
pub use receiver::{Behaviour, OtlpReceiver, ReceiverTls, Reply, WaitTimeout};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
