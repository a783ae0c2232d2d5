//! Time per call of a GET through reqwest-middleware to a local server:
//! bare, with throughline's `TracingMiddleware`, with reqwest-tracing's.
//!
//! `cargo bench -p throughline-reqwest --all-features --bench reqwest -- --warm-up-time 1 --measurement-time 3`

mod cases;

use criterion::{Criterion, criterion_group, criterion_main};

fn per_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("reqwest client call");
    for mut case in cases::cases() {
        group.bench_function(case.name, |b| b.iter(&mut case.run));
    }
    group.finish();
}

criterion_group!(benches, per_call);
criterion_main!(benches);
