//! Reading the caller's context, and what the trust policy lets it do.

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanContext, TraceContextExt};
use throughline_propagation::{Propagator, TraceOrigin};

use super::trust::Trust;
use crate::process_wide::process_wide;

/// Which propagator reads the incoming context.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Extraction {
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

/// The parent of a server span, and the remote context to link to when the
/// caller is not trusted to be the parent; what [`Extraction::incoming`]
/// reads, and what [`Incoming::start`] starts the server span from.
/// Shared with throughline-tonic's server layer.
#[derive(Debug)]
pub struct Incoming {
    /// The parent: the caller's context when trusted, a new trace otherwise.
    pub parent: Context,
    /// The caller's span, when it is valid and not trusted to be the parent.
    pub link: Option<SpanContext>,
}

impl Extraction {
    /// Reads the caller's context from `headers`, and applies `trust`: a
    /// public caller's context is only a link, and its baggage is dropped.
    /// A malformed field is ignored, never an error.
    pub fn incoming(&self, headers: &HeaderMap, trust: Trust) -> Incoming {
        let extracted = match self.resolve() {
            Some(propagator) => throughline_context(&propagator, headers, trust),
            None => opentelemetry::global::get_text_map_propagator(|propagator| {
                propagator.extract(&opentelemetry_http::HeaderExtractor(headers))
            }),
        };
        let (parent, link) = match trust {
            Trust::Trusted => (extracted, None),
            Trust::Public => {
                let remote = extracted.span().span_context().clone();
                // A fresh root: no remote parent, no sampled flag, no baggage.
                (Context::new(), remote.is_valid().then_some(remote))
            }
        };
        if parent.span().span_context().is_valid() {
            Incoming { parent, link }
        } else {
            // The server span starts the trace, with an id the tracer
            // provider draws at random: its traceparent says so.
            Incoming { parent: parent.with_value(TraceOrigin::new_trace()), link }
        }
    }

    /// The throughline propagator to use, or `None` for OpenTelemetry's global one.
    fn resolve(&self) -> Option<Propagator> {
        match self {
            Self::Throughline(propagator) => Some(*propagator),
            Self::Global => None,
            Self::ProcessWide => process_wide(),
        }
    }
}

fn throughline_context(propagator: &Propagator, headers: &HeaderMap, trust: Trust) -> Context {
    // Malformed fields are ignored here, as the propagator reports them:
    // an invalid traceparent starts a new trace and the request goes on.
    let extracted = propagator.extract(headers);
    let mut cx = Context::new();
    if let Some(trace) = extracted.trace {
        cx = trace.to_context(&cx);
    }
    if trust == Trust::Trusted && !extracted.baggage.is_empty() {
        cx = cx.with_baggage(opentelemetry::baggage::Baggage::from(&extracted.baggage));
    }
    cx
}
