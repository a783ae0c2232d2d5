//! The HTTP server metrics: names, units, buckets and attributes by the
//! semantic conventions, recorded through the OpenTelemetry metrics API.

mod support;

use std::collections::BTreeMap;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use bytes::Bytes;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use support::{Telemetry, histogram_f64, serve, streaming_app};
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

fn labels<'a>(attributes: impl Iterator<Item = &'a KeyValue>) -> BTreeMap<String, String> {
    attributes
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
    let telemetry = Telemetry::install();
    let addr = serve(app(telemetry.layer())).await;
    for path in ["/users/1", "/users/2", "/fail"] {
        reqwest::get(format!("http://{addr}{path}?q=x")).await.unwrap().text().await.unwrap();
    }

    let (unit, points) = telemetry
        .metric(HTTP_SERVER_REQUEST_DURATION, |m| {
            let points: Vec<_> = histogram_f64(m)
                .data_points()
                .map(|p| (labels(p.attributes()), p.count(), p.bounds().collect::<Vec<_>>()))
                .collect();
            (m.unit().to_owned(), points)
        })
        .expect("http.server.request.duration");

    assert_eq!(unit, "s");
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
    let telemetry = Telemetry::install();
    let (app, mut bodies) = streaming_app(telemetry.layer());
    let addr = serve(app).await;
    let active = || {
        telemetry
            .metric(HTTP_SERVER_ACTIVE_REQUESTS, |m| match m.data() {
                AggregatedMetrics::I64(MetricData::Sum(sum)) => {
                    let point = sum.data_points().next().unwrap();
                    (m.unit().to_owned(), labels(point.attributes()), point.value())
                }
                other => panic!("not an i64 sum: {other:?}"),
            })
            .unwrap()
    };

    let mut response = reqwest::get(format!("http://{addr}/stream")).await.unwrap();
    let body = bodies.recv().await.unwrap();
    let (unit, attributes, in_flight) = active();
    assert_eq!(unit, "{request}");
    assert_eq!(attributes, map(&[("http.request.method", "GET"), ("url.scheme", "http")]));
    assert_eq!(in_flight, 1, "the body is still being sent");

    body.send(Bytes::from_static(b"done")).unwrap();
    drop(body);
    while response.chunk().await.unwrap().is_some() {}
    telemetry.server_span().await;
    assert_eq!(active().2, 0);
}

#[tokio::test]
async fn body_sizes_are_opt_in_and_count_bytes() {
    let telemetry = Telemetry::install();
    let addr = serve(app(telemetry.layer())).await;
    reqwest::Client::new().post(format!("http://{addr}/echo")).body("hello").send().await.unwrap();
    assert!(telemetry.metric(HTTP_SERVER_REQUEST_BODY_SIZE, |_| ()).is_none());

    let telemetry = Telemetry::install();
    let addr = serve(app(telemetry.layer().body_size_metrics(true))).await;
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
    telemetry.server_span().await;

    let size = |name| {
        telemetry
            .metric(name, |m| match m.data() {
                AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                    let point = h.data_points().next().unwrap();
                    (m.unit().to_owned(), point.sum(), labels(point.attributes()).contains_key("http.route"))
                }
                other => panic!("not a u64 histogram: {other:?}"),
            })
            .unwrap()
    };
    assert_eq!(size(HTTP_SERVER_REQUEST_BODY_SIZE), ("By".to_owned(), 12, true));
    assert_eq!(size(HTTP_SERVER_RESPONSE_BODY_SIZE), ("By".to_owned(), 12, true));
}

#[tokio::test]
async fn the_filter_turns_metrics_off() {
    let telemetry = Telemetry::install();
    let layer = telemetry.layer().filter(|parts| match parts.uri.path() {
        "/health" => Record::TRACE_ONLY,
        _ => Record::EVERYTHING,
    });
    let addr = serve(app(layer)).await;
    reqwest::get(format!("http://{addr}/health")).await.unwrap().text().await.unwrap();
    reqwest::get(format!("http://{addr}/users/1")).await.unwrap().text().await.unwrap();
    telemetry.wait_for_spans(2).await;

    let routes = telemetry
        .metric(HTTP_SERVER_REQUEST_DURATION, |m| {
            histogram_f64(m)
                .data_points()
                .map(|p| labels(p.attributes())["http.route"].clone())
                .collect::<Vec<_>>()
        })
        .unwrap();
    assert_eq!(routes, ["/users/{id}"], "the health check is traced, not measured");
}
