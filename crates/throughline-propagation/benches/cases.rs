//! The workloads every benchmark runs, so that timings, allocation counts and
//! instruction counts describe the same work: throughline's own API,
//! throughline as an OpenTelemetry `TextMapPropagator`, and the SDK's
//! `TraceContextPropagator` with opentelemetry-http's carriers.

use std::hint::black_box;

use http::{HeaderMap, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use throughline_propagation::{Baggage, Format, Propagator, TraceContext, TraceParent};

pub(crate) const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
pub(crate) const TRACESTATE: &str = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,vendor=opaque-value-1";

/// The headers of a typical service-to-service request, plus the trace headers.
pub(crate) fn request_headers(tracestate: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("host", "orders.internal:8080"),
        ("user-agent", "checkout/1.4 reqwest/0.13"),
        ("accept", "application/json"),
        ("content-type", "application/json"),
        ("content-length", "128"),
        ("traceparent", TRACEPARENT),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if tracestate {
        headers.insert("tracestate", HeaderValue::from_static(TRACESTATE));
    }
    headers
}

pub(crate) const THROUGHLINE: &str = "throughline";
pub(crate) const THROUGHLINE_OTEL: &str = "throughline as TextMapPropagator";
pub(crate) const SDK: &str = "opentelemetry_sdk TraceContextPropagator";

/// A benchmark case: the operation, who does it, and one run of it.
pub(crate) struct Case {
    pub operation: &'static str,
    pub implementation: &'static str,
    pub run: Box<dyn FnMut()>,
}

/// Every case, each owning its inputs.
pub(crate) fn cases() -> Vec<Case> {
    let throughline = Propagator::new([Format::TraceContext]);
    let sdk = TraceContextPropagator::new();
    let trace = TraceContext {
        traceparent: TraceParent::parse(TRACEPARENT).unwrap(),
        tracestate: TRACESTATE.parse().unwrap(),
    };
    let otel_cx = Context::new().with_remote_span_context(trace.to_span_context());
    let mut cases = Vec::new();
    let mut add = |operation, implementation, run: Box<dyn FnMut()>| {
        cases.push(Case { operation, implementation, run })
    };

    for (operation, tracestate) in
        [("extract traceparent", false), ("extract traceparent + 3-member tracestate", true)]
    {
        let headers = request_headers(tracestate);
        let h = headers.clone();
        add(
            operation,
            THROUGHLINE,
            Box::new(move || {
                black_box(throughline.extract(black_box(&h)).trace.is_some());
            }),
        );
        let h = headers.clone();
        add(
            operation,
            THROUGHLINE_OTEL,
            Box::new(move || {
                let cx = throughline.extract_with_context(&Context::new(), &HeaderExtractor(black_box(&h)));
                black_box(cx.has_active_span());
            }),
        );
        let sdk = sdk.clone();
        add(
            operation,
            SDK,
            Box::new(move || {
                let cx = sdk.extract_with_context(&Context::new(), &HeaderExtractor(black_box(&headers)));
                black_box(cx.has_active_span());
            }),
        );
    }

    let operation = "inject traceparent + tracestate into a HeaderMap";
    let (t, mut out) = (trace.clone(), request_headers(false));
    add(
        operation,
        THROUGHLINE,
        Box::new(move || {
            out.clear();
            throughline.inject(Some(black_box(&t)), &Baggage::new(), &mut out);
        }),
    );
    let (cx, mut out) = (otel_cx.clone(), request_headers(false));
    add(
        operation,
        THROUGHLINE_OTEL,
        Box::new(move || {
            out.clear();
            throughline.inject_context(black_box(&cx), &mut HeaderInjector(&mut out));
        }),
    );
    let (cx, mut out, sdk) = (otel_cx, request_headers(false), sdk.clone());
    add(
        operation,
        SDK,
        Box::new(move || {
            out.clear();
            sdk.inject_context(black_box(&cx), &mut HeaderInjector(&mut out));
        }),
    );

    add(
        "parse traceparent (55 bytes)",
        THROUGHLINE,
        Box::new(|| {
            black_box(TraceParent::parse(black_box(TRACEPARENT)).is_ok());
        }),
    );
    let parent = trace.traceparent;
    add(
        "encode traceparent (55 bytes)",
        THROUGHLINE,
        Box::new(move || {
            black_box(black_box(&parent).encode());
        }),
    );
    cases
}
