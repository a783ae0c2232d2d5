//! The SDK side: a span processor and a log processor that put what a
//! service records straight into its viewer, converted to OTLP by
//! `opentelemetry-proto`'s own transforms, as an exporter would send it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord};
use opentelemetry_sdk::trace::{SpanData, SpanProcessor};

use crate::Viewer;
use crate::model::{Origin, StoredLog, StoredSpan};

/// The origins of one provider's spans: one per scope, made once, shared
/// by every span of that scope (a service has a handful of scopes).
#[derive(Debug, Default)]
struct Origins {
    resource: Vec<KeyValue>,
    by_scope: Mutex<Vec<Arc<Origin>>>,
}

/// Scopes past this many share one origin: a bound on a scope per call site.
const MAX_SCOPES: usize = 64;

impl Origins {
    fn of(&self, scope: &str) -> Arc<Origin> {
        let mut origins = self.by_scope.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(origin) = origins.iter().find(|o| o.scope == scope) {
            return origin.clone();
        }
        let scope = if origins.len() >= MAX_SCOPES { "_OTHER" } else { scope };
        if let Some(origin) = origins.iter().find(|o| o.scope == scope) {
            return origin.clone();
        }
        let resource = Resource { attributes: self.resource.clone(), ..Default::default() };
        let origin = Arc::new(Origin::new(Some(resource), scope.to_owned()));
        origins.push(origin.clone());
        origin
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.resource = ResourceAttributesWithSchema::from(resource).attributes.0;
        self.by_scope.get_mut().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// A span processor feeding a [`Viewer`]: add it to a tracer provider
/// (`throughline`'s `init()` does, with the `viewer` feature).
///
/// ```
/// use opentelemetry::trace::{Tracer, TracerProvider};
/// use throughline_viewer::{TraceQuery, Viewer};
///
/// let viewer = Viewer::default();
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
///     .with_span_processor(viewer.span_processor())
///     .build();
/// provider.tracer("checkout").in_span("charge", |_| {});
/// assert_eq!(viewer.traces(&TraceQuery::default())[0].root_name, "charge");
/// ```
#[derive(Debug)]
pub struct ViewerSpanProcessor {
    viewer: Viewer,
    origins: Origins,
}

impl Viewer {
    /// A span processor that stores every ended span here, synchronously.
    pub fn span_processor(&self) -> ViewerSpanProcessor {
        ViewerSpanProcessor { viewer: self.clone(), origins: Origins::default() }
    }

    /// A log processor that stores every record emitted inside a trace here.
    pub fn log_processor(&self) -> ViewerLogProcessor {
        ViewerLogProcessor { viewer: self.clone(), origins: Origins::default() }
    }
}

impl SpanProcessor for ViewerSpanProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        let origin = self.origins.of(span.instrumentation_scope.name());
        self.viewer.ingest_spans(vec![StoredSpan { origin, span: Span::from(span) }]);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.origins.set_resource(resource);
    }
}

/// A log processor feeding a [`Viewer`]: the records of a trace appear
/// under their spans on its page. Records outside a trace are not kept.
///
/// ```
/// use opentelemetry::logs::{LogRecord, Logger, LoggerProvider};
/// use throughline_viewer::Viewer;
///
/// let viewer = Viewer::default();
/// let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
///     .with_log_processor(viewer.log_processor())
///     .build();
/// let logger = provider.logger("app");
/// let mut record = logger.create_log_record();
/// record.set_body("outside any trace".into());
/// logger.emit(record);
/// assert_eq!(viewer.stats().logs_refused, 1);
/// ```
#[derive(Debug)]
pub struct ViewerLogProcessor {
    viewer: Viewer,
    origins: Origins,
}

impl LogProcessor for ViewerLogProcessor {
    fn emit(&self, data: &mut SdkLogRecord, scope: &InstrumentationScope) {
        let name = data.target().map_or_else(|| scope.name().to_owned(), |t| t.to_string());
        let origin = self.origins.of(&name);
        self.viewer.ingest_log_records(vec![StoredLog { origin, record: LogRecord::from(&*data) }]);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.origins.set_resource(resource);
    }
}
