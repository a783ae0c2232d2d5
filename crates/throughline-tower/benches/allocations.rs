//! Heap allocations per request, on the cases of the `server` benchmark.
//!
//! `cargo bench -p throughline-tower --all-features --bench allocations`
//!
//! A binary of its own, because counting replaces the global allocator and
//! would add its own cost to the timings.

#[path = "cases.rs"]
mod cases;

fn main() {
    let runs = if throughline_bench_support::benchmarking() { 1000 } else { 1 };
    println!("| implementation | sampling | allocations per request | spans exported per request |");
    println!("|---|---|---|---|");
    for mut case in cases::cases() {
        (case.run)(); // lazily initialised state is not the request's cost
        let before = case.exported.load(std::sync::atomic::Ordering::Relaxed);
        let info = allocation_counter::measure(|| {
            for _ in 0..runs {
                (case.run)();
            }
        });
        let per_request = info.count_total as f64 / runs as f64;
        let spans = (case.exported.load(std::sync::atomic::Ordering::Relaxed) - before) as f64 / runs as f64;
        println!("| {} | {} | {per_request:.1} | {spans:.2} |", case.implementation, case.sampling);
    }
}
