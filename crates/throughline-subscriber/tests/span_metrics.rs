//! Metrics derived from spans: counts, durations, labels, results, and the
//! bound on label sets.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::Sampler;
use throughline_subscriber::{Clock, SpanMetricsLayer};
use throughline_testing::{Capture, PointValue};
use tracing_subscriber::prelude::*;

/// A clock that moves only when told to.
#[derive(Clone)]
struct ManualClock {
    start: Instant,
    elapsed_nanos: Arc<AtomicU64>,
}

impl ManualClock {
    fn new() -> Self {
        Self { start: Instant::now(), elapsed_nanos: Arc::default() }
    }

    fn advance(&self, by: Duration) {
        self.elapsed_nanos.fetch_add(by.as_nanos() as u64, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + Duration::from_nanos(self.elapsed_nanos.load(Ordering::Relaxed))
    }
}

fn with_metrics<R>(capture: &Capture, layer: SpanMetricsLayer<ManualClock>, f: impl FnOnce() -> R) -> R {
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer).with(capture.layer()), f)
}

fn layer(capture: &Capture, clock: &ManualClock) -> SpanMetricsLayer<ManualClock> {
    SpanMetricsLayer::new(capture.meter_provider()).with_clock(clock.clone())
}

fn labels(pairs: &[(&'static str, &'static str)]) -> Vec<KeyValue> {
    pairs.iter().map(|(k, v)| KeyValue::new(*k, *v)).collect()
}

#[test]
fn each_span_is_counted_under_its_labels_and_result() {
    let (capture, clock) = (Capture::new(), ManualClock::new());
    with_metrics(&capture, layer(&capture, &clock), || {
        for route in ["/orders", "/orders", "/cart"] {
            tracing::info_span!(
                "handle",
                metric_name = "http_request",
                metric_label_route = route,
                metric_label_method = "GET"
            )
            .in_scope(|| {});
        }
        let failed = tracing::info_span!(
            "handle",
            metric_name = "http_request",
            metric_label_route = "/orders",
            metric_label_method = "GET",
            error = true
        );
        drop(failed);
    });
    let metrics = capture.metrics();
    let total = |route, result| {
        metrics
            .total("http_request_total", &labels(&[("route", route), ("method", "GET"), ("result", result)]))
    };
    assert_eq!(total("/orders", "ok"), 2.0);
    assert_eq!(total("/orders", "error"), 1.0);
    assert_eq!(total("/cart", "ok"), 1.0);
    assert_eq!(total("/cart", "error"), 0.0);
    assert_eq!(metrics.histogram_count("http_request_duration_seconds", &labels(&[("route", "/orders")])), 3);
    assert_eq!(metrics.unit("http_request_duration_seconds").as_deref(), Some("s"));
    let point = &metrics.points("http_request_total")[0];
    assert_eq!(point.attributes.len(), 3, "route, method and result only: {point:?}");
}

#[test]
fn durations_run_from_creation_to_close() {
    let (capture, clock) = (Capture::new(), ManualClock::new());
    with_metrics(&capture, layer(&capture, &clock), || {
        for millis in [250, 1500] {
            let span = tracing::info_span!("job", metric_name = "job");
            clock.advance(Duration::from_millis(millis));
            drop(span);
        }
    });
    let points = capture.metrics().points("job_duration_seconds");
    let PointValue::Histogram { count, sum, bounds, buckets } = &points[0].value else {
        panic!("{points:?}")
    };
    assert_eq!((*count, *sum), (2, 1.75));
    assert_eq!(bounds.as_slice(), SpanMetricsLayer::DEFAULT_BUCKETS);
    let bucket_of = |seconds: f64| bounds.iter().position(|b| seconds <= *b).unwrap();
    assert_eq!(buckets[bucket_of(0.25)], 1);
    assert_eq!(buckets[bucket_of(1.5)], 1);
}

#[test]
fn an_error_field_or_an_error_event_inside_marks_the_span_failed() {
    let (capture, clock) = (Capture::new(), ManualClock::new());
    with_metrics(&capture, layer(&capture, &clock), || {
        let span = tracing::info_span!(
            "a",
            metric_name = "op",
            metric_label_case = "field recorded",
            error = tracing::field::Empty
        );
        span.record("error", tracing::field::display("timed out"));
        drop(span);
        tracing::info_span!("a", metric_name = "op", metric_label_case = "error=false", error = false)
            .in_scope(|| {});
        tracing::info_span!("a", metric_name = "op", metric_label_case = "error event").in_scope(|| {
            tracing::error!("failed");
        });
        tracing::info_span!("a", metric_name = "op", metric_label_case = "warn event").in_scope(|| {
            tracing::warn!("slow");
        });
        tracing::info_span!("a", metric_name = "op", metric_label_case = "error in a plain child").in_scope(
            || {
                tracing::info_span!("query").in_scope(|| tracing::error!("failed"));
            },
        );
    });
    let metrics = capture.metrics();
    let result_of = |case| {
        let ok = metrics.total("op_total", &labels(&[("case", case), ("result", "ok")]));
        let error = metrics.total("op_total", &labels(&[("case", case), ("result", "error")]));
        match (ok, error) {
            (1.0, 0.0) => "ok",
            (0.0, 1.0) => "error",
            other => panic!("{case}: {other:?}"),
        }
    };
    assert_eq!(result_of("field recorded"), "error");
    assert_eq!(result_of("error=false"), "ok");
    assert_eq!(result_of("error event"), "error");
    assert_eq!(result_of("warn event"), "ok");
    assert_eq!(result_of("error in a plain child"), "error");
}

#[test]
fn an_error_event_fails_only_the_nearest_span_with_a_metric() {
    let (capture, clock) = (Capture::new(), ManualClock::new());
    with_metrics(&capture, layer(&capture, &clock), || {
        tracing::info_span!("request", metric_name = "request").in_scope(|| {
            tracing::info_span!("attempt", metric_name = "attempt").in_scope(|| tracing::error!("retrying"));
        });
    });
    let metrics = capture.metrics();
    assert_eq!(metrics.total("attempt_total", &labels(&[("result", "error")])), 1.0);
    assert_eq!(metrics.total("request_total", &labels(&[("result", "ok")])), 1.0);
}

#[test]
fn names_and_labels_recorded_late_count() {
    let (capture, clock) = (Capture::new(), ManualClock::new());
    with_metrics(&capture, layer(&capture, &clock), || {
        let span = tracing::info_span!(
            "handle",
            metric_name = tracing::field::Empty,
            metric_label_status = tracing::field::Empty
        );
        span.record("metric_name", "late");
        span.record("metric_label_status", 404);
        drop(span);
    });
    let metrics = capture.metrics();
    assert_eq!(
        metrics.total("late_total", &[KeyValue::new("status", 404), KeyValue::new("result", "ok")]),
        1.0
    );
}

#[test]
fn past_the_label_set_bound_new_sets_fold_into_one_overflow_series() {
    let (capture, clock) = (Capture::new(), ManualClock::new());
    with_metrics(&capture, layer(&capture, &clock).max_label_sets(2), || {
        for user in ["u1", "u2", "u3", "u4", "u1", "u5"] {
            tracing::info_span!("call", metric_name = "call", metric_label_user = user).in_scope(|| {});
        }
    });
    let metrics = capture.metrics();
    assert_eq!(metrics.total("call_total", &labels(&[("user", "u1")])), 2.0, "known sets keep their series");
    assert_eq!(metrics.total("call_total", &labels(&[("user", "u2")])), 1.0);
    let overflow = [KeyValue::new("otel.metric.overflow", true), KeyValue::new("result", "ok")];
    assert_eq!(metrics.total("call_total", &overflow), 3.0, "u3, u4 and u5");
    assert_eq!(metrics.histogram_count("call_duration_seconds", &overflow), 3);
    assert_eq!(metrics.points("call_total").len(), 3);
    assert_eq!(metrics.total("call_total", &[]), 6.0, "totals stay right");
}

#[test]
fn past_the_metric_bound_new_names_are_not_recorded() {
    let (capture, clock) = (Capture::new(), ManualClock::new());
    with_metrics(&capture, layer(&capture, &clock).max_metrics(1), || {
        tracing::info_span!("a", metric_name = "first").in_scope(|| {});
        tracing::info_span!("b", metric_name = "second").in_scope(|| {});
        tracing::info_span!("a", metric_name = "first").in_scope(|| {});
    });
    let metrics = capture.metrics();
    assert_eq!(metrics.total("first_total", &[]), 2.0);
    assert!(!metrics.names().contains(&"second_total".to_owned()), "{:?}", metrics.names());
}

#[test]
fn spans_are_counted_whether_or_not_their_trace_is_sampled() {
    let (capture, clock) = (Capture::with_sampler(Sampler::AlwaysOff), ManualClock::new());
    with_metrics(&capture, layer(&capture, &clock), || {
        tracing::info_span!("handle", metric_name = "unsampled").in_scope(|| {});
    });
    assert!(capture.spans().is_empty());
    assert_eq!(capture.metrics().total("unsampled_total", &[]), 1.0);
}

#[test]
fn spans_without_a_metric_name_record_nothing() {
    let (capture, clock) = (Capture::new(), ManualClock::new());
    with_metrics(&capture, layer(&capture, &clock), || {
        tracing::info_span!("plain", metric_label_route = "/").in_scope(|| tracing::error!("boom"));
    });
    assert!(capture.metrics().names().is_empty(), "{:?}", capture.metrics().names());
}
