//! The client span: created with the method as its name, so nothing is
//! allocated before the sampler has spoken.

use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;
use throughline_propagation::{HeadSampler, TraceOrigin};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::current::current_context;
use crate::head_sampling::{Decision, HeadSampling};
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
pub(crate) fn start(method: &HttpMethod<'_>, head: HeadSampling) -> (Span, Context, bool) {
    let (span, started) = start_span(head, || {
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

/// Starts a client span, a child of the current span: the head sampler
/// decides first, and a call it does not record gets no span (a disabled
/// one), only the span context the SDK would have given it; otherwise
/// `span` is built and started, which is where the tracer's sampler
/// decides. Returns the span and its context, or, when the span has no
/// OpenTelemetry span of its own (disabled, or kept from the OpenTelemetry
/// layer by a per-layer filter), the current context, which is what should
/// cross the call instead.
///
/// A span with no parent starts a trace, whose id the tracer provider draws
/// at random: a [`TraceOrigin`] says so, and its `traceparent` carries the
/// random flag. Shared with throughline-tonic's client layer.
pub fn start_span(head: HeadSampling, span: impl FnOnce() -> Span) -> (Span, Result<Context, Context>) {
    let current = current_context();
    match head.decide(&current) {
        Decision::Unknown | Decision::Record => {
            let span = span();
            let started = start_child(&span, current);
            (span, started)
        }
        Decision::RecordNewTrace(trace_id) => HeadSampler::with_new_trace_id(trace_id, || {
            let span = span();
            let started = start_child(&span, current);
            (span, started)
        }),
        Decision::Unrecorded(cx) => (Span::none(), Ok(cx)),
    }
}

fn start_child(span: &Span, current: Context) -> Result<Context, Context> {
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
