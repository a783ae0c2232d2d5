//! The gateway over a real socket: idempotent charges, notifications counted,
//! faults switched at run time.

use payments::{FaultSpec, Payments, Receipt, Stats};
use serde_json::json;

async fn start(spec: FaultSpec) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Payments::new(&spec).router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn stats(client: &reqwest::Client, url: &str) -> Stats {
    client.get(format!("{url}/admin/stats")).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_charge() {
    let url = start(FaultSpec::default()).await;
    let client = reqwest::Client::new();
    let charge = || {
        client
            .post(format!("{url}/payments"))
            .header("idempotency-key", "order-1")
            .json(&json!({"order_id": "order-1", "amount_cents": 1999}))
            .send()
    };
    let first: Receipt = charge().await.unwrap().json().await.unwrap();
    let second: Receipt = charge().await.unwrap().json().await.unwrap();
    assert_eq!((first.charge_id, first.replayed), (second.charge_id, !second.replayed));
    let stats = stats(&client, &url).await;
    assert_eq!((stats.charge_requests, stats.charges, stats.unkeyed_charges), (2, 1, 0));
}

#[tokio::test]
async fn a_second_notification_for_an_order_is_counted_as_repeated() {
    let url = start(FaultSpec::default()).await;
    let client = reqwest::Client::new();
    for order in ["a", "b", "a"] {
        let sent =
            client.post(format!("{url}/notify")).json(&json!({"order_id": order})).send().await.unwrap();
        assert_eq!(sent.status(), 202);
    }
    let stats = stats(&client, &url).await;
    assert_eq!((stats.notifications, stats.repeated_notifications), (3, 1));
}

#[tokio::test]
async fn faults_are_switched_at_run_time_and_spare_the_admin_routes() {
    let url = start(FaultSpec { error_rate: 1.0, ..FaultSpec::default() }).await;
    let client = reqwest::Client::new();
    let pay =
        || client.post(format!("{url}/payments")).json(&json!({"order_id": "x", "amount_cents": 1})).send();
    assert_eq!(pay().await.unwrap().status(), 500);

    let outage = FaultSpec { outage_ms: Some(60_000), ..FaultSpec::default() };
    assert_eq!(client.put(format!("{url}/admin/faults")).json(&outage).send().await.unwrap().status(), 204);
    assert_eq!(pay().await.unwrap().status(), 503);

    client.put(format!("{url}/admin/faults")).json(&FaultSpec::default()).send().await.unwrap();
    assert_eq!(pay().await.unwrap().status(), 200);
    let stats = stats(&client, &url).await;
    assert_eq!(
        (stats.faults.requests, stats.faults.errors, stats.faults.outages, stats.charges),
        (3, 1, 1, 1)
    );
    assert_eq!((stats.charge_attempts, stats.charge_requests), (3, 1), "failed attempts are counted too");
}
