//! Instructions per unary call, counted by `valgrind --tool=callgrind`, on
//! the cases of the `client` benchmark. Unlike timings, the counts do not
//! move when the machine is busy.
//!
//! `cargo bench -p throughline-tonic --bench instructions`
//!
//! The binary runs itself under callgrind twice per case, with 0 and with
//! `RUNS` calls after one warm-up call (in both runs, so that it cancels
//! out), and reports the difference divided by `RUNS`. Callgrind counts the
//! user-space instructions of the client and of the in-process server, and
//! none of the kernel's: the server's share is the same in every case, so
//! the column that compares the layers is the one added over bare.

use throughline_bench_support::callgrind;

#[path = "cases.rs"]
mod cases;

const RUNS: u64 = 500;

fn main() {
    // Child mode: run one case as `callgrind::per_iteration` asked.
    if let Some((index, iterations)) = callgrind::child() {
        let mut bench = cases::Bench::new();
        let case = &mut bench.cases[index];
        (case.run)();
        for _ in 0..iterations {
            (case.run)();
        }
        return;
    }
    if !throughline_bench_support::benchmarking() {
        return; // `cargo test --benches`: nothing to count
    }
    println!("| implementation | sampling | instructions per call | added over bare |");
    println!("|---|---|---:|---:|");
    let bench = cases::Bench::new();
    let mut bare = None;
    for (index, case) in bench.cases.iter().enumerate() {
        let Some(per_call) = callgrind::per_iteration(index, RUNS) else {
            eprintln!("{}", callgrind::MISSING);
            return;
        };
        // The first case is the bare channel.
        let added = match bare {
            None => {
                bare = Some(per_call);
                "-".to_owned()
            }
            Some(bare) => (per_call as i64 - bare as i64).to_string(),
        };
        println!("| {} | {} | {per_call} | {added} |", case.implementation, case.sampling);
    }
}
