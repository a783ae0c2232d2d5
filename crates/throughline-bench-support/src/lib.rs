//! What the benchmarks of throughline's crates share, so that each
//! `benches/instructions.rs` holds only its cases. Standard library only; a
//! development dependency, never published.
//!
//! An instruction count does not move when the machine is busy, as timings
//! do. A benchmark binary counts them by running itself under `valgrind
//! --tool=callgrind` twice per case, with 0 and with `n` iterations, and
//! dividing the difference by `n`, so that start-up and warm-up cancel out:
//!
//! ```no_run
//! use throughline_bench_support::{benchmarking, callgrind};
//!
//! let cases: Vec<(&str, fn())> = vec![("parse", || { std::hint::black_box("00-..."); })];
//! // Child mode: run one case as the parent asked.
//! if let Some((index, iterations)) = callgrind::child() {
//!     let run = cases[index].1;
//!     run(); // a warm-up, in both runs
//!     (0..iterations).for_each(|_| run());
//!     return;
//! }
//! if !benchmarking() {
//!     return; // `cargo test --benches`: nothing to count
//! }
//! for (index, (name, _)) in cases.iter().enumerate() {
//!     let Some(per_run) = callgrind::per_iteration(index, 1_000) else {
//!         return eprintln!("{}", callgrind::MISSING);
//!     };
//!     println!("| {name} | {per_run} |");
//! }
//! ```

/// Whether the binary runs as a benchmark (`cargo bench` passes `--bench`),
/// rather than once as a smoke test (`cargo test --benches`).
pub fn benchmarking() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// Instruction counts under callgrind.
pub mod callgrind {
    use std::process::Command;

    /// What to tell a user whose machine has no valgrind.
    pub const MISSING: &str = "valgrind is needed to count instructions (apt-get install valgrind)";

    /// When this process is the child [`per_iteration`] started: the case
    /// to run and how many times, from the command line `<index> <iterations>`.
    pub fn child() -> Option<(usize, u64)> {
        let args: Vec<String> = std::env::args().collect();
        match args.as_slice() {
            [_, index, iterations] => Some((index.parse().ok()?, iterations.parse().ok()?)),
            _ => None,
        }
    }

    /// The instructions one iteration of case `index` costs: this binary
    /// run under callgrind with 0 and with `iterations` iterations, the
    /// difference divided by `iterations`. `None` when valgrind cannot run.
    pub fn per_iteration(index: usize, iterations: u64) -> Option<u64> {
        let base = total(index, 0)?;
        let counted = total(index, iterations)?;
        Some(counted.saturating_sub(base) / iterations.max(1))
    }

    /// The instructions of a whole child run, from callgrind's `Collected` line.
    fn total(index: usize, iterations: u64) -> Option<u64> {
        let exe = std::env::current_exe().ok()?;
        let output = Command::new("valgrind")
            .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
            .arg(&exe)
            .args([index.to_string(), iterations.to_string()])
            .output()
            .ok()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let line = stderr.lines().find(|line| line.contains("Collected"))?;
        line.rsplit(' ').next()?.replace(',', "").parse().ok()
    }
}
