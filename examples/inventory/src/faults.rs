//! Faults the end-to-end test turns on: a replica that refuses some calls
//! before it reads them, as one being drained or restarted behind a proxy
//! does (`INVENTORY_UNAVAILABLE_EVERY=N`, for orders' gRPC retries), and a
//! replica that is sometimes slow (`INVENTORY_LATENCY_MS`, on every call or
//! every `INVENTORY_SLOW_EVERY`th, for orders' hedged reads).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Every `n`th call, counted across clones.
#[derive(Clone, Debug)]
struct EveryNth {
    n: u64,
    calls: Arc<AtomicU64>,
}

impl EveryNth {
    fn new(n: u64) -> Self {
        Self { n: n.max(1), calls: Arc::default() }
    }

    /// Counts a call; whether it is an `n`th one.
    fn hit(&self) -> bool {
        (self.calls.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(self.n)
    }
}

/// Which `Reserve` calls to refuse: every `n`th.
#[derive(Clone, Debug)]
pub struct Refusals(EveryNth);

impl Refusals {
    /// Refuses every `n`th `Reserve` call (at least every one).
    pub fn every(n: u64) -> Self {
        Self(EveryNth::new(n))
    }
}

/// axum middleware (`from_fn_with_state`): a refused call gets a trailers-only
/// `UNAVAILABLE`, the status in the headers and nothing reserved, which a
/// client's retry policy may safely retry.
pub async fn refuse(State(refusals): State<Refusals>, request: Request, next: Next) -> Response {
    if request.uri().path().ends_with("/Reserve") && refusals.0.hit() {
        return tonic::Status::unavailable("replica restarting").into_http();
    }
    next.run(request).await
}

/// Which calls to slow down, and by how much.
#[derive(Clone, Debug)]
pub struct Slowness {
    latency: Duration,
    every: EveryNth,
}

impl Slowness {
    /// Every `every`th call (at least every one) waits `latency`.
    pub fn every(every: u64, latency: Duration) -> Self {
        Self { latency, every: EveryNth::new(every) }
    }
}

/// axum middleware (`from_fn_with_state`): the slowed calls wait first, as
/// on a replica whose disk or neighbours stall now and then.
pub async fn delay(State(slowness): State<Slowness>, request: Request, next: Next) -> Response {
    if slowness.every.hit() {
        tokio::time::sleep(slowness.latency).await;
    }
    next.run(request).await
}
