//! The official W3C Trace Context test suite, unmodified, against the
//! conformance service (`examples/w3c-conformance`).
//!
//! The suite is the `test/` folder of w3c/trace-context; CI's copy is in
//! `../shared/w3c-trace-context` beside the clone, and `W3C_TRACE_CONTEXT`
//! points elsewhere. It needs python3 with aiohttp, which this step keeps in
//! a virtual environment outside the clone, made on first use and reused.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Result, cache_dir, root};

/// The level of the specification and of strictness the suite is run at.
const SPEC_LEVEL: &str = "2";
const STRICT_LEVEL: &str = "2";

/// Runs the suite against the service binary in `bin`, and fails unless
/// every case passed.
pub(crate) fn official_suite(bin: &Path) -> Result {
    let suite = suite_dir()?;
    let python = venv_with_aiohttp()?;
    let service_port = free_port()?;
    let harness_port = free_port()?;
    let mut service = Command::new(bin.join("w3c-conformance"))
        .arg(format!("127.0.0.1:{service_port}"))
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("w3c-conformance: {e}"))?;
    wait_for_port(service_port);
    println!("==> python test.py (SPEC_LEVEL={SPEC_LEVEL} STRICT_LEVEL={STRICT_LEVEL})");
    let output = Command::new(&python)
        .arg("test.py")
        .arg(format!("http://127.0.0.1:{service_port}/test"))
        .current_dir(&suite)
        .env("SPEC_LEVEL", SPEC_LEVEL)
        .env("STRICT_LEVEL", STRICT_LEVEL)
        .env("HARNESS_PORT", harness_port.to_string())
        .output();
    let _ = service.kill();
    let _ = service.wait();
    let output = output.map_err(|e| format!("{}: {e}", python.display()))?;
    // unittest reports on stderr: "Ran N tests", then "OK" or "FAILED (failures=F, errors=E)".
    let report = String::from_utf8_lossy(&output.stderr);
    let ran = count_after(&report, "Ran ");
    let failed = count_after(&report, "failures=") + count_after(&report, "errors=");
    let skipped = count_after(&report, "skipped=");
    if !output.status.success() || ran == 0 || failed > 0 || skipped > 0 {
        eprintln!("{}{report}", String::from_utf8_lossy(&output.stdout));
        return Err(format!(
            "the official W3C Trace Context suite: {} passed, {failed} failed, {skipped} skipped",
            ran.saturating_sub(failed + skipped)
        ));
    }
    println!("w3c-trace-context: {ran} passed, 0 failed");
    Ok(())
}

fn suite_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("W3C_TRACE_CONTEXT") {
        Some(dir) => PathBuf::from(dir),
        None => root().join("../shared/w3c-trace-context"),
    };
    let test = dir.join("test");
    if test.join("test.py").is_file() {
        Ok(test)
    } else {
        Err(format!(
            "the official W3C Trace Context suite is not at {}: clone w3c/trace-context and set \
             W3C_TRACE_CONTEXT to it",
            dir.display()
        ))
    }
}

/// A python with aiohttp: a venv under the cache directory, made once.
fn venv_with_aiohttp() -> Result<PathBuf> {
    let venv = cache_dir().join("w3c-venv");
    let python = venv.join("bin/python");
    let has_aiohttp = |python: &Path| {
        Command::new(python).args(["-c", "import aiohttp"]).output().is_ok_and(|o| o.status.success())
    };
    if has_aiohttp(&python) {
        return Ok(python);
    }
    let system = Command::new("python3").arg("--version").output();
    if !system.is_ok_and(|o| o.status.success()) {
        return Err("python3 is needed to run the official W3C Trace Context suite: install it \
                    (Debian: apt-get install python3 python3-venv)"
            .into());
    }
    crate::run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    crate::run(Command::new(&python).args(["-m", "pip", "install", "--quiet", "aiohttp"]))?;
    Ok(python)
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Waits, at most five seconds, for the service to listen.
fn wait_for_port(port: u16) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The number after the first `label` in `report`, or 0.
fn count_after(report: &str, label: &str) -> usize {
    report
        .split(label)
        .nth(1)
        .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect::<String>())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0)
}
