//! Two threads ending spans at once through tail sampling: the wall time of
//! 100,000 spans each (each its own trace), best of five runs, so that a
//! lock every span end takes shows as contention. Timings move with load:
//! run it on an idle machine.
//!
//! `cargo bench -p throughline-pipeline --bench tail_threads`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use opentelemetry::trace::{Tracer, TracerProvider};
use throughline_pipeline::{Pipeline, TailSampling};

const SPANS_PER_THREAD: usize = 100_000;

fn main() {
    if !throughline_bench_support::benchmarking() {
        return; // `cargo test --benches`: nothing to time
    }
    let vars = HashMap::from([
        ("OTEL_SERVICE_NAME", "bench"),
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "none"),
        ("OTEL_BSP_SCHEDULE_DELAY", "3600000"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "1000000"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1000000"),
    ]);
    for threads in [1, 2] {
        let mut best = Duration::MAX;
        for _ in 0..5 {
            // A sampler that keeps nothing: the figure is the sampler's own work.
            let telemetry = Pipeline::from_vars(&vars)
                .unwrap()
                .tail_sampling(TailSampling::default().sample_ratio(0.0))
                .build()
                .unwrap();
            let provider = telemetry.tracer_provider().unwrap().clone();
            let started = Instant::now();
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    let tracer = provider.tracer("bench");
                    scope.spawn(move || {
                        for _ in 0..SPANS_PER_THREAD {
                            tracer.in_span("GET /users/{id}", |_cx| {});
                        }
                    });
                }
            });
            best = best.min(started.elapsed());
        }
        let per_span = best.as_nanos() as f64 / (threads * SPANS_PER_THREAD) as f64;
        println!("| {threads} thread(s) | {best:.1?} | {per_span:.0} ns |");
    }
}
