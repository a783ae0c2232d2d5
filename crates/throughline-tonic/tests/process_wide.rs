//! The layers' default propagator is the process-wide one (what
//! `throughline::init()` installs from `OTEL_PROPAGATORS`). A binary of its
//! own, as the setting is the process's.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http::{HeaderMap, Request, Response};
use http_body_util::BodyExt;
use opentelemetry::trace::SpanKind;
use throughline_propagation::{Format, Propagator};
use throughline_testing::Capture;
use throughline_tonic::{GrpcClientLayer, GrpcServerLayer};
use tower::{Layer, ServiceExt, service_fn};

type Body = tonic::body::Body;

fn call() -> Request<Body> {
    Request::post("/pkg.S/M").header("content-type", "application/grpc").body(Body::empty()).unwrap()
}

fn ok() -> Response<Body> {
    Response::builder().header("grpc-status", "0").body(Body::empty()).unwrap()
}

#[tokio::test]
async fn b3_installed_for_the_process_carries_the_context_both_ways() {
    Propagator::new([Format::B3]).set_global();
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());

    let sent = Arc::new(Mutex::new(HeaderMap::new()));
    let keep = sent.clone();
    let downstream = service_fn(move |request: Request<Body>| {
        *keep.lock().unwrap() = request.headers().clone();
        async { Ok::<_, Infallible>(ok()) }
    });
    GrpcClientLayer::new().layer(downstream).oneshot(call()).await.unwrap();
    let headers = sent.lock().unwrap().clone();
    assert!(headers.contains_key("b3") && !headers.contains_key("traceparent"), "{headers:?}");

    let mut request = call();
    *request.headers_mut() = headers;
    let handler = service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(ok()) });
    let response = GrpcServerLayer::new().layer(handler).oneshot(request).await.unwrap();
    response.into_body().collect().await.unwrap();

    let spans = capture.spans();
    let server = spans.all().iter().find(|s| s.span_kind == SpanKind::Server).unwrap().clone();
    let client = spans.all().iter().find(|s| s.span_kind == SpanKind::Client).unwrap().clone();
    assert_eq!(server.span_context.trace_id(), client.span_context.trace_id());
    assert_eq!(server.parent_span_id, client.span_context.span_id());
}
