//! Export over a real connection to the throughline-testing receiver, gRPC and
//! HTTP: what arrives, what shutdown flushes, and what happens when the
//! receiver is down or stalls.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, Status, Tracer as _, TracerProvider as _};
use throughline_pipeline::{Pipeline, Telemetry};
use throughline_testing::{Behaviour, OtlpReceiver, Protocol, Value};

const WAIT: Duration = Duration::from_secs(10);

fn pipeline(receiver: &OtlpReceiver, protocol: &str, extra: &[(&str, &str)]) -> Telemetry {
    let endpoint = match protocol {
        "grpc" => receiver.grpc_endpoint(),
        _ => receiver.http_endpoint(),
    };
    let mut vars: HashMap<&str, &str> = HashMap::from([
        ("OTEL_SERVICE_NAME", "orders"),
        ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "100"),
    ]);
    vars.extend(extra.iter().copied());
    Pipeline::from_vars(&vars).unwrap().service_version("1.2.3").build().unwrap()
}

fn emit(telemetry: &Telemetry, spans: usize) {
    let tracer = telemetry.tracer_provider().unwrap().tracer("export-test");
    for i in 0..spans {
        tracer.in_span(format!("work {i}"), |_cx| {});
    }
}

async fn signals_arrive_with_the_resource(protocol: &str, expected: Protocol) {
    let receiver = OtlpReceiver::start().await.unwrap();
    let telemetry = pipeline(&receiver, protocol, &[]);
    emit(&telemetry, 1);
    let meter = telemetry.meter_provider().unwrap().meter("export-test");
    meter.u64_counter("orders.placed").build().add(3, &[KeyValue::new("region", "eu")]);
    let logger = telemetry.logger_provider().unwrap().logger("export-test");
    let mut record = logger.create_log_record();
    record.set_severity_number(Severity::Warn);
    record.set_body("disk almost full".into());
    logger.emit(record);

    let spans = receiver.wait_for_spans(1, WAIT).await.unwrap();
    assert_eq!(spans[0].name(), "work 0");
    assert_eq!(spans[0].protocol, expected);
    assert_eq!(spans[0].resource_attribute("service.name"), Some(Value::Str("orders".into())));
    assert_eq!(spans[0].resource_attribute("service.version"), Some(Value::Str("1.2.3".into())));
    assert_eq!(spans[0].resource_attribute("deployment.environment.name"), Some(Value::Str("test".into())));
    assert!(spans[0].resource_attribute("host.name").is_some());
    assert!(spans[0].resource_attribute("process.pid").is_some());

    let metrics = receiver.wait_for_metric("orders.placed", WAIT).await.unwrap();
    assert_eq!(metrics.last().unwrap().sum(), Some(3.0));
    assert_eq!(metrics[0].resource_attribute("service.name"), Some(Value::Str("orders".into())));

    let logs = receiver.wait_for_logs(1, WAIT).await.unwrap();
    assert_eq!(logs[0].body().as_deref(), Some("disk almost full"));
    assert_eq!(logs[0].resource_attribute("service.name"), Some(Value::Str("orders".into())));

    telemetry.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_metrics_and_logs_arrive_over_grpc() {
    signals_arrive_with_the_resource("grpc", Protocol::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_metrics_and_logs_arrive_over_http_protobuf() {
    signals_arrive_with_the_resource("http/protobuf", Protocol::HttpProtobuf).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_metrics_and_logs_arrive_over_http_json() {
    signals_arrive_with_the_resource("http/json", Protocol::HttpJson).await;
}

async fn shutdown_flushes_every_span(protocol: &str) {
    const N: usize = 1500;
    let receiver = OtlpReceiver::start().await.unwrap();
    // A long delay: only shutdown can send these.
    let telemetry = pipeline(&receiver, protocol, &[("OTEL_BSP_SCHEDULE_DELAY", "600000")]);
    emit(&telemetry, N);
    telemetry.shutdown(WAIT).await.unwrap();
    let spans = receiver.wait_for_spans(N, WAIT).await.unwrap();
    assert_eq!(spans.len(), N, "every span created before shutdown arrives, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_flushes_every_span_over_grpc() {
    shutdown_flushes_every_span("grpc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_flushes_every_span_over_http() {
    shutdown_flushes_every_span("http/protobuf").await;
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_on_a_current_thread_runtime_does_not_deadlock() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let telemetry = pipeline(&receiver, "grpc", &[("OTEL_BSP_SCHEDULE_DELAY", "600000")]);
    emit(&telemetry, 10);
    // The receiver runs on this very runtime: shutdown must keep it serving.
    telemetry.shutdown(WAIT).await.unwrap();
    assert_eq!(receiver.wait_for_spans(10, WAIT).await.unwrap().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_receiver_never_blocks_spans_and_drops_are_counted() {
    let receiver = OtlpReceiver::start().await.unwrap();
    receiver.set_behaviour(Behaviour::Stall);
    let telemetry = pipeline(
        &receiver,
        "grpc",
        &[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "200"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "200"),
        ],
    );
    let started = Instant::now();
    emit(&telemetry, 5000);
    // Not a speed assertion: a blocked on_end would wait on the stalled
    // receiver for the 200 ms export timeout at least once per batch.
    assert!(started.elapsed() < Duration::from_secs(5), "creating spans took {:?}", started.elapsed());
    let stats = telemetry.stats();
    assert!(stats.spans_dropped >= 5000 - 128, "the bounded queue dropped the rest: {stats:?}");

    // The receiver comes back: export resumes.
    receiver.set_behaviour(Behaviour::Accept);
    emit(&telemetry, 10);
    let spans = receiver.wait_for_spans(10, WAIT).await.unwrap();
    assert!(spans.iter().filter(|s| s.name().starts_with("work")).count() >= 10);
    telemetry.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_counts_failed_exports_and_requests_go_on() {
    let receiver = OtlpReceiver::start().await.unwrap();
    receiver.set_behaviour(Behaviour::Reject);
    let telemetry = pipeline(&receiver, "http/protobuf", &[("OTEL_BSP_SCHEDULE_DELAY", "600000")]);
    emit(&telemetry, 20);
    let shutdown = telemetry.shutdown(WAIT).await;
    assert!(shutdown.is_err(), "shutdown reports that the flush failed");
    assert!(receiver.spans().is_empty());
    assert!(receiver.attempts().0 >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_reports_its_own_drops_as_metrics() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let telemetry = pipeline(
        &receiver,
        "grpc",
        &[("OTEL_BSP_MAX_QUEUE_SIZE", "1"), ("OTEL_BSP_SCHEDULE_DELAY", "600000")],
    );
    emit(&telemetry, 50);
    let dropped = receiver.wait_for_metric("otel.sdk.processor.span.dropped", WAIT).await.unwrap();
    assert!(dropped.last().unwrap().sum().unwrap() >= 48.0);
    telemetry.shutdown(WAIT).await.unwrap();
}

#[tokio::test]
async fn an_error_status_and_attributes_travel() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let telemetry = pipeline(&receiver, "grpc", &[]);
    let tracer = telemetry.tracer_provider().unwrap().tracer("export-test");
    let mut span = tracer.start("charge");
    span.set_attribute(KeyValue::new("payment.amount", 42));
    span.set_status(Status::error("card declined"));
    span.end();
    let spans = receiver.wait_for_spans(1, WAIT).await.unwrap();
    assert!(spans[0].is_error());
    assert_eq!(spans[0].attribute("payment.amount"), Some(Value::Int(42)));
    telemetry.shutdown(WAIT).await.unwrap();
}

#[test]
fn a_disabled_sdk_builds_nothing() {
    let vars = HashMap::from([("OTEL_SDK_DISABLED", "true")]);
    let telemetry = Pipeline::from_vars(&vars).unwrap().build().unwrap();
    assert!(telemetry.tracer_provider().is_none() && telemetry.meter_provider().is_none());
}

#[tokio::test]
async fn dropping_without_shutdown_outside_async_code_still_flushes() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let endpoint = receiver.grpc_endpoint();
    // A plain thread, with no runtime, joined from the blocking pool so that
    // this test's runtime keeps serving the receiver.
    let plain_thread = std::thread::spawn(move || {
        let vars = HashMap::from([
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ]);
        let telemetry = Pipeline::from_vars(&vars).unwrap().build().unwrap();
        emit(&telemetry, 5);
        drop(telemetry);
    });
    tokio::task::spawn_blocking(move || plain_thread.join()).await.unwrap().unwrap();
    assert_eq!(receiver.wait_for_spans(5, WAIT).await.unwrap().len(), 5);
}

/// A console output that panics, standing in for an exporter with a bug.
struct Panicking;

impl std::io::Write for Panicking {
    fn write(&mut self, _buf: &[u8]) -> std::io::Result<usize> {
        panic!("the exporter has a bug");
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_task_that_dies_is_counted_and_reported_by_shutdown() {
    let vars = HashMap::from([
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "none"),
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
    ]);
    let telemetry = Pipeline::from_vars(&vars).unwrap().console_output(Panicking).build().unwrap();
    emit(&telemetry, 3);
    // The flush reaches the exporter, which panics while holding the batch.
    let flushed = telemetry.tracer_provider().unwrap().force_flush();
    assert!(format!("{flushed:?}").contains("the exporter has a bug"), "{flushed:?}");
    assert_eq!(telemetry.stats().export_tasks_died, 1);
    emit(&telemetry, 2);
    assert_eq!(telemetry.stats().spans_dropped, 2, "spans after the death are dropped and counted");

    let shutdown = telemetry.shutdown(WAIT).await;
    match shutdown {
        Err(throughline_pipeline::ShutdownError::ExportTaskDied { signal, reason }) => {
            assert_eq!(signal, throughline_pipeline::Signal::Traces);
            assert_eq!(reason, "the exporter has a bug");
        }
        other => panic!("shutdown must say the export task died, not {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_spans_are_split_across_requests_under_the_collectors_limit() {
    // The receiver, like a collector, refuses gRPC messages over 4 MiB: eight
    // spans of 1 MiB in one request would all be lost.
    let receiver = OtlpReceiver::start().await.unwrap();
    let telemetry = pipeline(&receiver, "grpc", &[("OTEL_BSP_SCHEDULE_DELAY", "600000")]);
    let tracer = telemetry.tracer_provider().unwrap().tracer("export-test");
    let megabyte = "x".repeat(1 << 20);
    for i in 0..8 {
        let mut span = tracer.start(format!("large {i}"));
        span.set_attribute(KeyValue::new("payload", megabyte.clone()));
        span.end();
    }
    telemetry.tracer_provider().unwrap().force_flush().unwrap();
    let spans = receiver.wait_for_spans(8, WAIT).await.unwrap();
    assert_eq!(spans.len(), 8);
    assert!(receiver.attempts().0 >= 3, "at most 3 MiB per request: {:?}", receiver.attempts());
    assert_eq!(telemetry.stats().spans_failed, 0);
    telemetry.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_span_larger_than_any_request_is_cut_down_and_marked_not_lost() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let telemetry = pipeline(&receiver, "grpc", &[("OTEL_BSP_SCHEDULE_DELAY", "600000")]);
    let tracer = telemetry.tracer_provider().unwrap().tracer("export-test");
    let mut span = tracer.start("huge");
    span.set_attribute(KeyValue::new("payload", "é".repeat(3 << 20)));
    span.set_attribute(KeyValue::new("order.id", 42));
    span.end();
    telemetry.tracer_provider().unwrap().force_flush().unwrap();
    let spans = receiver.wait_for_spans(1, WAIT).await.unwrap();
    let Some(Value::Str(payload)) = spans[0].attribute("payload") else { panic!("{:?}", spans[0]) };
    assert!(payload.ends_with("…[truncated]"), "the cut is marked");
    assert!(payload.len() <= 3 << 20, "{}", payload.len());
    assert!(payload.len() > 2 << 20, "only what was needed was cut: {}", payload.len());
    assert_eq!(spans[0].attribute("order.id"), Some(Value::Int(42)), "the rest is whole");
    telemetry.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_span_count_limits_of_the_environment_bound_what_a_span_holds() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let limits = [("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2"), ("OTEL_SPAN_EVENT_COUNT_LIMIT", "1")];
    let telemetry = pipeline(&receiver, "grpc", &limits);
    let tracer = telemetry.tracer_provider().unwrap().tracer("export-test");
    tracer.in_span("flooded", |cx| {
        use opentelemetry::trace::TraceContextExt;
        let span = cx.span();
        for i in 0..10 {
            span.set_attribute(KeyValue::new(format!("key.{i}"), i));
            span.add_event(format!("event {i}"), vec![]);
        }
    });
    let spans = receiver.wait_for_spans(1, WAIT).await.unwrap();
    assert_eq!(spans[0].span.attributes.len(), 2, "{:?}", spans[0].span.attributes);
    assert_eq!(spans[0].span.dropped_attributes_count, 8);
    assert_eq!(spans[0].span.events.len(), 1);
    assert_eq!(spans[0].span.dropped_events_count, 9);
    telemetry.shutdown(Duration::from_secs(5)).await.unwrap();
}
