//! The orders service; settings in [`orders::Config`].

use std::time::Duration;

use orders::{App, Config};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = throughline::Init::from_env()?.service_name("orders").install()?;
    let config = Config::from_vars(|name| std::env::var(name).ok())?;
    let app = App::new(&config).await?;
    // Readiness is what this replica can serve: with the payments breaker
    // open it still reads orders and answers POST with 503 + Retry-After,
    // so it stays ready (every replica shares the same payments).
    let mut router = app.router();
    if let Some(prometheus) = telemetry.prometheus() {
        router = router.route_service("/metrics", prometheus.clone());
    }
    let listener = tokio::net::TcpListener::bind(&config.addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    tracing::info!(db = %config.db.display(), payments = %config.payments_url, inventory = %config.inventory_url, "orders started");
    // On SIGTERM: refuse new connections, let in-flight orders finish (up to 10 s), flush telemetry.
    telemetry.serve(listener, router, Duration::from_secs(10)).await?;
    // Sagas whose client left (or whose request the drain cut) still finish.
    app.sagas.close();
    if tokio::time::timeout(Duration::from_secs(5), app.sagas.wait()).await.is_err() {
        eprintln!("orders: {} sagas still running at exit", app.sagas.len());
    }
    Ok(())
}
