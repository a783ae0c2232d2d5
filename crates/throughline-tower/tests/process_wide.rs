//! The layers' default propagator is the process-wide one. A binary of its
//! own: every test here installs the same one, `b3`.

mod support;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use support::{PARENT_ID, TRACE_ID, WAIT, layer, serve};
use throughline_propagation::{Format, Propagator};
use throughline_testing::Capture;
use throughline_tower::client::{ClientInstrumentation, HttpClientLayer};
use tower::{Layer, ServiceExt};

/// What `throughline::init()` does with `OTEL_PROPAGATORS=b3`.
fn install_b3() {
    Propagator::new([Format::B3]).set_global();
    opentelemetry::global::set_text_map_propagator(Propagator::new([Format::B3]));
}

async fn server_parent_of(layer: throughline_tower::server::HttpServerLayer, capture: &Capture) {
    let addr = serve(Router::new().route("/users/{id}", get(|| async { "alice" })).layer(layer)).await;
    reqwest::Client::new()
        .get(format!("http://{addr}/users/7"))
        .header("b3", format!("{TRACE_ID}-{PARENT_ID}-1"))
        .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .send()
        .await
        .unwrap();
    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let span = spans.one_of_kind(SpanKind::Server);
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex(TRACE_ID).unwrap(),
        "b3 read, not traceparent"
    );
    assert_eq!(span.parent_span_id, SpanId::from_hex(PARENT_ID).unwrap());
}

#[tokio::test]
async fn the_server_layer_reads_the_process_wide_propagator_by_default() {
    install_b3();
    let capture = Capture::new();
    let _default = capture.set_default();
    server_parent_of(layer(&capture), &capture).await;
}

#[tokio::test]
async fn the_global_opentelemetry_propagator_can_be_chosen() {
    install_b3();
    let capture = Capture::new();
    let _default = capture.set_default();
    server_parent_of(layer(&capture).global_propagator(), &capture).await;
}

#[tokio::test(flavor = "current_thread")]
async fn the_client_layer_writes_with_the_process_wide_propagator_by_default() {
    install_b3();
    let capture = Capture::new();
    let _default = capture.set_default();
    let echo = Router::new().route(
        "/",
        get(|headers: http::HeaderMap| async move {
            let has = |name: &str| headers.contains_key(name);
            format!("b3={} traceparent={}", has("b3"), has("traceparent"))
        }),
    );
    let addr = serve(echo).await;
    let client = HttpClientLayer::with_instrumentation(ClientInstrumentation::new())
        .layer(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
    let response =
        client.oneshot(Request::get(format!("http://{addr}/")).body(Empty::new()).unwrap()).await.unwrap();
    let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    assert_eq!(body, "b3=true traceparent=false");
    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    assert!(!spans.of_kind(SpanKind::Client).is_empty(), "{spans:#?}");
}
