//! Instructions per span handed to the export pipeline: a span ended through
//! the tracer provider `Pipeline` builds, up to its batch processor's queue,
//! counted by `valgrind --tool=callgrind`. The schedule delay is an hour and
//! the queue large, so no export runs while counting: the figure is the
//! request path's share, which is what a service pays per span. The console
//! exporter stands for OTLP's: the processor and queue are the same, and it
//! does nothing in the background that callgrind would count (a gRPC channel
//! to an absent collector keeps trying to connect).
//!
//! `cargo bench -p throughline-pipeline --bench export`

use std::collections::HashMap;

use opentelemetry::trace::{Tracer, TracerProvider};
use throughline_bench_support::callgrind;

const RUNS: u64 = 2_000;

fn main() {
    let vars = HashMap::from([
        ("OTEL_SERVICE_NAME", "bench"),
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "none"),
        ("OTEL_BSP_SCHEDULE_DELAY", "3600000"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100000"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100000"),
    ]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _entered = runtime.enter();
    let telemetry = throughline_pipeline::Pipeline::from_vars(&vars).unwrap().build().unwrap();
    let tracer = telemetry.tracer_provider().unwrap().tracer("bench");
    let end_one = || tracer.in_span("GET /users/{id}", |_cx| {});
    if let Some((_, iterations)) = callgrind::child() {
        end_one();
        for _ in 0..iterations {
            end_one();
        }
        return;
    }
    if !throughline_bench_support::benchmarking() {
        return; // `cargo test --benches`: nothing to count
    }
    match callgrind::per_iteration(0, RUNS) {
        Some(per_span) => println!("| a span ended and handed to the batch processor | {per_span} |"),
        None => eprintln!("{}", callgrind::MISSING),
    }
}
