//! Runs the W3C Trace Context test service, or a short demonstration of it.
//!
//! - `cargo run -p w3c-conformance -- [ADDR]` serves `POST /test` on ADDR
//!   (default `127.0.0.1:5000`) for the official harness (see README.md).
//! - `cargo run -p w3c-conformance -- demo` starts the service and a
//!   downstream receiver on 127.0.0.1, sends it a few requests, prints what
//!   travelled downstream, and exits.

use std::net::SocketAddr;

mod demo;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("demo") {
        return demo::run().await;
    }
    let addr: SocketAddr = arg.as_deref().unwrap_or("127.0.0.1:5000").parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("w3c-conformance listening on http://{}/test", listener.local_addr()?);
    axum::serve(listener, w3c_conformance::app())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
