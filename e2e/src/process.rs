//! A service binary run as a child process: started with its environment,
//! ready once it prints its address, stopped by process id, and killed when
//! dropped, so a failed assertion never leaves it running.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running service.
#[derive(Debug)]
pub struct Service {
    name: String,
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Service {
    /// Starts `binary` (a sibling of this executable) with `env`, its standard
    /// output copied to `<log_dir>/<name>.log` and its standard error to
    /// `<name>.stderr.log`, and waits until it prints `listening on
    /// http://ADDR`. The variables that configure the services (`OTEL_*`,
    /// `RUST_LOG`, `THROUGHLINE_*`, `ORDERS_*`, `PAYMENTS_*`, `INVENTORY_*`)
    /// are not inherited: a run is configured by `env` alone.
    pub fn start(name: &str, binary: &str, env: &[(&str, String)], log_dir: &Path) -> Result<Self, String> {
        Self::start_with_args(name, binary, env, &[], log_dir)
    }

    /// As [`start`](Self::start), with command-line arguments.
    pub fn start_with_args(
        name: &str,
        binary: &str,
        env: &[(&str, String)],
        args: &[String],
        log_dir: &Path,
    ) -> Result<Self, String> {
        let path = binary_path(binary)?;
        let stderr = log_dir.join(format!("{name}.stderr.log"));
        let stderr = File::create(&stderr).map_err(|e| format!("{}: {e}", stderr.display()))?;
        let mut command = Command::new(&path);
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if CONFIGURATION.iter().any(|prefix| key.starts_with(prefix)) {
                command.env_remove(&*key);
            }
        }
        let mut child = command
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", path.display()))?;
        let log = log_dir.join(format!("{name}.log"));
        let mut file = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (ready, address) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = ready.send(addr.trim().to_owned());
                }
                let _ = writeln!(file, "{line}");
            }
        });
        let mut service = Self { name: name.to_owned(), child, addr: ([127, 0, 0, 1], 0).into(), log };
        let addr = match address.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!("{name} did not print its address within 30 s"));
            }
            // Its standard output closed: it exited before listening.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = service.wait(Duration::from_secs(5))?;
                return Err(format!("{name} exited before listening ({status}); see {name}.stderr.log"));
            }
        };
        service.addr = addr.parse().map_err(|e| format!("{name} printed a bad address {addr:?}: {e}"))?;
        Ok(service)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Another address it printed before its own, as `<label> listening on
    /// http://ADDR` (payments' admin listener).
    pub fn printed_address(&self, label: &str) -> Option<SocketAddr> {
        let prefix = format!("{label} listening on http://");
        self.log_lines().iter().find_map(|line| line.strip_prefix(&prefix)?.trim().parse().ok())
    }

    /// The lines it wrote to standard output so far.
    pub fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// Sends SIGTERM, as an orchestrator does.
    pub fn terminate(&self) -> Result<(), String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .map_err(|e| format!("kill: {e}"))?;
        status.success().then_some(()).ok_or_else(|| format!("kill -TERM {} failed", self.pid()))
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                return Err(format!("{} did not exit within {timeout:?}", self.name));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The prefixes of the variables a service reads its configuration from.
const CONFIGURATION: [&str; 7] =
    ["OTEL_", "RUST_LOG", "THROUGHLINE_", "ORDERS_", "PAYMENTS_", "INVENTORY_", "PROMETHEUS"];

/// A binary built into the same directory as this one.
fn binary_path(name: &str) -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = me.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{} is not built: run `cargo build -p {name}` (cargo xtask does)", path.display()))
    }
}
