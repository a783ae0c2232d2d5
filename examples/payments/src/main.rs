//! The payments service. Listens on `PAYMENTS_ADDR` (default
//! 127.0.0.1:8082), its admin routes on `PAYMENTS_ADMIN_ADDR` (default
//! 127.0.0.1:8092); faults from `PAYMENTS_*` variables and `--flags` (see
//! `FaultSpec`).

use std::future::IntoFuture;
use std::time::Duration;

use payments::{FaultSpec, Payments};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spec = FaultSpec::parse(|name| std::env::var(name).ok(), std::env::args().skip(1))?;
    let telemetry = throughline::Init::from_env()?.service_name("payments").install()?;
    let payments = Payments::new(&spec);
    let mut app = payments.router();
    if let Some(prometheus) = telemetry.prometheus() {
        app = app.route_service("/metrics", prometheus.clone());
    }
    // The admin routes change the faults: a listener of their own, on
    // loopback unless PAYMENTS_ADMIN_ADDR says otherwise.
    let admin_addr = std::env::var("PAYMENTS_ADMIN_ADDR").unwrap_or_else(|_| "127.0.0.1:8092".into());
    let admin = tokio::net::TcpListener::bind(&admin_addr).await?;
    println!("admin listening on http://{}", admin.local_addr()?);
    tokio::spawn(axum::serve(admin, payments.admin_router()).into_future());
    let addr = std::env::var("PAYMENTS_ADDR").unwrap_or_else(|_| "127.0.0.1:8082".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    tracing::info!(?spec, "payments started");
    telemetry.serve(listener, app, Duration::from_secs(10)).await?;
    Ok(())
}
