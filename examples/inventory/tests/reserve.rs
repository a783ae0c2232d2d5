//! Reservations over a real gRPC connection on 127.0.0.1.

use inventory::Stock;
use inventory::pb::inventory_client::InventoryClient;
use inventory::pb::{ReleaseRequest, ReserveRequest};

async fn client() -> InventoryClient<tonic::transport::Channel> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Stock::new([("tea".to_owned(), 3)]).router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    InventoryClient::connect(url).await.unwrap()
}

fn reserve(sku: &str, quantity: u32) -> ReserveRequest {
    ReserveRequest { order_id: "o-1".into(), sku: sku.into(), quantity }
}

#[tokio::test]
async fn reservations_take_stock_until_there_is_none() {
    let mut client = client().await;
    let first = client.reserve(reserve("tea", 2)).await.unwrap().into_inner();
    assert!(first.reserved);
    assert_eq!(first.remaining, 1);
    let second = client.reserve(reserve("tea", 2)).await.unwrap().into_inner();
    assert!(!second.reserved, "only one left");
    assert_eq!(second.remaining, 1);
}

#[tokio::test]
async fn unknown_skus_and_empty_reservations_are_refused_with_a_status() {
    let mut client = client().await;
    assert_eq!(client.reserve(reserve("caviar", 1)).await.unwrap_err().code(), tonic::Code::NotFound);
    assert_eq!(client.reserve(reserve("tea", 0)).await.unwrap_err().code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn a_release_puts_the_orders_stock_back_once() {
    let mut client = client().await;
    assert!(client.reserve(reserve("tea", 3)).await.unwrap().into_inner().reserved);
    let release = || ReleaseRequest { order_id: "o-1".into() };
    assert!(client.release(release()).await.unwrap().into_inner().released);
    assert!(!client.release(release()).await.unwrap().into_inner().released, "a second release does nothing");
    assert_eq!(client.reserve(reserve("tea", 3)).await.unwrap().into_inner().remaining, 0, "all 3 were back");
}
