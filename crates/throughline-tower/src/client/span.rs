//! The client span: created with the method as its name, so nothing is
//! allocated before the sampler has spoken.

use opentelemetry::Context;
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
use throughline_propagation::TraceOrigin;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::current::current_context;
use crate::head_sampling::Decision;
use crate::semconv::HttpMethod;
use crate::span_start::SpanStart;

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
pub(crate) fn start(method: &HttpMethod<'_>, start: &SpanStart) -> (Span, Context, bool) {
    let (span, started) = start_span(start, method.span_name(), || {
        span_named!(
            method.span_name(),
            "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS" | "CONNECT" | "TRACE"
        )
    });
    match started {
        Ok(cx) => {
            let recording = cx.span().is_recording();
            (span, cx, recording)
        }
        Err(current) => (span, current, false),
    }
}

/// Starts a client span named `name` (what `span` is named), a child of
/// the current span. The head sampler decides first: a call it does not
/// record gets no span (a disabled one), only the span context the SDK
/// would have given it, and one it records is built directly when `start`
/// has a tracer. Otherwise `span` is built and started, which is where the
/// tracer's sampler decides. Returns the span and its context, or, when the
/// span has no OpenTelemetry span of its own (disabled, or kept from the
/// OpenTelemetry layer by a per-layer filter), the current context, which
/// is what should cross the call instead.
///
/// A span with no parent starts a trace, whose id the tracer provider draws
/// at random: a [`TraceOrigin`] says so, and its `traceparent` carries the
/// random flag. Shared with throughline-tonic's client layer.
pub fn start_span(
    start: &SpanStart,
    name: &'static str,
    span: impl FnOnce() -> Span,
) -> (Span, Result<Context, Context>) {
    let current = current_context();
    match start.head.decide(&current) {
        Decision::Unknown => bridged(span(), current),
        Decision::Unrecorded(cx) => (Span::none(), Ok(cx)),
        Decision::Record(new_trace) => start.record(new_trace, |tracer| match tracer {
            Some(tracer) => (Span::none(), Ok(direct(tracer, name, current))),
            None => bridged(span(), current),
        }),
    }
}

/// The parent of a client span: the current context, marked as a trace
/// that starts here when it has no span.
fn parent(current: Context) -> Context {
    if current.span().span_context().is_valid() {
        current
    } else {
        current.with_value(TraceOrigin::new_trace())
    }
}

fn direct(tracer: &BoxedTracer, name: &'static str, current: Context) -> Context {
    let parent = parent(current);
    let span = tracer.build_with_context(tracer.span_builder(name).with_kind(SpanKind::Client), &parent);
    let cx = parent.with_span(span);
    TraceOrigin::started(&cx);
    cx
}

fn bridged(span: Span, current: Context) -> (Span, Result<Context, Context>) {
    if span.is_disabled() {
        return (span, Err(current));
    }
    if !current.span().span_context().is_valid() {
        let _ = span.set_parent(parent(current.clone()));
    }
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return (span, Err(current));
    }
    TraceOrigin::started(&cx);
    (span, Ok(cx))
}
