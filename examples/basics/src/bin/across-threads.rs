//! Runs [`basics::across_threads`]; see the crate docs.

#[tokio::main]
async fn main() {
    basics::run("basics-across-threads", || async { basics::across_threads() }).await;
}
