//! Context propagation for distributed tracing: W3C Trace Context (Level 2),
//! W3C Baggage, B3, Jaeger and AWS X-Ray, strict to the specifications and
//! cheap on the hot path.
//!
//! A service reads the caller's trace position from an incoming request and
//! writes its own into every outgoing one. This crate is that codec, and only
//! that: it depends on `http` alone (and on `opentelemetry` behind the
//! `opentelemetry` feature), so every other throughline crate, and any carrier
//! you have, can build on it.
//!
//! ```
//! use http::HeaderMap;
//! use throughline_propagation::{Propagator, SpanId, TraceContext, TraceParent};
//!
//! let propagator = Propagator::default(); // tracecontext,baggage
//!
//! // Server side: read what the caller sent. Never fails; bad input is reported.
//! let mut incoming = HeaderMap::new();
//! incoming.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?);
//! let extracted = propagator.extract(&incoming);
//!
//! // Continue the caller's trace, or start one.
//! let trace = extracted.trace.unwrap_or_else(|| TraceContext::new(TraceParent::new_trace(true)));
//!
//! // Client side: send this service's span as the parent.
//! let mut outgoing = HeaderMap::new();
//! propagator.inject(Some(&trace.child(SpanId::random())), &extracted.baggage, &mut outgoing);
//! assert_eq!(outgoing.len(), 1); // traceparent; an empty tracestate or baggage is never sent
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Formats
//!
//! Each format has its codec, and a name in `OTEL_PROPAGATORS` that
//! [`Propagator`] and [`Format`] read, case-insensitively:
//!
//! | name | fields | codec |
//! |---|---|---|
//! | `tracecontext` | `traceparent`, `tracestate` | [`TraceParent`], [`TraceState`] |
//! | `baggage` | `baggage` | [`Baggage`] |
//! | `b3` | `b3` | [`B3::parse_single`], [`encode_b3_single`] |
//! | `b3multi` | `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId`, `X-B3-Sampled`, `X-B3-Flags` | [`B3::from_multi`] |
//! | `jaeger` | `uber-trace-id`, and baggage as `uberctx-{key}` | [`Jaeger`], [`encode_jaeger`] |
//! | `xray` | `X-Amzn-Trace-Id` | [`XRay`], [`encode_xray`] |
//!
//! # Strictness
//!
//! Where the official `opentelemetry_sdk` propagator is lenient, this crate
//! follows the specifications:
//!
//! - a `traceparent` is exactly lowercase hex of the exact lengths; `ff` and
//!   all-zero ids are rejected, higher versions are read by the version-00
//!   prefix rules, and two `traceparent` headers restart the trace;
//! - the Level 2 `random` flag is kept; reserved flags are read and never sent;
//! - every `tracestate` header line is read and combined in order, at the
//!   current key grammar (`@` anywhere but first); a repeated key keeps its
//!   first occurrence; an invalid `tracestate` (bad key or value, more than
//!   32 members) is dropped without dropping the `traceparent`; an empty one
//!   is never sent;
//! - baggage values and property values are percent-decoded and encoded,
//!   and the size and count limits are enforced by dropping whole members
//!   (see [`Baggage`]);
//! - B3, Jaeger and X-Ray ids are checked like W3C ids (lengths, digits, not
//!   zero), each by its own specification's rules (see [`B3`], [`Jaeger`],
//!   [`XRay`]); a repeated header restarts the trace.
//!
//! Nothing panics on any input; errors say what was wrong.
//!
//! # Cost
//!
//! Parsing and encoding a `traceparent`, a `b3`, an `uber-trace-id` or an
//! `X-Amzn-Trace-Id` never allocates. A `tracestate` costs at most one
//! allocation per header line. See `docs/benchmarks.md` in the
//! repository for the figures against the SDK.
//!
//! # Features
//!
//! - `opentelemetry`: [`Propagator`] implements
//!   `opentelemetry::propagation::TextMapPropagator`, and the types convert to
//!   and from `SpanContext`, `TraceId`, `SpanId`, `TraceFlags` and `Baggage`,
//!   so the SDK's global propagator can be this crate's
//!   (`opentelemetry::global::set_text_map_propagator(Propagator::default())`).
//!
//! ```
//! # #[cfg(feature = "opentelemetry")] {
//! use opentelemetry::propagation::TextMapPropagator;
//! use opentelemetry::trace::TraceContextExt;
//! use std::collections::HashMap;
//! use throughline_propagation::Propagator;
//!
//! let mut carrier = HashMap::new();
//! carrier.insert("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".to_owned());
//! // The inherent `extract` returns throughline's types; the trait's returns a `Context`.
//! let cx = TextMapPropagator::extract(&Propagator::default(), &carrier);
//! let span = cx.span();
//! let remote = span.span_context();
//! assert!(remote.is_remote() && remote.is_sampled());
//! // The Level 2 `random` flag survives, unlike with the SDK's propagator.
//! assert_eq!(remote.trace_flags().to_u8(), 0x03);
//! # }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod b3;
mod baggage;
mod carrier;
mod context;
mod global;
mod hex;
mod ids;
mod jaeger;
#[cfg(feature = "opentelemetry")]
mod otel;
mod ows;
mod percent;
mod propagator;
mod sampling;
mod traceparent;
mod tracestate;
mod xray;

pub use b3::{B3, B3_SINGLE_LEN, B3Error, B3MultiHeaders, B3Sampling, encode_single as encode_b3_single};
pub use baggage::{Baggage, BaggageError, BaggageMember};
pub use carrier::{Extractor, Field, Injector};
pub use context::TraceContext;
pub use ids::{IdError, SpanId, TraceFlags, TraceId};
pub use jaeger::{
    JAEGER_LEN, Jaeger, JaegerError, JaegerFlags, JaegerIdError, UBERCTX_PREFIX, encode as encode_jaeger,
};
#[cfg(feature = "opentelemetry")]
pub use otel::TraceOrigin;
pub use propagator::{ExtractError, Extracted, Format, Propagator, PropagatorConfigError};
pub use sampling::HeadSampler;
pub use traceparent::{
    EncodedTraceParent, Field as TraceParentField, TRACEPARENT_LEN, TraceParent, TraceParentError,
};
pub use tracestate::{TraceState, TraceStateError};
pub use xray::{XRAY_LEN, XRay, XRayError, XRaySampling, encode as encode_xray};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
