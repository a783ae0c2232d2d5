//! Reading and writing the context in gRPC metadata, which travels as
//! HTTP/2 headers.

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::TraceContextExt;
use throughline_propagation::{Baggage, Propagator, TraceContext};

/// Which propagator reads and writes the context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Propagation {
    /// throughline's strict codecs (the default: `tracecontext,baggage`).
    Throughline(Propagator),
    /// Whatever `opentelemetry::global::set_text_map_propagator` installed,
    /// read at each call.
    Global,
}

impl Default for Propagation {
    fn default() -> Self {
        Self::Throughline(Propagator::default())
    }
}

impl Propagation {
    /// The caller's context; a malformed field is ignored (a malformed
    /// `traceparent` starts a new trace) and the call goes on.
    pub(crate) fn extract(&self, headers: &HeaderMap) -> Context {
        match self {
            Self::Throughline(propagator) => {
                let extracted = propagator.extract(headers);
                let mut cx = Context::new();
                if let Some(trace) = extracted.trace {
                    cx = cx.with_remote_span_context(trace.to_span_context());
                }
                if !extracted.baggage.is_empty() {
                    cx = cx.with_baggage(opentelemetry::baggage::Baggage::from(&extracted.baggage));
                }
                cx
            }
            Self::Global => opentelemetry::global::get_text_map_propagator(|propagator| {
                propagator.extract(&opentelemetry_http::HeaderExtractor(headers))
            }),
        }
    }

    /// Writes `cx` into the outgoing metadata.
    pub(crate) fn inject(&self, cx: &Context, headers: &mut HeaderMap) {
        match self {
            Self::Throughline(propagator) => {
                let trace = TraceContext::from_span_context(cx.span().span_context());
                let baggage = cx.baggage();
                // The conversion allocates: skipped for the usual empty baggage.
                let baggage = if baggage.is_empty() { Baggage::new() } else { Baggage::from(baggage) };
                propagator.inject(trace.as_ref(), &baggage, headers);
            }
            Self::Global => opentelemetry::global::get_text_map_propagator(|propagator| {
                propagator.inject_context(cx, &mut opentelemetry_http::HeaderInjector(headers));
            }),
        }
    }
}
