//! A real Prometheus server (the `prometheus` binary, Debian's package),
//! scraping the services every second, and PromQL through its HTTP API.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// A running Prometheus, killed when dropped.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    url: String,
    http: reqwest::Client,
}

/// One series of a query's result.
#[derive(Clone, Debug, Deserialize)]
pub struct Sample {
    /// The series' labels, `__name__` included.
    pub metric: std::collections::BTreeMap<String, String>,
    /// The timestamp and the value, as Prometheus sends them.
    value: (f64, String),
}

impl Sample {
    /// The value.
    pub fn value(&self) -> f64 {
        self.value.1.parse().unwrap_or(f64::NAN)
    }

    /// A label's value, or "".
    pub fn label(&self, name: &str) -> &str {
        self.metric.get(name).map_or("", String::as_str)
    }
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    result: Vec<Sample>,
}

impl Prometheus {
    /// Starts Prometheus on 127.0.0.1 with its configuration and data in
    /// `dir`, scraping `/metrics` of each `(job, address)`.
    pub async fn start(targets: &[(&str, SocketAddr)], dir: &Path) -> Result<Self, String> {
        let binary = std::env::var("PROMETHEUS").unwrap_or_else(|_| "prometheus".into());
        let mut config =
            String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
        for (job, addr) in targets {
            config += &format!("  - job_name: {job}\n    static_configs:\n      - targets: ['{addr}']\n");
        }
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={listen}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| {
                format!("starting {binary} (install Debian's `prometheus` package; .ci/run does): {e}")
            })?;
        let mut prometheus = Self { child, url: format!("http://{listen}"), http: reqwest::Client::new() };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = prometheus.child.try_wait() {
                return Err(format!(
                    "Prometheus exited ({status}); see {}",
                    dir.join("prometheus.log").display()
                ));
            }
            let ready = prometheus.http.get(format!("{}/-/ready", prometheus.url)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(prometheus);
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!(
                    "Prometheus was not ready within 30 s; see {}",
                    dir.join("prometheus.log").display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs an instant PromQL query.
    pub async fn query(&self, promql: &str) -> Result<Vec<Sample>, String> {
        let answer: Answer = self
            .http
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", promql)])
            .send()
            .await
            .map_err(|e| format!("query {promql}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("query {promql}: {e}"))?;
        match (answer.status.as_str(), answer.data) {
            ("success", Some(data)) => Ok(data.result),
            _ => Err(format!("query {promql}: {}", answer.error.unwrap_or(answer.status))),
        }
    }

    /// Queries until `accept` takes the answer (scrapes come once a second),
    /// at most `timeout`; returns the last answer either way.
    pub async fn query_until(
        &self,
        promql: &str,
        timeout: Duration,
        accept: impl Fn(&[Sample]) -> bool,
    ) -> Result<Vec<Sample>, String> {
        let started = Instant::now();
        loop {
            let samples = self.query(promql).await?;
            if accept(&samples) || started.elapsed() > timeout {
                return Ok(samples);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
