//! The trace position that travels between services.

use crate::ids::SpanId;
use crate::traceparent::TraceParent;
use crate::tracestate::TraceState;

/// A W3C trace context: the `traceparent` and its companion `tracestate`.
///
/// ```
/// use throughline_propagation::{SpanId, TraceContext, TraceParent};
///
/// let incoming = TraceContext::new(TraceParent::new_trace(true));
/// // What this service sends downstream: the same trace, its own span as parent.
/// let outgoing = incoming.child(SpanId::random());
/// assert_eq!(outgoing.traceparent.trace_id(), incoming.traceparent.trace_id());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// Trace id, parent span id and flags.
    pub traceparent: TraceParent,
    /// Vendor positions; empty when there are none.
    pub tracestate: TraceState,
}

impl TraceContext {
    /// A context with an empty `tracestate`.
    pub const fn new(traceparent: TraceParent) -> Self {
        Self { traceparent, tracestate: TraceState::new() }
    }

    /// The context to send from the span `span_id`: same trace, flags and
    /// `tracestate`, with `span_id` as the parent.
    pub fn child(&self, span_id: SpanId) -> Self {
        Self { traceparent: self.traceparent.with_parent_id(span_id), tracestate: self.tracestate.clone() }
    }
}

impl From<TraceParent> for TraceContext {
    fn from(traceparent: TraceParent) -> Self {
        Self::new(traceparent)
    }
}
