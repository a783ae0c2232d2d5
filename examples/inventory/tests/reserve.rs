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
    reserve_for("o-1", sku, quantity)
}

fn reserve_for(order_id: &str, sku: &str, quantity: u32) -> ReserveRequest {
    ReserveRequest { order_id: order_id.into(), sku: sku.into(), quantity }
}

#[tokio::test]
async fn reservations_take_stock_until_there_is_none() {
    let mut client = client().await;
    let first = client.reserve(reserve("tea", 2)).await.unwrap().into_inner();
    assert!(first.reserved);
    assert_eq!(first.remaining, 1);
    let second = client.reserve(reserve_for("o-2", "tea", 2)).await.unwrap().into_inner();
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
async fn bad_input_is_refused_without_being_echoed() {
    let mut client = client().await;
    for sku in [String::new(), "x".repeat(65), "tea; drop".to_owned(), "s".repeat(280 * 1024)] {
        let status = client.reserve(reserve(&sku, 1)).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{}", &sku[..sku.len().min(20)]);
        assert!(status.message().len() < 100, "{}", status.message());
    }
    let unknown = client.reserve(reserve("caviar-beluga", 1)).await.unwrap_err();
    assert!(!unknown.message().contains("caviar"), "{}", unknown.message());
}

#[tokio::test]
async fn a_repeated_reservation_takes_stock_once() {
    let mut client = client().await;
    let first = client.reserve(reserve("tea", 2)).await.unwrap().into_inner();
    let again = client.reserve(reserve("tea", 2)).await.unwrap().into_inner();
    assert!(first.reserved && again.reserved);
    assert_eq!((first.remaining, again.remaining), (1, 1), "the repeat took nothing");
    let different = client.reserve(reserve("tea", 1)).await.unwrap_err();
    assert_eq!(different.code(), tonic::Code::FailedPrecondition);
}

#[tokio::test]
async fn a_release_puts_the_orders_stock_back_once() {
    let mut client = client().await;
    assert!(client.reserve(reserve("tea", 3)).await.unwrap().into_inner().reserved);
    let release = || ReleaseRequest { order_id: "o-1".into() };
    assert!(client.release(release()).await.unwrap().into_inner().released);
    assert!(!client.release(release()).await.unwrap().into_inner().released, "a second release does nothing");
    let again = client.reserve(reserve_for("o-2", "tea", 3)).await.unwrap().into_inner();
    assert_eq!(again.remaining, 0, "all 3 were back");
}
