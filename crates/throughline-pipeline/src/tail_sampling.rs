//! Tail sampling inside the process: decide about a whole local trace once its
//! root has ended, by what happened in it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use opentelemetry::trace::{SpanId, Status, TraceId};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use crate::export::size::EncodedSize;

/// Which local traces to keep: every trace where a span failed, every trace
/// whose local root was slow, and a share of the rest.
///
/// Spans are held until the trace's local root (the span with no parent, or a
/// remote one) ends, then the trace is kept or dropped whole. Memory is
/// bounded: at most [`max_traces`](Self::max_traces) traces,
/// [`max_spans`](Self::max_spans) spans and [`max_bytes`](Self::max_bytes)
/// (by an upper estimate of the spans' encoded size) are held in all (past
/// any of them, the oldest trace is decided early, with what it has), at most
/// [`max_spans_per_trace`](Self::max_spans_per_trace) spans per trace (the
/// rest are dropped and counted), none longer than
/// [`max_wait`](Self::max_wait); and as many decided trace ids as
/// `max_traces`, so that late spans follow their trace.
///
/// # Limits
///
/// This sampler sees one process. A trace that is healthy here may have
/// failed in another service; the other services decide for themselves.
/// Where whole distributed traces must be kept or dropped together, run the
/// OpenTelemetry Collector's tail sampling processor. The base share is
/// decided from the trace id (the same rule as `TraceIdRatioBased`), so
/// services with the same ratio keep the same healthy traces. Head sampling
/// must keep the spans for this to see them: it marks them sampled, and the
/// `sampled` flag sent downstream says so.
///
/// ```
/// use std::time::Duration;
/// use throughline_pipeline::TailSampling;
///
/// let tail = TailSampling::default().keep_slower_than(Duration::from_millis(500)).sample_ratio(0.05);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TailSampling {
    slower_than: Option<Duration>,
    ratio: f64,
    max_traces: usize,
    max_spans: usize,
    max_bytes: usize,
    max_spans_per_trace: usize,
    max_wait: Duration,
}

impl Default for TailSampling {
    /// Errors and traces slower than one second kept, 10% of the rest;
    /// at most 10,000 traces, 100,000 spans and 64 MiB held, 1,000 spans
    /// per trace, each trace at most 30 s.
    fn default() -> Self {
        Self {
            slower_than: Some(Duration::from_secs(1)),
            ratio: 0.1,
            max_traces: 10_000,
            max_spans: 100_000,
            max_bytes: 64 << 20,
            max_spans_per_trace: 1_000,
            max_wait: Duration::from_secs(30),
        }
    }
}

impl TailSampling {
    /// Keeps traces whose local root lasted at least `threshold`.
    pub fn keep_slower_than(mut self, threshold: Duration) -> Self {
        self.slower_than = Some(threshold);
        self
    }

    /// Keeps this share (0 to 1) of the traces that are neither failed nor slow.
    pub fn sample_ratio(mut self, ratio: f64) -> Self {
        self.ratio = ratio.clamp(0.0, 1.0);
        self
    }

    /// Holds at most this many traces at once.
    pub fn max_traces(mut self, traces: usize) -> Self {
        self.max_traces = traces.max(1);
        self
    }

    /// Holds at most this many spans in all.
    pub fn max_spans(mut self, spans: usize) -> Self {
        self.max_spans = spans.max(1);
        self
    }

    /// Holds at most this many bytes of spans in all, by an upper estimate
    /// of their encoded size.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes.max(1);
        self
    }

    /// Holds at most this many spans of one trace.
    pub fn max_spans_per_trace(mut self, spans: usize) -> Self {
        self.max_spans_per_trace = spans.max(1);
        self
    }

    /// Decides a trace whose root has not ended after this long.
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }
}

/// Why a trace was kept or dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A span had an error status.
    Error,
    /// The local root was slower than the threshold.
    Slow,
    /// Within the base share.
    Ratio,
    /// Neither failed, slow, nor within the share.
    Healthy,
}

impl Reason {
    /// The attribute value recorded with the decision.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Slow => "slow",
            Self::Ratio => "ratio",
            Self::Healthy => "healthy",
        }
    }

    /// Whether a trace with this reason is kept.
    pub fn keeps(self) -> bool {
        !matches!(self, Self::Healthy)
    }
}

/// How many traces were decided, by reason, and spans dropped for exceeding
/// the per-trace bound.
#[derive(Debug, Default)]
pub(crate) struct TailCounts {
    pub(crate) error: AtomicU64,
    pub(crate) slow: AtomicU64,
    pub(crate) ratio: AtomicU64,
    pub(crate) healthy: AtomicU64,
    pub(crate) spans_dropped: AtomicU64,
}

impl TailCounts {
    fn record(&self, reason: Reason) {
        let counter = match reason {
            Reason::Error => &self.error,
            Reason::Slow => &self.slow,
            Reason::Ratio => &self.ratio,
            Reason::Healthy => &self.healthy,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self, reason: Reason) -> u64 {
        match reason {
            Reason::Error => &self.error,
            Reason::Slow => &self.slow,
            Reason::Ratio => &self.ratio,
            Reason::Healthy => &self.healthy,
        }
        .load(Ordering::Relaxed)
    }
}

#[derive(Default)]
struct Held {
    spans: Vec<SpanData>,
    bytes: usize,
    error: bool,
}

/// One stripe of the traces: a trace id always falls in the same one.
#[derive(Default)]
struct Shard {
    held: HashMap<TraceId, Held>,
    /// Recently decided traces, so late spans follow their trace.
    decided: HashMap<TraceId, bool>,
    decided_order: VecDeque<TraceId>,
}

/// How many stripes: threads ending spans of different traces rarely meet.
const SHARDS: usize = 16;

/// The span processor applying [`TailSampling`] in front of `next`.
///
/// A span's end takes its trace's stripe lock only; the arrival order
/// (which trace is oldest) is locked when a trace starts waiting, when one
/// is decided early, and, without ever waiting for it, to expire old ones.
pub(crate) struct TailSamplingProcessor<P> {
    policy: TailSampling,
    next: P,
    shards: Box<[Mutex<Shard>]>,
    /// Waiting traces, oldest first, with when they started to wait; ids of
    /// traces decided since are skipped, and swept out once they outnumber
    /// the waiting ones.
    arrival: Mutex<VecDeque<(TraceId, Instant)>>,
    /// What is held, in all stripes.
    traces: AtomicUsize,
    spans: AtomicUsize,
    bytes: AtomicUsize,
    counts: Arc<TailCounts>,
}

impl<P> std::fmt::Debug for TailSamplingProcessor<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TailSamplingProcessor").field("policy", &self.policy).finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl<P: SpanProcessor> TailSamplingProcessor<P> {
    pub(crate) fn new(policy: TailSampling, next: P) -> Self {
        Self {
            policy,
            next,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            arrival: Mutex::default(),
            traces: AtomicUsize::new(0),
            spans: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            counts: Arc::default(),
        }
    }

    pub(crate) fn counts(&self) -> Arc<TailCounts> {
        self.counts.clone()
    }

    fn shard(&self, trace_id: TraceId) -> &Mutex<Shard> {
        // The low bits of a trace id are random (W3C Level 2).
        &self.shards[(u128::from_be_bytes(trace_id.to_bytes()) as usize) % SHARDS]
    }

    /// Takes a trace out of those held, keeping the totals in step.
    fn take(&self, shard: &mut Shard, trace_id: TraceId) -> Option<Held> {
        let held = shard.held.remove(&trace_id)?;
        self.traces.fetch_sub(1, Ordering::Relaxed);
        self.spans.fetch_sub(held.spans.len(), Ordering::Relaxed);
        self.bytes.fetch_sub(held.bytes, Ordering::Relaxed);
        Some(held)
    }

    fn over_bounds(&self) -> bool {
        self.traces.load(Ordering::Relaxed) > self.policy.max_traces
            || self.spans.load(Ordering::Relaxed) > self.policy.max_spans
            || self.bytes.load(Ordering::Relaxed) > self.policy.max_bytes
    }

    /// Decides a trace from what it holds; `root_took` is how long its local
    /// root lasted, when that has ended.
    fn decide(&self, trace_id: TraceId, held: &Held, root_took: Option<Duration>) -> Reason {
        let slow = |took: Duration| self.policy.slower_than.is_some_and(|threshold| took >= threshold);
        if held.error {
            Reason::Error
        } else if root_took.is_some_and(slow) {
            Reason::Slow
        } else if within_ratio(trace_id, self.policy.ratio) {
            Reason::Ratio
        } else {
            Reason::Healthy
        }
    }

    /// Records a decision, and returns the spans to forward when kept.
    fn conclude(&self, shard: &mut Shard, trace_id: TraceId, held: Held, reason: Reason) -> Vec<SpanData> {
        self.counts.record(reason);
        shard.decided.insert(trace_id, reason.keeps());
        shard.decided_order.push_back(trace_id);
        while shard.decided_order.len() > self.policy.max_traces.div_ceil(SHARDS) {
            if let Some(old) = shard.decided_order.pop_front() {
                shard.decided.remove(&old);
            }
        }
        if reason.keeps() { held.spans } else { Vec::new() }
    }

    /// Decides a waiting trace now, with what it has; false when it was
    /// decided meanwhile.
    fn decide_early(&self, trace_id: TraceId, forward: &mut Vec<SpanData>) -> bool {
        let mut shard = lock(self.shard(trace_id));
        let Some(held) = self.take(&mut shard, trace_id) else { return false };
        let reason = self.decide(trace_id, &held, None);
        forward.extend(self.conclude(&mut shard, trace_id, held, reason));
        true
    }

    /// Decides the oldest waiting trace early; false when none waits.
    fn evict_oldest(&self, forward: &mut Vec<SpanData>) -> bool {
        loop {
            let Some((oldest, _)) = lock(&self.arrival).pop_front() else { return false };
            if self.decide_early(oldest, forward) {
                return true;
            }
        }
    }

    /// Decides the traces that waited too long, or all of them; when not
    /// all, only if no other thread holds the arrival order.
    fn expire(&self, everything: bool, forward: &mut Vec<SpanData>) {
        loop {
            let due = {
                let mut arrival = if everything {
                    lock(&self.arrival)
                } else {
                    match self.arrival.try_lock() {
                        Ok(arrival) => arrival,
                        Err(_) => return,
                    }
                };
                match arrival.front() {
                    Some(&(trace_id, since)) if everything || since.elapsed() >= self.policy.max_wait => {
                        arrival.pop_front();
                        trace_id
                    }
                    _ => return,
                }
            };
            self.decide_early(due, forward);
        }
    }

    /// A trace starts waiting. Ids of traces decided since they arrived are
    /// swept out once they outnumber the waiting ones.
    fn arrived(&self, trace_id: TraceId) {
        let mut arrival = lock(&self.arrival);
        arrival.push_back((trace_id, Instant::now()));
        if arrival.len() > 2 * self.traces.load(Ordering::Relaxed) + 64 {
            arrival.retain(|(id, _)| lock(self.shard(*id)).held.contains_key(id));
        }
    }
}

/// The `TraceIdRatioBased` rule: the trace id's low 56 bits, read as a
/// fraction, below the ratio.
fn within_ratio(trace_id: TraceId, ratio: f64) -> bool {
    const SCALE: u128 = 1 << 56;
    let low = u128::from_be_bytes(trace_id.to_bytes()) & (SCALE - 1);
    // Compared as integers: 2^56 - 1 does not survive a trip through f64.
    low < (ratio * SCALE as f64) as u128
}

impl<P: SpanProcessor> SpanProcessor for TailSamplingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &opentelemetry::Context) {
        self.next.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        let trace_id = span.span_context.trace_id();
        let is_local_root = span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote;
        // Read before any lock: the root's duration (not a copy of the
        // span) and the span's size.
        let root_took =
            is_local_root.then(|| span.end_time.duration_since(span.start_time).unwrap_or_default());
        let bytes = span.encoded_size();
        let mut forward = Vec::new();
        let waits = {
            let mut shard = lock(self.shard(trace_id));
            if let Some(&keep) = shard.decided.get(&trace_id) {
                // A late span of a decided trace follows the decision.
                if keep {
                    forward.push(span);
                }
                false
            } else {
                let new = !shard.held.contains_key(&trace_id);
                let held = shard.held.entry(trace_id).or_default();
                held.error |= matches!(span.status, Status::Error { .. });
                if held.spans.len() < self.policy.max_spans_per_trace {
                    held.bytes += bytes;
                    held.spans.push(span);
                    self.spans.fetch_add(1, Ordering::Relaxed);
                    self.bytes.fetch_add(bytes, Ordering::Relaxed);
                } else {
                    self.counts.spans_dropped.fetch_add(1, Ordering::Relaxed);
                }
                if new {
                    self.traces.fetch_add(1, Ordering::Relaxed);
                }
                match root_took {
                    // The root ended: decided now, it never waits.
                    Some(took) => {
                        if let Some(held) = self.take(&mut shard, trace_id) {
                            let reason = self.decide(trace_id, &held, Some(took));
                            forward.extend(self.conclude(&mut shard, trace_id, held, reason));
                        }
                        false
                    }
                    None => new,
                }
            }
        };
        if waits {
            self.arrived(trace_id);
        }
        // Past a bound, the oldest traces are decided early.
        while self.over_bounds() && self.evict_oldest(&mut forward) {}
        self.expire(false, &mut forward);
        for span in forward {
            self.next.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        let mut forward = Vec::new();
        self.expire(true, &mut forward);
        for span in forward {
            self.next.on_end(span);
        }
        self.next.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let mut forward = Vec::new();
        self.expire(true, &mut forward);
        for span in forward {
            self.next.on_end(span);
        }
        self.next.shutdown_with_timeout(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps what reaches it.
    #[derive(Clone, Debug, Default)]
    struct Collect(Arc<Mutex<Vec<SpanData>>>);

    impl SpanProcessor for Collect {
        fn on_start(&self, _span: &mut Span, _cx: &opentelemetry::Context) {}
        fn on_end(&self, span: SpanData) {
            self.0.lock().unwrap().push(span);
        }
        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }
        fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    #[test]
    fn decided_ids_do_not_pile_up_behind_a_long_lived_trace() {
        use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
        // Real spans, recorded by the SDK.
        let recorded = Collect::default();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_span_processor(recorded.clone())
            .build();
        let tracer = provider.tracer("unit");
        let long_lived = opentelemetry::Context::current_with_span(tracer.start("long-lived root"));
        tracer.start_with_context("long-lived child", &long_lived).end();
        // Quick traces whose child ends first: each waits, then is decided
        // when its root ends, behind the long-lived one.
        for i in 0..1000 {
            let quick = opentelemetry::Context::current_with_span(tracer.start(format!("quick {i}")));
            tracer.start_with_context("quick child", &quick).end();
            quick.span().end();
        }
        let spans = std::mem::take(&mut *recorded.0.lock().unwrap());
        assert_eq!(spans.len(), 2001);

        let tail = TailSamplingProcessor::new(TailSampling::default(), Collect::default());
        for span in spans {
            tail.on_end(span);
        }
        assert_eq!(tail.traces.load(Ordering::Relaxed), 1, "only the long-lived trace waits");
        assert_eq!(tail.spans.load(Ordering::Relaxed), 1, "the long-lived child");
        assert!(tail.bytes.load(Ordering::Relaxed) > 0);
        let waiting = lock(&tail.arrival).len();
        assert!(waiting <= 2 + 64 + 1, "{waiting} ids behind it");
        let decided: usize = tail.shards.iter().map(|s| lock(s).decided.len()).sum();
        assert_eq!(decided, 1000, "decided ids are kept, up to max_traces");
    }

    #[test]
    fn the_ratio_follows_the_trace_id() {
        assert!(within_ratio(TraceId::from(1u128), 0.5));
        assert!(!within_ratio(TraceId::from((1u128 << 56) - 1), 0.5));
        assert!(!within_ratio(TraceId::from(5u128), 0.0));
        assert!(within_ratio(TraceId::from(u128::MAX), 1.0));
    }
}
