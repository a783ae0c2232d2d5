//! A bounded load of orders, each request the root of its own trace: the
//! driver sends a `traceparent`, as an upstream service would, so each
//! response can be matched with its trace.

use std::time::{Duration, Instant};

use serde_json::json;
use throughline::propagation::TraceParent;

/// What one order request got.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The trace the request started (lowercase hex).
    pub trace_id: String,
    /// The span id the request named as its parent: the driver's own.
    pub parent_id: String,
    /// The status, or `None` when no response came (connection refused).
    pub status: Option<u16>,
    /// The response body, or the error.
    pub body: String,
    /// How long it took.
    pub elapsed: Duration,
}

impl Reply {
    /// Whether the order was created.
    pub fn created(&self) -> bool {
        self.status == Some(201)
    }
}

/// Sends `count` orders to `orders_url`, `concurrency` at a time.
pub async fn orders(
    client: &reqwest::Client,
    orders_url: &str,
    count: usize,
    concurrency: usize,
) -> Vec<Reply> {
    let (sender, mut replies) = tokio::sync::mpsc::unbounded_channel();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..concurrency.max(1) {
        let (client, url, sender, next) =
            (client.clone(), orders_url.to_owned(), sender.clone(), next.clone());
        tokio::spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                let _ = sender.send(order(&client, &url).await);
            }
        });
    }
    drop(sender);
    let mut all = Vec::with_capacity(count);
    while let Some(reply) = replies.recv().await {
        all.push(reply);
    }
    all
}

/// The `tracestate` every order arrives with, as a caller instrumented by
/// another vendor's SDK would send it: keys valid under the current W3C
/// grammar that the old `tenant@system` grammar refused (`foo@`, a key
/// that starts with a digit).
pub const TRACESTATE: &str = "foo@=1,0xyz=2,rojo=00f067aa0ba902b7";

/// Sends one order, with a sampled `traceparent` whose trace id is random
/// (flags `03`) and [`TRACESTATE`].
pub async fn order(client: &reqwest::Client, orders_url: &str) -> Reply {
    let traceparent = TraceParent::new_trace(true);
    let started = Instant::now();
    let sent = client
        .post(format!("{orders_url}/orders"))
        .header("traceparent", traceparent.to_string())
        .header("tracestate", TRACESTATE)
        .json(&json!({"sku": "tea", "quantity": 1, "amount_cents": 450}))
        .send()
        .await;
    let (status, body) = match sent {
        Ok(response) => (Some(response.status().as_u16()), response.text().await.unwrap_or_default()),
        Err(error) => (None, error.to_string()),
    };
    Reply {
        trace_id: traceparent.trace_id().to_string(),
        parent_id: traceparent.parent_id().to_string(),
        status,
        body,
        elapsed: started.elapsed(),
    }
}
