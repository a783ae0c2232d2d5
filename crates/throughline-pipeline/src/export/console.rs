//! Human-readable export to standard output, for development
//! (`OTEL_TRACES_EXPORTER=console`, `OTEL_LOGS_EXPORTER=console`,
//! `OTEL_METRICS_EXPORTER=console`).

use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::Status;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Where the lines go: standard output, or a buffer in tests.
pub(crate) type Output = Arc<Mutex<dyn Write + Send>>;

pub(crate) fn stdout() -> Output {
    Arc::new(Mutex::new(std::io::stdout()))
}

/// One line per span: trace and span ids, name, duration, status, attributes.
#[derive(Clone)]
pub(crate) struct ConsoleExporter {
    out: Output,
}

impl std::fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsoleExporter")
    }
}

impl ConsoleExporter {
    pub(crate) fn new(out: Output) -> Self {
        Self { out }
    }

    fn write(&self, text: &str) -> OTelSdkResult {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| opentelemetry_sdk::error::OTelSdkError::InternalFailure(e.to_string()))
    }
}

/// A span as one line, e.g.
/// `span 4bf92f35… 00f067aa… GET /orders 12.3ms ok http.response.status_code=200`.
pub(crate) fn span_line(span: &SpanData) -> String {
    let duration = span.end_time.duration_since(span.start_time).unwrap_or_default();
    let status = match &span.status {
        Status::Unset => "unset".to_owned(),
        Status::Ok => "ok".to_owned(),
        Status::Error { description } => format!("error({description})"),
    };
    let mut line = format!(
        "span {} {} parent={} {:?} {:?} {:.1}ms {status}",
        span.span_context.trace_id(),
        span.span_context.span_id(),
        span.parent_span_id,
        span.name,
        span.span_kind,
        duration.as_secs_f64() * 1000.0,
    );
    for kv in &span.attributes {
        let _ = write!(line, " {}={}", kv.key, kv.value);
    }
    for event in span.events.iter() {
        let _ = write!(line, " event={:?}", event.name);
    }
    line.push('\n');
    line
}

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.write(&batch.iter().map(span_line).collect::<String>())
    }
}

impl LogExporter for ConsoleExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let mut text = String::new();
        for (record, scope) in batch.iter() {
            let trace = record.trace_context().map(|cx| cx.trace_id.to_string()).unwrap_or_default();
            let _ = write!(
                text,
                "log {} {} {:?}",
                record.severity_text().unwrap_or("-"),
                scope.name(),
                record.body().map(|b| format!("{b:?}")).unwrap_or_default(),
            );
            if !trace.is_empty() {
                let _ = write!(text, " trace_id={trace}");
            }
            for (key, value) in record.attributes_iter() {
                let _ = write!(text, " {key}={value:?}");
            }
            text.push('\n');
        }
        self.write(&text)
    }
}

impl PushMetricExporter for ConsoleExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let mut text = String::new();
        for scope in metrics.scope_metrics() {
            for metric in scope.metrics() {
                let _ = writeln!(text, "metric {} ({}) {:?}", metric.name(), metric.unit(), metric.data());
            }
        }
        self.write(&text)
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}
