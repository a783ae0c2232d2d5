//! Time per unary call over 127.0.0.1: a bare tonic channel, throughline's
//! `GrpcClientLayer`, and tonic-tracing-opentelemetry's `OtelGrpcLayer`.
//!
//! `cargo bench -p throughline-tonic --bench client -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "cases.rs"]
mod cases;

fn unary(c: &mut Criterion) {
    let mut bench = cases::Bench::new();
    let mut group = c.benchmark_group("unary call");
    for case in &mut bench.cases {
        group
            .bench_function(format!("{}, {}", case.implementation, case.sampling), |b| b.iter(&mut case.run));
    }
    group.finish();
}

criterion_group!(benches, unary);
criterion_main!(benches);
