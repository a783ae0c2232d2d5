//! `HttpClientLayer` over hyper-util's legacy client, against axum on 127.0.0.1.

mod support;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::{SpanKind, Status};
use support::{Telemetry, int, serve, streaming_app, string};
use throughline_tower::client::{ClientInstrumentation, HttpClient, HttpClientLayer, UrlTemplate};
use tower::{Layer, ServiceExt};

fn client(telemetry: &Telemetry) -> HttpClient<Client<HttpConnector, Empty<Bytes>>> {
    let instrumentation = ClientInstrumentation::new().meter_provider(&telemetry.meter_provider);
    HttpClientLayer::with_instrumentation(instrumentation)
        .layer(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>())
}

#[tokio::test(flavor = "current_thread")]
async fn the_server_span_is_a_child_of_the_client_span() {
    let telemetry = Telemetry::install();
    let app = Router::new().route("/users/{id}", get(|| async { "alice" })).layer(telemetry.layer());
    let addr = serve(app).await;

    let mut request = Request::get(format!("http://{addr}/users/7")).body(Empty::new()).unwrap();
    request.extensions_mut().insert(UrlTemplate::new("/users/{id}"));
    let response = client(&telemetry).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "alice");

    let spans = telemetry.wait_for_spans(2).await;
    let client = spans.iter().find(|s| s.span_kind == SpanKind::Client).expect("a client span");
    let server = spans.iter().find(|s| s.span_kind == SpanKind::Server).expect("a server span");
    assert_eq!(server.span_context.trace_id(), client.span_context.trace_id());
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    assert_eq!(client.name, "GET /users/{id}");
    let attributes = &client.attributes;
    assert_eq!(string(attributes, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(string(attributes, "server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(int(attributes, "server.port"), Some(i64::from(addr.port())));
    assert_eq!(string(attributes, "url.full"), Some(format!("http://{addr}/users/7")));
    assert_eq!(string(attributes, "url.template").as_deref(), Some("/users/{id}"));
    assert_eq!(int(attributes, "http.response.status_code"), Some(200));
    assert_eq!(string(attributes, "network.protocol.version").as_deref(), Some("1.1"));

    let count = telemetry.metric("http.client.request.duration", |m| {
        support::histogram_f64(m).data_points().map(|p| p.count()).sum::<u64>()
    });
    assert_eq!(count, Some(1));
}

#[tokio::test(flavor = "current_thread")]
async fn the_client_span_ends_with_the_response_body() {
    let telemetry = Telemetry::install();
    let (app, mut bodies) = streaming_app(throughline_tower::server::HttpServerLayer::new());
    let addr = serve(app).await;

    let request = Request::get(format!("http://{addr}/stream")).body(Empty::new()).unwrap();
    let response = client(&telemetry).oneshot(request).await.unwrap();
    let sender = bodies.recv().await.unwrap();
    let clients = |telemetry: &Telemetry| {
        telemetry.spans().into_iter().filter(|s| s.span_kind == SpanKind::Client).count()
    };
    assert_eq!(clients(&telemetry), 0, "the head arrived, the body has not ended");

    sender.send(Bytes::from_static(b"chunk")).unwrap();
    drop(sender);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "chunk");
    assert_eq!(clients(&telemetry), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_5xx_and_a_refused_connection_are_errors() {
    let telemetry = Telemetry::install();
    let app = Router::new().route("/", get(|| async { StatusCode::BAD_GATEWAY }));
    let addr = serve(app).await;
    let response =
        client(&telemetry).oneshot(Request::get(format!("http://{addr}/")).body(Empty::new()).unwrap()).await;
    response.unwrap().into_body().collect().await.unwrap();

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let refused = client(&telemetry)
        .oneshot(Request::get(format!("http://{closed}/")).body(Empty::new()).unwrap())
        .await;
    assert!(refused.is_err());

    let spans = telemetry.wait_for_spans(2).await;
    let error_types: Vec<_> = spans.iter().map(|s| string(&s.attributes, "error.type")).collect();
    assert_eq!(error_types, [Some("502".to_owned()), Some("connect".to_owned())]);
    assert!(spans.iter().all(|s| matches!(s.status, Status::Error { .. })));
}
