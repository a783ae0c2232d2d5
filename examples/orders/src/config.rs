//! Where orders listens and what it calls, from the environment.

use std::path::PathBuf;
use std::time::Duration;

use crate::edge::Edge;

/// The service's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// `ORDERS_ADDR`, default `127.0.0.1:8081`.
    pub addr: String,
    /// `ORDERS_DB`, default `orders.db` in the system's temporary directory.
    pub db: PathBuf,
    /// `PAYMENTS_URL`, default `http://127.0.0.1:8082`.
    pub payments_url: String,
    /// `INVENTORY_URL`, default `http://127.0.0.1:8083`; several replicas
    /// comma-separated.
    pub inventory_url: String,
    /// `ORDERS_PAYMENT_ATTEMPT_TIMEOUT_MS`: one payment attempt, default 300 ms.
    pub payment_attempt_timeout: Duration,
    /// `ORDERS_BREAKER_OPEN_MS`: how long the payments breaker stays open, default 5 s.
    pub breaker_open: Duration,
    /// `ORDERS_TRUST`: whose trace context is continued, default `private`.
    pub edge: Edge,
}

impl Config {
    /// Reads the variables through `var`; a number that does not parse is an error naming it.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let millis = |name: &str, default: u64| -> Result<Duration, String> {
            var(name)
                .map_or(Ok(default), |v| v.parse().map_err(|_| format!("{name}={v:?} is not a number of ms")))
                .map(Duration::from_millis)
        };
        Ok(Self {
            addr: var("ORDERS_ADDR").unwrap_or_else(|| "127.0.0.1:8081".into()),
            db: var("ORDERS_DB").map_or_else(|| std::env::temp_dir().join("orders.db"), PathBuf::from),
            payments_url: var("PAYMENTS_URL").unwrap_or_else(|| "http://127.0.0.1:8082".into()),
            inventory_url: var("INVENTORY_URL").unwrap_or_else(|| "http://127.0.0.1:8083".into()),
            payment_attempt_timeout: millis("ORDERS_PAYMENT_ATTEMPT_TIMEOUT_MS", 300)?,
            breaker_open: millis("ORDERS_BREAKER_OPEN_MS", 5_000)?,
            edge: Edge::from_var(var("ORDERS_TRUST").as_deref())?,
        })
    }
}
