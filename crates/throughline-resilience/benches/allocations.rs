//! Heap allocations per call, on the cases of the `resilience` benchmark.
//!
//! `cargo bench -p throughline-resilience --bench allocations`
//!
//! A binary of its own, because counting replaces the global allocator and
//! would add its own cost to the timings.

#[path = "cases.rs"]
mod cases;

fn main() {
    let runs = if throughline_bench_support::benchmarking() { 1000 } else { 1 };
    let runtime = cases::runtime();
    let _context = runtime.enter();
    println!("| operation | implementation | allocations per call |");
    println!("|---|---|---|");
    for case in cases::cases() {
        let mut run = (case.make)();
        run(); // lazily initialised state is not the call's cost
        let info = allocation_counter::measure(|| {
            for _ in 0..runs {
                run();
            }
        });
        let per_call = info.count_total as f64 / runs as f64;
        println!("| {} | {} | {per_call} |", case.operation, case.implementation);
    }
}
