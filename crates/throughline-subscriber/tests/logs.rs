//! Log export through the `opentelemetry` logs API: what a record holds, the
//! trace it names, and that secrets are gone before it exists.

use opentelemetry::logs::{AnyValue, Severity};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLogRecord, SdkLoggerProvider};
use throughline_subscriber::{ContextLayer, LogsLayer, Redaction};
use throughline_testing::Capture;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::prelude::*;

struct Exported {
    exporter: InMemoryLogExporter,
    provider: SdkLoggerProvider,
    capture: Capture,
}

impl Exported {
    fn new() -> Self {
        let exporter = InMemoryLogExporter::default();
        let provider = SdkLoggerProvider::builder().with_simple_exporter(exporter.clone()).build();
        Self { exporter, provider, capture: Capture::new() }
    }

    fn run<R>(&self, layer: LogsLayer<opentelemetry_sdk::logs::SdkLogger>, f: impl FnOnce() -> R) -> R {
        let subscriber =
            tracing_subscriber::registry().with(ContextLayer::new()).with(self.capture.layer()).with(layer);
        tracing::subscriber::with_default(subscriber, f)
    }

    fn records(&self) -> Vec<SdkLogRecord> {
        self.exporter.get_emitted_logs().unwrap().into_iter().map(|log| log.record).collect()
    }
}

fn attribute(record: &SdkLogRecord, key: &str) -> Option<AnyValue> {
    record.attributes_iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v.clone())
}

fn ids(span: &tracing::Span) -> (opentelemetry::trace::TraceId, opentelemetry::trace::SpanId) {
    let cx = span.context();
    let span = cx.span();
    (span.span_context().trace_id(), span.span_context().span_id())
}

#[test]
fn a_record_holds_severity_body_target_fields_and_inherited_fields() {
    let logs = Exported::new();
    let span_ids = logs.run(LogsLayer::new(&logs.provider), || {
        let span = tracing::info_span!("checkout", order_id = 42_u64, region = "eu");
        span.in_scope(|| {
            tracing::warn!(target: "orders::payments", amount = 3, ratio = 0.5, retry = true, big = u64::MAX, "card declined")
        });
        ids(&span)
    });
    let records = logs.records();
    let record = &records[0];
    assert_eq!(record.severity_number(), Some(Severity::Warn));
    assert_eq!(record.severity_text(), Some("WARN"));
    assert_eq!(record.body(), Some(&AnyValue::from("card declined")));
    assert_eq!(record.target().map(|t| t.as_ref()), Some("orders::payments"));
    assert!(record.timestamp().is_some());
    assert_eq!(attribute(record, "amount"), Some(AnyValue::Int(3)));
    assert_eq!(attribute(record, "ratio"), Some(AnyValue::Double(0.5)));
    assert_eq!(attribute(record, "retry"), Some(AnyValue::Boolean(true)));
    assert_eq!(attribute(record, "big"), Some(AnyValue::from(u64::MAX.to_string())));
    assert_eq!(attribute(record, "order_id"), Some(AnyValue::Int(42)));
    assert_eq!(attribute(record, "region"), Some(AnyValue::from("eu")));
    assert!(attribute(record, "message").is_none(), "the message is the body");
    let trace = record.trace_context().expect("the record names its trace");
    assert_eq!((trace.trace_id, trace.span_id), span_ids);
}

#[test]
fn an_event_with_an_explicit_parent_names_that_parents_trace() {
    let logs = Exported::new();
    let job_ids = logs.run(LogsLayer::new(&logs.provider), || {
        let job = tracing::info_span!("job", job_id = 7);
        let _other = tracing::info_span!("unrelated").entered();
        tracing::info!(parent: &job, "progress");
        ids(&job)
    });
    let records = logs.records();
    let trace = records[0].trace_context().unwrap();
    assert_eq!((trace.trace_id, trace.span_id), job_ids);
    assert_eq!(attribute(&records[0], "job_id"), Some(AnyValue::Int(7)));
}

#[test]
fn an_event_outside_any_span_names_no_trace() {
    let logs = Exported::new();
    logs.run(LogsLayer::new(&logs.provider), || tracing::info!("starting"));
    assert!(logs.records()[0].trace_context().is_none());
}

#[test]
fn secrets_are_redacted_before_the_record_exists() {
    let logs = Exported::new();
    logs.run(LogsLayer::new(&logs.provider), || {
        tracing::info_span!("login", user = "jane@example.com", api_key = "k-123").in_scope(|| {
            tracing::info!(
                password = "hunter2",
                card = 4111111111111111_u64,
                header = "Bearer eyJhbGciOiJIUzI1NiJ9",
                debugged = ?("jane@example.com", 1),
                "receipt sent to jane@example.com"
            );
        });
    });
    let records = logs.records();
    let record = &records[0];
    assert_eq!(record.body(), Some(&AnyValue::from("receipt sent to [REDACTED]")));
    for (key, expected) in [
        ("password", "[REDACTED]"),
        ("card", "[REDACTED]"),
        ("header", "Bearer [REDACTED]"),
        ("debugged", "(\"[REDACTED]\", 1)"),
        ("user", "[REDACTED]"),
        ("api_key", "[REDACTED]"),
    ] {
        assert_eq!(attribute(record, key), Some(AnyValue::from(expected)), "{key}");
    }
    let everything = format!("{record:?}");
    for secret in ["hunter2", "4111111111111111", "jane@example.com", "eyJhbGciOiJIUzI1NiJ9", "k-123"] {
        assert!(!everything.contains(secret), "{secret} leaked: {everything}");
    }
}

#[test]
fn a_policy_of_our_own_replaces_the_default() {
    let logs = Exported::new();
    let layer = LogsLayer::new(&logs.provider).with_redaction(Redaction::none().field("pin"));
    logs.run(layer, || tracing::info!(pin = 1234, email = "a@b.io", "set"));
    let records = logs.records();
    assert_eq!(attribute(&records[0], "pin"), Some(AnyValue::from("[REDACTED]")));
    assert_eq!(attribute(&records[0], "email"), Some(AnyValue::from("a@b.io")));
}
