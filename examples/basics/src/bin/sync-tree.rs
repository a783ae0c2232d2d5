//! Runs [`basics::sync_tree`]; see the crate docs.

#[tokio::main]
async fn main() {
    basics::run("basics-sync-tree", || async { basics::sync_tree() }).await;
}
