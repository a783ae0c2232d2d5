//! Time per operation: throughline against the OpenTelemetry SDK.
//!
//! `cargo bench -p throughline-propagation --all-features --bench propagation`

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "cases.rs"]
mod cases;

fn propagation(c: &mut Criterion) {
    for mut case in cases::cases() {
        let name = format!("{}/{}", case.operation, case.implementation);
        c.bench_function(&name, |b| b.iter(&mut case.run));
    }
}

criterion_group!(benches, propagation);
criterion_main!(benches);
