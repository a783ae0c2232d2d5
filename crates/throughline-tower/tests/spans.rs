//! The server span, asserted on what the OpenTelemetry SDK exports, with a
//! real axum server on 127.0.0.1 and a real HTTP client.

mod support;

use std::convert::Infallible;

use axum::Router;
use axum::http::{HeaderName, StatusCode};
use axum::routing::{any, get};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::trace::Sampler;
use support::{PARENT_ID, TRACE_ID, TRACEPARENT, WAIT, layer, serve};
use throughline_propagation::TraceContext;
use throughline_testing::Capture;
use throughline_tower::semconv::SemconvStability;
use throughline_tower::server::{HttpServerLayer, Record, Trust, TrustPolicy};
use tower::ServiceExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// What the handler sees: the traceparent it would send downstream, and how
/// many baggage members reached it.
async fn downstream_view() -> String {
    let cx = tracing::Span::current().context();
    let traceparent =
        TraceContext::from_context(&cx).map(|trace| trace.traceparent.to_string()).unwrap_or_default();
    format!("{traceparent} {}", cx.baggage().len())
}

async fn panics() -> &'static str {
    panic!("boom at the handler")
}

#[tracing::instrument]
async fn load_user(id: u32) -> String {
    format!("user {id}")
}

fn app(layer: HttpServerLayer) -> Router {
    Router::new()
        .route("/users/{id}", get(|axum::extract::Path(id): axum::extract::Path<u32>| load_user(id)))
        .route("/view", get(downstream_view))
        .route(
            "/status/{code}",
            get(|axum::extract::Path(code): axum::extract::Path<u16>| async move {
                StatusCode::from_u16(code).unwrap()
            }),
        )
        .route("/items", any(|| async { "any" }))
        .route("/panic", get(panics))
        .route("/health", get(|| async { "ok" }))
        .layer(layer)
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn continues_the_callers_trace_and_nests_handler_spans() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let addr = serve(app(layer(&capture))).await;

    let body = client()
        .get(format!("http://{addr}/users/7"))
        .header("traceparent", TRACEPARENT)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "user 7");

    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let server = spans.one_of_kind(SpanKind::Server);
    assert_eq!(server.span_context.trace_id(), TraceId::from_hex(TRACE_ID).unwrap());
    assert_eq!(server.parent_span_id, SpanId::from_hex(PARENT_ID).unwrap());
    assert!(server.parent_span_is_remote);
    spans.named("load_user").assert_child_of(&server);
}

#[tokio::test]
async fn the_handler_propagates_the_server_span_and_trusted_baggage() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let addr = serve(app(layer(&capture))).await;

    let view = client()
        .get(format!("http://{addr}/view"))
        .header("traceparent", TRACEPARENT)
        .header("baggage", "userId=alice,tenant=acme")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let server = spans.one_of_kind(SpanKind::Server);
    let expected = format!("00-{TRACE_ID}-{}-01 2", server.span_context.span_id());
    assert_eq!(view, expected);
}

#[tokio::test]
async fn records_every_stable_attribute() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let layer = layer(&capture)
        .capture_request_headers([HeaderName::from_static("x-request-id"), http::header::AUTHORIZATION])
        .capture_response_headers([http::header::CONTENT_TYPE, http::header::SET_COOKIE]);
    let addr = serve(app(layer)).await;

    let response = client()
        .get(format!("http://{addr}/users/7?id=1&sig=abc"))
        .header("traceparent", TRACEPARENT)
        .header("user-agent", "checkout/1.4")
        .header("x-request-id", "req-42")
        .header("authorization", "Bearer s3cr3t")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap();

    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let span = spans.one_of_kind(SpanKind::Server);
    assert_eq!(span.name, "GET /users/{id}");
    assert_eq!(span.status, Status::Unset);
    span.assert_kind(SpanKind::Server)
        .assert_attribute("http.request.method", "GET")
        .assert_attribute("url.path", "/users/7")
        .assert_attribute("url.query", "id=1&sig=REDACTED")
        .assert_attribute("url.scheme", "http")
        .assert_attribute("http.route", "/users/{id}")
        .assert_attribute("http.response.status_code", 200)
        .assert_attribute("server.address", "127.0.0.1")
        .assert_attribute("server.port", i64::from(addr.port()))
        .assert_attribute("client.address", "127.0.0.1")
        .assert_attribute("network.protocol.version", "1.1")
        .assert_attribute("user_agent.original", "checkout/1.4")
        .assert_strings("http.request.header.x-request-id", &["req-42"])
        .assert_strings("http.response.header.content-type", &["text/plain; charset=utf-8"]);
    for never in
        ["http.request.header.authorization", "http.response.header.set-cookie", "error.type", "http.method"]
    {
        span.assert_no_attribute(never);
    }
    assert!(!span.attributes.iter().any(|kv| kv.value.as_str().contains("s3cr3t")), "no credential anywhere");
}

#[tokio::test]
async fn old_names_are_added_with_http_dup() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let addr = serve(app(layer(&capture).semconv_stability(SemconvStability::Duplicate))).await;

    client().get(format!("http://{addr}/users/7?id=1")).header("user-agent", "ua/1").send().await.unwrap();

    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    spans
        .one_of_kind(SpanKind::Server)
        .assert_attribute("http.method", "GET")
        .assert_attribute("http.target", "/users/7?id=1")
        .assert_attribute("http.scheme", "http")
        .assert_attribute("http.status_code", 200)
        .assert_attribute("http.flavor", "1.1")
        .assert_attribute("net.host.name", "127.0.0.1")
        .assert_attribute("net.host.port", i64::from(addr.port()))
        .assert_attribute("http.user_agent", "ua/1")
        .assert_attribute("http.client_ip", "127.0.0.1")
        // The stable names are still there.
        .assert_attribute("http.request.method", "GET")
        .assert_attribute("http.response.status_code", 200);
}

#[tokio::test]
async fn an_unknown_method_is_other_and_names_the_span_http() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let addr = serve(app(layer(&capture))).await;

    let purge = reqwest::Method::from_bytes(b"PURGE").unwrap();
    client().request(purge, format!("http://{addr}/items")).send().await.unwrap();

    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let span = spans.one_of_kind(SpanKind::Server);
    assert_eq!(span.name, "HTTP /items");
    span.assert_attribute("http.request.method", "_OTHER")
        .assert_attribute("http.request.method_original", "PURGE");
}

#[tokio::test]
async fn a_5xx_is_an_error_and_a_4xx_is_not() {
    let capture = Capture::new();
    let default = capture.set_default();
    let addr = serve(app(layer(&capture))).await;

    client().get(format!("http://{addr}/status/503")).send().await.unwrap();
    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    spans
        .one_of_kind(SpanKind::Server)
        .assert_error()
        .assert_attribute("error.type", "503")
        .assert_attribute("http.response.status_code", 503);
    drop(default);

    let capture = Capture::new();
    let _default = capture.set_default();
    let addr = serve(app(layer(&capture))).await;
    client().get(format!("http://{addr}/status/404")).send().await.unwrap();
    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let span = spans.one_of_kind(SpanKind::Server);
    assert_eq!(span.status, Status::Unset);
    span.assert_no_attribute("error.type").assert_attribute("http.response.status_code", 404);
}

#[tokio::test]
async fn a_caught_panic_becomes_a_500_and_is_recorded() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let addr = serve(app(layer(&capture).catch_panic(true))).await;

    let response = client().get(format!("http://{addr}/panic")).send().await.unwrap();
    assert_eq!(response.status(), 500);

    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    spans
        .one_of_kind(SpanKind::Server)
        .assert_error()
        .assert_attribute("error.type", "panic")
        .assert_attribute("http.response.status_code", 500)
        .assert_event_attribute("exception", "exception.message", "boom at the handler");
}

#[tokio::test]
async fn an_uncaught_panic_is_recorded_and_unwinds() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let request = http::Request::get("/panic").body(axum::body::Body::empty()).unwrap();

    let joined = tokio::spawn(app(layer(&capture)).oneshot(request)).await;

    assert!(joined.unwrap_err().is_panic());
    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    spans.one_of_kind(SpanKind::Server).assert_attribute("error.type", "panic").assert_event("exception");
}

#[tokio::test]
async fn an_inner_service_error_is_recorded() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let failing = tower::service_fn(|_: http::Request<String>| async {
        Err::<http::Response<String>, _>(std::io::Error::other("upstream refused"))
    });
    let service = tower::Layer::layer(&layer(&capture), failing);

    let result = service.oneshot(http::Request::get("/").body(String::new()).unwrap()).await;

    assert_eq!(result.err().map(|e| e.to_string()).as_deref(), Some("upstream refused"));
    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    spans
        .one_of_kind(SpanKind::Server)
        .assert_error()
        .assert_attribute("error.type", "std::io::error::Error")
        .assert_event_attribute("exception", "exception.message", "upstream refused");
}

#[tokio::test]
async fn a_public_endpoint_starts_a_new_trace_linked_to_the_caller() {
    // Parent-based: a trusted unsampled parent would drop the span.
    let capture = Capture::with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    let _default = capture.set_default();
    let addr = serve(app(layer(&capture).trust(TrustPolicy::public()))).await;

    let view = client()
        .get(format!("http://{addr}/view"))
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
        .header("baggage", "userId=alice")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let span = spans.one_of_kind(SpanKind::Server);
    assert_ne!(span.span_context.trace_id(), TraceId::from_hex(TRACE_ID).unwrap());
    assert_eq!(span.parent_span_id, SpanId::INVALID, "a root span");
    let link = span.links.links.first().expect("a link to the caller");
    assert_eq!(link.span_context.trace_id(), TraceId::from_hex(TRACE_ID).unwrap());
    assert_eq!(link.span_context.span_id(), SpanId::from_hex(PARENT_ID).unwrap());
    // The caller's unsampled flag was not obeyed, and its baggage is gone.
    assert!(span.span_context.is_sampled());
    assert!(view.ends_with(" 0"), "no baggage reached the handler: {view}");
}

#[tokio::test]
async fn the_trust_predicate_decides_per_request() {
    let capture = Capture::new();
    let default = capture.set_default();
    let policy = TrustPolicy::predicate(|parts| {
        if parts.headers.contains_key("x-internal") { Trust::Trusted } else { Trust::Public }
    });
    let addr = serve(app(layer(&capture).trust(policy))).await;

    client().get(format!("http://{addr}/users/1")).header("traceparent", TRACEPARENT).send().await.unwrap();
    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let public = spans.one_of_kind(SpanKind::Server);
    assert_ne!(public.span_context.trace_id(), TraceId::from_hex(TRACE_ID).unwrap());
    drop(default);

    let capture = Capture::new();
    let _default = capture.set_default();
    let policy = TrustPolicy::trusted_peers(|ip| ip.is_loopback());
    let addr = serve(app(layer(&capture).trust(policy))).await;
    client().get(format!("http://{addr}/users/1")).header("traceparent", TRACEPARENT).send().await.unwrap();
    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let trusted = spans.one_of_kind(SpanKind::Server);
    assert_eq!(trusted.span_context.trace_id(), TraceId::from_hex(TRACE_ID).unwrap());
}

#[tokio::test]
async fn a_malformed_traceparent_starts_a_new_trace_and_the_request_succeeds() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let addr = serve(app(layer(&capture))).await;

    let response = client()
        .get(format!("http://{addr}/users/7"))
        .header("traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let span = spans.one_of_kind(SpanKind::Server);
    assert_ne!(span.span_context.trace_id(), TraceId::from_hex(TRACE_ID).unwrap());
    assert!(span.span_context.trace_id() != TraceId::INVALID);
    assert_eq!(span.parent_span_id, SpanId::INVALID);
}

#[tokio::test]
async fn a_sampled_out_request_still_propagates_and_exports_nothing() {
    let capture = Capture::with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    let _default = capture.set_default();
    let addr = serve(app(layer(&capture))).await;

    let view = client()
        .get(format!("http://{addr}/view"))
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    // Same trace, this service's own span id, not sampled.
    let (traceparent, _) = view.split_once(' ').unwrap();
    assert!(traceparent.starts_with(&format!("00-{TRACE_ID}-")), "{view}");
    assert!(!traceparent.contains(PARENT_ID), "the server span's own id is sent: {view}");
    assert!(traceparent.ends_with("-00"), "{view}");
    assert!(capture.spans().is_empty());
}

#[tokio::test]
async fn the_filter_turns_tracing_off() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let layer = layer(&capture).filter(|parts| match parts.uri.path() {
        "/health" => Record::NOTHING,
        "/view" => Record::METRICS_ONLY,
        _ => Record::EVERYTHING,
    });
    let addr = serve(app(layer)).await;

    client().get(format!("http://{addr}/health")).send().await.unwrap().text().await.unwrap();
    let view = client()
        .get(format!("http://{addr}/view"))
        .header("traceparent", TRACEPARENT)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    client().get(format!("http://{addr}/users/3")).send().await.unwrap().text().await.unwrap();

    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let span = spans.one_of_kind(SpanKind::Server);
    assert_eq!(span.name, "GET /users/{id}", "only the unfiltered request is traced");
    assert_eq!(view, " 0", "no span, no context for the handler");
}

#[tokio::test]
async fn the_trace_response_header_names_the_server_span_only() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let addr = serve(app(layer(&capture).trace_response_header(true))).await;

    let response = client()
        .get(format!("http://{addr}/users/7"))
        .header("traceparent", TRACEPARENT)
        .header("tracestate", "vendor=secret")
        .header("baggage", "userId=alice")
        .send()
        .await
        .unwrap();
    let header = response.headers()["server-timing"].to_str().unwrap().to_owned();
    response.text().await.unwrap();

    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let span = spans.one_of_kind(SpanKind::Server);
    assert_eq!(header, format!("traceparent;desc=\"00-{TRACE_ID}-{}-01\"", span.span_context.span_id()));
}

#[tokio::test]
async fn route_layer_sees_the_route_too() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let app = Router::new().route("/orders/{id}", get(|| async { "order" })).route_layer(layer(&capture));
    let addr = serve(app).await;

    client().get(format!("http://{addr}/orders/9")).send().await.unwrap().text().await.unwrap();

    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let span = spans.one_of_kind(SpanKind::Server);
    assert_eq!(span.name, "GET /orders/{id}");
    span.assert_attribute("http.route", "/orders/{id}");
}

#[test]
fn the_layer_and_service_are_clone_send_and_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>(_: &T) {}
    let layer = HttpServerLayer::new();
    assert_traits(&layer);
    let service = tower::Layer::layer(
        &layer,
        tower::service_fn(|_: http::Request<String>| async {
            Ok::<_, Infallible>(http::Response::new(String::new()))
        }),
    );
    assert_traits(&service);
}

/// The route a plain hyper service knows, as its own extension.
#[derive(Clone)]
struct Template(&'static str);

#[tokio::test]
async fn a_plain_hyper_service_with_its_own_route_extractor() {
    use http_body_util::Full;
    use throughline_tower::server::RouteExtractor;

    let capture = Capture::new();
    let _default = capture.set_default();
    let layer = layer(&capture).route(RouteExtractor::new(|parts| {
        parts.extensions.get::<Template>().map(|t| std::borrow::Cow::Borrowed(t.0))
    }));
    let service = tower::ServiceBuilder::new()
        .map_request(|mut request: http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(Template("/things/{id}"));
            request
        })
        .layer(layer)
        .service_fn(|_| async {
            Ok::<_, Infallible>(http::Response::new(Full::new(bytes::Bytes::from_static(b"thing"))))
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let io = hyper_util::rt::TokioIo::new(stream);
        let service = hyper_util::service::TowerToHyperService::new(service);
        hyper::server::conn::http1::Builder::new().serve_connection(io, service).await.unwrap();
    });

    let body = client().get(format!("http://{addr}/things/3")).send().await.unwrap().text().await.unwrap();

    assert_eq!(body, "thing");
    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let span = spans.one_of_kind(SpanKind::Server);
    assert_eq!(span.name, "GET /things/{id}");
    span.assert_attribute("http.route", "/things/{id}");
}
