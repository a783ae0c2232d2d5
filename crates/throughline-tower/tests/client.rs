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
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::trace::Sampler;
use support::{WAIT, layer, serve, streaming_app};
use throughline_testing::Capture;
use throughline_tower::client::{ClientInstrumentation, HttpClient, HttpClientLayer, UrlTemplate};
use tower::{Layer, ServiceExt};

fn client(capture: &Capture) -> HttpClient<Client<HttpConnector, Empty<Bytes>>> {
    let instrumentation = ClientInstrumentation::new().meter_provider(capture.meter_provider());
    HttpClientLayer::with_instrumentation(instrumentation)
        .layer(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>())
}

#[tokio::test(flavor = "current_thread")]
async fn the_server_span_is_a_child_of_the_client_span() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let app = Router::new().route("/users/{id}", get(|| async { "alice" })).layer(layer(&capture));
    let addr = serve(app).await;

    let mut request = Request::get(format!("http://{addr}/users/7")).body(Empty::new()).unwrap();
    request.extensions_mut().insert(UrlTemplate::new("/users/{id}"));
    let response = client(&capture).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "alice");

    let spans = capture.wait_for_spans(2, WAIT).await.unwrap();
    let client = spans.one_of_kind(SpanKind::Client);
    spans.one_of_kind(SpanKind::Server).assert_child_of(&client);
    assert_eq!(client.name, "GET /users/{id}");
    client
        .assert_attribute("http.request.method", "GET")
        .assert_attribute("server.address", "127.0.0.1")
        .assert_attribute("server.port", i64::from(addr.port()))
        .assert_attribute("url.full", format!("http://{addr}/users/7"))
        .assert_attribute("url.template", "/users/{id}")
        .assert_attribute("http.response.status_code", 200)
        .assert_attribute("network.protocol.version", "1.1");

    let metrics = capture.metrics();
    assert!(matches!(
        metrics.data("http.client.request.duration"),
        Some(AggregatedMetrics::F64(MetricData::Histogram(_)))
    ));
    assert_eq!(metrics.histogram_count("http.client.request.duration", &[]), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn the_client_span_ends_with_the_response_body() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let (app, mut bodies) = streaming_app(throughline_tower::server::HttpServerLayer::new());
    let addr = serve(app).await;

    let request = Request::get(format!("http://{addr}/stream")).body(Empty::new()).unwrap();
    let response = client(&capture).oneshot(request).await.unwrap();
    let sender = bodies.recv().await.unwrap();
    let clients = || capture.spans().of_kind(SpanKind::Client).len();
    assert_eq!(clients(), 0, "the head arrived, the body has not ended");
    let active = |capture: &Capture| capture.metrics().total("http.client.active_requests", &[]);
    assert_eq!(active(&capture), 1.0, "in flight until its body ends");

    sender.send(Bytes::from_static(b"chunk")).unwrap();
    drop(sender);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "chunk");
    assert_eq!(clients(), 1);
    assert_eq!(active(&capture), 0.0);
    let port = opentelemetry::KeyValue::new("server.port", i64::from(addr.port()));
    assert_eq!(capture.metrics().points("http.client.active_requests").len(), 1, "one attribute set");
    assert_eq!(capture.metrics().total("http.client.active_requests", &[port]), 0.0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_5xx_and_a_refused_connection_are_errors() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let app = Router::new().route("/", get(|| async { StatusCode::BAD_GATEWAY }));
    let addr = serve(app).await;
    let response =
        client(&capture).oneshot(Request::get(format!("http://{addr}/")).body(Empty::new()).unwrap()).await;
    response.unwrap().into_body().collect().await.unwrap();

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let refused =
        client(&capture).oneshot(Request::get(format!("http://{closed}/")).body(Empty::new()).unwrap()).await;
    assert!(refused.is_err());

    let spans = capture.wait_for_spans(2, WAIT).await.unwrap();
    let clients = spans.of_kind(SpanKind::Client);
    assert_eq!((spans.len(), clients.len()), (2, 2), "{spans:#?}");
    clients[0].assert_attribute("error.type", "502").assert_error();
    clients[1].assert_attribute("error.type", "connect").assert_error();
}

/// A service whose handler calls `downstream` through the client layer, and
/// answers with the `traceparent` and `tracestate` that arrived there.
async fn relay(capture: &Capture) -> std::net::SocketAddr {
    let echo = Router::new().route(
        "/",
        get(|headers: http::HeaderMap| async move {
            let value =
                |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            format!("{} {}", value("traceparent"), value("tracestate"))
        }),
    );
    let downstream = serve(echo).await;
    let handler = move || async move {
        let request = Request::get(format!("http://{downstream}/")).body(Empty::new()).unwrap();
        let response = HttpClientLayer::new()
            .layer(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>())
            .oneshot(request)
            .await
            .unwrap();
        response.into_body().collect().await.unwrap().to_bytes()
    };
    serve(Router::new().route("/relay", get(handler)).layer(layer(capture))).await
}

async fn relayed(addr: std::net::SocketAddr, headers: &[(&str, &str)]) -> (String, String) {
    let mut request = reqwest::Client::new().get(format!("http://{addr}/relay"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = request.send().await.unwrap().text().await.unwrap();
    let (traceparent, tracestate) = body.split_once(' ').unwrap();
    (traceparent.to_owned(), tracestate.to_owned())
}

#[tokio::test]
async fn an_unsampled_random_parent_keeps_its_flag_and_tracestate_downstream() {
    let capture = Capture::with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    let _default = capture.set_default();
    let addr = relay(&capture).await;
    // `a@b@c` is valid W3C that OpenTelemetry's TraceState refuses.
    let (traceparent, tracestate) = relayed(
        addr,
        &[
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02"),
            ("tracestate", "a@b@c=1,rojo=2"),
        ],
    )
    .await;
    assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{traceparent}");
    assert!(traceparent.ends_with("-02"), "random kept, unsampled: {traceparent}");
    assert!(!traceparent.contains("00f067aa0ba902b7"), "a new parent id: {traceparent}");
    assert_eq!(tracestate, "a@b@c=1,rojo=2");
}

#[tokio::test]
async fn a_trace_started_here_is_sent_with_the_random_flag() {
    for (sampler, flags) in [(Sampler::AlwaysOn, "-03"), (Sampler::AlwaysOff, "-02")] {
        let capture = Capture::with_sampler(sampler);
        let _default = capture.set_default();
        let addr = relay(&capture).await;
        let (traceparent, tracestate) = relayed(addr, &[]).await;
        assert!(traceparent.ends_with(flags), "{traceparent}");
        assert_eq!(tracestate, "");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_client_span_that_starts_a_trace_sends_the_random_flag() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let echo = Router::new().route(
        "/",
        get(|headers: http::HeaderMap| async move { headers["traceparent"].to_str().unwrap().to_owned() }),
    );
    let addr = serve(echo).await;
    let response = HttpClientLayer::new()
        .layer(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>())
        .oneshot(Request::get(format!("http://{addr}/")).body(Empty::new()).unwrap())
        .await
        .unwrap();
    let traceparent = response.into_body().collect().await.unwrap().to_bytes();
    assert!(traceparent.ends_with(b"-03"), "{traceparent:?}");
}
