//! The HTTP server metrics: names, units, buckets and attributes by the
//! semantic conventions, recorded through the OpenTelemetry metrics API.

mod support;

use std::collections::BTreeMap;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use bytes::Bytes;
use opentelemetry::trace::SpanKind;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use support::{WAIT, layer, serve, streaming_app};
use throughline_testing::{Capture, PointValue};
use throughline_tower::semconv::metrics::{
    DURATION_BUCKETS, HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_BODY_SIZE,
    HTTP_SERVER_REQUEST_DURATION, HTTP_SERVER_RESPONSE_BODY_SIZE,
};
use throughline_tower::server::{HttpServerLayer, Record};

fn app(layer: HttpServerLayer) -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "alice" }))
        .route("/fail", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route("/echo", post(|body: String| async move { body }))
        .route("/health", get(|| async { "ok" }))
        .layer(layer)
}

fn labels(attributes: &[KeyValue]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .map(|kv| {
            let value = match &kv.value {
                Value::I64(v) => v.to_string(),
                other => other.as_str().into_owned(),
            };
            (kv.key.to_string(), value)
        })
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn duration_is_named_united_bucketed_and_low_cardinality() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let addr = serve(app(layer(&capture))).await;
    for path in ["/users/1", "/users/2", "/fail"] {
        reqwest::get(format!("http://{addr}{path}?q=x")).await.unwrap().text().await.unwrap();
    }

    let metrics = capture.metrics();
    assert!(
        matches!(
            metrics.data(HTTP_SERVER_REQUEST_DURATION),
            Some(AggregatedMetrics::F64(MetricData::Histogram(_)))
        ),
        "http.server.request.duration, an f64 histogram"
    );
    assert_eq!(metrics.unit(HTTP_SERVER_REQUEST_DURATION).as_deref(), Some("s"));
    let points: Vec<_> = metrics
        .points(HTTP_SERVER_REQUEST_DURATION)
        .into_iter()
        .map(|p| match p.value {
            PointValue::Histogram { count, bounds, .. } => (labels(&p.attributes), count, bounds),
            other => panic!("not a histogram point: {other:?}"),
        })
        .collect();

    let ok = [
        ("http.request.method", "GET"),
        ("url.scheme", "http"),
        ("network.protocol.version", "1.1"),
        ("http.route", "/users/{id}"),
        ("http.response.status_code", "200"),
    ];
    let failed = [
        ("http.request.method", "GET"),
        ("url.scheme", "http"),
        ("network.protocol.version", "1.1"),
        ("http.route", "/fail"),
        ("http.response.status_code", "503"),
        ("error.type", "503"),
    ];
    let find = |expected: &BTreeMap<String, String>| points.iter().find(|(l, ..)| l == expected).cloned();
    let (_, ok_count, bounds) = find(&map(&ok)).expect("the 200s, by route template, not by path");
    assert_eq!(ok_count, 2);
    assert_eq!(bounds, DURATION_BUCKETS);
    let (_, failed_count, _) = find(&map(&failed)).expect("the 503 with its error.type");
    assert_eq!(failed_count, 1);
    assert_eq!(points.len(), 2);
}

#[tokio::test]
async fn active_requests_count_the_requests_in_flight() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let (app, mut bodies) = streaming_app(layer(&capture));
    let addr = serve(app).await;
    let active = || {
        let metrics = capture.metrics();
        assert!(
            matches!(
                metrics.data(HTTP_SERVER_ACTIVE_REQUESTS),
                Some(AggregatedMetrics::I64(MetricData::Sum(_)))
            ),
            "not an i64 sum: {metrics:?}"
        );
        let points = metrics.points(HTTP_SERVER_ACTIVE_REQUESTS);
        let PointValue::Number(value) = points[0].value else { panic!("not a number: {points:?}") };
        (metrics.unit(HTTP_SERVER_ACTIVE_REQUESTS).unwrap(), labels(&points[0].attributes), value)
    };

    let mut response = reqwest::get(format!("http://{addr}/stream")).await.unwrap();
    let body = bodies.recv().await.unwrap();
    let (unit, attributes, in_flight) = active();
    assert_eq!(unit, "{request}");
    assert_eq!(attributes, map(&[("http.request.method", "GET"), ("url.scheme", "http")]));
    assert_eq!(in_flight, 1.0, "the body is still being sent");

    body.send(Bytes::from_static(b"done")).unwrap();
    drop(body);
    while response.chunk().await.unwrap().is_some() {}
    capture.wait_for_spans(1, WAIT).await.unwrap().one_of_kind(SpanKind::Server);
    assert_eq!(active().2, 0.0);
}

#[tokio::test]
async fn body_sizes_are_opt_in_and_count_bytes() {
    let capture = Capture::new();
    let default = capture.set_default();
    let addr = serve(app(layer(&capture))).await;
    reqwest::Client::new().post(format!("http://{addr}/echo")).body("hello").send().await.unwrap();
    assert!(capture.metrics().data(HTTP_SERVER_REQUEST_BODY_SIZE).is_none());
    drop(default);

    let capture = Capture::new();
    let _default = capture.set_default();
    let addr = serve(app(layer(&capture).body_size_metrics(true))).await;
    let echoed = reqwest::Client::new()
        .post(format!("http://{addr}/echo"))
        .body("hello, world")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(echoed, "hello, world");
    capture.wait_for_spans(1, WAIT).await.unwrap().one_of_kind(SpanKind::Server);

    let metrics = capture.metrics();
    let size = |name| {
        assert!(
            matches!(metrics.data(name), Some(AggregatedMetrics::U64(MetricData::Histogram(_)))),
            "{name} is not a u64 histogram"
        );
        let points = metrics.points(name);
        let PointValue::Histogram { sum, .. } = points[0].value else {
            panic!("not a histogram: {points:?}")
        };
        (metrics.unit(name).unwrap(), sum, labels(&points[0].attributes).contains_key("http.route"))
    };
    assert_eq!(size(HTTP_SERVER_REQUEST_BODY_SIZE), ("By".to_owned(), 12.0, true));
    assert_eq!(size(HTTP_SERVER_RESPONSE_BODY_SIZE), ("By".to_owned(), 12.0, true));
}

#[tokio::test]
async fn the_filter_turns_metrics_off() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let layer = layer(&capture).filter(|parts| match parts.uri.path() {
        "/health" => Record::TRACE_ONLY,
        _ => Record::EVERYTHING,
    });
    let addr = serve(app(layer)).await;
    reqwest::get(format!("http://{addr}/health")).await.unwrap().text().await.unwrap();
    reqwest::get(format!("http://{addr}/users/1")).await.unwrap().text().await.unwrap();
    capture.wait_for_spans(2, WAIT).await.unwrap();

    let routes: Vec<_> = capture
        .metrics()
        .points(HTTP_SERVER_REQUEST_DURATION)
        .iter()
        .map(|p| labels(&p.attributes)["http.route"].clone())
        .collect();
    assert_eq!(routes, ["/users/{id}"], "the health check is traced, not measured");
}
