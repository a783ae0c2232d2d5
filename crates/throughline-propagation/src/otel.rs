//! The bridge to the `opentelemetry` API: conversions, and [`Propagator`] as a
//! `TextMapPropagator`, so the SDK's global propagator can be this crate's
//! (`opentelemetry::global::set_text_map_propagator(Propagator::default())`).

use opentelemetry::Context;
use opentelemetry::baggage::{BaggageExt, KeyValueMetadata};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{self, TextMapPropagator};
use opentelemetry::trace::{self as otel, TraceContextExt};

use crate::baggage::{Baggage, BaggageMember};
use crate::carrier::{Extractor, Field, Injector};
use crate::context::TraceContext;
use crate::ids::{IdError, SpanId, TraceFlags, TraceId};
use crate::propagator::{Format, Propagator};
use crate::traceparent::TraceParent;
use crate::tracestate::TraceState;

impl From<TraceId> for otel::TraceId {
    fn from(id: TraceId) -> Self {
        otel::TraceId::from_bytes(id.to_bytes())
    }
}

impl TryFrom<otel::TraceId> for TraceId {
    type Error = IdError;
    fn try_from(id: otel::TraceId) -> Result<Self, IdError> {
        TraceId::from_bytes(id.to_bytes()).ok_or(IdError::AllZero)
    }
}

impl From<SpanId> for otel::SpanId {
    fn from(id: SpanId) -> Self {
        otel::SpanId::from_bytes(id.to_bytes())
    }
}

impl TryFrom<otel::SpanId> for SpanId {
    type Error = IdError;
    fn try_from(id: otel::SpanId) -> Result<Self, IdError> {
        SpanId::from_bytes(id.to_bytes()).ok_or(IdError::AllZero)
    }
}

impl From<TraceFlags> for otel::TraceFlags {
    fn from(flags: TraceFlags) -> Self {
        otel::TraceFlags::new(flags.bits())
    }
}

impl From<otel::TraceFlags> for TraceFlags {
    fn from(flags: otel::TraceFlags) -> Self {
        TraceFlags::new(flags.to_u8())
    }
}

impl TraceContext {
    /// The remote `SpanContext` this context describes, for parenting spans.
    ///
    /// The `opentelemetry` `TraceState` rejects a few keys the W3C grammar
    /// allows (a vendor id of 14 characters); such a member is left out,
    /// not the whole `tracestate` with it.
    pub fn to_span_context(&self) -> otel::SpanContext {
        let tracestate = otel::TraceState::from_key_value(self.tracestate.iter()).unwrap_or_else(|_| {
            let accepted =
                self.tracestate.iter().filter(|member| otel::TraceState::from_key_value([*member]).is_ok());
            otel::TraceState::from_key_value(accepted).unwrap_or(otel::TraceState::NONE)
        });
        otel::SpanContext::new(
            self.traceparent.trace_id().into(),
            self.traceparent.parent_id().into(),
            self.traceparent.flags().into(),
            true,
            tracestate,
        )
    }

    /// The context to send for `span`, or `None` when it is invalid. Members of
    /// its `TraceState` that break the W3C grammar, which the `opentelemetry`
    /// type lets through, are left out.
    pub fn from_span_context(span: &otel::SpanContext) -> Option<Self> {
        let trace_id = TraceId::try_from(span.trace_id()).ok()?;
        let span_id = SpanId::try_from(span.span_id()).ok()?;
        Some(Self {
            traceparent: TraceParent::new(trace_id, span_id, span.trace_flags().into()),
            tracestate: TraceState::from_members_lossy(span.trace_state()),
        })
    }
}

impl From<&Baggage> for opentelemetry::baggage::Baggage {
    fn from(baggage: &Baggage) -> Self {
        baggage
            .iter()
            .map(|m| KeyValueMetadata::new(m.key().to_owned(), m.value().to_owned(), m.properties_str()))
            .collect()
    }
}

impl From<&opentelemetry::baggage::Baggage> for Baggage {
    /// Members that break the W3C grammar or the limits are left out.
    fn from(baggage: &opentelemetry::baggage::Baggage) -> Self {
        let mut ours = Baggage::new();
        for (key, (value, metadata)) in baggage {
            let member =
                BaggageMember::new(key.as_str(), value.as_str()).and_then(|m| match metadata.as_str() {
                    "" => Ok(m),
                    properties => m.with_properties(properties.trim_start_matches(';')),
                });
            if let Ok(member) = member {
                let _over_limit_left_out = ours.insert_member(member);
            }
        }
        ours
    }
}

/// Reads through an `opentelemetry` extractor, every line of a field included.
struct OtelExtractor<'a>(&'a dyn propagation::Extractor);

impl<'x> Extractor for OtelExtractor<'x> {
    fn get_all<'a>(&'a self, field: &Field) -> impl Iterator<Item = &'a [u8]> + use<'a, 'x> {
        self.0.get_all(field.as_str()).unwrap_or_default().into_iter().map(str::as_bytes)
    }
}

/// Writes through an `opentelemetry` injector, which cannot remove a field.
struct OtelInjector<'a>(&'a mut dyn propagation::Injector);

impl Injector for OtelInjector<'_> {
    fn set(&mut self, field: &Field, value: &str) {
        self.0.set(field.as_str(), value.to_owned());
    }

    fn remove(&mut self, _field: &Field) {}
}

impl TextMapPropagator for Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn propagation::Injector) {
        let span = cx.span();
        let trace = TraceContext::from_span_context(span.span_context());
        let baggage = if self.has(Format::Baggage) { Baggage::from(cx.baggage()) } else { Baggage::new() };
        self.inject(trace.as_ref(), &baggage, &mut OtelInjector(injector));
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn propagation::Extractor) -> Context {
        let extracted = self.extract(&OtelExtractor(extractor));
        let mut cx = match extracted.trace {
            Some(trace) => cx.with_remote_span_context(trace.to_span_context()),
            None => cx.clone(),
        };
        if !extracted.baggage.is_empty() {
            cx = cx.with_baggage(opentelemetry::baggage::Baggage::from(&extracted.baggage));
        }
        cx
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(self.field_names())
    }
}
