//! The bounded trace store: the most recent traces within a span and byte
//! budget, and beside them, kept through a flood, the latest traces with an
//! error and a few traces per service, route and latency bucket.
//!
//! Every trace is in a map by id. Its place among the recent ones is its
//! first arrival, in a queue. A trace may also be *pinned*: by an error, or
//! as a latency sample of one of its entry spans (server spans and roots).
//! When the store is over budget it evicts from the front of the queue; a
//! pinned trace leaves the queue but stays until its last pin is taken by a
//! newer trace. The pins are bounded too (errors, routes × buckets × samples),
//! and if they alone exceed the budget the oldest pinned trace goes. Every
//! eviction and every span refused is counted.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::model::{Origin, StoredLog, StoredSpan, TraceId};
use crate::stats::{LATENCY_BUCKETS, RouteKey, RouteStats, latency_bucket};

/// The store's bounds. The defaults hold about 100,000 spans in 128 MiB.
///
/// ```
/// use throughline_viewer::StoreConfig;
///
/// let config = StoreConfig::default().max_spans(20_000).max_bytes(32 << 20);
/// assert_eq!(config.spans_bound(), 20_000);
/// ```
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub(crate) max_spans: usize,
    pub(crate) max_bytes: usize,
    pub(crate) max_spans_per_trace: usize,
    pub(crate) max_logs_per_trace: usize,
    pub(crate) error_traces: usize,
    pub(crate) samples_per_bucket: usize,
    pub(crate) max_routes: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            max_spans: 100_000,
            max_bytes: 128 << 20,
            max_spans_per_trace: 20_000,
            max_logs_per_trace: 5_000,
            error_traces: 200,
            samples_per_bucket: 2,
            max_routes: 500,
        }
    }
}

impl StoreConfig {
    /// Spans held in all (default 100,000), log records not counted.
    pub fn max_spans(mut self, spans: usize) -> Self {
        self.max_spans = spans.max(1);
        self
    }

    /// Bytes held in all, spans and log records (default 128 MiB), as
    /// counted by a walk of each item's strings and vectors.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes.max(1);
        self
    }

    /// Spans kept of one trace (default 20,000); later ones are refused and counted.
    pub fn max_spans_per_trace(mut self, spans: usize) -> Self {
        self.max_spans_per_trace = spans.max(1);
        self
    }

    /// Log records kept of one trace (default 5,000).
    pub fn max_logs_per_trace(mut self, logs: usize) -> Self {
        self.max_logs_per_trace = logs;
        self
    }

    /// Traces with an error kept beyond the recent ones (default 200, the latest).
    pub fn error_traces(mut self, traces: usize) -> Self {
        self.error_traces = traces;
        self
    }

    /// Traces kept per service, route and latency bucket (default 2, the latest).
    pub fn samples_per_bucket(mut self, traces: usize) -> Self {
        self.samples_per_bucket = traces;
        self
    }

    /// Service and route pairs with statistics and samples (default 500);
    /// later routes are counted under `_OTHER`.
    pub fn max_routes(mut self, routes: usize) -> Self {
        self.max_routes = routes.max(1);
        self
    }

    /// The span bound.
    pub fn spans_bound(&self) -> usize {
        self.max_spans
    }

    /// The byte bound.
    pub fn bytes_bound(&self) -> usize {
        self.max_bytes
    }
}

/// What the store holds and what it let go.
///
/// ```
/// let stats = throughline_viewer::Viewer::default().stats();
/// assert_eq!((stats.traces, stats.traces_evicted), (0, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStats {
    /// Traces held.
    pub traces: usize,
    /// Spans held.
    pub spans: usize,
    /// Log records held.
    pub logs: usize,
    /// Bytes held, as counted against the bound.
    pub bytes: usize,
    /// Spans accepted since the start.
    pub spans_received: u64,
    /// Log records accepted since the start.
    pub logs_received: u64,
    /// Metric data points received (counted, not kept).
    pub metric_points_received: u64,
    /// Traces evicted to stay within the bounds.
    pub traces_evicted: u64,
    /// Of those, traces that were still pinned (an error or a latency sample).
    pub pinned_traces_evicted: u64,
    /// Spans refused: malformed ids, or their trace at its span limit.
    pub spans_refused: u64,
    /// Log records refused: no trace id, or their trace at its log limit.
    pub logs_refused: u64,
}

/// A trace as the store holds it: [`Viewer::trace`](crate::Viewer::trace)
/// copies its spans and records out, the pages read it in place.
///
/// ```
/// use throughline_viewer::{TraceQuery, Viewer};
///
/// let viewer = Viewer::default();
/// assert!(viewer.trace(&"0af7651916cd43dd8448eb211c80319c".parse().unwrap()).is_none());
/// ```
#[derive(Debug)]
pub struct StoredTrace {
    /// Its id.
    pub id: TraceId,
    /// Its spans in arrival order.
    pub spans: Vec<StoredSpan>,
    /// Its log records in arrival order.
    pub logs: Vec<StoredLog>,
    generation: u64,
    bytes: usize,
    errors: usize,
    pins: u32,
    in_recent: bool,
    pinned_as_error: bool,
}

impl StoredTrace {
    /// How many of its spans have an error status.
    pub fn error_count(&self) -> usize {
        self.errors
    }

    /// The earliest start and latest end of its spans, in Unix nanoseconds.
    pub fn bounds(&self) -> (u64, u64) {
        crate::model::bounds(&self.spans)
    }

    /// Its root: the earliest span without a parent, else the earliest span
    /// whose parent has not arrived.
    pub fn root(&self) -> Option<&StoredSpan> {
        let earliest =
            |a: &&StoredSpan, b: &&StoredSpan| a.span.start_time_unix_nano.cmp(&b.span.start_time_unix_nano);
        self.spans.iter().filter(|s| s.span.parent_span_id.is_empty()).min_by(earliest).or_else(|| {
            let ids: std::collections::HashSet<_> =
                self.spans.iter().filter_map(StoredSpan::span_id).collect();
            self.spans.iter().filter(|s| s.parent_id().is_none_or(|p| !ids.contains(&p))).min_by(earliest)
        })
    }

    fn overhead(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.spans.capacity() * std::mem::size_of::<StoredSpan>()
            + self.logs.capacity() * std::mem::size_of::<StoredLog>()
            // The map's slot and the queue's entry.
            + 2 * std::mem::size_of::<(TraceId, u64)>()
    }
}

pub(crate) struct Store {
    config: StoreConfig,
    traces: HashMap<TraceId, StoredTrace>,
    recent: VecDeque<(TraceId, u64)>,
    next_generation: u64,
    spans: usize,
    logs: usize,
    bytes: usize,
    errors: VecDeque<(TraceId, u64)>,
    samples: HashMap<RouteKey, [VecDeque<(TraceId, u64)>; LATENCY_BUCKETS]>,
    pub(crate) routes: RouteStats,
    pub(crate) stats: StoreStats,
}

impl Store {
    pub(crate) fn new(config: StoreConfig) -> Self {
        let routes = RouteStats::new(config.max_routes);
        Self {
            config,
            traces: HashMap::new(),
            recent: VecDeque::new(),
            next_generation: 0,
            spans: 0,
            logs: 0,
            bytes: 0,
            errors: VecDeque::new(),
            samples: HashMap::new(),
            routes,
            stats: StoreStats::default(),
        }
    }

    pub(crate) fn config(&self) -> &StoreConfig {
        &self.config
    }

    pub(crate) fn stats(&self) -> StoreStats {
        StoreStats {
            traces: self.traces.len(),
            spans: self.spans,
            logs: self.logs,
            bytes: self.bytes,
            ..self.stats
        }
    }

    pub(crate) fn get(&self, id: &TraceId) -> Option<&StoredTrace> {
        self.traces.get(id)
    }

    pub(crate) fn traces(&self) -> impl Iterator<Item = &StoredTrace> {
        self.traces.values()
    }

    /// The traces sampled for a route, per latency bucket, newest last.
    pub(crate) fn samples(&self, key: &RouteKey) -> Option<[Vec<TraceId>; LATENCY_BUCKETS]> {
        let buckets = self.samples.get(key)?;
        Some(std::array::from_fn(|i| {
            buckets[i].iter().filter(|(id, g)| self.is_current(id, *g)).map(|(id, _)| *id).collect()
        }))
    }

    fn is_current(&self, id: &TraceId, generation: u64) -> bool {
        self.traces.get(id).is_some_and(|t| t.generation == generation)
    }

    fn trace_entry(&mut self, id: TraceId) -> &mut StoredTrace {
        let generation = self.next_generation;
        let entry = self.traces.entry(id).or_insert_with(|| StoredTrace {
            id,
            spans: Vec::new(),
            logs: Vec::new(),
            generation,
            bytes: 0,
            errors: 0,
            pins: 0,
            in_recent: true,
            pinned_as_error: false,
        });
        if entry.generation == generation {
            self.next_generation += 1;
            self.recent.push_back((id, generation));
            entry.bytes = entry.overhead();
            self.bytes += entry.bytes;
        }
        entry
    }

    /// Adds one span; returns whether it was kept.
    pub(crate) fn insert_span(&mut self, span: StoredSpan) -> bool {
        let Some(id) = TraceId::from_bytes(&span.span.trace_id).filter(|_| span.span_id().is_some()) else {
            self.stats.spans_refused += 1;
            return false;
        };
        let limit = self.config.max_spans_per_trace.min(self.config.max_spans);
        let is_error = span.is_error();
        let entry_sample = span
            .is_entry()
            .then(|| (RouteKey::new(span.origin.service.clone(), &span.span.name), span.duration_nanos()));
        // Only a route with its own statistics gets latency samples: the
        // overflow route `_OTHER` would pin traces of unrelated routes.
        let entry_sample = entry_sample.and_then(|(key, nanos)| {
            self.routes.record(&key, nanos, is_error, span.span.end_time_unix_nano).then_some((key, nanos))
        });
        // The resource is shared by the spans of one export: each pays its share.
        let bytes = span.heap_bytes() + span.origin.heap_bytes() / Arc::strong_count(&span.origin).max(1);
        let trace = self.trace_entry(id);
        if trace.spans.len() >= limit {
            self.stats.spans_refused += 1;
            return false;
        }
        let before = trace.overhead();
        trace.spans.push(span);
        let added = bytes + trace.overhead() - before;
        trace.bytes += added;
        let generation = trace.generation;
        let newly_error = is_error && !trace.pinned_as_error;
        if is_error {
            trace.errors += 1;
        }
        self.bytes += added;
        self.spans += 1;
        self.stats.spans_received += 1;
        if newly_error && self.config.error_traces > 0 {
            self.pin(id);
            if let Some(t) = self.traces.get_mut(&id) {
                t.pinned_as_error = true;
            }
            self.errors.push_back((id, generation));
            while self.errors.len() > self.config.error_traces {
                if let Some((old, g)) = self.errors.pop_front() {
                    self.unpin(old, g);
                }
            }
        }
        if let Some((key, nanos)) = entry_sample
            && self.config.samples_per_bucket > 0
        {
            let bucket = latency_bucket(nanos);
            let samples = self.samples.entry(key).or_insert_with(|| std::array::from_fn(|_| VecDeque::new()));
            let slot = &mut samples[bucket];
            if !slot.iter().any(|(t, g)| *t == id && *g == generation) {
                slot.push_back((id, generation));
                let evicted =
                    (slot.len() > self.config.samples_per_bucket).then(|| slot.pop_front()).flatten();
                self.pin(id);
                if let Some((old, g)) = evicted {
                    self.unpin(old, g);
                }
            }
        }
        self.enforce_bounds();
        true
    }

    /// Adds one log record; returns whether it was kept. A record outside
    /// any trace is refused: the viewer shows logs under their spans.
    pub(crate) fn insert_log(&mut self, log: StoredLog) -> bool {
        let Some(id) = TraceId::from_bytes(&log.record.trace_id) else {
            self.stats.logs_refused += 1;
            return false;
        };
        let bytes = log.heap_bytes() + log.origin.heap_bytes() / Arc::strong_count(&log.origin).max(1);
        let limit = self.config.max_logs_per_trace;
        let trace = self.trace_entry(id);
        if trace.logs.len() >= limit {
            self.stats.logs_refused += 1;
            return false;
        }
        let before = trace.overhead();
        trace.logs.push(log);
        let added = bytes + trace.overhead() - before;
        trace.bytes += added;
        self.bytes += added;
        self.logs += 1;
        self.stats.logs_received += 1;
        self.enforce_bounds();
        true
    }

    fn pin(&mut self, id: TraceId) {
        if let Some(trace) = self.traces.get_mut(&id) {
            trace.pins += 1;
        }
    }

    fn unpin(&mut self, id: TraceId, generation: u64) {
        let Some(trace) = self.traces.get_mut(&id).filter(|t| t.generation == generation) else { return };
        trace.pins = trace.pins.saturating_sub(1);
        if trace.pins == 0 && !trace.in_recent {
            self.remove(id);
            self.stats.traces_evicted += 1;
        }
    }

    fn remove(&mut self, id: TraceId) {
        if let Some(trace) = self.traces.remove(&id) {
            self.spans -= trace.spans.len();
            self.logs -= trace.logs.len();
            self.bytes -= trace.bytes;
        }
    }

    fn over_budget(&self) -> bool {
        self.spans > self.config.max_spans || self.bytes > self.config.max_bytes
    }

    /// Evicts the oldest unpinned traces, then if need be the oldest pinned
    /// ones, until the store is within its bounds. Each trace leaves the
    /// queue once, so the work is linear in what is evicted.
    fn enforce_bounds(&mut self) {
        while self.over_budget() {
            if let Some((id, generation)) = self.recent.pop_front() {
                let Some(trace) = self.traces.get_mut(&id).filter(|t| t.generation == generation) else {
                    continue;
                };
                if trace.pins > 0 {
                    trace.in_recent = false;
                } else {
                    self.remove(id);
                    self.stats.traces_evicted += 1;
                }
                continue;
            }
            // Only pinned traces remain: the oldest goes (a rare case, as
            // the pins are few; the scan is over what is held).
            let Some(oldest) = self.traces.values().min_by_key(|t| t.generation).map(|t| t.id) else { break };
            self.remove(oldest);
            self.stats.traces_evicted += 1;
            self.stats.pinned_traces_evicted += 1;
        }
        // Stale queue entries of traces that left are dropped as they reach the front.
        while self.recent.front().is_some_and(|(id, g)| !self.is_current(id, *g)) {
            self.recent.pop_front();
        }
    }
}

/// Spans of one export, with their shared origin, ready for the store.
pub(crate) fn spans_of(
    request: opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
) -> Vec<StoredSpan> {
    let mut out = Vec::new();
    for resource in request.resource_spans {
        for scope in resource.scope_spans {
            let scope_name = scope.scope.map(|s| s.name).unwrap_or_default();
            let origin = Arc::new(Origin::new(resource.resource.clone(), scope_name));
            out.extend(scope.spans.into_iter().map(|span| StoredSpan { origin: origin.clone(), span }));
        }
    }
    out
}

/// Log records of one export, with their shared origin.
pub(crate) fn logs_of(
    request: opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest,
) -> Vec<StoredLog> {
    let mut out = Vec::new();
    for resource in request.resource_logs {
        for scope in resource.scope_logs {
            let scope_name = scope.scope.map(|s| s.name).unwrap_or_default();
            let origin = Arc::new(Origin::new(resource.resource.clone(), scope_name));
            out.extend(
                scope.log_records.into_iter().map(|record| StoredLog { origin: origin.clone(), record }),
            );
        }
    }
    out
}
