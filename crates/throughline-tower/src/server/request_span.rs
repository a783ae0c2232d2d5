//! The server span, decided before it is built: a request the head sampler
//! does not record gets no span at all, only the context it propagates.

use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags};
use opentelemetry::{Context, ContextGuard};
use throughline_propagation::{HeadSampler, SpanId, TraceId, TraceOrigin};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::extract::Incoming;

/// Which head sampler a server layer asks, before building a span, whether
/// a request is recorded.
///
/// Knowing the tracer provider's sampler lets a layer skip the span of a
/// request that will not be recorded: it computes the span context the
/// SDK would have given it (the caller's trace, a new span id, flags
/// cleared) and makes it the current OpenTelemetry context while the
/// request runs. Outgoing calls propagate it, log lines carry its ids, and
/// the handler's own spans take it as their parent, as they would an
/// unrecorded server span's.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum HeadSampling {
    /// The head sampler `throughline::init()` published
    /// ([`HeadSampler::set_global`]), read at each request; none published
    /// means [`HeadSampling::Off`].
    #[default]
    ProcessWide,
    /// This sampler, which must describe the tracer provider's.
    Sampler(HeadSampler),
    /// No decision up front: every traced request is a `tracing` span, and
    /// tracing-opentelemetry's sampler decides whether it records.
    Off,
}

impl HeadSampling {
    fn resolve(self) -> Option<HeadSampler> {
        match self {
            Self::ProcessWide => HeadSampler::global(),
            Self::Sampler(sampler) => Some(sampler),
            Self::Off => None,
        }
    }
}

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
        let Some(head) = head.resolve() else { return self.start_span(span()) };
        // What the SDK's samplers look at: any active parent span's flag,
        // and the trace id of a valid one.
        let (parent_sampled, known_trace, trace_state) = {
            let parent = self.parent.span();
            let parent = parent.span_context();
            let known = TraceId::try_from(parent.trace_id()).ok().filter(|_| parent.is_valid());
            let sampled = self.parent.has_active_span().then(|| parent.is_sampled());
            (sampled, known, parent.trace_state().clone())
        };
        let trace_id = known_trace.unwrap_or_else(TraceId::random);
        if head.samples(trace_id, parent_sampled) {
            return match known_trace {
                Some(_) => self.start_span(span()),
                // The trace starts with the id the decision was made on.
                None => HeadSampler::with_new_trace_id(trace_id, || self.start_span(span())),
            };
        }
        // The span context the SDK gives a dropped span.
        let own = SpanContext::new(
            trace_id.into(),
            SpanId::random().into(),
            TraceFlags::default(),
            false,
            trace_state,
        );
        let cx = self.parent.with_remote_span_context(own);
        TraceOrigin::started(&cx);
        RequestSpan { span: None, cx, recording: false }
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
