//! tracing-subscriber layers that make the three pillars point at each other:
//! a log line names its trace and carries the fields of the request it
//! belongs to, a metric comes from the span that timed it, and no secret
//! leaves the process in any of them.
//!
//! ```
//! use opentelemetry::metrics::MeterProvider as _;
//! use opentelemetry::trace::TracerProvider as _;
//! use opentelemetry_sdk::metrics::SdkMeterProvider;
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//! use throughline_subscriber::{ContextLayer, Logfmt, SpanMetricsLayer};
//! use tracing_subscriber::prelude::*;
//!
//! let tracer_provider = SdkTracerProvider::builder().build();
//! let meter_provider = SdkMeterProvider::builder().build();
//! let subscriber = tracing_subscriber::registry()
//!     .with(ContextLayer::new())                        // fields inherited by descendants
//!     .with(Logfmt::default().layer())                  // or Json: lines with trace ids
//!     .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("orders")))
//!     .with(SpanMetricsLayer::new(&meter_provider));
//!
//! tracing::subscriber::with_default(subscriber, || {
//!     let request = tracing::info_span!("request", request_id = "r-42", metric_name = "http_request");
//!     request.in_scope(|| {
//!         tracing::info_span!("charge").in_scope(|| {
//!             tracing::info!(card = "4111 1111 1111 1111", "charged");
//!         });
//!     });
//! });
//! // timestamp=… level=INFO target=rust_out span=charge message=charged card=[REDACTED]
//! //   request_id=r-42 metric_name=http_request trace_id=… span_id=…
//! // and http_request_total{result="ok"} 1, http_request_duration_seconds{result="ok"}
//! ```
//!
//! # The layers
//!
//! - [`ContextLayer`] keeps the fields of every span in a persistent chain of
//!   per-span nodes, so any descendant span or event reads its ancestors'
//!   fields ([`SpanFields`]) without a map being copied per span, including
//!   fields recorded late with `Span::record`.
//! - [`Logfmt`] and [`Json`] are `FormatEvent`s for tracing-subscriber's fmt
//!   layer: timestamp, level, target, span, message, the event's fields, the
//!   inherited fields, and the OpenTelemetry `trace_id` and `span_id`, written
//!   straight into the line buffer. With fmt's `FmtSpan::CLOSE`, each span's
//!   close line carries `latency_ms`. [`NonBlockingWriter`] writes lines on a
//!   background thread and counts what it drops rather than block.
//! - [`ContextEventsLayer`] records an event that no `tracing` span encloses
//!   on OpenTelemetry's current span: the server span throughline's layers
//!   build without `tracing`, as tracing-opentelemetry would have recorded it.
//! - [`LogsLayer`] turns events into OpenTelemetry log records through the
//!   `opentelemetry` logs API, redacted at the source.
//! - [`SpanMetricsLayer`] derives a counter and a duration histogram from
//!   every span carrying `metric_name`, with a bound on label cardinality.
//! - [`Redaction`] is the one policy every output applies: sensitive field
//!   names, value patterns (bearer tokens, card numbers, e-mail addresses)
//!   and rules of your own. [`Redaction::redact_attributes`] applies it to
//!   OpenTelemetry attributes, which is how exported spans are redacted, and
//!   [`Redacted`] to tracing-subscriber's own pretty and compact formats.
//!
//! # Where the trace ids come from
//!
//! tracing-opentelemetry activates a span's OpenTelemetry context when the
//! span is entered, so an event in the current span reads its ids from the
//! active context, one thread-local read. An event with an explicit parent
//! asks tracing-opentelemetry for that span's context. The SDK gives spans it
//! does not sample valid ids too, so lines of unsampled requests carry ids
//! as well. A span's open line (`FmtSpan::NEW`) carries none: OpenTelemetry
//! starts the span after it is created, when its remote parent may still be
//! set, and starting it early would break that.
//!
//! # Layer order
//!
//! Put [`ContextLayer`] first, and the fmt layer before tracing-opentelemetry's
//! layer: layers see a span close in order, and the close line needs the
//! OpenTelemetry span to still be there.
//!
//! This crate depends on the `opentelemetry` API only, never on the SDK;
//! `throughline::init()` installs all of it with the pipeline's providers.

#![deny(missing_docs)]

mod context;
mod context_events;
mod decimal;
mod field_value;
mod format;
mod logs;
mod metrics;
mod redacted;
mod redaction;
mod trace_ids;
mod writer;

/// The meter of `provider` under this crate's instrumentation scope.
fn meter_of(provider: &impl opentelemetry::metrics::MeterProvider) -> opentelemetry::metrics::Meter {
    let scope = opentelemetry::InstrumentationScope::builder("throughline-subscriber")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    provider.meter_with_scope(scope)
}

pub use context::{ContextLayer, SpanFields};
pub use context_events::ContextEventsLayer;
pub use field_value::FieldValue;
pub use format::{FieldsFromContext, Json, Logfmt, Rfc3339};
pub use logs::LogsLayer;
pub use metrics::{Clock, METRIC_LABEL_PREFIX, METRIC_NAME, MonotonicClock, SpanMetricsLayer};
pub use redacted::{Redacted, RedactingVisitor};
pub use redaction::{
    BearerToken, CardNumber, DEFAULT_FIELD_NAMES, EmailAddress, Pattern, QueryCredentials, REDACTED,
    Redaction, Secrets,
};
pub use tracing_appender::non_blocking::WorkerGuard;
pub use writer::NonBlockingWriter;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
