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
    // Valid W3C: two at signs, which `opentelemetry`'s `TraceState` refuses.
    let vendor = "a@b@c=1";
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
fn fields_include_the_jaeger_and_xray_headers() {
    let propagator: Propagator = "jaeger,xray".parse().unwrap();
    let fields: Vec<&str> = TextMapPropagator::fields(&propagator).collect();
    // Jaeger's `uberctx-{key}` names depend on the baggage: not listed, as in OpenTelemetry.
    assert_eq!(fields, ["uber-trace-id", "x-amzn-trace-id"]);
}

#[test]
fn extracts_and_injects_jaeger_and_xray_through_the_trait() {
    for (format, header, value) in [
        ("jaeger", "uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:01"),
        (
            "xray",
            "x-amzn-trace-id",
            "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1",
        ),
    ] {
        let propagator: Propagator = format.parse().unwrap();
        let cx = TextMapPropagator::extract(&propagator, &carrier(&[(header, value)]));
        let span = cx.span();
        let remote = span.span_context();
        assert!(remote.is_remote() && remote.is_sampled(), "{format}");
        assert_eq!(remote.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736", "{format}");
        let mut out = HashMap::new();
        propagator.inject_context(&cx, &mut out);
        assert_eq!(out.get(header).map(String::as_str), Some(value), "{format}");
    }
}

#[test]
fn works_as_the_global_propagator() {
    opentelemetry::global::set_text_map_propagator(Propagator::default());
    let cx =
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier(&[("traceparent", VALID)])));
    assert!(cx.span().span_context().is_valid());
}

// --- what OpenTelemetry's types lose, kept by the TraceOrigin ------------------

mod origin {
    use opentelemetry::Context;
    use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
    use throughline_propagation::{TraceContext, TraceOrigin};

    /// A child span of `parent` made by the SDK with `sampler`, and what a
    /// throughline injector sends for it.
    fn sent_for_child(parent: &Context, sampler: Sampler) -> (TraceContext, Context) {
        let provider = SdkTracerProvider::builder().with_sampler(sampler).build();
        let span = provider.tracer("test").start_with_context("child", parent);
        let cx = parent.with_span(span);
        (TraceContext::from_context(&cx).expect("a valid span"), cx)
    }

    fn received(traceparent: &str, tracestate: &str) -> TraceContext {
        let mut trace = TraceContext::new(traceparent.parse().unwrap());
        trace.tracestate = tracestate.parse().unwrap();
        trace
    }

    #[test]
    fn the_random_flag_survives_a_span_the_sampler_drops() {
        let parent = received("00-12345678901234567890123456789012-1234567890123456-02", "")
            .to_context(&Context::new());
        for sampler in [Sampler::AlwaysOff, Sampler::ParentBased(Box::new(Sampler::AlwaysOn))] {
            let (sent, _) = sent_for_child(&parent, sampler);
            assert_eq!(sent.traceparent.trace_id().to_string(), "12345678901234567890123456789012");
            assert_ne!(sent.traceparent.parent_id().to_string(), "1234567890123456", "a new parent id");
            assert_eq!(sent.traceparent.flags().bits(), 0x02, "random kept, not sampled");
        }
    }

    #[test]
    fn the_random_flag_is_not_invented() {
        let parent = received("00-12345678901234567890123456789012-1234567890123456-00", "")
            .to_context(&Context::new());
        let (sent, _) = sent_for_child(&parent, Sampler::AlwaysOff);
        assert_eq!(sent.traceparent.flags().bits(), 0x00);
        let sampled = received("00-12345678901234567890123456789012-1234567890123456-01", "")
            .to_context(&Context::new());
        let (sent, _) = sent_for_child(&sampled, Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        assert_eq!(sent.traceparent.flags().bits(), 0x01);
    }

    #[test]
    fn members_opentelemetry_refuses_cross_unchanged_spans() {
        let state = "foo@=1,bar=2,t@vvvvvvvvvvvvvvv=3,a@b@c=4";
        let parent = received("00-12345678901234567890123456789012-1234567890123456-01", state)
            .to_context(&Context::new());
        let (sent, child) = sent_for_child(&parent, Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        assert_eq!(sent.tracestate.as_str(), state);
        // And through a grandchild, sampled out.
        let (sent, _) = sent_for_child(&child, Sampler::AlwaysOff);
        assert_eq!(sent.tracestate.as_str(), state);
    }

    #[test]
    fn a_vendor_change_sends_the_spans_own_state() {
        let parent = received("00-12345678901234567890123456789012-1234567890123456-01", "a@b@c=1,bar=2")
            .to_context(&Context::new());
        let span = parent.span();
        let changed = span.span_context().trace_state().insert("congo", "x").unwrap();
        let remote = opentelemetry::trace::SpanContext::new(
            span.span_context().trace_id(),
            span.span_context().span_id(),
            span.span_context().trace_flags(),
            true,
            changed,
        );
        let cx = parent.with_remote_span_context(remote);
        assert_eq!(TraceContext::from_context(&cx).unwrap().tracestate.as_str(), "congo=x,bar=2");
    }

    #[test]
    fn the_origin_applies_to_its_own_trace_only() {
        let parent = received("00-12345678901234567890123456789012-1234567890123456-02", "a@b@c=1")
            .to_context(&Context::new());
        let other = received("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", "").to_span_context();
        // A context built from the current one keeps its values: the origin
        // must not lend the first trace's flag and state to the second.
        let cx = parent.with_remote_span_context(other);
        let sent = TraceContext::from_context(&cx).unwrap();
        assert_eq!(sent.traceparent.flags().bits(), 0x00);
        assert!(sent.tracestate.is_empty());
    }

    #[test]
    fn a_trace_started_here_is_random_once_its_first_span_started() {
        let root = Context::new().with_value(TraceOrigin::new_trace());
        let provider = SdkTracerProvider::builder().with_sampler(Sampler::AlwaysOff).build();
        let cx = root.with_span(provider.tracer("test").start_with_context("root", &root));
        assert!(!TraceContext::from_context(&cx).unwrap().traceparent.flags().is_random(), "not tied yet");
        TraceOrigin::started(&cx);
        let (sent, _) = sent_for_child(&cx, Sampler::AlwaysOff);
        assert_eq!(sent.traceparent.flags().bits(), 0x02);
    }

    #[test]
    fn the_common_case_adds_no_value_to_the_context() {
        let parent = received("00-12345678901234567890123456789012-1234567890123456-01", "rojo=1")
            .to_context(&Context::new());
        assert!(parent.get::<TraceOrigin>().is_none());
    }
}

#[test]
fn jaeger_baggage_travels_through_the_trait() {
    let propagator: Propagator = "jaeger".parse().unwrap();
    let cx = TextMapPropagator::extract(
        &propagator,
        &carrier(&[
            ("uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:01"),
            ("uberctx-user", "alice%20smith"),
        ]),
    );
    assert_eq!(cx.baggage().get("user").map(|v| v.as_str()), Some("alice smith"));
    let mut out = HashMap::new();
    propagator.inject_context(&cx, &mut out);
    assert_eq!(out.get("uberctx-user").map(String::as_str), Some("alice%20smith"));
}
