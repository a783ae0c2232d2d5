//! Time per operation: throughline's formatters against tracing-subscriber's
//! JSON formatter, and the cost of span-derived metrics.
//!
//! `cargo bench -p throughline-subscriber --bench subscriber`

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "cases.rs"]
mod cases;

fn subscriber(c: &mut Criterion) {
    for case in cases::cases() {
        let name = format!("{}/{}", case.operation, case.implementation);
        (case.within)(&mut |run| {
            c.bench_function(&name, |b| b.iter(&mut *run));
        });
    }
}

criterion_group!(benches, subscriber);
criterion_main!(benches);
