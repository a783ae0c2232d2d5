//! The inventory service. Listens on `INVENTORY_ADDR` (default
//! 127.0.0.1:8083) for gRPC, `/metrics` and `/health/*`. With
//! `INVENTORY_UNAVAILABLE_EVERY=N`, every Nth `Reserve` is refused
//! `UNAVAILABLE`, as a restarting replica would; with
//! `INVENTORY_LATENCY_MS=N`, every call (or every `INVENTORY_SLOW_EVERY`th)
//! waits N ms (the end-to-end test's faults).

use std::time::Duration;

use inventory::Stock;
use inventory::faults::{self, Refusals, Slowness};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = throughline::Init::from_env()?.service_name("inventory").install()?;
    let stock = Stock::new([("tea".to_owned(), 1_000_000), ("coffee".to_owned(), 10)]);
    let mut app = stock.router();
    if let Some(n) = env_number("INVENTORY_UNAVAILABLE_EVERY") {
        app = app.layer(axum::middleware::from_fn_with_state(Refusals::every(n), faults::refuse));
    }
    if let Some(ms) = env_number("INVENTORY_LATENCY_MS") {
        let slowness =
            Slowness::every(env_number("INVENTORY_SLOW_EVERY").unwrap_or(1), Duration::from_millis(ms));
        app = app.layer(axum::middleware::from_fn_with_state(slowness, faults::delay));
    }
    if let Some(prometheus) = telemetry.prometheus() {
        app = app.route_service("/metrics", prometheus.clone());
    }
    let addr = std::env::var("INVENTORY_ADDR").unwrap_or_else(|_| "127.0.0.1:8083".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    telemetry.serve(listener, app, Duration::from_secs(10)).await?;
    Ok(())
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|value| value.parse().ok())
}
