//! The server span, decided before it is built: a request the head sampler
//! does not record gets no span at all, only the context it propagates.

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, ContextGuard};
use throughline_propagation::{HeadSampler, TraceOrigin};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::extract::Incoming;
use crate::head_sampling::{Decision, HeadSampling};

/// A request's span: a `tracing` span bridged to OpenTelemetry, or, for a
/// server request the head sampler does not record, only its context.
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
    /// The unrecorded span's context is attached.
    Context(ContextGuard),
}

impl Incoming {
    /// Starts the server span. When `head` knows the sampler and it does
    /// not record the request, no span is built: only the context the SDK
    /// would have given it. Otherwise `span` is parented (or linked) as the
    /// trust policy said and started, which is where the sampler decides.
    pub fn start(self, head: HeadSampling, span: impl FnOnce() -> Span) -> RequestSpan {
        match head.decide(&self.parent) {
            Decision::Build => self.start_span(span()),
            Decision::BuildNewTrace(trace_id) => {
                HeadSampler::with_new_trace_id(trace_id, || self.start_span(span()))
            }
            Decision::Unrecorded(cx) => RequestSpan { span: None, cx, recording: false },
        }
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
