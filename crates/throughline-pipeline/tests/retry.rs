//! Export retries by the OTLP rules, against the throughline-testing
//! receiver answering as scripted: a retryable failure is retried with
//! backoff, a throttling delay (gRPC `RetryInfo`, HTTP `Retry-After`) is
//! waited out, a permanent failure is dropped at once and counted, and
//! retries end within `OTEL_EXPORTER_OTLP_TIMEOUT`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use throughline_pipeline::{Pipeline, Signal, Telemetry};
use throughline_testing::{Behaviour, OtlpReceiver, Reply};

const WAIT: Duration = Duration::from_secs(10);

fn pipeline(receiver: &OtlpReceiver, protocol: &str, extra: &[(&str, &str)]) -> Telemetry {
    let endpoint = if protocol == "grpc" { receiver.grpc_endpoint() } else { receiver.http_endpoint() };
    let mut vars: HashMap<&str, &str> = HashMap::from([
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "none"),
    ]);
    vars.extend(extra.iter().copied());
    Pipeline::from_vars(&vars).unwrap().build().unwrap()
}

/// Ends one span, flushes, and says how long the flush took.
fn export_one(telemetry: &Telemetry) -> (Result<(), String>, Duration) {
    telemetry.tracer_provider().unwrap().tracer("retry").in_span("retried", |_cx| {});
    let started = Instant::now();
    let flushed = telemetry.tracer_provider().unwrap().force_flush().map_err(|e| e.to_string());
    (flushed, started.elapsed())
}

async fn a_retryable_failure_is_retried_until_it_succeeds(protocol: &str) {
    let receiver = OtlpReceiver::start().await.unwrap();
    receiver.reply_next([Reply::Unavailable, Reply::Unavailable]);
    let telemetry = pipeline(&receiver, protocol, &[]);
    let (flushed, _) = export_one(&telemetry);
    flushed.unwrap();
    assert_eq!(receiver.attempts().0, 3, "two failures, then the success");
    assert_eq!(receiver.spans().len(), 1, "recorded once");
    let stats = telemetry.stats();
    assert_eq!((stats.spans_exported, stats.spans_failed), (1, 0), "{stats:?}");
    telemetry.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_then_ok_is_retried_over_grpc() {
    a_retryable_failure_is_retried_until_it_succeeds("grpc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_503_then_200_is_retried() {
    a_retryable_failure_is_retried_until_it_succeeds("http/protobuf").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_exhausted_with_retry_info_waits_the_delay_it_asks_for() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let delay = Duration::from_millis(400);
    receiver.reply_next([Reply::Throttle(delay)]);
    let telemetry = pipeline(&receiver, "grpc", &[]);
    let (flushed, took) = export_one(&telemetry);
    flushed.unwrap();
    assert!(took >= delay, "the retry came after {took:?}, before the {delay:?} the receiver asked for");
    assert_eq!(receiver.attempts().0, 2);
    assert_eq!(receiver.spans().len(), 1);
    telemetry.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_429_with_retry_after_waits_the_delay_it_asks_for() {
    let receiver = OtlpReceiver::start().await.unwrap();
    receiver.reply_next([Reply::Throttle(Duration::from_secs(1))]);
    let telemetry = pipeline(&receiver, "http/protobuf", &[]);
    let (flushed, took) = export_one(&telemetry);
    flushed.unwrap();
    assert!(took >= Duration::from_secs(1), "Retry-After: 1 was not honoured: {took:?}");
    assert_eq!(receiver.attempts().0, 2);
    assert_eq!(receiver.spans().len(), 1);
    telemetry.shutdown(WAIT).await.unwrap();
}

async fn a_permanent_failure_is_dropped_at_once_and_counted(protocol: &str, reason: &str) {
    let receiver = OtlpReceiver::start().await.unwrap();
    receiver.reply_next([Reply::Reject]);
    let telemetry = pipeline(&receiver, protocol, &[]);
    let (flushed, _) = export_one(&telemetry);
    let error = flushed.expect_err("a rejected batch is an error");
    assert!(
        error.contains(&receiver.grpc_endpoint()) || error.contains(&receiver.http_endpoint()),
        "{error}"
    );
    assert_eq!(receiver.attempts().0, 1, "never retried");
    assert!(receiver.spans().is_empty());
    assert_eq!(telemetry.stats().spans_failed, 1);
    let failures = telemetry.export_failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(
        (failures[0].signal, failures[0].reason.as_str(), failures[0].items),
        (Signal::Traces, reason, 1)
    );
    // The next batch goes out as usual.
    export_one(&telemetry).0.unwrap();
    assert_eq!(receiver.spans().len(), 1);
    telemetry.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_argument_is_not_retried_over_grpc() {
    a_permanent_failure_is_dropped_at_once_and_counted("grpc", "grpc_invalid_argument").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_400_is_not_retried() {
    a_permanent_failure_is_dropped_at_once_and_counted("http/protobuf", "http_400").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_end_within_the_export_timeout() {
    let receiver = OtlpReceiver::start().await.unwrap();
    receiver.set_behaviour(Behaviour::Fail);
    for protocol in ["grpc", "http/protobuf"] {
        let attempts_before = receiver.attempts().0;
        let telemetry = pipeline(&receiver, protocol, &[("OTEL_EXPORTER_OTLP_TIMEOUT", "300")]);
        let (flushed, took) = export_one(&telemetry);
        assert!(flushed.is_err());
        assert!(receiver.attempts().0 - attempts_before >= 2, "{protocol}: retried at least once");
        // Not a speed assertion: without the bound, the policy's backoff
        // (0.1 + 0.2 + 0.4 s plus jitter) would pass a second.
        assert!(
            took < Duration::from_secs(1),
            "{protocol}: the retries outlived the 300 ms timeout: {took:?}"
        );
        assert_eq!(telemetry.stats().spans_failed, 1);
        telemetry.shutdown(WAIT).await.unwrap();
    }
}
