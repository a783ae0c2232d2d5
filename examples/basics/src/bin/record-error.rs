//! Runs [`basics::record_error`]; see the crate docs.

#[tokio::main]
async fn main() {
    basics::run("basics-record-error", || async { basics::record_error() }).await;
}
