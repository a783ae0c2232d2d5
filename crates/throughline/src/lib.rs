//! throughline makes a Rust service observable and resilient with a few lines:
//! W3C context propagation across HTTP and gRPC, server and client spans with
//! RED metrics, logs that carry the trace, retries, circuit breakers and load
//! shedding that show up in traces and metrics, and export over OTLP.
//!
//! This facade re-exports the pieces behind one feature each, so a service
//! depends on one crate and pays only for what it turns on:
//!
//! | feature | crate | what it gives |
//! |---|---|---|
//! | `propagation` (default) | [`throughline_propagation`] | strict W3C Trace Context, Baggage and B3 codecs and carriers |
//! | `opentelemetry` | `throughline_propagation` | the codecs as the OpenTelemetry SDK's `TextMapPropagator` |
//! | `resilience` | `throughline_resilience` | retry with budgets, circuit breakers, load shedding and deadlines, as tower layers and a plain async API |
//!
//! ```
//! use throughline::propagation::{Propagator, TraceParent};
//!
//! let parent: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?;
//! assert!(parent.flags().is_sampled());
//! assert_eq!(Propagator::default().to_string(), "tracecontext,baggage");
//! # Ok::<(), throughline::propagation::TraceParentError>(())
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

#[cfg(feature = "propagation")]
pub use throughline_propagation as propagation;
#[cfg(feature = "resilience")]
pub use throughline_resilience as resilience;
