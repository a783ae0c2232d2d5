//! The bridge to `opentelemetry`: conversions and the `TextMapPropagator`.
#![cfg(feature = "opentelemetry")]

use std::collections::HashMap;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
use opentelemetry::{Context, KeyValue};
use throughline_propagation::{Baggage, Propagator, TraceContext, TraceParent};

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03";

fn carrier(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn extracts_a_remote_span_context_with_the_random_flag() {
    let cx = TextMapPropagator::extract(
        &Propagator::default(),
        &carrier(&[("traceparent", VALID), ("tracestate", "congo=t61rcWkgMzE"), ("baggage", "user=alice")]),
    );
    let span = cx.span();
    let remote = span.span_context();
    assert!(remote.is_remote());
    assert_eq!(remote.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(remote.trace_flags().to_u8(), 0x03);
    assert_eq!(remote.trace_state().get("congo"), Some("t61rcWkgMzE"));
    assert_eq!(cx.baggage().get("user").map(|v| v.as_str()), Some("alice"));
}

#[test]
fn an_invalid_traceparent_leaves_the_context_unchanged() {
    let cx = TextMapPropagator::extract(&Propagator::default(), &carrier(&[("traceparent", "00-xyz")]));
    assert!(!cx.has_active_span());
}

#[test]
fn injects_the_current_span_and_baggage() {
    let span = SpanContext::new(
        0x4bf92f3577b34da6a3ce929d0e0e4736u128.into(),
        0x00f067aa0ba902b7u64.into(),
        TraceFlags::SAMPLED,
        false,
        TraceState::from_key_value([("rojo", "1"), ("congo", "2")]).unwrap(),
    );
    let cx =
        Context::new().with_remote_span_context(span).with_baggage([KeyValue::new("user", "alice smith")]);
    let mut out = HashMap::new();
    Propagator::default().inject_context(&cx, &mut out);
    assert_eq!(out["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    assert_eq!(out["tracestate"], "rojo=1,congo=2");
    assert_eq!(out["baggage"], "user=alice%20smith");
}

#[test]
fn round_trips_through_span_context() {
    let trace = TraceContext {
        traceparent: TraceParent::parse(VALID).unwrap(),
        tracestate: "a=1,b=2".parse().unwrap(),
    };
    assert_eq!(TraceContext::from_span_context(&trace.to_span_context()), Some(trace));
    assert_eq!(TraceContext::from_span_context(&SpanContext::empty_context()), None);
}

#[test]
fn a_member_opentelemetry_rejects_does_not_cost_the_others() {
    // Valid W3C: a 241-character tenant and a 14-character vendor id, which
    // `opentelemetry`'s `TraceState` refuses.
    let vendor = format!("{}@{}=1", "t".repeat(241), "v".repeat(14));
    let trace = TraceContext {
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap(),
        tracestate: format!("foo=1,{vendor},bar=2").parse().unwrap(),
    };
    let span_context = trace.to_span_context();
    assert_eq!(span_context.trace_state().header(), "foo=1,bar=2");
}

#[test]
fn baggage_converts_both_ways() {
    let ours: Baggage = "k=v;p=1,other=x%20y".parse().unwrap();
    let theirs = opentelemetry::baggage::Baggage::from(&ours);
    assert_eq!(theirs.get("other").map(|v| v.as_str()), Some("x y"));
    let back = Baggage::from(&theirs);
    assert_eq!(back.get("k"), Some("v"));
    assert_eq!(back.iter().find(|m| m.key() == "k").unwrap().properties_str(), "p=1");
}

#[test]
fn fields_list_every_header() {
    let propagator: Propagator = "b3,tracecontext".parse().unwrap();
    let fields: Vec<&str> = TextMapPropagator::fields(&propagator).collect();
    assert_eq!(fields.len(), 3);
    assert!(fields.contains(&"b3") && fields.contains(&"traceparent") && fields.contains(&"tracestate"));
}

#[test]
fn works_as_the_global_propagator() {
    opentelemetry::global::set_text_map_propagator(Propagator::default());
    let cx =
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier(&[("traceparent", VALID)])));
    assert!(cx.span().span_context().is_valid());
}
