//! Tail sampling keeps every error trace and the slow ones, and the base share
//! of the rest, deciding whole local traces.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use opentelemetry::Context;
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use throughline_pipeline::{Pipeline, TailSampling, Telemetry};
use throughline_testing::OtlpReceiver;

const WAIT: Duration = Duration::from_secs(10);

fn pipeline(receiver: &OtlpReceiver, policy: TailSampling) -> Telemetry {
    let endpoint = receiver.grpc_endpoint();
    let vars = HashMap::from([
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "none"),
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
    ]);
    Pipeline::from_vars(&vars).unwrap().tail_sampling(policy).build().unwrap()
}

/// A local trace of a root and two children; `error` fails a child, `took`
/// is how long the root lasts.
fn trace(telemetry: &Telemetry, name: &str, error: bool, took: Duration) {
    let tracer = telemetry.tracer_provider().unwrap().tracer("tail-test");
    let start = SystemTime::now();
    let root = tracer
        .span_builder(name.to_owned())
        .with_kind(SpanKind::Server)
        .with_start_time(start)
        .start(&tracer);
    let cx = Context::current_with_span(root);
    for i in 0..2 {
        let mut child = tracer.start_with_context(format!("{name} child {i}"), &cx);
        if error && i == 1 {
            child.set_status(Status::error("boom"));
        }
        child.end();
    }
    cx.span().end_with_timestamp(start + took);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_errors_and_slow_traces_and_a_share_of_the_rest() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let policy = TailSampling::default().keep_slower_than(Duration::from_millis(500)).sample_ratio(0.2);
    let telemetry = pipeline(&receiver, policy);
    for i in 0..20 {
        trace(&telemetry, &format!("failed {i}"), true, Duration::from_millis(5));
        trace(&telemetry, &format!("slow {i}"), false, Duration::from_secs(1));
    }
    for i in 0..1000 {
        trace(&telemetry, &format!("healthy {i}"), false, Duration::from_millis(5));
    }
    let stats = telemetry.stats();
    telemetry.shutdown(WAIT).await.unwrap();

    let spans = receiver.spans();
    let roots: HashSet<&str> =
        spans.iter().filter(|s| s.parent_span_id().is_none()).map(|s| s.name()).collect();
    for i in 0..20 {
        assert!(roots.contains(format!("failed {i}").as_str()), "every failed trace is kept");
        assert!(roots.contains(format!("slow {i}").as_str()), "every slow trace is kept");
    }
    let healthy = roots.iter().filter(|n| n.starts_with("healthy")).count();
    assert!((120..=280).contains(&healthy), "about 20% of 1000 healthy traces kept: {healthy}");
    assert_eq!(stats.traces_kept as usize, 40 + healthy);
    assert_eq!(stats.traces_dropped as usize, 1000 - healthy);

    // Traces are kept whole: every kept root arrives with its two children.
    let mut per_trace: HashMap<String, usize> = HashMap::new();
    for span in &spans {
        *per_trace.entry(span.trace_id()).or_default() += 1;
    }
    assert!(per_trace.values().all(|&n| n == 3), "whole traces only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_when_roots_never_end() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let policy = TailSampling::default().sample_ratio(0.0).max_traces(10).max_spans_per_trace(5);
    let telemetry = pipeline(&receiver, policy);
    let tracer = telemetry.tracer_provider().unwrap().tracer("tail-test");
    // 100 traces whose roots never end, each with many finished children; one errors.
    for t in 0..100 {
        let root = tracer.start(format!("open {t}"));
        let cx = Context::current_with_span(root);
        for c in 0..20 {
            let mut child = tracer.start_with_context(format!("open {t} child {c}"), &cx);
            if t == 99 && c == 0 {
                child.set_status(Status::error("boom"));
            }
            child.end();
        }
        std::mem::forget(cx); // the root never ends
    }
    let stats = telemetry.stats();
    assert_eq!(stats.traces_kept + stats.traces_dropped, 90, "the oldest are decided to make room for 10");
    telemetry.shutdown(WAIT).await.unwrap();
    let spans = receiver.spans();
    assert_eq!(spans.len(), 5, "only the error trace is kept, capped at 5 spans");
    assert!(spans.iter().all(|s| s.name().starts_with("open 99 child")));
}

/// Traces whose roots stay open, each with `children` finished children
/// carrying `payload` bytes.
fn open_traces(telemetry: &Telemetry, traces: usize, children: usize, payload: usize) {
    let tracer = telemetry.tracer_provider().unwrap().tracer("tail-test");
    for t in 0..traces {
        let cx = Context::current_with_span(tracer.start(format!("open {t}")));
        for c in 0..children {
            let mut child = tracer.start_with_context(format!("open {t} child {c}"), &cx);
            child.set_attribute(opentelemetry::KeyValue::new("payload", "x".repeat(payload)));
            child.end();
        }
        std::mem::forget(cx);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_total_span_bound_decides_the_oldest_traces_early() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let telemetry = pipeline(&receiver, TailSampling::default().sample_ratio(1.0).max_spans(50));
    // 10 traces of 10 spans: 100 spans for room for 50. Each trace past the
    // fifth makes the oldest one decided.
    open_traces(&telemetry, 10, 10, 0);
    let stats = telemetry.stats();
    assert_eq!(stats.traces_kept + stats.traces_dropped, 5, "{stats:?}");
    telemetry.shutdown(WAIT).await.unwrap();
    assert_eq!(receiver.spans().len(), 100, "decided early, nothing lost: kept by the ratio");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_byte_bound_decides_the_oldest_traces_early() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let telemetry = pipeline(&receiver, TailSampling::default().sample_ratio(0.0).max_bytes(50_000));
    // 10 traces of one 10 kB span: twice the bytes allowed.
    open_traces(&telemetry, 10, 1, 10_000);
    let decided = telemetry.stats().traces_dropped;
    assert!((5..=6).contains(&decided), "about half decided early: {decided}");
    telemetry.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_threads_ending_spans_at_once_lose_no_span() {
    let receiver = OtlpReceiver::start().await.unwrap();
    // Every trace kept, and room for fewer spans than two threads have
    // waiting, so that traces are decided early while the other thread works.
    let telemetry = pipeline(&receiver, TailSampling::default().sample_ratio(1.0).max_spans(4));
    std::thread::scope(|scope| {
        for thread in 0..2 {
            let telemetry = &telemetry;
            scope.spawn(move || {
                for i in 0..300 {
                    trace(
                        telemetry,
                        &format!("thread {thread} trace {i}"),
                        i % 7 == 0,
                        Duration::from_millis(1),
                    );
                }
            });
        }
    });
    let stats = telemetry.stats();
    telemetry.shutdown(WAIT).await.unwrap();
    assert_eq!(receiver.spans().len(), 2 * 300 * 3, "each span exported once: {stats:?}");
    assert!(stats.traces_kept >= 600, "{stats:?}");
}
