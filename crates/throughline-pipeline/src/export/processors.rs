//! The SDK-facing processors and exporters that hand work to the export runtime.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter, LogProcessor, SdkLogRecord};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

use super::batch::{Batcher, Counts, Sink};
use super::http_client::{self, LastError};

/// A change made to every span before it is exported, such as redaction.
pub type SpanTransform = Arc<dyn Fn(&mut SpanData) + Send + Sync>;

/// Sends ended, sampled spans through a [`Batcher`]; never blocks the span's thread.
pub(crate) struct BatchSpanProcessor {
    batcher: Batcher<SpanData>,
    transforms: Vec<SpanTransform>,
    flush_timeout: Duration,
}

impl std::fmt::Debug for BatchSpanProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchSpanProcessor").field("queued", &self.batcher.queued()).finish()
    }
}

impl BatchSpanProcessor {
    pub(crate) fn new(
        batcher: Batcher<SpanData>,
        transforms: Vec<SpanTransform>,
        flush_timeout: Duration,
    ) -> Self {
        Self { batcher, transforms, flush_timeout }
    }

    pub(crate) fn counts(&self) -> Arc<Counts> {
        self.batcher.counts().clone()
    }
}

impl SpanProcessor for BatchSpanProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, mut span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        for transform in &self.transforms {
            transform(&mut span);
        }
        self.batcher.push(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.batcher.flush(self.flush_timeout)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.batcher.shutdown(timeout)
    }
}

/// Spans to an SDK span exporter; a failure says why when the client knows
/// better than the exporter.
pub(crate) struct SpanSink<E>(pub(crate) E, pub(crate) Option<LastError>);

impl<E: SpanExporter + 'static> Sink<SpanData> for SpanSink<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        explained(self.0.export(batch).await, self.1.as_ref())
    }

    fn shutdown(&self) -> OTelSdkResult {
        self.0.shutdown()
    }
}

type OwnedLog = (SdkLogRecord, InstrumentationScope);

/// Sends log records through a [`Batcher`]; never blocks the emitting thread.
pub(crate) struct BatchLogProcessor {
    batcher: Batcher<OwnedLog>,
    flush_timeout: Duration,
}

impl std::fmt::Debug for BatchLogProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchLogProcessor").field("queued", &self.batcher.queued()).finish()
    }
}

impl BatchLogProcessor {
    pub(crate) fn new(batcher: Batcher<OwnedLog>, flush_timeout: Duration) -> Self {
        Self { batcher, flush_timeout }
    }

    pub(crate) fn counts(&self) -> Arc<Counts> {
        self.batcher.counts().clone()
    }
}

impl LogProcessor for BatchLogProcessor {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        self.batcher.push((record.clone(), scope.clone()));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.batcher.flush(self.flush_timeout)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.batcher.shutdown(timeout)
    }
}

/// Log records to an SDK log exporter; a failure says why when the client
/// knows better than the exporter.
pub(crate) struct LogSink<E>(pub(crate) E, pub(crate) Option<LastError>);

impl<E: LogExporter + 'static> Sink<OwnedLog> for LogSink<E> {
    async fn export(&self, batch: Vec<OwnedLog>) -> OTelSdkResult {
        let records: Vec<(&SdkLogRecord, &InstrumentationScope)> =
            batch.iter().map(|(r, s)| (r, s)).collect();
        explained(self.0.export(LogBatch::new(&records)).await, self.1.as_ref())
    }

    fn shutdown(&self) -> OTelSdkResult {
        self.0.shutdown()
    }
}

/// A failed export with the transport's reason added, when there is one.
fn explained(result: OTelSdkResult, last_error: Option<&LastError>) -> OTelSdkResult {
    let cause = last_error.and_then(http_client::take);
    match (result, cause) {
        (Err(OTelSdkError::InternalFailure(message)), Some(cause)) => {
            Err(OTelSdkError::InternalFailure(format!("{message} ({cause})")))
        }
        (result, _) => result,
    }
}
