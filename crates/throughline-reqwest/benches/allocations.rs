//! Heap allocations per call on the client's thread, on the cases of the
//! `reqwest` benchmark.
//!
//! `cargo bench -p throughline-reqwest --all-features --bench allocations`
//!
//! A binary of its own, because counting replaces the global allocator and
//! would add its own cost to the timings.

mod cases;

fn main() {
    let runs = if throughline_bench_support::benchmarking() { 1000 } else { 1 };
    println!("| implementation | allocations per call |");
    println!("|---|---|");
    for mut case in cases::cases() {
        (case.run)(); // the connection and lazily initialised state are not the call's cost
        let info = allocation_counter::measure(|| {
            for _ in 0..runs {
                (case.run)();
            }
        });
        println!("| {} | {:.1} |", case.name, info.count_total as f64 / runs as f64);
    }
}
