//! The gateway over real sockets: idempotent charges, notifications counted,
//! faults switched at run time on the admin listener, and checked.

use payments::{FaultSpec, Payments, Receipt, Stats};
use serde_json::json;

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// The public URL and the admin URL of a gateway with `spec`.
async fn start(spec: FaultSpec) -> (String, String) {
    let payments = Payments::new(&spec);
    (serve(payments.router()).await, serve(payments.admin_router()).await)
}

async fn stats(client: &reqwest::Client, admin: &str) -> Stats {
    client.get(format!("{admin}/admin/stats")).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_charge() {
    let (url, admin) = start(FaultSpec::default()).await;
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
    let stats = stats(&client, &admin).await;
    assert_eq!((stats.charge_requests, stats.charges, stats.unkeyed_charges), (2, 1, 0));
}

#[tokio::test]
async fn a_second_notification_for_an_order_is_counted_as_repeated() {
    let (url, admin) = start(FaultSpec::default()).await;
    let client = reqwest::Client::new();
    for order in ["a", "b", "a"] {
        let sent =
            client.post(format!("{url}/notify")).json(&json!({"order_id": order})).send().await.unwrap();
        assert_eq!(sent.status(), 202);
    }
    let stats = stats(&client, &admin).await;
    assert_eq!((stats.notifications, stats.repeated_notifications), (3, 1));
}

#[tokio::test]
async fn faults_are_switched_at_run_time_and_spare_the_admin_routes() {
    let (url, admin) = start(FaultSpec { error_rate: 1.0, ..FaultSpec::default() }).await;
    let client = reqwest::Client::new();
    let pay =
        || client.post(format!("{url}/payments")).json(&json!({"order_id": "x", "amount_cents": 1})).send();
    assert_eq!(pay().await.unwrap().status(), 500);

    let outage = FaultSpec { outage_ms: Some(60_000), ..FaultSpec::default() };
    assert_eq!(client.put(format!("{admin}/admin/faults")).json(&outage).send().await.unwrap().status(), 204);
    assert_eq!(pay().await.unwrap().status(), 503);

    client.put(format!("{admin}/admin/faults")).json(&FaultSpec::default()).send().await.unwrap();
    assert_eq!(pay().await.unwrap().status(), 200);
    let stats = stats(&client, &admin).await;
    assert_eq!(
        (stats.faults.requests, stats.faults.errors, stats.faults.outages, stats.charges),
        (3, 1, 1, 1)
    );
    assert_eq!((stats.charge_attempts, stats.charge_requests), (3, 1), "failed attempts are counted too");
}

#[tokio::test]
async fn the_public_port_has_no_admin_routes() {
    let (url, _) = start(FaultSpec::default()).await;
    let client = reqwest::Client::new();
    let put =
        client.put(format!("{url}/admin/faults")).json(&json!({"timeout_rate": 1})).send().await.unwrap();
    assert_eq!(put.status(), 404);
    assert_eq!(client.get(format!("{url}/admin/stats")).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn faults_set_at_run_time_are_checked_as_flags_are() {
    let (url, admin) = start(FaultSpec::default()).await;
    let client = reqwest::Client::new();
    for bad in [
        json!({"timeout_rate": 1, "hang_ms": u64::MAX}),
        json!({"error_rate": 1.5}),
        json!({"latency_ms": [50, 5]}),
        json!({"outage_ms": 86_400_000u64}),
    ] {
        let answer = client.put(format!("{admin}/admin/faults")).json(&bad).send().await.unwrap();
        assert_eq!(answer.status(), 422, "{bad}");
        assert!(!answer.text().await.unwrap().is_empty(), "says what is wrong");
    }
    let pay =
        client.post(format!("{url}/payments")).json(&json!({"order_id": "x", "amount_cents": 1})).send();
    assert_eq!(pay.await.unwrap().status(), 200, "the faults were left as they were");
}
