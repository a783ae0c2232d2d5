//! Heap allocations per operation, on the cases of the `subscriber` benchmark.
//!
//! `cargo bench -p throughline-subscriber --bench allocations`
//!
//! A binary of its own, because counting replaces the global allocator and
//! would add its own cost to the timings.

#[path = "cases.rs"]
mod cases;

fn main() {
    let runs = if throughline_bench_support::benchmarking() { 1000 } else { 1 };
    println!("| operation | implementation | allocations per operation |");
    println!("|---|---|---|");
    for case in cases::cases() {
        (case.within)(&mut |run| {
            run(); // lazily initialised state is not the operation's cost
            let info = allocation_counter::measure(|| {
                for _ in 0..runs {
                    run();
                }
            });
            let per_op = info.count_total as f64 / runs as f64;
            println!("| {} | {} | {per_op} |", case.operation, case.implementation);
        });
    }
}
