//! Time per call on the success path: throughline against tower-resilience
//! and failsafe, on one thread and on two threads sharing the same state.
//!
//! `cargo bench -p throughline-resilience --bench resilience`

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "cases.rs"]
mod cases;

fn one_thread(c: &mut Criterion) {
    let runtime = cases::runtime();
    let _context = runtime.enter();
    for case in cases::cases() {
        let mut run = (case.make)();
        c.bench_function(&format!("{}/{}/1 thread", case.operation, case.implementation), |b| {
            b.iter(&mut run)
        });
    }
}

/// Two threads call through shared state at once; the figure is the time per
/// call on each thread (the slower of the two).
fn two_threads(c: &mut Criterion) {
    let runtime = cases::runtime();
    for case in cases::cases() {
        let handle = runtime.handle().clone();
        let runners: Vec<_> = (0..2).map(|_| (case.make)()).collect();
        let runners = Arc::new(std::sync::Mutex::new(runners));
        c.bench_function(&format!("{}/{}/2 threads", case.operation, case.implementation), |b| {
            b.iter_custom(|iterations| {
                let barrier = Arc::new(Barrier::new(2));
                let mut runners = runners.lock().unwrap();
                std::thread::scope(|scope| {
                    let threads: Vec<_> = runners
                        .iter_mut()
                        .map(|run| {
                            let (barrier, handle) = (barrier.clone(), handle.clone());
                            scope.spawn(move || {
                                let _context = handle.enter();
                                barrier.wait();
                                let started = Instant::now();
                                for _ in 0..iterations {
                                    run();
                                }
                                started.elapsed()
                            })
                        })
                        .collect();
                    threads.into_iter().map(|t| t.join().unwrap()).max().unwrap_or(Duration::ZERO)
                })
            })
        });
    }
}

criterion_group!(benches, one_thread, two_threads);
criterion_main!(benches);
