//! Runs [`basics::follows_from`]; see the crate docs.

#[tokio::main]
async fn main() {
    basics::run("basics-follows-from", basics::follows_from).await;
}
