//! Time per request: throughline's server layer against the peers.
//!
//! `cargo bench -p throughline-tower --all-features --bench server`

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "cases.rs"]
mod cases;

fn server(c: &mut Criterion) {
    for mut case in cases::cases() {
        let name = format!("{}/{}", case.implementation, case.sampling);
        c.bench_function(&name, |b| b.iter(&mut case.run));
    }
}

criterion_group!(benches, server);
criterion_main!(benches);
