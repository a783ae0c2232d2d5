//! `current_trace_id` inside a handler names the request's trace.

mod support;

use axum::Router;
use axum::routing::get;
use opentelemetry::trace::SpanKind;
use support::{WAIT, layer, serve};
use throughline_testing::Capture;
use throughline_tower::server::current_trace_id;

#[tokio::test(flavor = "current_thread")]
async fn a_handler_reads_the_trace_id_of_its_request() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let app = Router::new()
        .route("/", get(|| async { current_trace_id().unwrap_or_default() }))
        .layer(layer(&capture));
    let addr = serve(app).await;
    let body = reqwest::get(format!("http://{addr}/")).await.unwrap().text().await.unwrap();
    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let span = spans.one_of_kind(SpanKind::Server);
    assert_eq!(body, span.span_context.trace_id().to_string());
    assert_eq!(body.len(), 32);
    assert_eq!(current_trace_id(), None, "outside a request");
}
