//! Instructions per call, counted by `valgrind --tool=callgrind`, on the
//! cases of the `reqwest` benchmark. Unlike timings, the counts do not move
//! when the machine is busy.
//!
//! `cargo bench -p throughline-reqwest --all-features --bench instructions`
//!
//! The binary runs itself under callgrind twice per case, with 0 and with
//! `RUNS` calls after one warm-up call (which opens the connection, so that
//! it is in both runs and cancels out), and reports the difference divided
//! by `RUNS`. Callgrind counts the user-space instructions of every thread,
//! the in-process server's included, and none of the kernel's: the server's
//! share is the same in every case, so the column that compares the
//! middlewares is the one added over bare.

use std::process::Command;

mod cases;

const RUNS: u64 = 500;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Child mode: `instructions <case index> <calls>`.
    if let [_, index, iterations] = args.as_slice()
        && let (Ok(index), Ok(iterations)) = (index.parse::<usize>(), iterations.parse::<u64>())
    {
        let mut case = cases::cases().swap_remove(index);
        (case.run)();
        for _ in 0..iterations {
            (case.run)();
        }
        return;
    }
    if !cases::benchmarking() {
        return; // `cargo test --benches`: nothing to count
    }
    let exe = std::env::current_exe().expect("the benchmark's own path");
    println!("| implementation | instructions per call | added over bare |");
    println!("|---|---:|---:|");
    let mut bare = None;
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
                let per_call = (total - base) / RUNS;
                // The first case is the bare client.
                let added = match bare {
                    None => {
                        bare = Some(per_call);
                        "-".to_owned()
                    }
                    Some(bare) => (per_call as i64 - bare as i64).to_string(),
                };
                println!("| {} | {per_call} | {added} |", case.name);
            }
            _ => {
                eprintln!("valgrind is needed to count instructions (apt-get install valgrind)");
                return;
            }
        }
    }
}
