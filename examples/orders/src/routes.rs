//! `POST /orders` and `GET /orders/{id}`, and what their failures answer.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get, routing::post};
use serde::Deserialize;
use tracing::Instrument;

use crate::App;
use crate::error::{OrderError, method_not_allowed, not_found};
use crate::idempotency::{Entry, Idempotency};
use crate::store::Order;

/// The routes, over the service's clients and store; every error, unknown
/// routes and methods included, in the one JSON shape.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/orders", post(create))
        .route("/orders/{id}", get(read))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
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

impl NewOrder {
    /// The most a single order may charge: $10 million, well inside SQLite's integers.
    pub const MAX_AMOUNT_CENTS: u64 = 1_000_000_000;
    /// The most items of one sku in an order.
    pub const MAX_QUANTITY: u32 = 10_000;

    /// Checks the order before anything is stored or called: the sku is 1
    /// to 64 characters of `A-Z a-z 0-9 . _ -`, the quantity 1 to
    /// [`MAX_QUANTITY`](Self::MAX_QUANTITY), the amount 1 to
    /// [`MAX_AMOUNT_CENTS`](Self::MAX_AMOUNT_CENTS).
    pub fn validate(&self) -> Result<(), OrderError> {
        if !inventory::is_valid_id(&self.sku) {
            return Err(OrderError::Invalid("sku must be 1 to 64 characters of A-Z a-z 0-9 . _ -"));
        }
        if !(1..=Self::MAX_QUANTITY).contains(&self.quantity) {
            return Err(OrderError::Invalid("quantity must be between 1 and 10000"));
        }
        if !(1..=Self::MAX_AMOUNT_CENTS).contains(&self.amount_cents) {
            return Err(OrderError::Invalid("amount_cents must be between 1 and 1000000000"));
        }
        Ok(())
    }
}

/// Checks the order and its `Idempotency-Key`, then runs the saga in a task
/// of its own and answers with its result.
#[tracing::instrument(skip_all, fields(order.id))]
async fn create(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Json<NewOrder>, JsonRejection>,
) -> Result<Response, OrderError> {
    let Json(new) = body?;
    new.validate()?;
    let key = Idempotency::key(&headers)?;
    if let Some(key) = &key {
        match app.idempotency.claim(key) {
            None => {}
            Some(Entry::InProgress) => return Err(OrderError::InProgress),
            Some(Entry::Done(status, body)) => return Ok((status, Json(body)).into_response()),
        }
    }
    // The handler's future is dropped when the client goes away or the drain
    // deadline passes; the saga, in a task of its own, still pays or undoes
    // the order rather than leaving it pending with its stock held.
    let saga = {
        let app = app.clone();
        async move {
            let result = place(&app, new).await;
            if let Some(key) = &key {
                // A failed order was undone: a retry with the key may run again.
                let answer = result
                    .as_ref()
                    .ok()
                    .map(|order| (StatusCode::CREATED, serde_json::to_value(order).unwrap_or_default()));
                app.idempotency.finish(key, answer);
            }
            result
        }
    };
    match app.sagas.spawn(saga.instrument(tracing::Span::current())).await {
        Ok(result) => result.map(|order| (StatusCode::CREATED, Json(order)).into_response()),
        Err(error) => Err(OrderError::Task(error.to_string())),
    }
}

/// Checks the stock, stores the order, reserves its stock, charges it
/// (releasing the stock if the charge fails), then notifies payments.
async fn place(app: &App, new: NewOrder) -> Result<Order, OrderError> {
    // Out of stock is answered before anything is stored or held.
    match app.inventory.available(&new.sku).await {
        Ok(available) if available < u64::from(new.quantity) => return Err(OrderError::OutOfStock),
        Ok(_) => {}
        Err(status) => return Err(OrderError::Inventory(status)),
    }
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
        Ok(false) => return Err(fail(app, &id, OrderError::OutOfStock).await),
        Err(status) => {
            // The reservation may have been taken even so (a deadline that
            // passed on the way back): release is idempotent, so undo it.
            if let Err(status) = app.inventory.release(&id).await {
                tracing::warn!(error = %status.message(), "releasing an uncertain reservation failed");
            }
            return Err(fail(app, &id, OrderError::Inventory(status)).await);
        }
    }
    let receipt = match app.payments.charge(&id, order.amount_cents).await {
        Ok(receipt) => receipt,
        Err(error) => {
            // Compensate: the stock goes back; a failed release is logged, and
            // inventory's release is idempotent, so it may be retried later.
            if let Err(status) = app.inventory.release(&id).await {
                tracing::warn!(error = %status.message(), "releasing the reservation failed");
            }
            return Err(fail(app, &id, OrderError::Payment(error)).await);
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
    Ok(order)
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
