//! The client span: created with the method as its name, so nothing is
//! allocated before the sampler has spoken.

use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;
use throughline_propagation::TraceOrigin;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::current::current_context;

use crate::semconv::HttpMethod;

/// The tracing target of client spans, for filters (`RUST_LOG`).
pub const TARGET: &str = "throughline_tower::client";

/// What `tracing-opentelemetry` reads from `otel.kind` as `SpanKind::Client`.
const CLIENT: &str = "client";

/// One callsite per method: a static name costs nothing.
macro_rules! span_named {
    ($method:expr, $($name:literal)|*) => {
        match $method {
            $($name => tracing::info_span!(target: TARGET, $name, otel.kind = CLIENT),)*
            _ => tracing::info_span!(target: TARGET, "HTTP", otel.kind = CLIENT),
        }
    };
}

/// The client span, a child of the current span, started so that the
/// sampler has decided. Returns the span, the context to inject and
/// whether the span records.
///
/// A span the subscriber disabled (a level filter, global or on the
/// OpenTelemetry layer) has no context of its own: the current one is
/// injected instead, so the trace still crosses the call.
pub(crate) fn start(method: &HttpMethod<'_>) -> (Span, Context, bool) {
    let span = span_named!(
        method.span_name(),
        "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS" | "CONNECT" | "TRACE"
    );
    match start_span(&span) {
        Ok(cx) => {
            let recording = cx.span().is_recording();
            (span, cx, recording)
        }
        Err(current) => (span, current, false),
    }
}

/// Starts a client `span`, a child of the current span: this is where the
/// sampler decides. Returns its context, or, when the span has no
/// OpenTelemetry span of its own (disabled, or kept from the OpenTelemetry
/// layer by a per-layer filter), the current context, which is what should
/// cross the call instead.
///
/// A span with no parent starts a trace, whose id the tracer provider draws
/// at random: a [`TraceOrigin`] says so, and its `traceparent` carries the
/// random flag. Shared with throughline-tonic's client layer.
pub fn start_span(span: &Span) -> Result<Context, Context> {
    let current = current_context();
    if span.is_disabled() {
        return Err(current);
    }
    if !current.span().span_context().is_valid() {
        let _ = span.set_parent(current.with_value(TraceOrigin::new_trace()));
    }
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return Err(current);
    }
    TraceOrigin::started(&cx);
    Ok(cx)
}
