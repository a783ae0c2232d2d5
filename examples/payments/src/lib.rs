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
//! | `PUT /admin/faults` | replace the faults ([`FaultSpec`] as JSON) |

mod faults;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use throughline::testing::{FaultLayer, FaultStats};
use throughline::tower::server::HttpServerLayer;

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
#[derive(Clone)]
pub struct Payments {
    faults: FaultLayer,
    ledger: Arc<Mutex<Ledger>>,
}

#[derive(Default)]
struct Ledger {
    by_key: HashMap<String, Receipt>,
    notified: HashMap<String, u64>,
    stats: Stats,
}

impl Payments {
    /// A gateway injecting `faults`.
    pub fn new(faults: &FaultSpec) -> Self {
        Self { faults: FaultLayer::new(faults.faults()), ledger: Arc::default() }
    }

    /// The routes: the business ones behind the fault layer, the admin ones
    /// outside it, all traced.
    pub fn router(&self) -> Router {
        let business = Router::new()
            .route("/payments", post(charge))
            .route("/notify", post(notify))
            .layer(self.faults.clone())
            .layer(axum::middleware::from_fn_with_state(self.clone(), count_attempt));
        let admin = Router::new().route("/admin/stats", get(stats)).route("/admin/faults", put(set_faults));
        // The budget each charge arrived with is on its span: the deadline
        // orders sends on `request-timeout-ms`.
        let layer = HttpServerLayer::new().capture_request_headers([throughline::DEADLINE_HEADER]);
        business.merge(admin).with_state(self.clone()).layer(layer)
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
    let mut ledger = payments.ledger();
    ledger.stats.charge_requests += 1;
    if let Some(receipt) = key.as_ref().and_then(|key| ledger.by_key.get(key)) {
        tracing::Span::current().record("replayed", true);
        return Json(Receipt { replayed: true, ..receipt.clone() });
    }
    ledger.stats.charges += 1;
    let receipt = Receipt { charge_id: ledger.stats.charges, order_id: charge.order_id, replayed: false };
    match key {
        Some(key) => drop(ledger.by_key.insert(key, receipt.clone())),
        None => ledger.stats.unkeyed_charges += 1,
    }
    tracing::info!(amount_cents = charge.amount_cents, charge.id = receipt.charge_id, "charged");
    Json(receipt)
}

async fn notify(State(payments): State<Payments>, Json(notification): Json<Notification>) -> StatusCode {
    let mut ledger = payments.ledger();
    ledger.stats.notifications += 1;
    let seen = ledger.notified.entry(notification.order_id).or_default();
    *seen += 1;
    if *seen > 1 {
        ledger.stats.repeated_notifications += 1;
    }
    StatusCode::ACCEPTED
}

async fn stats(State(payments): State<Payments>) -> Json<Stats> {
    let mut stats = payments.ledger().stats.clone();
    stats.faults = payments.faults.stats().into();
    Json(stats)
}

async fn set_faults(State(payments): State<Payments>, Json(spec): Json<FaultSpec>) -> StatusCode {
    tracing::warn!(?spec, "faults changed");
    payments.faults.set(spec.faults());
    StatusCode::NO_CONTENT
}
