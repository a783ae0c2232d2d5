//! The head decision, taken before any span is built: shared by the
//! server layer (a request's span) and the client layers (a call's).

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags};
use throughline_propagation::{HeadSampler, SpanId, TraceId, TraceOrigin};

/// Which head sampler a layer asks, before building a span, whether the
/// span is recorded.
///
/// Knowing the tracer provider's sampler lets a layer skip the span of a
/// request or call that will not be recorded: it computes the span context
/// the SDK would have given it (the parent's trace, a new span id, flags
/// cleared) and uses that. A server layer makes it OpenTelemetry's current
/// context while the request runs, so that outgoing calls propagate it,
/// log lines carry its ids, and the handler's own spans take it as their
/// parent, as they would an unrecorded server span's; a client layer
/// injects it into the call.
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

/// What the head sampler decided for a span under a parent context.
pub(crate) enum Decision {
    /// No sampler is known: build the span, and the tracer's sampler decides.
    Unknown,
    /// The span records: build it; when it starts a trace, the trace has
    /// the id the decision was made on (see `SpanStart::record`).
    Record(Option<TraceId>),
    /// Build no span: this context, with the span context the SDK gives a
    /// dropped span, stands for it.
    Unrecorded(Context),
}

impl HeadSampling {
    /// Decides for a span whose parent is `parent`.
    pub(crate) fn decide(self, parent: &Context) -> Decision {
        let head = match self {
            Self::ProcessWide => HeadSampler::global(),
            Self::Sampler(sampler) => Some(sampler),
            Self::Off => None,
        };
        let Some(head) = head else { return Decision::Unknown };
        // What the SDK's samplers look at: any active parent span's flag,
        // and the trace id of a valid one.
        let (parent_sampled, known_trace, trace_state) = {
            let span = parent.span();
            let span = span.span_context();
            let known = TraceId::try_from(span.trace_id()).ok().filter(|_| span.is_valid());
            let sampled = parent.has_active_span().then(|| span.is_sampled());
            (sampled, known, span.trace_state().clone())
        };
        let trace_id = known_trace.unwrap_or_else(TraceId::random);
        if head.samples(trace_id, parent_sampled) {
            return Decision::Record(known_trace.is_none().then_some(trace_id));
        }
        let own = SpanContext::new(
            trace_id.into(),
            SpanId::random().into(),
            TraceFlags::default(),
            false,
            trace_state,
        );
        // A trace that starts here says its id is random, as a recorded
        // span's would.
        let cx = match known_trace {
            None if parent.get::<TraceOrigin>().is_none() => {
                parent.with_value(TraceOrigin::new_trace()).with_remote_span_context(own)
            }
            _ => parent.with_remote_span_context(own),
        };
        TraceOrigin::started(&cx);
        Decision::Unrecorded(cx)
    }
}
