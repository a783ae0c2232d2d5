//! The layers around plain tower services, on tokio's paused clock: what
//! the client sends (context, `grpc-timeout`), what the server gives the
//! handler, and how abandoned or odd responses end.

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry_sdk::trace::Sampler;
use support::Telemetry;
use throughline_testing::Capture;
use throughline_tonic::deadline::{self, Deadline};
use throughline_tonic::{GrpcClientLayer, GrpcServerLayer};
use tower::{Layer, ServiceExt, service_fn};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;

type Body = tonic::body::Body;

fn ok() -> Response<Body> {
    Response::builder().header("grpc-status", "0").body(Body::empty()).unwrap()
}

fn call(path: &str) -> Request<Body> {
    Request::post(path).header("content-type", "application/grpc").body(Body::empty()).unwrap()
}

/// A downstream that keeps the headers of what it was sent.
type Sent = Arc<Mutex<Vec<HeaderMap>>>;

fn recorder()
-> (Sent, impl tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    let service = service_fn(move |request: Request<Body>| {
        keep.lock().unwrap().push(request.headers().clone());
        async { Ok::<_, Infallible>(ok()) }
    });
    (seen, service)
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|value| value.to_str().unwrap().to_owned())
}

#[tokio::test(start_paused = true)]
async fn a_handler_inherits_the_callers_deadline_and_its_calls_send_what_is_left() {
    let _telemetry = Telemetry::install();
    let (sent, downstream) = recorder();
    let client = GrpcClientLayer::new().layer(downstream);
    let handler = service_fn(move |request: Request<Body>| {
        let client = client.clone();
        async move {
            let deadline = *request.extensions().get::<Deadline>().expect("the deadline extension");
            assert_eq!(deadline.remaining(), Duration::from_millis(200));
            assert_eq!(deadline::current(), Some(deadline), "current while the handler runs");
            tokio::time::sleep(Duration::from_millis(50)).await;
            client.oneshot(call("/pkg.Down/Call")).await?;
            Ok::<_, Infallible>(ok())
        }
    });
    let mut request = call("/pkg.Up/Call");
    request.headers_mut().insert("grpc-timeout", "200m".parse().unwrap());
    let response = GrpcServerLayer::new().layer(handler).oneshot(request).await.unwrap();
    response.into_body().collect().await.unwrap();

    let sent = sent.lock().unwrap();
    assert_eq!(header(&sent[0], "grpc-timeout").as_deref(), Some("150000u"), "200 ms less the 50 ms spent");
}

#[tokio::test(start_paused = true)]
async fn the_client_sends_the_earliest_of_its_timeout_and_the_inherited_deadlines() {
    // A subscriber, as every test here has: a test without one can leave
    // tracing's per-callsite interest cache at "never" for the others.
    let _telemetry = Telemetry::install();
    let (sent, downstream) = recorder();
    let client = GrpcClientLayer::new().timeout(Duration::from_millis(100)).layer(downstream);

    // Its own timeout alone.
    client.clone().oneshot(call("/pkg.S/M")).await.unwrap();
    // A current deadline that is later: the own timeout wins.
    let later = Deadline::after(Duration::from_secs(1));
    deadline::scope(later, client.clone().oneshot(call("/pkg.S/M"))).await.unwrap();
    // An extension that is earlier wins.
    let mut request = call("/pkg.S/M");
    request.extensions_mut().insert(Deadline::after(Duration::from_millis(30)));
    client.clone().oneshot(request).await.unwrap();
    // tonic's `Request::set_timeout` header, earlier still, is kept.
    let mut request = call("/pkg.S/M");
    request.headers_mut().insert("grpc-timeout", "7m".parse().unwrap());
    client.clone().oneshot(request).await.unwrap();
    // Without any, nothing is sent.
    GrpcClientLayer::new().layer(recorder().1).oneshot(call("/pkg.S/M")).await.unwrap();

    let timeouts: Vec<_> =
        sent.lock().unwrap().iter().map(|headers| header(headers, "grpc-timeout")).collect();
    let expected = ["100000u", "100000u", "30000000n", "7000000n"].map(|v| Some(v.to_owned()));
    assert_eq!(timeouts, expected);
    let (none, downstream) = recorder();
    GrpcClientLayer::new().layer(downstream).oneshot(call("/pkg.S/M")).await.unwrap();
    assert_eq!(header(&none.lock().unwrap()[0], "grpc-timeout"), None);
}

#[tokio::test(start_paused = true)]
async fn a_malformed_grpc_timeout_is_ignored() {
    let _telemetry = Telemetry::install();
    for value in ["123456789m", "10x", "-5S", "S", "1.5S"] {
        let handler = service_fn(|request: Request<Body>| async move {
            assert!(request.extensions().get::<Deadline>().is_none());
            assert_eq!(deadline::current(), None);
            Ok::<_, Infallible>(ok())
        });
        let mut request = call("/pkg.S/M");
        request.headers_mut().insert("grpc-timeout", value.parse().unwrap());
        let response = GrpcServerLayer::new().layer(handler).oneshot(request).await.unwrap();
        assert_eq!(response.headers()["grpc-status"], "0", "{value}");
    }
}

#[tokio::test]
async fn a_sampled_out_client_span_still_sends_its_context() {
    let _telemetry = Telemetry::from(Capture::with_sampler(Sampler::AlwaysOff));
    let (sent, downstream) = recorder();
    let client = GrpcClientLayer::new().layer(downstream);
    let root = tracing::info_span!("root");
    let trace_id = root.context().span().span_context().trace_id();
    tracing::Instrument::instrument(client.oneshot(call("/pkg.S/M")), root).await.unwrap();

    let traceparent = header(&sent.lock().unwrap()[0], "traceparent").expect("a traceparent");
    assert!(traceparent.starts_with(&format!("00-{trace_id}-")), "{traceparent}");
    assert!(traceparent.ends_with("-00"), "not sampled: {traceparent}");
}

#[tokio::test]
async fn a_filtered_out_client_span_sends_the_current_context() {
    let capture = Capture::new();
    let layer =
        capture.layer().with_filter(filter_fn(|meta| meta.target() != throughline_tonic::client::TARGET));
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let (sent, downstream) = recorder();
    let client = GrpcClientLayer::new().layer(downstream);
    let root = tracing::info_span!("root");
    let root_cx = root.context().span().span_context().clone();
    tracing::Instrument::instrument(client.oneshot(call("/pkg.S/M")), root).await.unwrap();

    let traceparent = header(&sent.lock().unwrap()[0], "traceparent").expect("a traceparent");
    assert_eq!(traceparent, format!("00-{}-{}-01", root_cx.trace_id(), root_cx.span_id()));
}

#[tokio::test]
async fn a_server_reads_the_callers_context_and_names_a_malformed_path_other() {
    let telemetry = Telemetry::install();
    let handler = service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(ok()) });
    let mut request = call("/not-a-grpc-method");
    request
        .headers_mut()
        .insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
    let response = GrpcServerLayer::new().layer(handler).oneshot(request).await.unwrap();
    response.into_body().collect().await.unwrap();

    let spans = telemetry.capture.spans();
    let span = spans.named("grpc");
    span.assert_kind(SpanKind::Server)
        .assert_attribute("rpc.method", "_OTHER")
        .assert_attribute("rpc.method_original", "/not-a-grpc-method")
        .assert_attribute("rpc.response.status_code", "OK");
    assert_eq!(span.data().span_context.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(span.data().parent_span_id.to_string(), "00f067aa0ba902b7");
}

#[tokio::test]
async fn a_huge_valid_looking_path_is_other_and_its_original_capped() {
    let telemetry = Telemetry::install();
    let handler = service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(ok()) });
    let path = format!("/pkg.Service/{}", "m".repeat(10_000));
    let response = GrpcServerLayer::new().layer(handler).oneshot(call(&path)).await.unwrap();
    response.into_body().collect().await.unwrap();

    let spans = telemetry.capture.spans();
    let span = spans.named("grpc");
    span.assert_attribute("rpc.method", "_OTHER");
    let original = span.attribute("rpc.method_original").expect("the original, capped").as_str().into_owned();
    assert_eq!(original.len(), throughline_tower::semconv::ValueLength::DEFAULT.max_chars());
    assert!(path.starts_with(&original));
}

#[tokio::test]
async fn a_stream_dropped_before_its_end_is_cancelled() {
    let telemetry = Telemetry::install();
    let handler = service_fn(|_: Request<Body>| async {
        let pending = futures_util::stream::pending::<Result<http_body::Frame<Bytes>, tonic::Status>>();
        Ok::<_, Infallible>(Response::new(Body::new(StreamBody::new(pending))))
    });
    let response = GrpcServerLayer::new().layer(handler).oneshot(call("/pkg.S/M")).await.unwrap();
    drop(response);

    let spans = telemetry.capture.spans();
    spans.named("pkg.S/M").assert_attribute("rpc.response.status_code", "CANCELLED").assert_not_error();
}

#[tokio::test]
async fn a_non_grpc_answer_is_mapped_to_its_grpc_code() {
    let telemetry = Telemetry::install();
    let proxy = service_fn(|_: Request<Body>| async {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        Ok::<_, Infallible>(response)
    });
    let response = GrpcClientLayer::new().layer(proxy).oneshot(call("/pkg.S/M")).await.unwrap();
    response.into_body().collect().await.unwrap();

    let spans = telemetry.capture.spans();
    spans
        .named("pkg.S/M")
        .assert_kind(SpanKind::Client)
        .assert_attribute("rpc.response.status_code", "UNAVAILABLE")
        .assert_attribute("error.type", "UNAVAILABLE")
        .assert_error();
}

#[tokio::test]
async fn the_global_propagator_can_carry_the_context_both_ways() {
    // Process-wide, so the one every test of this binary would use anyway:
    // throughline's default, through OpenTelemetry's global API.
    throughline_propagation::Propagator::default().set_global();
    opentelemetry::global::set_text_map_propagator(throughline_propagation::Propagator::default());
    let telemetry = Telemetry::install();
    let (sent, downstream) = recorder();
    let client = GrpcClientLayer::new().global_propagator().layer(downstream);
    client.oneshot(call("/pkg.S/M")).await.unwrap();
    let headers = sent.lock().unwrap()[0].clone();
    let traceparent = header(&headers, "traceparent").expect("written by the global propagator");

    let handler = service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(ok()) });
    let mut request = call("/pkg.S/M");
    *request.headers_mut() = headers;
    let response = GrpcServerLayer::new().global_propagator().layer(handler).oneshot(request).await.unwrap();
    response.into_body().collect().await.unwrap();

    let spans = telemetry.capture.spans();
    let server = spans.all().iter().find(|s| s.span_kind == SpanKind::Server).unwrap();
    let client = spans.all().iter().find(|s| s.span_kind == SpanKind::Client).unwrap();
    assert_eq!(server.parent_span_id, client.span_context.span_id(), "{traceparent}");
    assert_eq!(server.span_context.trace_id(), client.span_context.trace_id());
}

#[tokio::test]
async fn a_public_callers_context_is_a_link_not_a_parent() {
    let telemetry = Telemetry::install();
    let handler = service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(ok()) });
    let mut request = call("/pkg.S/M");
    request
        .headers_mut()
        .insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
    let layer = GrpcServerLayer::new().trust(throughline_tower::server::TrustPolicy::public());
    let response = layer.layer(handler).oneshot(request).await.unwrap();
    response.into_body().collect().await.unwrap();

    let spans = telemetry.capture.spans();
    let span = spans.named("pkg.S/M").data();
    assert_ne!(span.span_context.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736", "a new trace");
    assert_eq!(span.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    let link = &span.links.links[0];
    assert_eq!(link.span_context.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
}

#[tokio::test]
async fn an_unsampled_random_parent_keeps_its_flag_and_tracestate_through_server_and_client() {
    let capture = Capture::with_sampler(Sampler::AlwaysOff);
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (sent, downstream) = recorder();
    let client = GrpcClientLayer::new().layer(downstream);
    let handler = service_fn(move |_: Request<Body>| {
        let client = client.clone();
        async move {
            client.oneshot(call("/pkg.Downstream/Call")).await.unwrap();
            Ok::<_, Infallible>(ok())
        }
    });
    let mut request = call("/pkg.S/M");
    request
        .headers_mut()
        .insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02".parse().unwrap());
    // `a@b@c` is valid W3C that OpenTelemetry's TraceState refuses.
    request.headers_mut().insert("tracestate", "a@b@c=1,rojo=2".parse().unwrap());
    let response = GrpcServerLayer::new().layer(handler).oneshot(request).await.unwrap();
    response.into_body().collect().await.unwrap();

    let headers = sent.lock().unwrap()[0].clone();
    let traceparent = header(&headers, "traceparent").unwrap();
    assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{traceparent}");
    assert!(!traceparent.contains("00f067aa0ba902b7"), "a new parent id: {traceparent}");
    assert!(traceparent.ends_with("-02"), "random kept, unsampled: {traceparent}");
    assert_eq!(header(&headers, "tracestate").as_deref(), Some("a@b@c=1,rojo=2"));
}

#[tokio::test]
async fn a_host_excluded_from_propagation_gets_the_deadline_but_no_context() {
    let _telemetry = Telemetry::install();
    let (sent, downstream) = recorder();
    let client = GrpcClientLayer::new()
        .server_address("api.partner.example", Some(443))
        .no_propagation_to([".partner.example"])
        .timeout(Duration::from_secs(1))
        .layer(downstream);
    client.oneshot(call("/pkg.S/M")).await.unwrap();
    let headers = sent.lock().unwrap()[0].clone();
    assert!(header(&headers, "traceparent").is_none(), "{headers:?}");
    assert!(header(&headers, "grpc-timeout").is_some(), "the deadline is the protocol's");
}

#[tokio::test]
async fn the_server_filter_chooses_span_and_metrics_per_call() {
    let telemetry = Telemetry::install();
    let handler = service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(ok()) });
    let server = telemetry
        .server_layer()
        .filter(|parts| match parts.uri.path() {
            "/grpc.health.v1.Health/Check" => throughline_tonic::Record::NOTHING,
            "/pkg.S/Traced" => throughline_tonic::Record::TRACE_ONLY,
            _ => throughline_tonic::Record::EVERYTHING,
        })
        .layer(handler);
    for path in ["/grpc.health.v1.Health/Check", "/pkg.S/Traced", "/pkg.S/M"] {
        let response = server.clone().oneshot(call(path)).await.unwrap();
        response.into_body().collect().await.unwrap();
    }
    let spans = telemetry.capture.spans();
    let names: Vec<&str> = spans.all().iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(names, ["pkg.S/Traced", "pkg.S/M"]);
    let metrics = telemetry.capture.metrics();
    assert_eq!(metrics.points("rpc.server.call.duration").len(), 1, "only /pkg.S/M is measured");
}
