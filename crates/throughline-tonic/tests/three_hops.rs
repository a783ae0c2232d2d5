//! One trace across three hops, each instrumented by a different throughline
//! crate: a reqwest client (throughline-reqwest) calls an axum server
//! (throughline-tower), whose handler calls a tonic server through a tonic
//! client (throughline-tonic).

mod support;

use axum::extract::State;
use opentelemetry::trace::SpanKind;
use support::{Service, Telemetry, client, request, serve};
use throughline_reqwest::TracingMiddleware;
use throughline_tower::server::HttpServerLayer;
use tonic::Code;
use tracing::Instrument;

#[tokio::test(flavor = "current_thread")]
async fn reqwest_to_axum_to_tonic_is_one_trace_with_every_parent_right() {
    let telemetry = Telemetry::install();

    // Hop 3: the gRPC server.
    let grpc = serve(telemetry.server_layer(), Service::default()).await;
    // Hop 2: the HTTP server, whose handler calls the gRPC server.
    let echo = client(grpc, telemetry.client_layer()).await;
    let app = axum::Router::new()
        .route(
            "/checkout/{id}",
            axum::routing::get(|State(echo): State<support::Client>| async move {
                let reply = echo.clone().unary(request("paid", 0, Code::Ok)).await.expect("the gRPC call");
                reply.into_inner().message
            }),
        )
        .with_state(echo)
        .layer(HttpServerLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Hop 1: the HTTP client, inside the test's own span.
    let reqwest = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::default())
        .build();
    let body = reqwest
        .get(format!("http://{http}/checkout/42"))
        .send()
        .instrument(tracing::info_span!("test"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "paid");
    // The servers' spans end with their response streams, on tasks of this
    // thread that may not have run their last poll yet: let them.
    let servers_ended =
        || telemetry.capture.spans().all().iter().filter(|s| s.span_kind == SpanKind::Server).count() == 2;
    for _ in 0..100 {
        if servers_ended() {
            break;
        }
        tokio::task::yield_now().await;
    }
    let spans = telemetry.capture.spans();
    let of_kind = |name: &str, kind: SpanKind| {
        spans.all().iter().find(|s| s.name == name && s.span_kind == kind).unwrap_or_else(|| {
            panic!(
                "no {kind:?} span {name:?} in {:?}",
                spans.all().iter().map(|s| (&s.name, &s.span_kind)).collect::<Vec<_>>()
            )
        })
    };
    let root = of_kind("test", SpanKind::Internal);
    let reqwest_span = of_kind("GET", SpanKind::Client);
    let axum_span = of_kind("GET /checkout/{id}", SpanKind::Server);
    let grpc_client = of_kind("throughline.test.v1.Echo/Unary", SpanKind::Client);
    let grpc_server = of_kind("throughline.test.v1.Echo/Unary", SpanKind::Server);

    let trace = root.span_context.trace_id();
    for (child, parent) in [
        (reqwest_span, root),
        (axum_span, reqwest_span),
        (grpc_client, axum_span),
        (grpc_server, grpc_client),
    ] {
        assert_eq!(child.span_context.trace_id(), trace, "{} is in another trace", child.name);
        assert_eq!(
            child.parent_span_id,
            parent.span_context.span_id(),
            "the parent of {} {:?}",
            child.name,
            child.span_kind
        );
    }
}
