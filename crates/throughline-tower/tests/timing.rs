//! When the server span and the duration end: with the response body, not
//! with the headers; and what an abandoned response records.

mod support;

use std::time::SystemTime;

use bytes::Bytes;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use support::{WAIT, layer, serve, streaming_app};
use throughline_testing::{Capture, PointValue};
use throughline_tower::semconv::metrics::HTTP_SERVER_REQUEST_DURATION;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

#[tokio::test]
async fn the_span_and_the_duration_end_with_the_body_not_the_headers() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let (app, mut bodies) = streaming_app(layer(&capture));
    let addr = serve(app).await;

    let mut response = reqwest::get(format!("http://{addr}/stream")).await.unwrap();
    let headers_received = SystemTime::now();
    let body = bodies.recv().await.unwrap();
    assert!(capture.spans().is_empty(), "the span is still open after the headers");

    body.send(Bytes::from_static(b"first")).unwrap();
    assert_eq!(response.chunk().await.unwrap().unwrap(), "first");
    assert!(capture.spans().is_empty(), "the span is still open while the body streams");
    let last_sent = SystemTime::now();
    body.send(Bytes::from_static(b"last")).unwrap();
    drop(body);
    while response.chunk().await.unwrap().is_some() {}

    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let span = spans.one_of_kind(SpanKind::Server);
    assert!(span.end_time >= last_sent, "the span ended before the last chunk");
    assert!(span.end_time > headers_received);
    assert_eq!(span.status, Status::Unset);

    // One clock: the histogram saw the span's own duration.
    let span_seconds = span.end_time.duration_since(span.start_time).unwrap().as_secs_f64();
    let metrics = capture.metrics();
    assert!(matches!(
        metrics.data(HTTP_SERVER_REQUEST_DURATION),
        Some(AggregatedMetrics::F64(MetricData::Histogram(_)))
    ));
    let PointValue::Histogram { sum: measured, .. } = metrics.points(HTTP_SERVER_REQUEST_DURATION)[0].value
    else {
        panic!("not a histogram")
    };
    assert!(measured >= last_sent.duration_since(headers_received).unwrap().as_secs_f64());
    assert!((measured - span_seconds).abs() < 0.01, "metric {measured}s, span {span_seconds}s");
}

#[tokio::test]
async fn a_body_dropped_early_ends_the_span_with_that_recorded() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let (app, mut bodies) = streaming_app(layer(&capture));
    let addr = serve(app).await;

    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    client.write_all(b"GET /stream HTTP/1.1\r\nhost: test\r\n\r\n").await.unwrap();
    let body = bodies.recv().await.unwrap();
    body.send(Bytes::from_static(b"first")).unwrap();
    let mut received = Vec::new();
    while !String::from_utf8_lossy(&received).contains("first") {
        let mut buffer = [0; 1024];
        let read = client.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the server closed early");
        received.extend_from_slice(&buffer[..read]);
    }
    // The client goes away in the middle of the body.
    drop(client);
    // The server notices when it next writes; it then drops the body, and
    // with it the receiving end of this channel.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while body.send(Bytes::from_static(b"more")).is_ok() {
        assert!(std::time::Instant::now() < deadline, "the server never dropped the body");
        tokio::task::yield_now().await;
    }

    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    spans
        .one_of_kind(SpanKind::Server)
        .assert_attribute("error.type", "response_body_dropped")
        .assert_error()
        .assert_attribute("http.response.status_code", 200);
}

#[tokio::test]
async fn a_request_cancelled_before_its_response_is_recorded() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let app = axum::Router::new()
        .route("/slow", axum::routing::get(std::future::pending::<&'static str>))
        .layer(layer(&capture));
    let request = http::Request::get("/slow").body(axum::body::Body::empty()).unwrap();

    let mut call = Box::pin(app.oneshot(request));
    // Poll once, so the handler is running, then give up on it.
    tokio::select! {
        biased;
        _ = &mut call => unreachable!("the handler never answers"),
        () = std::future::ready(()) => {}
    }
    drop(call);

    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    spans.one_of_kind(SpanKind::Server).assert_attribute("error.type", "request_cancelled").assert_error();
}
