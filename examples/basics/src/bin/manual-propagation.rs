//! Runs [`basics::manual_propagation`]; see the crate docs.

#[tokio::main]
async fn main() {
    basics::run("basics-manual-propagation", || async {
        println!("the message carried {:?}", basics::manual_propagation())
    })
    .await;
}
