//! The server span, decided before it is built: a request the head sampler
//! does not record gets no span at all, only the context it propagates, and
//! one it records is built directly as an OpenTelemetry span when a tracer
//! is known.

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, ContextGuard};
use throughline_propagation::TraceOrigin;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::extract::Incoming;
use crate::head_sampling::Decision;
use crate::span_start::SpanStart;

/// A request's span: a `tracing` span bridged to OpenTelemetry, an
/// OpenTelemetry span built directly, or, for a server request the head
/// sampler does not record, only its context.
/// Shared with throughline-tonic's layers.
#[derive(Debug)]
pub struct RequestSpan {
    span: Option<Span>,
    cx: Context,
    recording: bool,
}

impl RequestSpan {
    /// A started `span` and its OpenTelemetry context `cx`.
    pub fn new(span: Span, cx: Context) -> Self {
        let recording = cx.span().is_recording();
        Self { span: Some(span), cx, recording }
    }

    /// A span with no `tracing` span: one built directly, or only the
    /// context of an unrecorded one. Entering it attaches `cx`.
    pub fn from_context(cx: Context) -> Self {
        let recording = cx.span().is_recording();
        Self { span: None, cx, recording }
    }

    /// The span's OpenTelemetry context: its ids, and the caller's baggage.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Whether the span records, so that attributes are worth building.
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Makes the span current until the guard drops: entered, or its
    /// context attached when there is no `tracing` span.
    pub fn enter(&self) -> Entered<'_> {
        match &self.span {
            Some(span) => Entered::Span(span.enter()),
            None => Entered::Context(self.cx.clone().attach()),
        }
    }
}

/// The guard [`RequestSpan::enter`] returns.
#[derive(Debug)]
pub enum Entered<'a> {
    /// The `tracing` span is entered.
    Span(tracing::span::Entered<'a>),
    /// The context is attached: there is no `tracing` span.
    Context(ContextGuard),
}

impl Incoming {
    /// Starts the server span, named `name` (what `span` is named).
    ///
    /// When the head sampler does not record the request, no span is built:
    /// only the context the SDK would have given it. When it does and
    /// `start` has a tracer, the span is built with it, directly as an
    /// OpenTelemetry span. Otherwise `span` is parented (or linked) as the
    /// trust policy said and started, which is where the sampler decides.
    pub fn start(self, start: &SpanStart, name: &'static str, span: impl FnOnce() -> Span) -> RequestSpan {
        match start.head.decide(&self.parent) {
            Decision::Unknown => self.start_span(span()),
            Decision::Unrecorded(cx) => RequestSpan::from_context(cx),
            Decision::Record(new_trace) => start.record(new_trace, |tracer| match tracer {
                Some(tracer) => self.start_direct(tracer, name),
                None => self.start_span(span()),
            }),
        }
    }

    fn start_direct(self, tracer: &BoxedTracer, name: &'static str) -> RequestSpan {
        let mut builder = tracer.span_builder(name).with_kind(SpanKind::Server);
        if let Some(link) = self.link {
            builder = builder.with_links(vec![Link::with_context(link)]);
        }
        let cx = self.parent.with_span(tracer.build_with_context(builder, &self.parent));
        TraceOrigin::started(&cx);
        RequestSpan::from_context(cx)
    }

    fn start_span(self, span: Span) -> RequestSpan {
        // Errors mean no OpenTelemetry layer, or a disabled span: nothing to parent.
        let _ = span.set_parent(self.parent);
        if let Some(link) = self.link {
            span.add_link(link);
        }
        let cx = span.context();
        TraceOrigin::started(&cx);
        RequestSpan::new(span, cx)
    }
}
