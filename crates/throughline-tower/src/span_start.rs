//! How a layer starts its spans: the head sampler it asks first, and the
//! tracer it builds a recorded span with directly, if any.

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
