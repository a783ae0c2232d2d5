//! Writing the context into the outgoing headers.

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use throughline_propagation::{Baggage, Propagator, TraceContext};

use crate::process_wide::process_wide;

/// Which propagator writes the outgoing context.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Injection {
    /// The process-wide propagator (the default), read at each request:
    /// the one [`Propagator::set_global`] installed (`throughline::init()`
    /// installs `OTEL_PROPAGATORS`'), else OpenTelemetry's global text-map
    /// propagator when one was set, else `tracecontext,baggage`.
    #[default]
    ProcessWide,
    /// These formats, with throughline's strict codecs, whatever the process
    /// installed.
    Throughline(Propagator),
    /// Whatever `opentelemetry::global::set_text_map_propagator` installed,
    /// read at each request.
    Global,
}

impl Injection {
    /// Writes the trace context of `cx` (its span) and its baggage into
    /// `headers`. The random flag and a `tracestate` that OpenTelemetry's
    /// types cannot hold travel as the context's
    /// [`TraceOrigin`](throughline_propagation::TraceOrigin) says.
    pub fn inject(&self, cx: &Context, headers: &mut HeaderMap) {
        let propagator = match self {
            Self::Throughline(propagator) => Some(*propagator),
            Self::Global => None,
            Self::ProcessWide => process_wide(),
        };
        match propagator {
            Some(propagator) => {
                let trace = TraceContext::from_context(cx);
                let baggage = cx.baggage();
                // The common case, no baggage, converts nothing.
                let baggage = if baggage.is_empty() { Baggage::default() } else { Baggage::from(baggage) };
                propagator.inject(trace.as_ref(), &baggage, headers);
            }
            None => opentelemetry::global::get_text_map_propagator(|propagator| {
                propagator.inject_context(cx, &mut opentelemetry_http::HeaderInjector(headers));
            }),
        }
    }
}
