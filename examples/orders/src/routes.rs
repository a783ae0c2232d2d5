//! `POST /orders` and `GET /orders/{id}`, and what their failures answer.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get, routing::post};
use serde::Deserialize;
use serde_json::json;

use crate::App;
use crate::payments::PaymentError;
use crate::store::{Order, StoreError};

/// The routes, over the service's clients and store.
pub fn router(app: App) -> Router {
    Router::new().route("/orders", post(create)).route("/orders/{id}", get(read)).with_state(app)
}

/// An order as posted.
#[derive(Debug, Deserialize)]
pub struct NewOrder {
    /// What to order.
    pub sku: String,
    /// How many.
    pub quantity: u32,
    /// The price to charge.
    pub amount_cents: u64,
}

/// Stores the order, reserves its stock, charges it (releasing the stock if
/// the charge fails), then notifies payments.
#[tracing::instrument(skip_all, fields(order.id))]
async fn create(
    State(app): State<App>,
    Json(new): Json<NewOrder>,
) -> Result<(StatusCode, Json<Order>), OrderError> {
    let id = format!("ord-{:016x}", rand::random::<u64>());
    tracing::Span::current().record("order.id", id.as_str());
    let mut order = Order {
        id: id.clone(),
        sku: new.sku,
        quantity: new.quantity,
        amount_cents: new.amount_cents,
        status: "pending".into(),
    };
    app.store.insert(&order).await?;

    match app.inventory.reserve(&id, &order.sku, order.quantity).await {
        Ok(true) => {}
        Ok(false) => return Err(fail(&app, &id, OrderError::OutOfStock).await),
        Err(status) => return Err(fail(&app, &id, OrderError::Inventory(status)).await),
    }
    let receipt = match app.payments.charge(&id, order.amount_cents).await {
        Ok(receipt) => receipt,
        Err(error) => {
            // Compensate: the stock goes back; a failed release is logged, and
            // inventory's release is idempotent, so it may be retried later.
            if let Err(status) = app.inventory.release(&id).await {
                tracing::warn!(error = %status.message(), "releasing the reservation failed");
            }
            return Err(fail(&app, &id, OrderError::Payment(error)).await);
        }
    };
    app.store.set_status(&id, "paid").await?;
    order.status = "paid".into();
    tracing::info!(charge.id = receipt.charge_id, "order paid");

    // A POST without an idempotency key: never retried, and its failure does
    // not fail the order, which is paid.
    if let Err(error) = app.payments.notify(&id).await {
        tracing::warn!(%error, "payment notification failed");
    }
    Ok((StatusCode::CREATED, Json(order)))
}

/// Records the order as failed and says why; the original error is what
/// the client gets, even if the status cannot be written.
async fn fail(app: &App, id: &str, error: OrderError) -> OrderError {
    tracing::warn!(%error, "order failed");
    if let Err(store) = app.store.set_status(id, "failed").await {
        tracing::error!(error = %store, "recording the failed order");
    }
    error
}

async fn read(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Order>, OrderError> {
    app.store.get(&id).await?.map(Json).ok_or(OrderError::NotFound)
}

/// Why an order request failed, and what it answers.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// The database failed after retries: 500.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Not enough stock: 409.
    #[error("not enough stock")]
    OutOfStock,
    /// Inventory refused or could not be reached: 503 when unavailable or
    /// out of time, 502 otherwise.
    #[error("inventory: {}", .0.message())]
    Inventory(tonic::Status),
    /// The payment failed: the rejection's status (503 with `Retry-After`
    /// when the breaker is open), or 502.
    #[error(transparent)]
    Payment(PaymentError),
    /// No such order: 404.
    #[error("no such order")]
    NotFound,
}

impl IntoResponse for OrderError {
    fn into_response(self) -> Response {
        let mut retry_after = None;
        let status = match &self {
            OrderError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            OrderError::OutOfStock => StatusCode::CONFLICT,
            OrderError::NotFound => StatusCode::NOT_FOUND,
            OrderError::Inventory(status) => match status.code() {
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_GATEWAY,
            },
            OrderError::Payment(PaymentError::Rejected { status, .. }) => {
                retry_after = status.retry_after_header();
                status.http
            }
            OrderError::Payment(_) => StatusCode::BAD_GATEWAY,
        };
        let mut response = (status, Json(json!({"error": self.to_string()}))).into_response();
        if let Some(wait) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, wait);
        }
        response.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
        response
    }
}
