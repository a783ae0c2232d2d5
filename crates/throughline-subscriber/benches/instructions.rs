//! Instructions per operation, counted by `valgrind --tool=callgrind`, on the
//! cases of the `subscriber` benchmark. Unlike timings, the counts do not
//! move when the machine is busy.
//!
//! `cargo bench -p throughline-subscriber --bench instructions`
//!
//! The binary runs itself under callgrind twice per case, with 0 and with
//! `RUNS` iterations, and reports the difference divided by `RUNS`.

use std::process::Command;

#[path = "cases.rs"]
mod cases;

const RUNS: u64 = 10_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Child mode: `instructions <case index> <iterations>`.
    if let [_, index, iterations] = args.as_slice()
        && let (Ok(index), Ok(iterations)) = (index.parse::<usize>(), iterations.parse::<u64>())
    {
        let case = cases::cases().swap_remove(index);
        (case.within)(&mut |run| {
            run();
            for _ in 0..iterations {
                run();
            }
        });
        return;
    }
    if !cases::benchmarking() {
        return; // `cargo test --benches`: nothing to count
    }
    let exe = std::env::current_exe().expect("the benchmark's own path");
    println!("| operation | implementation | instructions per operation |");
    println!("|---|---|---|");
    for (index, case) in cases::cases().iter().enumerate() {
        let count = |iterations: u64| -> Option<u64> {
            let output = Command::new("valgrind")
                .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
                .arg(&exe)
                .args([index.to_string(), iterations.to_string()])
                .output()
                .ok()?;
            let stderr = String::from_utf8_lossy(&output.stderr);
            let line = stderr.lines().find(|l| l.contains("Collected"))?;
            line.rsplit(' ').next()?.replace(',', "").parse().ok()
        };
        match (count(0), count(RUNS)) {
            (Some(base), Some(total)) => {
                println!("| {} | {} | {} |", case.operation, case.implementation, (total - base) / RUNS)
            }
            _ => {
                eprintln!("valgrind is needed to count instructions (apt-get install valgrind)");
                return;
            }
        }
    }
}
