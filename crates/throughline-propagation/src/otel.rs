//! The bridge to the `opentelemetry` API: conversions, [`TraceOrigin`], and
//! [`Propagator`] as a `TextMapPropagator`, so the SDK's global propagator can
//! be this crate's (`opentelemetry::global::set_text_map_propagator(Propagator::default())`).
//!
//! Going through OpenTelemetry's types loses two things a W3C header holds:
//! the Level 2 random flag (the SDK gives a span it does not record default
//! flags) and `tracestate` members that OpenTelemetry's `TraceState` refuses
//! although the W3C grammar allows them. [`TraceContext::to_context`] keeps
//! both in a [`TraceOrigin`] beside the remote span context, and
//! [`TraceContext::from_context`], which every throughline injector calls,
//! puts them back.

use std::sync::OnceLock;

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

/// What throughline knows of a trace that OpenTelemetry's `SpanContext`
/// cannot hold, carried as a value of the OpenTelemetry [`Context`] and so
/// inherited by every span below it.
///
/// - **The random flag.** It says the trace id is random, so it belongs to
///   the trace: every `traceparent` sent for the trace carries it, sampled or
///   not, whatever flags the SDK gave the span.
/// - **The `tracestate` as received**, when OpenTelemetry's `TraceState`
///   refused some of its members. It is sent instead of the span's own
///   `TraceState` while that is still what the received one became (no
///   vendor changed an entry); once a vendor changes it, the span's state
///   is sent, without the refused members.
///
/// Both apply only to spans of the origin's own trace: a descendant given
/// another trace's parent sends its own flags and state.
///
/// ```
/// use opentelemetry::Context;
/// use throughline_propagation::{TraceContext, TraceParent};
///
/// let received: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02".parse()?;
/// let mut trace = TraceContext::new(received);
/// trace.tracestate = "a@b@c=1,bar=2".parse()?; // `a@b@c` is valid W3C, refused by OpenTelemetry
/// let cx = trace.to_context(&Context::new());
/// let sent = TraceContext::from_context(&cx).expect("a valid span context");
/// assert!(sent.traceparent.flags().is_random());
/// assert_eq!(sent.tracestate.as_str(), "a@b@c=1,bar=2");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct TraceOrigin {
    /// The trace this is about. Unset for a trace started here until the
    /// first span of it has started ([`TraceOrigin::started`]).
    trace_id: OnceLock<otel::TraceId>,
    random: bool,
    received: Option<ReceivedState>,
}

/// A `tracestate` as received, and what OpenTelemetry's type made of it.
#[derive(Debug)]
struct ReceivedState {
    header: TraceState,
    as_otel: otel::TraceState,
}

impl TraceOrigin {
    /// The origin of a trace that starts here, under a tracer provider whose
    /// id generator draws random trace ids (the SDK's default, and what
    /// throughline-pipeline installs): its `traceparent` carries the random
    /// flag. Put it in the parent context of the trace's first span, then
    /// call [`TraceOrigin::started`] with that span's context.
    pub fn new_trace() -> Self {
        Self { trace_id: OnceLock::new(), random: true, received: None }
    }

    /// Ties the [`TraceOrigin::new_trace`] in `cx` to the trace of `cx`'s span,
    /// now that the span has started and has its trace id. Does nothing when
    /// `cx` holds no such origin.
    pub fn started(cx: &Context) {
        if let Some(origin) = cx.get::<Self>() {
            let span = cx.span();
            if span.span_context().is_valid() {
                let _already_tied = origin.trace_id.set(span.span_context().trace_id());
            }
        }
    }

    fn applies_to(&self, span: &otel::SpanContext) -> bool {
        self.trace_id.get() == Some(&span.trace_id())
    }
}

impl TraceContext {
    /// `parent` with this context as its remote span context, the parent of
    /// spans created under it, and with a [`TraceOrigin`] when the
    /// `SpanContext` alone would lose the random flag or a `tracestate`
    /// member. The common case, neither, adds no value to the context.
    pub fn to_context(&self, parent: &Context) -> Context {
        let (trace_state, lossless) = self.otel_trace_state();
        let random = self.traceparent.flags().is_random();
        let received = (!lossless)
            .then(|| ReceivedState { header: self.tracestate.clone(), as_otel: trace_state.clone() });
        let span = self.remote_span_context(trace_state);
        let trace_id = span.trace_id();
        let cx = parent.with_remote_span_context(span);
        if random || received.is_some() {
            cx.with_value(TraceOrigin { trace_id: OnceLock::from(trace_id), random, received })
        } else {
            cx
        }
    }

    /// The context to send for the span of `cx`, or `None` when it has no
    /// valid span: the span's ids and flags, with what the [`TraceOrigin`]
    /// of its trace adds (the random flag, the `tracestate` as received).
    pub fn from_context(cx: &Context) -> Option<Self> {
        let span = cx.span();
        let span = span.span_context();
        let mut traceparent = traceparent_of(span)?;
        let origin = cx.get::<TraceOrigin>().filter(|origin| origin.applies_to(span));
        if origin.is_some_and(|origin| origin.random) {
            traceparent = traceparent.with_flags(traceparent.flags().with_random(true));
        }
        let tracestate = match origin.and_then(|origin| origin.received.as_ref()) {
            Some(received) if received.as_otel == *span.trace_state() => received.header.clone(),
            _ => TraceState::from_members_lossy(span.trace_state()),
        };
        Some(Self { traceparent, tracestate })
    }

    /// The remote `SpanContext` this context describes, for parenting spans.
    ///
    /// The `opentelemetry` `TraceState` refuses some keys the W3C grammar
    /// allows (`a@b@c`, `t@` followed by 15 characters); such a member is left out, not the whole
    /// `tracestate` with it. [`TraceContext::to_context`] keeps it.
    pub fn to_span_context(&self) -> otel::SpanContext {
        self.remote_span_context(self.otel_trace_state().0)
    }

    fn remote_span_context(&self, trace_state: otel::TraceState) -> otel::SpanContext {
        otel::SpanContext::new(
            self.traceparent.trace_id().into(),
            self.traceparent.parent_id().into(),
            self.traceparent.flags().into(),
            true,
            trace_state,
        )
    }

    /// The `tracestate` as OpenTelemetry's type, and whether every member made it.
    fn otel_trace_state(&self) -> (otel::TraceState, bool) {
        if self.tracestate.is_empty() {
            return (otel::TraceState::NONE, true); // the common case, without a parse
        }
        match otel::TraceState::from_key_value(self.tracestate.iter()) {
            Ok(state) => (state, true),
            Err(_) => {
                let accepted = self
                    .tracestate
                    .iter()
                    .filter(|member| otel::TraceState::from_key_value([*member]).is_ok());
                (otel::TraceState::from_key_value(accepted).unwrap_or(otel::TraceState::NONE), false)
            }
        }
    }

    /// The context to send for `span`, or `None` when it is invalid. Members of
    /// its `TraceState` that break the W3C grammar, which the `opentelemetry`
    /// type lets through, are left out. It knows nothing of the span's
    /// [`TraceOrigin`]: [`TraceContext::from_context`] does.
    pub fn from_span_context(span: &otel::SpanContext) -> Option<Self> {
        Some(Self {
            traceparent: traceparent_of(span)?,
            tracestate: TraceState::from_members_lossy(span.trace_state()),
        })
    }
}

fn traceparent_of(span: &otel::SpanContext) -> Option<TraceParent> {
    let trace_id = TraceId::try_from(span.trace_id()).ok()?;
    let span_id = SpanId::try_from(span.span_id()).ok()?;
    Some(TraceParent::new(trace_id, span_id, span.trace_flags().into()))
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

    fn get_prefixed<'a>(
        &'a self,
        prefix: &'static str,
    ) -> impl Iterator<Item = (&'a str, &'a [u8])> + use<'a, 'x> {
        self.0.keys().into_iter().filter_map(move |key| {
            let starts =
                key.as_bytes().get(..prefix.len()).is_some_and(|s| s.eq_ignore_ascii_case(prefix.as_bytes()));
            let value = self.0.get(key).filter(|_| starts)?;
            Some((key, value.as_bytes()))
        })
    }
}

/// Writes through an `opentelemetry` injector, which cannot remove a field.
struct OtelInjector<'a>(&'a mut dyn propagation::Injector);

impl Injector for OtelInjector<'_> {
    fn set(&mut self, field: &Field, value: &str) {
        self.0.set(field.as_str(), value.to_owned());
    }

    fn remove(&mut self, _field: &Field) {}

    fn set_named(&mut self, name: &str, value: &str) {
        self.0.set(name, value.to_owned());
    }
}

impl TextMapPropagator for Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn propagation::Injector) {
        let trace = TraceContext::from_context(cx);
        let carries_baggage = self.has(Format::Baggage) || self.has(Format::Jaeger);
        let baggage = if carries_baggage { Baggage::from(cx.baggage()) } else { Baggage::new() };
        self.inject(trace.as_ref(), &baggage, &mut OtelInjector(injector));
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn propagation::Extractor) -> Context {
        let extracted = self.extract(&OtelExtractor(extractor));
        let mut cx = match extracted.trace {
            Some(trace) => trace.to_context(cx),
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
