//! A payment gateway for the order system example. It charges idempotently
//! (a repeated `Idempotency-Key` returns the first charge), takes
//! notifications, and fails on demand: faults set by flags, environment or
//! `PUT /admin/faults` go through throughline-testing's fault-injection layer.
//!
//! | route | what it does |
//! |---|---|
//! | `POST /payments` | charge `{"order_id", "amount_cents"}`; `Idempotency-Key` makes a retry safe |
//! | `POST /notify` | a receipt notification, sent without a key and so never retried |
//! | `GET /admin/stats` | what was received ([`Stats`]), for tests and the demo |
//! | `PUT /admin/faults` | replace the faults ([`FaultSpec`] as JSON, checked as the flags are) |
//!
//! The admin routes are a router of their own ([`Payments::admin_router`]),
//! served on their own listener (`PAYMENTS_ADMIN_ADDR`, loopback by
//! default): whoever reaches the public port cannot change the faults. The
//! idempotency keys and notifications kept are bounded
//! ([`Payments::KEPT`] entries, [`Payments::KEPT_FOR`] each); what is
//! forgotten is counted in [`Stats`].

mod bounded;
mod faults;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use throughline::testing::{FaultLayer, FaultStats};
use throughline::tower::server::HttpServerLayer;

pub use bounded::BoundedMap;
pub use faults::{FaultSpec, FaultSpecError};

/// A charge request.
#[derive(Debug, Deserialize)]
pub struct Charge {
    /// The order paid for.
    pub order_id: String,
    /// The amount.
    pub amount_cents: u64,
}

/// A charge made.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Receipt {
    /// The charge's id.
    pub charge_id: u64,
    /// The order paid for.
    pub order_id: String,
    /// True when this answers a repeated `Idempotency-Key`.
    pub replayed: bool,
}

/// A notification.
#[derive(Debug, Deserialize)]
pub struct Notification {
    /// The order it is about.
    pub order_id: String,
}

/// What payments has received so far.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Stats {
    /// `POST /payments` requests received, those the faults failed included.
    pub charge_attempts: u64,
    /// `POST /notify` requests received, those the faults failed included.
    pub notify_attempts: u64,
    /// Charge requests that reached the handler.
    pub charge_requests: u64,
    /// Charges made (distinct idempotency keys, plus unkeyed charges).
    pub charges: u64,
    /// Charge requests without an `Idempotency-Key`.
    pub unkeyed_charges: u64,
    /// Notifications that reached the handler.
    pub notifications: u64,
    /// Notifications for an order already notified: an unkeyed POST sent twice.
    pub repeated_notifications: u64,
    /// Idempotency keys forgotten, by age or for room.
    pub evicted_keys: u64,
    /// Notified orders forgotten, by age or for room.
    pub evicted_notifications: u64,
    /// Requests the fault layer saw, failed, timed out and refused in an outage.
    pub faults: FaultCounts,
}

/// The fault layer's counts.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FaultCounts {
    /// Requests seen by the layer.
    pub requests: u64,
    /// Answered with an injected error.
    pub errors: u64,
    /// Hung, then answered 504.
    pub timeouts: u64,
    /// Refused during an outage.
    pub outages: u64,
}

impl From<FaultStats> for FaultCounts {
    fn from(stats: FaultStats) -> Self {
        Self {
            requests: stats.requests,
            errors: stats.errors,
            timeouts: stats.timeouts,
            outages: stats.outages,
        }
    }
}

/// The gateway's state; clones share it.
#[derive(Clone, Debug)]
pub struct Payments {
    faults: FaultLayer,
    ledger: Arc<Mutex<Ledger>>,
}

#[derive(Debug)]
struct Ledger {
    by_key: BoundedMap<Receipt>,
    notified: BoundedMap<u64>,
    stats: Stats,
}

impl Payments {
    /// How many idempotency keys, and notified orders, are kept.
    pub const KEPT: usize = 100_000;
    /// How long each is kept: longer than any client retries.
    pub const KEPT_FOR: Duration = Duration::from_secs(24 * 60 * 60);

    /// A gateway injecting `faults`.
    pub fn new(faults: &FaultSpec) -> Self {
        let ledger = Ledger {
            by_key: BoundedMap::new(Self::KEPT, Self::KEPT_FOR),
            notified: BoundedMap::new(Self::KEPT, Self::KEPT_FOR),
            stats: Stats::default(),
        };
        Self { faults: FaultLayer::new(faults.faults()), ledger: Arc::new(Mutex::new(ledger)) }
    }

    /// The public routes, behind the fault layer, traced.
    pub fn router(&self) -> Router {
        let business = Router::new()
            .route("/payments", post(charge))
            .route("/notify", post(notify))
            .layer(self.faults.clone())
            .layer(axum::middleware::from_fn_with_state(self.clone(), count_attempt));
        // The budget each charge arrived with is on its span: the deadline
        // orders sends on `request-timeout-ms`.
        let layer = HttpServerLayer::new().capture_request_headers([throughline::DEADLINE_HEADER]);
        business.with_state(self.clone()).layer(layer)
    }

    /// The admin routes, for a listener of their own.
    pub fn admin_router(&self) -> Router {
        Router::new()
            .route("/admin/stats", get(stats))
            .route("/admin/faults", put(set_faults))
            .with_state(self.clone())
            .layer(HttpServerLayer::new())
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Counts every request before the faults decide its fate.
async fn count_attempt(State(payments): State<Payments>, request: Request, next: Next) -> Response {
    match request.uri().path() {
        "/payments" => payments.ledger().stats.charge_attempts += 1,
        "/notify" => payments.ledger().stats.notify_attempts += 1,
        _ => {}
    }
    next.run(request).await
}

#[tracing::instrument(skip_all, fields(order.id = %charge.order_id, replayed))]
async fn charge(
    State(payments): State<Payments>,
    headers: HeaderMap,
    Json(charge): Json<Charge>,
) -> Json<Receipt> {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let now = Instant::now();
    let mut ledger = payments.ledger();
    ledger.stats.charge_requests += 1;
    if let Some(receipt) = key.as_ref().and_then(|key| ledger.by_key.get_mut(key, now)) {
        let receipt = Receipt { replayed: true, ..receipt.clone() };
        tracing::Span::current().record("replayed", true);
        return Json(receipt);
    }
    ledger.stats.charges += 1;
    let receipt = Receipt { charge_id: ledger.stats.charges, order_id: charge.order_id, replayed: false };
    match key {
        Some(key) => ledger.by_key.insert(key, receipt.clone(), now),
        None => ledger.stats.unkeyed_charges += 1,
    }
    tracing::info!(amount_cents = charge.amount_cents, charge.id = receipt.charge_id, "charged");
    Json(receipt)
}

async fn notify(State(payments): State<Payments>, Json(notification): Json<Notification>) -> StatusCode {
    let now = Instant::now();
    let mut ledger = payments.ledger();
    ledger.stats.notifications += 1;
    match ledger.notified.get_mut(&notification.order_id, now) {
        Some(seen) => {
            *seen += 1;
            ledger.stats.repeated_notifications += 1;
        }
        None => ledger.notified.insert(notification.order_id, 1, now),
    }
    StatusCode::ACCEPTED
}

async fn stats(State(payments): State<Payments>) -> Json<Stats> {
    let ledger = payments.ledger();
    let mut stats = ledger.stats.clone();
    stats.evicted_keys = ledger.by_key.evicted();
    stats.evicted_notifications = ledger.notified.evicted();
    drop(ledger);
    stats.faults = payments.faults.stats().into();
    Json(stats)
}

/// Replaces the faults, once they pass the checks the flags pass: 422 with
/// what is wrong otherwise.
async fn set_faults(State(payments): State<Payments>, Json(spec): Json<FaultSpec>) -> (StatusCode, String) {
    if let Err(error) = spec.validate() {
        return (StatusCode::UNPROCESSABLE_ENTITY, error.0);
    }
    tracing::warn!(?spec, "faults changed");
    payments.faults.set(spec.faults());
    (StatusCode::NO_CONTENT, String::new())
}
