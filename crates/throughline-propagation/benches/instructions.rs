//! Instructions per operation, counted by `valgrind --tool=callgrind`, on the
//! cases of the `propagation` benchmark. Unlike timings, the counts do not
//! move when the machine is busy.
//!
//! `cargo bench -p throughline-propagation --all-features --bench instructions`
//!
//! The binary runs itself under callgrind twice per case, with 0 and with
//! `RUNS` iterations, and reports the difference divided by `RUNS`.

use throughline_bench_support::callgrind;

#[path = "cases.rs"]
mod cases;

const RUNS: u64 = 10_000;

fn main() {
    // Child mode: run one case as `callgrind::per_iteration` asked.
    if let Some((index, iterations)) = callgrind::child() {
        let mut case = cases::cases().swap_remove(index);
        (case.run)();
        for _ in 0..iterations {
            (case.run)();
        }
        return;
    }
    if !throughline_bench_support::benchmarking() {
        return; // `cargo test --benches`: nothing to count
    }
    println!("| operation | implementation | instructions per operation |");
    println!("|---|---|---|");
    for (index, case) in cases::cases().iter().enumerate() {
        let Some(per_call) = callgrind::per_iteration(index, RUNS) else {
            eprintln!("{}", callgrind::MISSING);
            return;
        };
        println!("| {} | {} | {} |", case.operation, case.implementation, per_call)
    }
}
