//! The middleware's default propagator is the process-wide one (what
//! `throughline::init()` installs from `OTEL_PROPAGATORS`). A binary of its
//! own, as the setting is the process's.

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use opentelemetry::trace::SpanKind;
use reqwest_middleware::ClientBuilder;
use throughline_propagation::{Format, Propagator};
use throughline_reqwest::TracingMiddleware;
use throughline_testing::Capture;

#[tokio::test(flavor = "current_thread")]
async fn b3_installed_for_the_process_is_what_the_middleware_sends() {
    Propagator::new([Format::B3]).set_global();
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let echo = Router::new().route(
        "/",
        get(|headers: HeaderMap| async move {
            let value =
                |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            format!("b3={} traceparent={}", value("b3"), value("traceparent"))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, echo).await });

    let client = ClientBuilder::new(reqwest::Client::new()).with(TracingMiddleware::default()).build();
    let echoed = client.get(format!("http://{addr}/")).send().await.unwrap().text().await.unwrap();

    let spans = capture.spans();
    let span = spans.all().iter().find(|s| s.span_kind == SpanKind::Client).expect("a client span").clone();
    let b3 = format!("{}-{}-1", span.span_context.trace_id(), span.span_context.span_id());
    assert_eq!(echoed, format!("b3={b3} traceparent="));
}
