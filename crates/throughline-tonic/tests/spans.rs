//! Client and server spans over real sockets: names, kinds, parentage, the
//! status from the headers (trailers-only) and from the trailers.

mod support;

use futures_util::StreamExt;
use opentelemetry::trace::SpanKind;
use support::{Service, Telemetry, client, request, serve};
use tonic::Code;

const UNARY: &str = "throughline.test.v1.Echo/Unary";
const STREAM: &str = "throughline.test.v1.Echo/Stream";

#[tokio::test]
async fn a_unary_call_is_a_client_span_parent_of_the_server_span() {
    let telemetry = Telemetry::install();
    let addr = serve(telemetry.server_layer(), Service::default()).await;
    let mut client = client(addr, telemetry.client_layer()).await;

    let reply = client.unary(request("hi", 0, Code::Ok)).await.unwrap();
    assert_eq!(reply.into_inner().message, "hi");

    let spans = telemetry.capture.spans();
    let names: Vec<_> = spans.all().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, [UNARY, UNARY], "server and client, both named by the method");
    let server = spans.all().iter().position(|s| s.span_kind == SpanKind::Server).unwrap();
    let (server, client) = (&spans.all()[server], &spans.all()[1 - server]);
    assert_eq!(client.span_kind, SpanKind::Client);
    assert_eq!(server.span_context.trace_id(), client.span_context.trace_id());
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    assert!(server.parent_span_is_remote);
    for span in [server, client] {
        let attribute =
            |key: &str| span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone());
        assert_eq!(attribute("rpc.system.name"), Some("grpc".into()));
        assert_eq!(attribute("rpc.method"), Some(UNARY.into()));
        assert_eq!(attribute("rpc.response.status_code"), Some("OK".into()));
        assert_eq!(attribute("error.type"), None);
        assert_eq!(attribute("rpc.grpc.status_code"), None, "the old names only under rpc/dup");
        assert!(!matches!(span.status, opentelemetry::trace::Status::Error { .. }));
    }
    let server_attribute =
        |key: &str| server.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone());
    assert_eq!(server_attribute("server.address"), Some("127.0.0.1".into()));
    assert_eq!(server_attribute("server.port"), Some(i64::from(addr.port()).into()));
}

#[tokio::test]
async fn a_handler_error_is_read_from_the_trailers_only_response() {
    let telemetry = Telemetry::install();
    let addr = serve(telemetry.server_layer(), Service::default()).await;
    let mut client = client(addr, telemetry.client_layer()).await;

    let status = client.unary(request("hi", 0, Code::Internal)).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal);

    let spans = telemetry.capture.spans();
    for kind in [SpanKind::Server, SpanKind::Client] {
        let span = spans.all().iter().find(|s| s.span_kind == kind).unwrap();
        let attribute =
            |key: &str| span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone());
        assert_eq!(attribute("rpc.response.status_code"), Some("INTERNAL".into()), "{kind:?}");
        assert_eq!(attribute("error.type"), Some("INTERNAL".into()), "{kind:?}");
        assert!(matches!(span.status, opentelemetry::trace::Status::Error { .. }), "{kind:?}");
    }
}

#[tokio::test]
async fn a_client_error_code_fails_the_client_span_only() {
    let telemetry = Telemetry::install();
    let addr = serve(telemetry.server_layer(), Service::default()).await;
    let mut client = client(addr, telemetry.client_layer()).await;

    let status = client.unary(request("hi", 0, Code::NotFound)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    let spans = telemetry.capture.spans();
    let server = spans.all().iter().find(|s| s.span_kind == SpanKind::Server).unwrap();
    let client = spans.all().iter().find(|s| s.span_kind == SpanKind::Client).unwrap();
    let attribute = |span: &opentelemetry_sdk::trace::SpanData, key: &str| {
        span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone())
    };
    assert_eq!(attribute(server, "rpc.response.status_code"), Some("NOT_FOUND".into()));
    assert_eq!(attribute(server, "error.type"), None, "the caller's mistake is not the server's error");
    assert!(!matches!(server.status, opentelemetry::trace::Status::Error { .. }));
    assert_eq!(attribute(client, "error.type"), Some("NOT_FOUND".into()));
    assert!(matches!(client.status, opentelemetry::trace::Status::Error { .. }));
}

#[tokio::test]
async fn a_server_stream_ends_its_spans_at_the_trailers() {
    let telemetry = Telemetry::install();
    let addr = serve(telemetry.server_layer(), Service::default()).await;
    let mut client = client(addr, telemetry.client_layer()).await;

    let mut stream = client.stream(request("tick", 3, Code::Ok)).await.unwrap().into_inner();
    let mut received = 0;
    while let Some(reply) = stream.next().await {
        reply.unwrap();
        received += 1;
        if received < 3 {
            assert!(
                telemetry.capture.spans().all().iter().all(|s| s.span_kind != SpanKind::Client),
                "the client span lasts as long as the stream"
            );
        }
    }
    assert_eq!(received, 3);

    let spans = telemetry.capture.spans();
    assert_eq!(spans.len(), 2);
    for span in spans.all() {
        assert_eq!(span.name, STREAM);
        let code = span.attributes.iter().find(|kv| kv.key.as_str() == "rpc.response.status_code");
        assert_eq!(code.map(|kv| kv.value.as_str().into_owned()).as_deref(), Some("OK"));
    }
}

#[tokio::test]
async fn a_stream_that_fails_after_messages_reports_the_status_of_its_trailers() {
    let telemetry = Telemetry::install();
    let addr = serve(telemetry.server_layer(), Service::default()).await;
    let mut client = client(addr, telemetry.client_layer()).await;

    let mut stream = client.stream(request("tick", 2, Code::Unavailable)).await.unwrap().into_inner();
    assert!(stream.next().await.unwrap().is_ok());
    assert!(stream.next().await.unwrap().is_ok());
    assert_eq!(stream.next().await.unwrap().unwrap_err().code(), Code::Unavailable);
    while stream.next().await.is_some() {}

    let spans = telemetry.capture.spans();
    assert_eq!(spans.len(), 2);
    for span in spans.all() {
        let attribute =
            |key: &str| span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone());
        assert_eq!(attribute("rpc.response.status_code"), Some("UNAVAILABLE".into()), "{:?}", span.span_kind);
        assert_eq!(attribute("error.type"), Some("UNAVAILABLE".into()), "{:?}", span.span_kind);
        assert!(matches!(span.status, opentelemetry::trace::Status::Error { .. }));
    }
}

#[tokio::test]
async fn an_unknown_method_is_other_on_the_server() {
    let telemetry = Telemetry::install();
    let addr = serve(telemetry.server_layer(), Service::default()).await;
    // A raw call to a method the server does not have.
    let channel = support::channel(addr).await;
    let mut grpc = tonic::client::Grpc::new(
        tower::ServiceBuilder::new().layer(telemetry.client_layer()).service(channel),
    );
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/throughline.test.v1.Echo/Missing");
    let codec = tonic_prost::ProstCodec::<
        throughline_tonic_testproto::EchoRequest,
        throughline_tonic_testproto::EchoReply,
    >::default();
    let status = grpc.unary(tonic::Request::new(request("hi", 0, Code::Ok)), path, codec).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);

    let spans = telemetry.capture.spans();
    let server = spans.all().iter().find(|s| s.span_kind == SpanKind::Server).unwrap();
    let attribute =
        |key: &str| server.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone());
    assert_eq!(server.name, "grpc", "not the caller's path");
    assert_eq!(attribute("rpc.method"), Some("_OTHER".into()));
    assert_eq!(attribute("rpc.method_original"), Some("throughline.test.v1.Echo/Missing".into()));
    assert_eq!(attribute("error.type"), Some("UNIMPLEMENTED".into()));
}

#[tokio::test]
async fn a_call_that_cannot_connect_fails_the_client_span() {
    let telemetry = Telemetry::install();
    // A port nobody listens on: bound, then released.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let channel = tonic::transport::Endpoint::try_from(format!("http://{closed}")).unwrap().connect_lazy();
    let service = tower::ServiceBuilder::new().layer(telemetry.client_layer()).service(channel);
    let mut client = throughline_tonic_testproto::EchoClient::new(service);

    let status = client.unary(request("hi", 0, Code::Ok)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);

    let spans = telemetry.capture.spans();
    let span = spans.named(UNARY);
    span.assert_kind(SpanKind::Client).assert_error().assert_event("exception");
    assert!(span.attribute("error.type").is_some());
    span.assert_no_attribute("rpc.response.status_code");
}
