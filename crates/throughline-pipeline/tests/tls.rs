//! OTLP over TLS against the throughline-testing receiver in its TLS mode,
//! with certificates made for each test: verified server certificates on
//! gRPC and HTTP, mutual TLS, and the failures that must stay failures (an
//! unknown authority, an expired certificate, a plaintext collector behind an
//! `https` URL): an error naming the endpoint and the reason, counted, never
//! a panic, never plaintext.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use throughline_pipeline::{Pipeline, Telemetry};
use throughline_testing::{OtlpReceiver, PkiFiles, TestPki};

const WAIT: Duration = Duration::from_secs(10);

fn pipeline(endpoint: &str, protocol: &str, files: &PkiFiles, extra: &[(&str, &str)]) -> Telemetry {
    let ca = files.ca.display().to_string();
    let mut vars: HashMap<&str, &str> = HashMap::from([
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "600000"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "100"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "5000"),
    ]);
    vars.extend(extra.iter().copied());
    Pipeline::from_vars(&vars).unwrap().service_name("tls-test").build().unwrap()
}

fn endpoint(receiver: &OtlpReceiver, protocol: &str) -> String {
    if protocol == "grpc" { receiver.grpc_endpoint() } else { receiver.http_endpoint() }
}

async fn every_signal_arrives_over_verified_tls(protocol: &str) {
    let pki = TestPki::generate();
    let files = pki.files().unwrap();
    let receiver = OtlpReceiver::start_tls(pki.server_tls()).await.unwrap();
    let endpoint = endpoint(&receiver, protocol);
    assert!(endpoint.starts_with("https://"), "{endpoint}");
    let telemetry = pipeline(&endpoint, protocol, &files, &[]);

    telemetry.tracer_provider().unwrap().tracer("tls").in_span("over tls", |_cx| {});
    let logger = telemetry.logger_provider().unwrap().logger("tls");
    let mut record = logger.create_log_record();
    record.set_body("encrypted".into());
    logger.emit(record);
    telemetry
        .meter_provider()
        .unwrap()
        .meter("tls")
        .u64_counter("tls.ok")
        .build()
        .add(1, &[KeyValue::new("k", "v")]);

    telemetry.tracer_provider().unwrap().force_flush().unwrap();
    telemetry.logger_provider().unwrap().force_flush().unwrap();
    assert_eq!(receiver.wait_for_spans(1, WAIT).await.unwrap()[0].name(), "over tls");
    assert_eq!(receiver.wait_for_logs(1, WAIT).await.unwrap()[0].body().as_deref(), Some("encrypted"));
    receiver.wait_for_metric("tls.ok", WAIT).await.unwrap();
    telemetry.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signal_arrives_over_verified_tls_on_grpc() {
    every_signal_arrives_over_verified_tls("grpc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signal_arrives_over_verified_tls_on_http() {
    every_signal_arrives_over_verified_tls("http/protobuf").await;
}

async fn mutual_tls(protocol: &str) {
    let pki = TestPki::generate();
    let files = pki.files().unwrap();
    let receiver =
        OtlpReceiver::start_tls(pki.server_tls().require_client_certificate(pki.ca_pem())).await.unwrap();
    let endpoint = endpoint(&receiver, protocol);
    let (certificate, key) =
        (files.client_certificate.display().to_string(), files.client_key.display().to_string());

    // Without a client certificate, the receiver refuses the connection.
    let anonymous = pipeline(&endpoint, protocol, &files, &[("OTEL_METRICS_EXPORTER", "none")]);
    anonymous.tracer_provider().unwrap().tracer("tls").in_span("anonymous", |_cx| {});
    let refused = anonymous.tracer_provider().unwrap().force_flush();
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(anonymous.stats().spans_failed, 1);
    anonymous.shutdown(WAIT).await.unwrap();

    // With one, everything arrives.
    let client = pipeline(
        &endpoint,
        protocol,
        &files,
        &[
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", certificate.as_str()),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", key.as_str()),
            ("OTEL_METRICS_EXPORTER", "none"),
        ],
    );
    client.tracer_provider().unwrap().tracer("tls").in_span("identified", |_cx| {});
    client.shutdown(WAIT).await.unwrap();
    let names: Vec<String> = receiver.spans().iter().map(|s| s.name().to_owned()).collect();
    assert_eq!(names, ["identified"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_on_grpc() {
    mutual_tls("grpc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_on_http() {
    mutual_tls("http/protobuf").await;
}

/// Exports one span to `receiver` trusting `files`' authority, and returns
/// the flush error, after checking that it was counted and nothing arrived.
async fn refused(receiver: &OtlpReceiver, protocol: &str, files: &PkiFiles) -> String {
    let endpoint = endpoint(receiver, protocol);
    let telemetry = pipeline(&endpoint, protocol, files, &[("OTEL_METRICS_EXPORTER", "none")]);
    telemetry.tracer_provider().unwrap().tracer("tls").in_span("refused", |_cx| {});
    let flushed = telemetry.tracer_provider().unwrap().force_flush();
    let error = format!("{flushed:?}");
    assert!(flushed.is_err(), "{error}");
    assert!(error.contains(&endpoint), "the error names the endpoint: {error}");
    assert_eq!(telemetry.stats().spans_failed, 1, "{:?}", telemetry.stats());
    let reasons: Vec<String> = telemetry.export_failures().into_iter().map(|f| f.reason).collect();
    assert_eq!(reasons, ["transport"], "{error}");
    telemetry.shutdown(WAIT).await.unwrap();
    assert!(receiver.spans().is_empty());
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_authority_is_refused_with_the_reason() {
    let (pki, other) = (TestPki::generate(), TestPki::generate());
    let receiver = OtlpReceiver::start_tls(pki.server_tls()).await.unwrap();
    let untrusting = other.files().unwrap();
    for protocol in ["grpc", "http/protobuf"] {
        let error = refused(&receiver, protocol, &untrusting).await;
        assert!(error.contains("UnknownIssuer"), "{protocol}: {error}");
    }
    assert!(
        receiver.tls_handshakes_refused() >= 1,
        "the HTTP attempt reached the receiver and failed its handshake"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_is_refused_with_the_reason() {
    let pki = TestPki::generate();
    let receiver = OtlpReceiver::start_tls(pki.expired_server_tls()).await.unwrap();
    let files = pki.files().unwrap();
    for protocol in ["grpc", "http/protobuf"] {
        let error = refused(&receiver, protocol, &files).await;
        assert!(error.contains("certificate expired"), "{protocol}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_endpoint_never_falls_back_to_plaintext() {
    let pki = TestPki::generate();
    let files = pki.files().unwrap();
    let plaintext = OtlpReceiver::start().await.unwrap();
    for protocol in ["grpc", "http/protobuf"] {
        let endpoint = endpoint(&plaintext, protocol).replacen("http://", "https://", 1);
        let telemetry = pipeline(&endpoint, protocol, &files, &[("OTEL_METRICS_EXPORTER", "none")]);
        telemetry.tracer_provider().unwrap().tracer("tls").in_span("secret", |_cx| {});
        let flushed = telemetry.tracer_provider().unwrap().force_flush();
        assert!(flushed.is_err(), "{protocol}: {flushed:?}");
        assert_eq!(telemetry.stats().spans_failed, 1);
        telemetry.shutdown(WAIT).await.unwrap();
    }
    assert_eq!(plaintext.attempts(), (0, 0, 0), "no export request was ever made in plaintext");
}
