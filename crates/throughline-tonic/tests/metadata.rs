//! Metadata capture over real sockets: the keys a layer is told to capture
//! become `rpc.request.metadata.<key>` and `rpc.response.metadata.<key>` on
//! its span, as throughline-tower's HTTP layers capture headers: never a
//! credential, each value cut to the bound.

mod support;

use std::time::Duration;

use http::HeaderName;
use http::header::{AUTHORIZATION, SET_COOKIE};
use opentelemetry::trace::SpanKind;
use support::{Service, Telemetry, client, request, serve};
use throughline_testing::{SpanRef, Spans};
use throughline_tonic::semconv::RpcStability;
use throughline_tower::semconv::{SENSITIVE_HEADERS, ValueLength};
use tonic::Code;
use tonic::metadata::MetadataValue;

const WAIT: Duration = Duration::from_secs(10);

fn tenant() -> HeaderName {
    HeaderName::from_static("x-tenant")
}

fn served_by() -> HeaderName {
    HeaderName::from_static("x-served-by")
}

/// Every request key asked for: a plain one and two credentials.
fn request_keys() -> [HeaderName; 3] {
    [tenant(), AUTHORIZATION, HeaderName::from_static("x-api-key")]
}

/// Every response key asked for: a plain one and a credential.
fn response_keys() -> [HeaderName; 2] {
    [served_by(), SET_COOKIE]
}

/// An Echo request failing with `code`, carrying two tenants and two
/// credentials, and asking the server to answer with `x-served-by` and a
/// cookie.
fn call(code: Code) -> tonic::Request<throughline_tonic_testproto::EchoRequest> {
    let mut call = tonic::Request::new(request("hi", 0, code));
    let metadata = call.metadata_mut();
    metadata.append("x-tenant", MetadataValue::from_static("acme"));
    metadata.append("x-tenant", MetadataValue::from_static("globex"));
    metadata.insert("authorization", MetadataValue::from_static("Bearer s3cr3t"));
    metadata.insert("x-api-key", MetadataValue::from_static("s3cr3t-key"));
    metadata.insert("reply-x-served-by", MetadataValue::from_static("node-7"));
    metadata.insert("reply-set-cookie", MetadataValue::from_static("session=s3cr3t"));
    call
}

/// The captured metadata of `span`, and no credential anywhere on it.
fn assert_captured(span: &SpanRef<'_>) {
    span.assert_strings("rpc.request.metadata.x-tenant", &["acme", "globex"])
        .assert_strings("rpc.response.metadata.x-served-by", &["node-7"])
        .assert_no_attribute("rpc.request.metadata.authorization")
        .assert_no_attribute("rpc.request.metadata.x-api-key")
        .assert_no_attribute("rpc.response.metadata.set-cookie")
        // The old names only under rpc/dup.
        .assert_no_attribute("rpc.grpc.request.metadata.x-tenant")
        .assert_no_attribute("rpc.grpc.response.metadata.x-served-by");
    assert_no_credential(span);
}

fn assert_no_credential(span: &SpanRef<'_>) {
    for kv in &span.attributes {
        assert!(!kv.value.as_str().contains("s3cr3t"), "{} holds a credential", kv.key);
    }
}

/// No metadata at all on `span`: nothing is captured unless asked for.
fn assert_no_metadata(span: &SpanRef<'_>) {
    let keys: Vec<_> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert!(!keys.iter().any(|key| key.contains(".metadata.")), "{keys:?}");
    assert_no_credential(span);
}

async fn spans(telemetry: &Telemetry) -> Spans {
    let spans = telemetry.capture.wait_for_spans(2, WAIT).await.unwrap();
    assert_eq!(spans.len(), 2, "a client and a server span: {spans:#?}");
    spans
}

#[test]
fn the_credentials_these_tests_send_are_sensitive_names() {
    // Each layer takes the list through throughline-tower's HeaderCapture:
    // a credential asked for is never recorded, on either side.
    assert!(SENSITIVE_HEADERS.contains(&AUTHORIZATION));
    assert!(SENSITIVE_HEADERS.contains(&HeaderName::from_static("x-api-key")));
    assert!(SENSITIVE_HEADERS.contains(&SET_COOKIE));
}

#[tokio::test]
async fn the_server_records_the_metadata_it_was_told_to_and_never_a_credential() {
    let telemetry = Telemetry::install();
    let layer = telemetry
        .server_layer()
        .capture_request_headers(request_keys())
        .capture_response_headers(response_keys());
    let addr = serve(layer, Service::default()).await;
    let mut client = client(addr, telemetry.client_layer()).await;

    let reply = client.unary(call(Code::Ok)).await.unwrap();
    assert_eq!(reply.metadata().get("x-served-by").unwrap(), "node-7");

    let spans = spans(&telemetry).await;
    assert_captured(&spans.one_of_kind(SpanKind::Server));
    assert_no_metadata(&spans.one_of_kind(SpanKind::Client));
}

#[tokio::test]
async fn the_client_records_what_it_sends_and_what_comes_back() {
    let telemetry = Telemetry::install();
    let addr = serve(telemetry.server_layer(), Service::default()).await;
    let layer = telemetry
        .client_layer()
        .capture_request_headers(request_keys())
        .capture_response_headers(response_keys());
    let mut client = client(addr, layer).await;

    client.unary(call(Code::Ok)).await.unwrap();

    let spans = spans(&telemetry).await;
    assert_captured(&spans.one_of_kind(SpanKind::Client));
    assert_no_metadata(&spans.one_of_kind(SpanKind::Server));
}

#[tokio::test]
async fn a_failed_calls_response_metadata_is_read_from_its_trailers_only_response() {
    let telemetry = Telemetry::install();
    let server = telemetry
        .server_layer()
        .capture_request_headers(request_keys())
        .capture_response_headers(response_keys());
    let addr = serve(server, Service::default()).await;
    let client_layer = telemetry
        .client_layer()
        .capture_request_headers(request_keys())
        .capture_response_headers(response_keys());
    let mut client = client(addr, client_layer).await;

    let status = client.unary(call(Code::Unavailable)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(status.metadata().get("x-served-by").unwrap(), "node-7");

    let spans = spans(&telemetry).await;
    for kind in [SpanKind::Server, SpanKind::Client] {
        let span = spans.one_of_kind(kind);
        span.assert_error().assert_attribute("rpc.response.status_code", "UNAVAILABLE");
        assert_captured(&span);
    }
}

#[tokio::test]
async fn rpc_dup_records_the_old_names_too() {
    let telemetry = Telemetry::install();
    let server = telemetry
        .server_layer()
        .semconv_stability(RpcStability::Duplicate)
        .capture_request_headers([tenant()])
        .capture_response_headers([served_by()]);
    let addr = serve(server, Service::default()).await;
    let client_layer = telemetry
        .client_layer()
        .semconv_stability(RpcStability::Duplicate)
        .capture_request_headers([tenant()])
        .capture_response_headers([served_by()]);
    let mut client = client(addr, client_layer).await;

    client.unary(call(Code::Ok)).await.unwrap();

    let spans = spans(&telemetry).await;
    for kind in [SpanKind::Server, SpanKind::Client] {
        spans
            .one_of_kind(kind)
            .assert_strings("rpc.request.metadata.x-tenant", &["acme", "globex"])
            .assert_strings("rpc.grpc.request.metadata.x-tenant", &["acme", "globex"])
            .assert_strings("rpc.response.metadata.x-served-by", &["node-7"])
            .assert_strings("rpc.grpc.response.metadata.x-served-by", &["node-7"]);
    }
}

#[tokio::test]
async fn a_long_value_is_cut_to_the_bound() {
    assert_eq!(ValueLength::from_env(), ValueLength::DEFAULT, "the test runs without the variable");
    let telemetry = Telemetry::install();
    let addr = serve(telemetry.server_layer().capture_request_headers([tenant()]), Service::default()).await;
    let mut client = client(addr, telemetry.client_layer().capture_request_headers([tenant()])).await;

    let long = "t".repeat(6000);
    let mut call = tonic::Request::new(request("hi", 0, Code::Ok));
    call.metadata_mut().insert("x-tenant", long.parse().unwrap());
    client.unary(call).await.unwrap();

    let spans = spans(&telemetry).await;
    for kind in [SpanKind::Server, SpanKind::Client] {
        spans.one_of_kind(kind).assert_strings("rpc.request.metadata.x-tenant", &[&long[..4096]]);
    }
}
