//! When the server span and the duration end: with the response body, not
//! with the headers; and what an abandoned response records.

mod support;

use std::time::SystemTime;

use bytes::Bytes;
use opentelemetry::trace::Status;
use support::{Telemetry, histogram_f64, serve, streaming_app, string};
use throughline_tower::semconv::metrics::HTTP_SERVER_REQUEST_DURATION;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

#[tokio::test]
async fn the_span_and_the_duration_end_with_the_body_not_the_headers() {
    let telemetry = Telemetry::install();
    let (app, mut bodies) = streaming_app(telemetry.layer());
    let addr = serve(app).await;

    let mut response = reqwest::get(format!("http://{addr}/stream")).await.unwrap();
    let headers_received = SystemTime::now();
    let body = bodies.recv().await.unwrap();
    assert!(telemetry.spans().is_empty(), "the span is still open after the headers");

    body.send(Bytes::from_static(b"first")).unwrap();
    assert_eq!(response.chunk().await.unwrap().unwrap(), "first");
    assert!(telemetry.spans().is_empty(), "the span is still open while the body streams");
    let last_sent = SystemTime::now();
    body.send(Bytes::from_static(b"last")).unwrap();
    drop(body);
    while response.chunk().await.unwrap().is_some() {}

    let span = telemetry.server_span().await;
    assert!(span.end_time >= last_sent, "the span ended before the last chunk");
    assert!(span.end_time > headers_received);
    assert_eq!(span.status, Status::Unset);

    // One clock: the histogram saw the span's own duration.
    let span_seconds = span.end_time.duration_since(span.start_time).unwrap().as_secs_f64();
    let measured = telemetry
        .metric(HTTP_SERVER_REQUEST_DURATION, |m| histogram_f64(m).data_points().next().unwrap().sum())
        .unwrap();
    assert!(measured >= last_sent.duration_since(headers_received).unwrap().as_secs_f64());
    assert!((measured - span_seconds).abs() < 0.01, "metric {measured}s, span {span_seconds}s");
}

#[tokio::test]
async fn a_body_dropped_early_ends_the_span_with_that_recorded() {
    let telemetry = Telemetry::install();
    let (app, mut bodies) = streaming_app(telemetry.layer());
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

    let span = telemetry.server_span().await;
    assert_eq!(string(&span.attributes, "error.type").as_deref(), Some("response_body_dropped"));
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(support::int(&span.attributes, "http.response.status_code"), Some(200));
}

#[tokio::test]
async fn a_request_cancelled_before_its_response_is_recorded() {
    let telemetry = Telemetry::install();
    let app = axum::Router::new()
        .route("/slow", axum::routing::get(std::future::pending::<&'static str>))
        .layer(telemetry.layer());
    let request = http::Request::get("/slow").body(axum::body::Body::empty()).unwrap();

    let mut call = Box::pin(app.oneshot(request));
    // Poll once, so the handler is running, then give up on it.
    tokio::select! {
        biased;
        _ = &mut call => unreachable!("the handler never answers"),
        () = std::future::ready(()) => {}
    }
    drop(call);

    let span = telemetry.server_span().await;
    assert_eq!(string(&span.attributes, "error.type").as_deref(), Some("request_cancelled"));
    assert!(matches!(span.status, Status::Error { .. }));
}
