//! Heap allocations per unary call, on the cases of the `client` benchmark
//! (the server's side included: it is the same in every case).
//!
//! `cargo bench -p throughline-tonic --bench allocations`
//!
//! A binary of its own, because counting replaces the global allocator and
//! would add its own cost to the timings.

#[path = "cases.rs"]
mod cases;

fn main() {
    let runs = if throughline_bench_support::benchmarking() { 1000 } else { 1 };
    let mut bench = cases::Bench::new();
    println!("| implementation | sampling | allocations per call | spans exported per call |");
    println!("|---|---|---:|---:|");
    for case in &mut bench.cases {
        // Warm: the connection's buffers and lazily initialised state are not the call's cost.
        for _ in 0..10 {
            (case.run)();
        }
        let before = bench.exported.load(std::sync::atomic::Ordering::Relaxed);
        let info = allocation_counter::measure(|| {
            for _ in 0..runs {
                (case.run)();
            }
        });
        let per_call = info.count_total as f64 / runs as f64;
        let spans = (bench.exported.load(std::sync::atomic::Ordering::Relaxed) - before) as f64 / runs as f64;
        println!("| {} | {} | {per_call:.1} | {spans:.2} |", case.implementation, case.sampling);
    }
}
