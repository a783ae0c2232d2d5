//! The head sampler the configuration names, and its description for
//! throughline's layers, which decide before building a span.

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, Sampler};
use throughline_propagation::HeadSampler;

use crate::config::SamplerConfig;

pub(crate) fn sampler(config: SamplerConfig) -> Sampler {
    let parent_based = |root: Sampler| Sampler::ParentBased(Box::new(root));
    match config {
        SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
        SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
        SamplerConfig::TraceIdRatio(ratio) => Sampler::TraceIdRatioBased(ratio),
        SamplerConfig::ParentBasedAlwaysOn => parent_based(Sampler::AlwaysOn),
        SamplerConfig::ParentBasedAlwaysOff => parent_based(Sampler::AlwaysOff),
        SamplerConfig::ParentBasedTraceIdRatio(ratio) => parent_based(Sampler::TraceIdRatioBased(ratio)),
    }
}

/// The same sampler, described for deciding before any span is built.
pub(crate) fn head_sampler(config: SamplerConfig) -> HeadSampler {
    match config {
        SamplerConfig::AlwaysOn => HeadSampler::ALWAYS_ON,
        SamplerConfig::AlwaysOff => HeadSampler::ALWAYS_OFF,
        SamplerConfig::TraceIdRatio(ratio) => HeadSampler::trace_id_ratio(ratio),
        SamplerConfig::ParentBasedAlwaysOn => HeadSampler::ALWAYS_ON.parent_based(),
        SamplerConfig::ParentBasedAlwaysOff => HeadSampler::ALWAYS_OFF.parent_based(),
        SamplerConfig::ParentBasedTraceIdRatio(ratio) => HeadSampler::trace_id_ratio(ratio).parent_based(),
    }
}

/// The SDK's random ids, except that a trace whose head decision drew its
/// id ([`HeadSampler::with_new_trace_id`]) starts with that id: the
/// decision was made on it.
#[derive(Debug, Default)]
pub(crate) struct HeadDecidedIds(RandomIdGenerator);

impl IdGenerator for HeadDecidedIds {
    fn new_trace_id(&self) -> TraceId {
        match HeadSampler::take_new_trace_id() {
            Some(id) => id.into(),
            None => self.0.new_trace_id(),
        }
    }

    fn new_span_id(&self) -> SpanId {
        self.0.new_span_id()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanKind, TraceContextExt, TraceFlags, TraceState};
    use opentelemetry::{Context, trace::SpanContext};
    use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};

    use super::*;

    const CONFIGS: [SamplerConfig; 8] = [
        SamplerConfig::AlwaysOn,
        SamplerConfig::AlwaysOff,
        SamplerConfig::TraceIdRatio(0.1),
        SamplerConfig::TraceIdRatio(0.5),
        SamplerConfig::ParentBasedAlwaysOn,
        SamplerConfig::ParentBasedAlwaysOff,
        SamplerConfig::ParentBasedTraceIdRatio(0.1),
        SamplerConfig::ParentBasedTraceIdRatio(0.9),
    ];

    /// The description decides as the SDK's sampler on every configuration,
    /// for roots and for sampled and unsampled parents, over many trace ids.
    #[test]
    fn the_head_sampler_decides_as_the_sdk() {
        for config in CONFIGS {
            let (sdk, head) = (sampler(config), head_sampler(config));
            for _ in 0..2_000 {
                let trace_id = throughline_propagation::TraceId::random();
                for parent_sampled in [None, Some(true), Some(false)] {
                    let parent = parent_sampled.map(|sampled| {
                        let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
                        let span =
                            SpanContext::new(trace_id.into(), SpanId::from(7), flags, true, TraceState::NONE);
                        Context::new().with_remote_span_context(span)
                    });
                    let decision = sdk
                        .should_sample(parent.as_ref(), trace_id.into(), "s", &SpanKind::Server, &[], &[])
                        .decision;
                    assert_eq!(
                        head.samples(trace_id, parent_sampled),
                        decision == SamplingDecision::RecordAndSample,
                        "{config:?}, {trace_id}, parent sampled {parent_sampled:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_decided_trace_starts_with_the_id_it_was_decided_on() {
        let ids = HeadDecidedIds::default();
        let drawn = throughline_propagation::TraceId::random();
        let started = HeadSampler::with_new_trace_id(drawn, || ids.new_trace_id());
        assert_eq!(started, drawn.into());
        assert_ne!(ids.new_trace_id(), TraceId::from(drawn), "only once");
    }
}
