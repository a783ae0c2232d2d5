//! Project chores, as `cargo xtask <command>` (the alias is in `.cargo/config.toml`).
//!
//! - `ci`: everything CI checks, stopping at the first failure; installs
//!   what a fresh machine lacks where it can (Debian's `prometheus` and
//!   `chromium` as root, a python venv for the W3C suite).
//! - `demo [--serve]`: the demonstration the README opens with: the order
//!   system running, with faults, and what its telemetry shows, collected by
//!   throughline-viewer (`--serve` keeps its UI up until Ctrl-C).
//! - `e2e`: the end-to-end test of the order system, with a real Prometheus
//!   and headless Chromium on the trace viewer.
//! - `bench`: every benchmark; the tables go into `docs/benchmarks.md`.
//! - `fuzz [SECONDS]`: every fuzz target for a bounded time (default 60 s each).
//! - `w3c`: the official W3C Trace Context suite against the conformance service.
//! - `root`: prints the workspace this xtask works on.
//!
//! Only the standard library, so that the chores build in seconds.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

mod install;
mod w3c;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("demo") => demo(&args[1..]),
        Some("e2e") => build_system().and_then(|bin| e2e(&bin)),
        Some("bench") => bench(&args[1..]),
        Some("fuzz") => fuzz(args.get(1).map(String::as_str)),
        Some("w3c") => build_system().and_then(|bin| w3c::official_suite(&bin)),
        Some("root") => {
            println!("{}", root().display());
            Ok(())
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | demo [--serve] | e2e | w3c | bench [criterion args] | fuzz [seconds] | root>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

/// The checks of CI, in order of cost, so a failure shows early.
fn ci() -> Result {
    let started = Instant::now();
    // What the last steps need, checked first so a fresh machine fails early.
    install::debian_package("prometheus", "prometheus")?;
    install::debian_package("chromium", "chromium")?;
    cargo(&["fmt", "--all", "--check"], &[])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"], &[])?;
    // The facade's features build alone: a user pays only for what they turn on.
    for features in [
        "",
        "init",
        "propagation",
        "pipeline",
        "otlp-grpc",
        "otlp-http",
        "tower",
        "subscriber",
        "resilience",
        "reqwest",
        "tonic",
        "tokio-console",
        "viewer",
    ] {
        cargo(&["check", "--package", "throughline", "--no-default-features", "--features", features], &[])?;
    }
    // Libraries, binaries, tests, examples, and every benchmark run once as a smoke test.
    cargo(&["test", "--workspace", "--all-features", "--all-targets"], &[])?;
    cargo(&["test", "--workspace", "--all-features", "--doc"], &[])?;
    cargo(&["doc", "--workspace", "--no-deps", "--all-features"], &[("RUSTDOCFLAGS", "-D warnings")])?;
    let published = published_crates()?;
    let packages = published.iter().flat_map(|name| ["--package", name.as_str()]);
    // The libraries' tests pass with default features too, as users first get them.
    cargo(&["test", "--lib", "--tests"].into_iter().chain(packages.clone()).collect::<Vec<_>>(), &[])?;
    // Every published crate packages: its manifest is complete and its files are in it.
    let package = ["package", "--no-verify", "--allow-dirty", "--quiet"].into_iter().chain(packages);
    cargo(&package.collect::<Vec<_>>(), &[])?;
    let bin = build_system()?;
    w3c::official_suite(&bin)?;
    e2e(&bin)?;
    println!("xtask ci: all checks passed in {:.0?}", started.elapsed());
    Ok(())
}

/// Builds the order system's services and the programs that drive them into
/// one directory, where the drivers find the services, and returns it. The
/// feature set is `ci`'s, so that nothing is compiled twice.
fn build_system() -> Result<PathBuf> {
    cargo(&["build", "--quiet", "--workspace", "--exclude", "xtask", "--all-features", "--bins"], &[])?;
    let target = match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => env::current_dir().map_err(|e| e.to_string())?.join(dir),
        None => root().join("target"),
    };
    Ok(target.join("debug"))
}

/// `--serve` keeps the trace viewer serving after the demo, until Ctrl-C.
fn demo(extra: &[String]) -> Result {
    let bin = build_system()?;
    run(Command::new(bin.join("demo")).args(extra).current_dir(root()))
}

/// Needs `prometheus` (or `PROMETHEUS`) and `chromium` (or `CHROMIUM`) on
/// the PATH: Debian's packages, which `.ci/run` installs.
fn e2e(bin: &Path) -> Result {
    run(Command::new(bin.join("e2e")).current_dir(root()))
}

fn bench(extra: &[String]) -> Result {
    let mut args = vec!["bench", "--workspace", "--all-features"];
    if !extra.is_empty() {
        args.push("--");
        args.extend(extra.iter().map(String::as_str));
    }
    cargo(&args, &[])
}

/// Runs each cargo-fuzz target of each crate for a bounded time. cargo-fuzz
/// needs nightly features; `RUSTC_BOOTSTRAP` lets the stable toolchain
/// provide them, as no other toolchain can be assumed.
fn fuzz(seconds: Option<&str>) -> Result {
    let seconds = seconds.unwrap_or("60");
    seconds.parse::<u32>().map_err(|_| format!("fuzz: {seconds:?} is not a number of seconds"))?;
    if !Command::new("cargo").args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success()) {
        cargo(&["install", "cargo-fuzz", "--locked"], &[])?;
    }
    for dir in fuzz_dirs()? {
        let output = Command::new("cargo")
            .args(["fuzz", "list"])
            .current_dir(dir.parent().unwrap_or(&dir))
            .output()
            .map_err(|e| format!("cargo fuzz list: {e}"))?;
        for target in String::from_utf8_lossy(&output.stdout).lines() {
            let max_time = format!("-max_total_time={seconds}");
            run(Command::new("cargo")
                .args(["fuzz", "run", target, "--", &max_time])
                .current_dir(dir.parent().unwrap_or(&dir))
                .env("RUSTC_BOOTSTRAP", "1"))?;
        }
    }
    Ok(())
}

/// The crates under `crates/` that are published: all but `publish = false`.
fn published_crates() -> Result<Vec<String>> {
    let crates = root().join("crates");
    let entries = std::fs::read_dir(&crates).map_err(|e| format!("{}: {e}", crates.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(|entry| {
            let dir = entry.ok()?.path();
            let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
            let published = !manifest.lines().any(|line| line.trim() == "publish = false");
            published.then(|| dir.file_name()?.to_str().map(str::to_owned)).flatten()
        })
        .collect();
    names.sort();
    Ok(names)
}

fn fuzz_dirs() -> Result<Vec<PathBuf>> {
    let crates = root().join("crates");
    let entries = std::fs::read_dir(&crates).map_err(|e| format!("{}: {e}", crates.display()))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path().join("fuzz")))
        .filter(|dir| dir.join("Cargo.toml").exists())
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn cargo(args: &[&str], envs: &[(&str, &str)]) -> Result {
    let mut command = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(args).current_dir(root());
    for (key, value) in envs {
        command.env(key, value);
    }
    run(&mut command)
}

fn run(command: &mut Command) -> Result {
    println!("==> {}", display(command));
    let status = command.status().map_err(|e| format!("{}: {e}", display(command)))?;
    if status.success() { Ok(()) } else { Err(format!("`{}` failed ({status})", display(command))) }
}

fn display(command: &Command) -> String {
    let program = Path::new(command.get_program());
    let program = program.file_name().unwrap_or(program.as_os_str()).to_string_lossy();
    let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    format!("{program} {}", args.join(" "))
}

/// The workspace root, found at run time: one clone's target directory may
/// serve another, and cargo does not rebuild xtask when only the clone's
/// path changes, so nothing fixed at compile time can name it. `cargo run`
/// tells the running process where xtask's manifest is; without it, the
/// nearest workspace manifest above the current directory.
fn root() -> PathBuf {
    if let Some(xtask) = env::var_os("CARGO_MANIFEST_DIR") {
        return Path::new(&xtask).parent().map(Path::to_path_buf).unwrap_or_default();
    }
    let here = env::current_dir().unwrap_or_default();
    here.ancestors()
        .find(|dir| std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|m| m.contains("[workspace]")))
        .unwrap_or(&here)
        .to_path_buf()
}

/// Where the chores keep what outlives a clone (the W3C suite's venv).
fn cache_dir() -> PathBuf {
    let base = env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(env::temp_dir);
    base.join("throughline")
}
