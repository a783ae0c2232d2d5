//! The order API over real sockets, with inventory and payments in the same
//! process: validation, the one error shape, the mapping of inventory's
//! answers, `Idempotency-Key`, and sagas that finish when the client leaves.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use inventory::Stock;
use inventory::pb::ReserveRequest;
use inventory::pb::inventory_client::InventoryClient;
use orders::{App, Config};
use payments::{FaultSpec, Payments};
use serde_json::{Value, json};
use throughline::testing::Capture;
use tokio::net::TcpListener;
use tracing::subscriber::DefaultGuard;

async fn serve(router: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// orders in front of inventory (10 coffee, 100 tea) and payments with
/// `faults`, traced into a capture (this thread's subscriber: the tests run
/// on tokio's current-thread runtime, so it covers every task).
struct System {
    orders: String,
    inventory: SocketAddr,
    app: App,
    _db: tempfile::TempDir,
    _traced: (Capture, DefaultGuard),
}

impl System {
    async fn start(faults: FaultSpec) -> Self {
        let capture = Capture::new();
        let guard = tracing::subscriber::set_default(capture.subscriber());
        let stock = Stock::new([("coffee".to_owned(), 10), ("tea".to_owned(), 100)]);
        let inventory = serve(stock.router()).await;
        let payments = serve(Payments::new(&faults).router()).await;
        let db = tempfile::tempdir().unwrap();
        let vars = [
            ("ORDERS_DB", db.path().join("orders.db").display().to_string()),
            ("PAYMENTS_URL", format!("http://{payments}")),
            ("INVENTORY_URL", format!("http://{inventory}")),
        ];
        let config =
            Config::from_vars(|name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())).unwrap();
        let app = App::new(&config).await.unwrap();
        let orders = format!("http://{}", serve(app.router()).await);
        Self { orders, inventory, app, _db: db, _traced: (capture, guard) }
    }

    async fn post(&self, body: Value) -> (u16, Value) {
        let response =
            reqwest::Client::new().post(format!("{}/orders", self.orders)).json(&body).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

fn order(sku: &str, quantity: u64) -> Value {
    json!({"sku": sku, "quantity": quantity, "amount_cents": 450})
}

/// Every error body is `{"error": ..., "trace_id": ...}` and nothing else.
fn assert_error_shape(body: &Value) {
    let object = body.as_object().unwrap_or_else(|| panic!("not an object: {body}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["error", "trace_id"], "{body}");
    assert!(object["error"].is_string());
    assert_eq!(object["trace_id"].as_str().map(str::len), Some(32), "{body}");
}

#[tokio::test]
async fn client_mistakes_are_4xx_in_one_json_shape_and_never_echoed() {
    let system = System::start(FaultSpec::default()).await;
    let long_sku = "s".repeat(280 * 1024);
    let cases = [
        (order("tea", 0), 422),
        (order("", 1), 422),
        (order("tea; drop table", 1), 422),
        (order(&long_sku, 1), 422),
        (json!({"sku": "tea", "quantity": 1, "amount_cents": u64::MAX}), 422),
        (json!({"sku": "tea"}), 422),
        (json!([1, 2]), 422),
        (order("caviar", 1), 404),
    ];
    for (body, status) in cases {
        let (got, reply) = system.post(body.clone()).await;
        let shown: String = body.to_string().chars().take(60).collect();
        assert_eq!(got, status, "{shown}: {reply}");
        assert_error_shape(&reply);
        assert!(reply.to_string().len() < 200, "the body echoes the input: {shown}");
    }
    let client = reqwest::Client::new();
    let malformed = client
        .post(format!("{}/orders", system.orders))
        .header("content-type", "application/json")
        .body("{\"sku\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_error_shape(&malformed.json().await.unwrap());
    for (method, path, status) in
        [("GET", "/nowhere", 404), ("DELETE", "/orders", 405), ("GET", "/orders/nope", 404)]
    {
        let response =
            client.request(method.parse().unwrap(), format!("{}{path}", system.orders)).send().await.unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        assert_error_shape(&response.json().await.unwrap());
    }
}

#[tokio::test]
async fn an_idempotency_key_makes_a_repeat_return_the_first_order() {
    let system = System::start(FaultSpec::default()).await;
    let client = reqwest::Client::new();
    let post = || {
        client
            .post(format!("{}/orders", system.orders))
            .header("idempotency-key", "checkout-7")
            .json(&order("tea", 1))
    };
    let first = post().send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = post().send().await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.json::<Value>().await.unwrap(), first, "the same order, not a second one");
    assert_eq!(system.app.store.count_with_status("paid").await.unwrap(), 1);
}

#[tokio::test]
async fn orders_whose_client_left_mid_charge_are_undone() {
    const ORDERS: u64 = 6;
    // Every charge hangs: each attempt times out, the payment fails, and the
    // saga must put the stock back after the client has gone.
    let faults = FaultSpec { timeout_rate: 1.0, hang_ms: Some(5_000), ..FaultSpec::default() };
    let system = System::start(faults).await;
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    // Six orders make 18 failed attempts, fewer than the 20 the payments
    // breaker needs before it opens: an open breaker would answer at once,
    // before the client gives up, however the attempts' timeouts interleave.
    for _ in 0..ORDERS {
        let sent = impatient.post(format!("{}/orders", system.orders)).json(&order("coffee", 1)).send().await;
        assert!(sent.is_err_and(|error| error.is_timeout()), "the client gave up mid-charge");
    }
    let store = &system.app.store;
    let started = Instant::now();
    while store.count_with_status("pending").await.unwrap() > 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "orders were left pending");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(store.count_with_status("failed").await.unwrap(), ORDERS);
    let mut inventory = InventoryClient::connect(format!("http://{}", system.inventory)).await.unwrap();
    let all = ReserveRequest { order_id: "check".into(), sku: "coffee".into(), quantity: 10 };
    let reply = inventory.reserve(all).await.unwrap().into_inner();
    assert!(reply.reserved && reply.remaining == 0, "the coffee stock is whole again: {reply:?}");
}
