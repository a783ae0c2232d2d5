//! How a layer starts its spans: the head sampler it asks first, and the
//! tracer it builds a recorded span with directly, if any.

use opentelemetry::global::BoxedTracer;
use throughline_propagation::{HeadSampler, TraceId};

use crate::direct_spans::DirectSpans;
use crate::head_sampling::HeadSampling;

/// How a layer starts its spans: the head sampler it asks before building
/// any, and the tracer it builds a recorded span with directly, when it
/// has one. Shared by the server and client layers, and throughline-tonic's.
#[derive(Clone, Debug)]
pub struct SpanStart {
    /// Asked before any span is built.
    pub head: HeadSampling,
    /// Builds a recorded span directly, when it has a tracer.
    pub direct: DirectSpans,
}

impl SpanStart {
    /// Builds a span the head sampler records with `build`, given the
    /// tracer to build it directly with, if any; a span that starts a trace
    /// (`new_trace`) gets the id the decision was made on.
    pub(crate) fn record<T>(
        &self,
        new_trace: Option<TraceId>,
        build: impl FnOnce(Option<&BoxedTracer>) -> T,
    ) -> T {
        let tracer = self.direct.tracer(self.head);
        match new_trace {
            Some(trace_id) => HeadSampler::with_new_trace_id(trace_id, || build(tracer)),
            None => build(tracer),
        }
    }
}
