//! Shutdown under one deadline: the three signals flushed at the same time,
//! a stalled collector cut off at the deadline, and what was lost told in one
//! line. In a binary of its own: the loss is read from a subscriber set for
//! one thread, which other tests running alongside would disturb.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use throughline_pipeline::{Pipeline, Telemetry};
use throughline_testing::{Behaviour, OtlpReceiver, Reply};

fn pipeline(receiver: &OtlpReceiver, extra: &[(&str, &str)]) -> Telemetry {
    let endpoint = receiver.grpc_endpoint();
    let mut vars: HashMap<&str, &str> = HashMap::from([
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
    ]);
    vars.extend(extra.iter().copied());
    Pipeline::from_vars(&vars).unwrap().build().unwrap()
}

fn emit(telemetry: &Telemetry, spans: usize) {
    let tracer = telemetry.tracer_provider().unwrap().tracer("shutdown-test");
    for i in 0..spans {
        tracer.in_span(format!("work {i}"), |_cx| {});
    }
}

/// Emits one span, one log record and one metric point.
fn emit_every_signal(telemetry: &Telemetry) {
    emit(telemetry, 1);
    let logger = telemetry.logger_provider().unwrap().logger("shutdown-test");
    let mut record = logger.create_log_record();
    record.set_body("last words".into());
    logger.emit(record);
    telemetry.meter_provider().unwrap().meter("shutdown-test").u64_counter("shutdowns").build().add(1, &[]);
}

const HELD: &[(&str, &str)] = &[
    ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
    ("OTEL_BLRP_SCHEDULE_DELAY", "600000"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "600000"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_flushes_the_three_signals_at_the_same_time_within_one_deadline() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let telemetry = pipeline(&receiver, HELD);
    emit_every_signal(&telemetry);
    // A slow collector: 600 ms per request. One signal after another would
    // need 1.8 s of the 1.2 s deadline.
    let slow = Duration::from_millis(600);
    receiver.reply_next([Reply::AcceptAfter(slow), Reply::AcceptAfter(slow), Reply::AcceptAfter(slow)]);
    telemetry.shutdown(Duration::from_millis(1200)).await.unwrap();
    assert_eq!(receiver.spans().len(), 1);
    assert_eq!(receiver.logs().len(), 1);
    assert!(receiver.metrics().iter().any(|m| m.name() == "shutdowns"));
}

/// Keeps the messages and fields of the events it sees, as text.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Events {
    fn on_event(&self, event: &tracing::Event<'_>, _cx: tracing_subscriber::layer::Context<'_, S>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={value:?} ", field.name()));
            }
        }
        let mut text = Text(String::new());
        event.record(&mut text);
        self.0.lock().unwrap().push(text.0);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_stalled_collector_cannot_hold_shutdown_past_its_deadline_and_the_loss_is_told() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let events = Events::default();
    let _logged = tracing::subscriber::set_default(tracing_subscriber::registry().with(events.clone()));

    let receiver = OtlpReceiver::start().await.unwrap();
    receiver.set_behaviour(Behaviour::Stall);
    // Every timeout is far longer than the deadline: the deadline wins.
    let mut vars = HELD.to_vec();
    vars.extend([
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "30000"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "30000"),
        ("OTEL_BLRP_EXPORT_TIMEOUT", "30000"),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "30000"),
    ]);
    let telemetry = pipeline(&receiver, &vars);
    emit_every_signal(&telemetry);
    emit(&telemetry, 2);

    let deadline = Duration::from_millis(500);
    let started = Instant::now();
    let shutdown = telemetry.shutdown(deadline).await;
    let took = started.elapsed();
    assert!(
        matches!(shutdown, Err(throughline_pipeline::ShutdownError::DeadlineExceeded(_))),
        "{shutdown:?}"
    );
    // Not a speed assertion: the deadline plus the 200 ms the issue allows.
    assert!(took < deadline + Duration::from_millis(200), "shutdown took {took:?}");
    let (traces, metrics, logs) = receiver.attempts();
    assert!(traces >= 1 && logs >= 1 && metrics >= 1, "every signal was tried: {:?}", receiver.attempts());

    let events = events.0.lock().unwrap().join("\n");
    let told = events.lines().find(|e| e.contains("spans_lost=")).unwrap_or_else(|| panic!("{events}"));
    assert!(told.contains("spans_lost=3") && told.contains("logs_lost=1"), "{told}");
    receiver.set_behaviour(Behaviour::Accept);
}
