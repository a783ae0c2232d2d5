//! Writing the context into the outgoing headers.

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::TraceContextExt;
use throughline_propagation::{Baggage, Propagator, TraceContext};

/// Which propagator writes the outgoing context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injection {
    /// throughline's strict codecs (the default: `tracecontext,baggage`).
    Throughline(Propagator),
    /// Whatever `opentelemetry::global::set_text_map_propagator` installed,
    /// read at each request.
    Global,
}

impl Default for Injection {
    fn default() -> Self {
        Self::Throughline(Propagator::default())
    }
}

impl Injection {
    /// Writes the trace context of `cx` (its span) and its baggage into `headers`.
    pub fn inject(&self, cx: &Context, headers: &mut HeaderMap) {
        match self {
            Self::Throughline(propagator) => {
                let trace = TraceContext::from_span_context(cx.span().span_context());
                let baggage = cx.baggage();
                // The common case, no baggage, converts nothing.
                let baggage = if baggage.is_empty() { Baggage::default() } else { Baggage::from(baggage) };
                propagator.inject(trace.as_ref(), &baggage, headers);
            }
            Self::Global => opentelemetry::global::get_text_map_propagator(|propagator| {
                propagator.inject_context(cx, &mut opentelemetry_http::HeaderInjector(headers));
            }),
        }
    }
}
