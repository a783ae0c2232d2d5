//! Reading the caller's context, and what the trust policy lets it do.

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanContext, TraceContextExt};
use throughline_propagation::Propagator;

use super::trust::Trust;

/// Which propagator reads the incoming context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extraction {
    /// throughline's strict codecs (the default: `tracecontext,baggage`).
    Throughline(Propagator),
    /// Whatever `opentelemetry::global::set_text_map_propagator` installed,
    /// read at each request.
    Global,
}

impl Default for Extraction {
    fn default() -> Self {
        Self::Throughline(Propagator::default())
    }
}

/// The parent of a server span, and the remote context to link to when the
/// caller is not trusted to be the parent; what [`Extraction::incoming`]
/// reads. Shared with throughline-tonic's server layer.
#[derive(Debug)]
pub struct Incoming {
    /// The parent: the caller's context when trusted, an empty one (a new
    /// trace) otherwise.
    pub parent: Context,
    /// The caller's span, when it is valid and not trusted to be the parent.
    pub link: Option<SpanContext>,
}

impl Extraction {
    /// Reads the caller's context from `headers`, and applies `trust`: a
    /// public caller's context is only a link, and its baggage is dropped.
    /// A malformed field is ignored, never an error.
    pub fn incoming(&self, headers: &HeaderMap, trust: Trust) -> Incoming {
        let extracted = match self {
            Self::Throughline(propagator) => throughline_context(propagator, headers, trust),
            Self::Global => opentelemetry::global::get_text_map_propagator(|propagator| {
                propagator.extract(&opentelemetry_http::HeaderExtractor(headers))
            }),
        };
        match trust {
            Trust::Trusted => Incoming { parent: extracted, link: None },
            Trust::Public => {
                let remote = extracted.span().span_context().clone();
                // A fresh root: no remote parent, no sampled flag, no baggage.
                Incoming { parent: Context::new(), link: remote.is_valid().then_some(remote) }
            }
        }
    }
}

fn throughline_context(propagator: &Propagator, headers: &HeaderMap, trust: Trust) -> Context {
    // Malformed fields are ignored here, as the propagator reports them:
    // an invalid traceparent starts a new trace and the request goes on.
    let extracted = propagator.extract(headers);
    let mut cx = Context::new();
    if let Some(trace) = extracted.trace {
        cx = cx.with_remote_span_context(trace.to_span_context());
    }
    if trust == Trust::Trusted && !extracted.baggage.is_empty() {
        cx = cx.with_baggage(opentelemetry::baggage::Baggage::from(&extracted.baggage));
    }
    cx
}
