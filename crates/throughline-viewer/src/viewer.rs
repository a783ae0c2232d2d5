//! `Viewer`: the handle every way in and out shares: ingest writes through
//! it, the UI and the JSON endpoints read through it.

use std::sync::{Arc, Mutex, MutexGuard};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use tokio::sync::Notify;

use crate::model::{StoredLog, StoredSpan, TraceId};
use crate::query::{TraceQuery, TraceSummary};
use crate::stats::RouteSummary;
use crate::store::{Store, StoreConfig, StoreStats, logs_of, spans_of};

/// A trace viewer: a bounded store of traces with everything that fills it
/// and reads it. Cloning is cheap; the clones share the store.
///
/// ```
/// use throughline_viewer::{StoreConfig, TraceQuery, Viewer};
///
/// let viewer = Viewer::new(StoreConfig::default().max_spans(10_000));
/// // Feed it: viewer.ingest_traces(request), the OTLP servers, or the SDK processors.
/// assert!(viewer.traces(&TraceQuery::default()).is_empty());
/// let app: axum::Router = viewer.router(); // the UI and JSON endpoints
/// ```
#[derive(Clone)]
pub struct Viewer {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    store: Mutex<Store>,
    changed: Notify,
}

impl std::fmt::Debug for Viewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Viewer").field("stats", &self.stats()).finish()
    }
}

impl Default for Viewer {
    fn default() -> Self {
        Self::new(StoreConfig::default())
    }
}

impl Viewer {
    /// A viewer whose store keeps to `config`'s bounds.
    ///
    /// ```
    /// let viewer = throughline_viewer::Viewer::new(throughline_viewer::StoreConfig::default().max_bytes(32 << 20));
    /// assert_eq!(viewer.config().bytes_bound(), 32 << 20);
    /// ```
    pub fn new(config: StoreConfig) -> Self {
        Self { shared: Arc::new(Shared { store: Mutex::new(Store::new(config)), changed: Notify::new() }) }
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // A panic elsewhere while holding the lock leaves the store consistent
        // between whole insertions; keep serving it.
        self.shared.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores the spans of one OTLP export request.
    ///
    /// ```
    /// use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    /// use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    ///
    /// let viewer = throughline_viewer::Viewer::default();
    /// let span = Span { trace_id: vec![1; 16], span_id: vec![2; 8], name: "GET /".into(), ..Span::default() };
    /// viewer.ingest_traces(ExportTraceServiceRequest {
    ///     resource_spans: vec![ResourceSpans {
    ///         scope_spans: vec![ScopeSpans { spans: vec![span], ..ScopeSpans::default() }],
    ///         ..ResourceSpans::default()
    ///     }],
    /// });
    /// assert_eq!(viewer.stats().spans, 1);
    /// ```
    pub fn ingest_traces(&self, request: ExportTraceServiceRequest) {
        // Converted outside the lock; only the insertions hold it.
        self.ingest_spans(spans_of(request));
    }

    /// Stores spans already paired with their origin (what the span
    /// processor does).
    ///
    /// ```
    /// let viewer = throughline_viewer::Viewer::default();
    /// viewer.ingest_spans(Vec::new());
    /// ```
    pub fn ingest_spans(&self, spans: Vec<StoredSpan>) {
        if spans.is_empty() {
            return;
        }
        {
            let mut store = self.store();
            for span in spans {
                store.insert_span(span);
            }
        }
        self.shared.changed.notify_waiters();
    }

    /// Stores the log records of one OTLP export request; records outside
    /// any trace are counted and dropped.
    ///
    /// ```
    /// use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    /// use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    ///
    /// let viewer = throughline_viewer::Viewer::default();
    /// let record = LogRecord { trace_id: vec![1; 16], span_id: vec![2; 8], ..LogRecord::default() };
    /// viewer.ingest_logs(ExportLogsServiceRequest {
    ///     resource_logs: vec![ResourceLogs {
    ///         scope_logs: vec![ScopeLogs { log_records: vec![record], ..ScopeLogs::default() }],
    ///         ..ResourceLogs::default()
    ///     }],
    /// });
    /// assert_eq!(viewer.stats().logs, 1);
    /// ```
    pub fn ingest_logs(&self, request: ExportLogsServiceRequest) {
        self.ingest_log_records(logs_of(request));
    }

    /// Stores log records already paired with their origin.
    ///
    /// ```
    /// let viewer = throughline_viewer::Viewer::default();
    /// viewer.ingest_log_records(Vec::new());
    /// ```
    pub fn ingest_log_records(&self, logs: Vec<StoredLog>) {
        if logs.is_empty() {
            return;
        }
        {
            let mut store = self.store();
            for log in logs {
                store.insert_log(log);
            }
        }
        self.shared.changed.notify_waiters();
    }

    /// Counts the data points of one OTLP metrics export; metrics are not
    /// kept (the viewer's RED numbers come from the spans).
    ///
    /// ```
    /// let viewer = throughline_viewer::Viewer::default();
    /// viewer.ingest_metrics(&Default::default());
    /// assert_eq!(viewer.stats().metric_points_received, 0);
    /// ```
    pub fn ingest_metrics(&self, request: &ExportMetricsServiceRequest) {
        let points: usize = request
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| match &m.data {
                Some(Data::Gauge(g)) => g.data_points.len(),
                Some(Data::Sum(s)) => s.data_points.len(),
                Some(Data::Histogram(h)) => h.data_points.len(),
                Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                Some(Data::Summary(s)) => s.data_points.len(),
                None => 0,
            })
            .sum();
        self.store().stats.metric_points_received += points as u64;
    }

    /// What the store holds and what it evicted.
    ///
    /// ```
    /// assert_eq!(throughline_viewer::Viewer::default().stats().spans, 0);
    /// ```
    pub fn stats(&self) -> StoreStats {
        self.store().stats()
    }

    /// The store's bounds.
    ///
    /// ```
    /// use throughline_viewer::{StoreConfig, Viewer};
    ///
    /// assert_eq!(Viewer::new(StoreConfig::default().max_spans(10)).config().spans_bound(), 10);
    /// ```
    pub fn config(&self) -> StoreConfig {
        self.store().config().clone()
    }

    /// The traces matching `query`, newest first.
    ///
    /// ```
    /// use throughline_viewer::{TraceQuery, Viewer};
    ///
    /// let viewer = Viewer::default();
    /// let slow_errors = TraceQuery { errors_only: true, min_duration_ms: Some(100.0), ..TraceQuery::default() };
    /// assert!(viewer.traces(&slow_errors).is_empty());
    /// ```
    pub fn traces(&self, query: &TraceQuery) -> Vec<TraceSummary> {
        query.run(&self.store())
    }

    /// A copy of one trace's spans and log records.
    ///
    /// ```
    /// let viewer = throughline_viewer::Viewer::default();
    /// assert!(viewer.trace(&"4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap()).is_none());
    /// ```
    pub fn trace(&self, id: &TraceId) -> Option<(Vec<StoredSpan>, Vec<StoredLog>)> {
        self.store().get(id).map(|t| (t.spans.clone(), t.logs.clone()))
    }

    /// Rate, error ratio and percentiles per service and route.
    ///
    /// ```
    /// assert!(throughline_viewer::Viewer::default().routes().is_empty());
    /// ```
    pub fn routes(&self) -> Vec<RouteSummary> {
        self.store().routes.summaries()
    }

    /// The service names seen in the stored traces, sorted.
    ///
    /// ```
    /// assert!(throughline_viewer::Viewer::default().services().is_empty());
    /// ```
    pub fn services(&self) -> Vec<String> {
        let store = self.store();
        let from_spans = store.traces().flat_map(|trace| trace.spans.iter().map(StoredSpan::service));
        let services: std::collections::BTreeSet<&str> = store.routes.services().chain(from_spans).collect();
        services.into_iter().map(str::to_owned).collect()
    }

    /// Waits until `ready` holds (checked after each ingest), or `within`
    /// passed; returns whether it held. For tests and scripts that must not
    /// race the exporters.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    ///
    /// let viewer = throughline_viewer::Viewer::default();
    /// assert!(!viewer.wait_for(Duration::from_millis(1), || viewer.stats().spans > 0).await);
    /// # }
    /// ```
    pub async fn wait_for(&self, within: std::time::Duration, ready: impl Fn() -> bool) -> bool {
        let waiting = async {
            loop {
                let changed = self.shared.changed.notified();
                if ready() {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(within, waiting).await.is_ok()
    }

    /// Waits until a trace with this id holds at least `spans` spans, or
    /// `within` passed; returns how many it holds. For tests and scripts
    /// that must not race the exporters.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    ///
    /// let viewer = throughline_viewer::Viewer::default();
    /// let id = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
    /// assert_eq!(viewer.wait_for_trace(&id, 1, Duration::from_millis(1)).await, 0);
    /// # }
    /// ```
    pub async fn wait_for_trace(&self, id: &TraceId, spans: usize, within: std::time::Duration) -> usize {
        let count = || self.store().get(id).map_or(0, |t| t.spans.len());
        self.wait_for(within, || count() >= spans).await;
        count()
    }
}
