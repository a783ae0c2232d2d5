//! The receiver speaks OTLP as the real exporters do, over gRPC and HTTP,
//! compressed or not, and fails or stalls when told to.

use std::time::{Duration, SystemTime};

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Compression, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use throughline_testing::{Behaviour, OtlpReceiver, Protocol, Value};

fn span(name: &'static str, trace_id: u128) -> SpanData {
    let now = SystemTime::now();
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(trace_id),
            SpanId::from(7u64),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::from(3u64),
        parent_span_is_remote: false,
        span_kind: SpanKind::Server,
        name: name.into(),
        start_time: now - Duration::from_millis(25),
        end_time: now,
        attributes: vec![KeyValue::new("http.response.status_code", 200)],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::error("boom"),
        instrumentation_scope: InstrumentationScope::builder("receiver-test").build(),
    }
}

fn resource() -> Resource {
    Resource::builder_empty().with_service_name("orders").build()
}

fn grpc_exporter(receiver: &OtlpReceiver, compression: Option<Compression>) -> SpanExporter {
    let mut builder = SpanExporter::builder()
        .with_tonic()
        .with_endpoint(receiver.grpc_endpoint())
        .with_timeout(Duration::from_millis(500));
    if let Some(compression) = compression {
        builder = builder.with_compression(compression);
    }
    let mut exporter = builder.build().unwrap();
    exporter.set_resource(&resource());
    exporter
}

fn http_exporter(receiver: &OtlpReceiver, compression: Option<Compression>) -> SpanExporter {
    http_exporter_speaking(receiver, compression, opentelemetry_otlp::Protocol::HttpBinary)
}

fn http_exporter_speaking(
    receiver: &OtlpReceiver,
    compression: Option<Compression>,
    protocol: opentelemetry_otlp::Protocol,
) -> SpanExporter {
    let mut builder = SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .with_http_client(reqwest::Client::new())
        .with_endpoint(format!("{}/v1/traces", receiver.http_endpoint()))
        .with_timeout(Duration::from_millis(500));
    if let Some(compression) = compression {
        builder = builder.with_compression(compression);
    }
    let mut exporter = builder.build().unwrap();
    exporter.set_resource(&resource());
    exporter
}

#[tokio::test]
async fn records_spans_sent_over_grpc_with_their_resource() {
    let receiver = OtlpReceiver::start().await.unwrap();
    grpc_exporter(&receiver, None).export(vec![span("GET /orders", 1)]).await.unwrap();
    let spans = receiver.wait_for_spans(1, Duration::from_secs(5)).await.unwrap();
    let span = &spans[0];
    assert_eq!(span.name(), "GET /orders");
    assert_eq!(span.protocol, Protocol::Grpc);
    assert_eq!(span.trace_id(), format!("{:032x}", 1));
    assert_eq!(span.span_id(), format!("{:016x}", 7));
    assert_eq!(span.parent_span_id(), Some(format!("{:016x}", 3)));
    assert_eq!(span.scope, "receiver-test");
    assert_eq!(span.attribute("http.response.status_code"), Some(Value::Int(200)));
    assert_eq!(span.resource_attribute("service.name"), Some(Value::Str("orders".into())));
    assert!(span.is_error());
    assert_eq!(span.duration(), Duration::from_millis(25));
}

#[tokio::test]
async fn records_spans_sent_over_http_protobuf() {
    let receiver = OtlpReceiver::start().await.unwrap();
    http_exporter(&receiver, None).export(vec![span("a", 1), span("b", 2)]).await.unwrap();
    let spans = receiver.wait_for_spans(2, Duration::from_secs(5)).await.unwrap();
    assert_eq!(spans.iter().map(|s| s.name()).collect::<Vec<_>>(), ["a", "b"]);
    assert!(spans.iter().all(|s| s.protocol == Protocol::HttpProtobuf));
}

#[tokio::test]
async fn records_spans_sent_over_http_json() {
    let receiver = OtlpReceiver::start().await.unwrap();
    http_exporter_speaking(&receiver, None, opentelemetry_otlp::Protocol::HttpJson)
        .export(vec![span("json", 0x4bf92f3577b34da6a3ce929d0e0e4736)])
        .await
        .unwrap();
    let spans = receiver.wait_for_spans(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(spans[0].protocol, Protocol::HttpJson);
    assert_eq!(spans[0].trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736", "hex ids decode as bytes");
    assert_eq!(spans[0].attribute("http.response.status_code"), Some(Value::Int(200)));
}

#[tokio::test]
async fn accepts_gzip_on_both_protocols() {
    let receiver = OtlpReceiver::start().await.unwrap();
    grpc_exporter(&receiver, Some(Compression::Gzip)).export(vec![span("grpc", 1)]).await.unwrap();
    http_exporter(&receiver, Some(Compression::Gzip)).export(vec![span("http", 2)]).await.unwrap();
    let spans = receiver.wait_for_spans(2, Duration::from_secs(5)).await.unwrap();
    assert_eq!(spans.len(), 2);
}

#[tokio::test]
async fn failing_answers_an_error_and_records_nothing() {
    let receiver = OtlpReceiver::start().await.unwrap();
    receiver.set_behaviour(Behaviour::Reject);
    assert!(grpc_exporter(&receiver, None).export(vec![span("lost", 1)]).await.is_err());
    assert!(http_exporter(&receiver, None).export(vec![span("lost", 1)]).await.is_err());
    assert!(receiver.spans().is_empty());
    assert!(receiver.attempts().0 >= 2, "both requests arrived");
}

#[tokio::test]
async fn a_stalled_receiver_holds_requests_until_released() {
    let receiver = OtlpReceiver::start().await.unwrap();
    receiver.set_behaviour(Behaviour::Stall);
    let stalled = grpc_exporter(&receiver, None).export(vec![span("held", 1)]).await;
    assert!(stalled.is_err(), "the exporter's timeout fires");
    receiver.set_behaviour(Behaviour::Accept);
    grpc_exporter(&receiver, None).export(vec![span("after", 2)]).await.unwrap();
    let spans = receiver.wait_for_spans(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(spans.iter().map(|s| s.name()).collect::<Vec<_>>(), ["after"]);
}

#[tokio::test]
async fn waiting_reports_what_arrived() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let timeout = receiver.wait_for_spans(1, Duration::from_millis(50)).await.unwrap_err();
    assert_eq!((timeout.wanted, timeout.received), (1, 0));
}
