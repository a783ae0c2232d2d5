//! Runs [`basics::async_instrument`]; see the crate docs.

#[tokio::main]
async fn main() {
    basics::run("basics-async-instrument", basics::async_instrument).await;
}
