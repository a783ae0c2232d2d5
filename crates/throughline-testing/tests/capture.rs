//! In-memory capture: spans with their relations, metric points, log records.

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::SpanKind;
use throughline_testing::{Capture, PointValue};

#[test]
fn spans_keep_their_parent_attributes_and_status() {
    let capture = Capture::new();
    tracing::subscriber::with_default(capture.subscriber(), || {
        let request = tracing::info_span!("request", otel.kind = "server");
        request.in_scope(|| {
            let query = tracing::info_span!("query", db.system = "sqlite", otel.status_code = "error");
            query.in_scope(|| tracing::error!("locked"));
        });
    });
    let spans = capture.spans();
    assert_eq!(spans.len(), 2);
    let request = spans.named("request");
    request.assert_kind(SpanKind::Server).assert_not_error();
    spans.named("query").assert_child_of(&request).assert_attribute("db.system", "sqlite").assert_error();
    assert!(spans.find("missing").is_none());
}

#[test]
#[should_panic(expected = "no span named \"missing\"; captured: [\"present\"]")]
fn a_missing_span_names_those_that_exist() {
    let capture = Capture::new();
    tracing::subscriber::with_default(capture.subscriber(), || {
        tracing::info_span!("present").in_scope(|| {});
    });
    capture.spans().named("missing");
}

#[test]
fn metric_points_are_read_by_name_and_attributes() {
    let capture = Capture::new();
    let meter = capture.meter_provider().meter("test");
    let counter = meter.u64_counter("requests").build();
    counter.add(2, &[KeyValue::new("route", "/a")]);
    counter.add(3, &[KeyValue::new("route", "/b")]);
    let histogram = meter.f64_histogram("latency").with_unit("s").with_boundaries(vec![0.1, 1.0]).build();
    histogram.record(0.5, &[]);
    let metrics = capture.metrics();
    assert_eq!(metrics.names(), ["latency", "requests"]);
    assert_eq!(metrics.total("requests", &[]), 5.0);
    assert_eq!(metrics.total("requests", &[KeyValue::new("route", "/b")]), 3.0);
    assert_eq!(metrics.histogram_count("latency", &[]), 1);
    assert_eq!(metrics.unit("latency").as_deref(), Some("s"));
    let PointValue::Histogram { bounds, buckets, .. } = &metrics.points("latency")[0].value else { panic!() };
    assert_eq!((bounds.as_slice(), buckets.as_slice()), (&[0.1, 1.0][..], &[0, 1, 0][..]));
}

#[test]
fn events_become_log_records_with_their_trace() {
    let capture = Capture::new();
    tracing::subscriber::with_default(capture.subscriber(), || {
        tracing::info_span!("request").in_scope(|| tracing::warn!("slow dependency"));
    });
    let logs = capture.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].severity, "WARN");
    assert!(logs[0].body.contains("slow dependency"));
    let trace_id = capture.spans().named("request").data().span_context.trace_id().to_string();
    assert_eq!(logs[0].trace_id.as_deref(), Some(trace_id.as_str()));
}

#[tokio::test(flavor = "current_thread")]
async fn waiting_for_spans_ends_when_they_have_ended_or_in_time() {
    let capture = Capture::new();
    let _default = capture.set_default();
    tokio::spawn(async { tracing::info_span!("spawned", otel.kind = "server").in_scope(|| {}) });
    let spans = capture.wait_for_spans(1, std::time::Duration::from_secs(10)).await.unwrap();
    assert_eq!(spans.one_of_kind(SpanKind::Server).name, "spawned");
    assert!(spans.of_kind(SpanKind::Client).is_empty());

    let late = capture.wait_for_spans(2, std::time::Duration::ZERO).await.unwrap_err();
    assert_eq!((late.wanted, late.received), (2, 1));
}

#[test]
#[should_panic(expected = "one Server span expected; captured: [\"a\", \"b\"]")]
fn one_of_kind_names_every_span_of_that_kind() {
    let capture = Capture::new();
    tracing::subscriber::with_default(capture.subscriber(), || {
        tracing::info_span!("a", otel.kind = "server").in_scope(|| {});
        tracing::info_span!("b", otel.kind = "server").in_scope(|| {});
    });
    capture.spans().one_of_kind(SpanKind::Server);
}

#[test]
fn event_attributes_are_asserted() {
    let capture = Capture::new();
    tracing::subscriber::with_default(capture.subscriber(), || {
        tracing::info_span!("request").in_scope(|| tracing::error!(exception.message = "boom", "exception"));
    });
    let spans = capture.spans();
    spans.named("request").assert_event_attribute("exception", "exception.message", "boom");
}
