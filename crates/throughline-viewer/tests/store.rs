//! The store keeps to its bounds, counts what it lets go, and keeps errors
//! and latency samples through a flood.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span, status};
use throughline_viewer::{StoreConfig, TraceId, TraceQuery, Viewer};

fn service(name: &str) -> Resource {
    Resource {
        attributes: vec![KeyValue {
            key_strindex: 0,
            key: "service.name".into(),
            value: Some(AnyValue { value: Some(any_value::Value::StringValue(name.into())) }),
        }],
        ..Default::default()
    }
}

/// A one-span trace: a server span of `route`, `millis` long.
fn server_span(trace: u64, route: &str, millis: u64, error: bool) -> Span {
    let start = 1_700_000_000_000_000_000 + trace * 1_000_000;
    Span {
        trace_id: [[0u8; 8], trace.to_be_bytes()].concat(),
        span_id: (trace + 1).to_be_bytes().to_vec(),
        name: route.into(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start + millis * 1_000_000,
        status: error.then(|| Status { code: status::StatusCode::Error as i32, message: "boom".into() }),
        attributes: vec![KeyValue {
            key_strindex: 0,
            key: "http.route".into(),
            value: Some(AnyValue { value: Some(any_value::Value::StringValue(route.into())) }),
        }],
        ..Default::default()
    }
}

fn request(name: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(service(name)),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
}

fn trace_id(n: u64) -> TraceId {
    TraceId::from_bytes(&[[0u8; 8], n.to_be_bytes()].concat()).unwrap()
}

#[test]
fn the_span_bound_holds_and_evictions_are_counted() {
    let viewer = Viewer::new(StoreConfig::default().max_spans(100).error_traces(0).samples_per_bucket(0));
    for n in 0..1_000 {
        viewer.ingest_traces(request("orders", vec![server_span(n, "GET /", 5, false)]));
        assert!(viewer.stats().spans <= 100);
    }
    let stats = viewer.stats();
    assert_eq!(
        (stats.spans, stats.traces, stats.traces_evicted, stats.spans_received),
        (100, 100, 900, 1_000)
    );
    // The most recent ones stayed.
    assert!(viewer.trace(&trace_id(999)).is_some());
    assert!(viewer.trace(&trace_id(899)).is_none());
}

#[test]
fn the_byte_bound_holds() {
    let viewer = Viewer::new(StoreConfig::default().max_bytes(256 << 10));
    for n in 0..5_000 {
        viewer.ingest_traces(request("orders", vec![server_span(n, "GET /", 5, n % 100 == 0)]));
        assert!(viewer.stats().bytes <= 256 << 10, "{:?}", viewer.stats());
    }
    assert!(viewer.stats().traces_evicted > 0);
}

#[test]
fn errors_and_slow_traces_survive_a_flood() {
    let viewer = Viewer::new(StoreConfig::default().max_spans(200).error_traces(10).samples_per_bucket(1));
    // One slow trace (2 s, bucket ≥1s) and one error early on...
    viewer.ingest_traces(request("orders", vec![server_span(1, "POST /orders", 2_000, false)]));
    viewer.ingest_traces(request("orders", vec![server_span(2, "POST /orders", 3, true)]));
    // ...then a flood of fast, healthy requests.
    for n in 10..50_000 {
        viewer.ingest_traces(request("orders", vec![server_span(n, "POST /orders", 3, false)]));
    }
    assert!(viewer.trace(&trace_id(1)).is_some(), "the slowest trace of the route was evicted");
    assert!(viewer.trace(&trace_id(2)).is_some(), "the error trace was evicted");
    let errors = viewer.traces(&TraceQuery { errors_only: true, ..TraceQuery::default() });
    assert_eq!(errors.len(), 1);
    assert!(viewer.stats().spans <= 200);
    // The route's numbers count every request, evicted or not.
    let route = &viewer.routes()[0];
    assert_eq!((route.count, route.errors), (49_992, 1));
}

#[test]
fn pins_are_bounded_too() {
    let viewer = Viewer::new(StoreConfig::default().max_spans(50).error_traces(5).samples_per_bucket(1));
    for n in 0..1_000 {
        viewer.ingest_traces(request("orders", vec![server_span(n, "GET /", 5, true)]));
    }
    // Only the 5 latest errors stay pinned; the error trace 0 is gone.
    assert!(viewer.trace(&trace_id(0)).is_none());
    assert!(viewer.stats().spans <= 50);
}

#[test]
fn a_trace_past_its_span_limit_refuses_and_counts() {
    let viewer = Viewer::new(StoreConfig::default().max_spans_per_trace(10));
    let spans: Vec<Span> = (0..25)
        .map(|i| {
            let mut s = server_span(7, "GET /", 1, false);
            s.span_id = (100 + i as u64).to_be_bytes().to_vec();
            s
        })
        .collect();
    viewer.ingest_traces(request("orders", spans));
    assert_eq!(viewer.trace(&trace_id(7)).unwrap().0.len(), 10);
    assert_eq!(viewer.stats().spans_refused, 15);
}

#[test]
fn malformed_ids_are_refused() {
    let viewer = Viewer::default();
    let mut bad = server_span(1, "GET /", 1, false);
    bad.trace_id = vec![1, 2, 3];
    viewer.ingest_traces(request("orders", vec![bad]));
    assert_eq!((viewer.stats().spans, viewer.stats().spans_refused), (0, 1));
}

#[test]
fn filters() {
    let viewer = Viewer::default();
    viewer.ingest_traces(request("orders", vec![server_span(1, "POST /orders", 50, false)]));
    viewer.ingest_traces(request("payments", vec![server_span(0x12, "POST /payments", 5, true)]));
    let names =
        |q: TraceQuery| -> Vec<String> { viewer.traces(&q).into_iter().map(|t| t.root_name).collect() };
    assert_eq!(names(TraceQuery::default()), ["POST /payments", "POST /orders"]);
    assert_eq!(names(TraceQuery { service: Some("orders".into()), ..Default::default() }), ["POST /orders"]);
    assert_eq!(names(TraceQuery { errors_only: true, ..Default::default() }), ["POST /payments"]);
    assert_eq!(names(TraceQuery { min_duration_ms: Some(10.0), ..Default::default() }), ["POST /orders"]);
    assert_eq!(
        names(TraceQuery { name: Some("/payments".into()), ..Default::default() }),
        ["POST /payments"]
    );
    let id = trace_id(1).to_string();
    assert_eq!(
        names(TraceQuery { trace_id: Some(id[..31].to_owned()), ..Default::default() }),
        ["POST /orders"]
    );
    assert_eq!(names(TraceQuery { limit: Some(1), ..Default::default() }), ["POST /payments"]);
}
