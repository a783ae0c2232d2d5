//! [`OnExportRuntime`]: a metric exporter run on the export runtime, for
//! OTLP's metric exporters, whose clients need the runtime's reactor.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;

use super::deadline::ShutdownDeadline;
use super::runtime::ExportRuntime;

/// A metric exporter whose exports run on the export runtime, each within a
/// timeout. The SDK's periodic reader calls it from its own thread, which has
/// no reactor.
pub(crate) struct OnExportRuntime<E> {
    inner: E,
    runtime: Arc<ExportRuntime>,
    timeout: Duration,
    deadline: ShutdownDeadline,
}

impl<E> OnExportRuntime<E> {
    pub(crate) fn new(
        inner: E,
        runtime: Arc<ExportRuntime>,
        timeout: Duration,
        deadline: ShutdownDeadline,
    ) -> Self {
        Self { inner, runtime, timeout, deadline }
    }
}

impl<E: PushMetricExporter> PushMetricExporter for OnExportRuntime<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        // Never past the shutdown deadline. The timer is created inside the
        // block: it needs the runtime's context.
        let until = tokio::time::Instant::from_std(self.deadline.bound(self.timeout));
        let export = async { tokio::time::timeout_at(until, self.inner.export(metrics)).await };
        self.runtime
            .block_on(export)
            .unwrap_or(Err(opentelemetry_sdk::error::OTelSdkError::Timeout(self.timeout)))
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
