//! Every error orders answers, in one shape: `{"error": "...", "trace_id": "..."}`,
//! with a status that says whose fault it was and no internal detail.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use throughline::tower::server::current_trace_id;

use crate::payments::PaymentError;
use crate::store::StoreError;

/// Why an order request failed. `Display` is for the logs (it may name what
/// failed inside); the body carries only [`public_message`](Self::public_message).
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// The order breaks a rule of its own: 422.
    #[error("invalid order: {0}")]
    Invalid(&'static str),
    /// The body is not a JSON order: axum's rejection status (400, 413,
    /// 415 or 422).
    #[error("unreadable order: {0}")]
    Unreadable(JsonRejection),
    /// The database failed after retries: 500.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Not enough stock: 409.
    #[error("not enough stock")]
    OutOfStock,
    /// Inventory refused the reservation or could not be reached: 404 for
    /// an unknown sku, 422 for input it refuses, 409 for a conflicting
    /// reservation, 503 when unavailable or out of time, 502 otherwise.
    #[error("inventory: {:?} {}", .0.code(), .0.message())]
    Inventory(tonic::Status),
    /// The payment failed: the rejection's status (503 with `Retry-After`
    /// when the breaker is open), or 502.
    #[error(transparent)]
    Payment(PaymentError),
    /// No such order: 404.
    #[error("no such order")]
    NotFound,
    /// A request with this `Idempotency-Key` is still running: 409.
    #[error("an order with this idempotency key is in progress")]
    InProgress,
    /// The order's task failed (it panicked): 500.
    #[error("the order's task failed: {0}")]
    Task(String),
}

impl OrderError {
    /// The status the client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            OrderError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            OrderError::Unreadable(rejection) => rejection.status(),
            OrderError::Store(_) | OrderError::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
            OrderError::OutOfStock | OrderError::InProgress => StatusCode::CONFLICT,
            OrderError::NotFound => StatusCode::NOT_FOUND,
            OrderError::Inventory(status) => match status.code() {
                tonic::Code::NotFound => StatusCode::NOT_FOUND,
                tonic::Code::InvalidArgument => StatusCode::UNPROCESSABLE_ENTITY,
                tonic::Code::FailedPrecondition => StatusCode::CONFLICT,
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_GATEWAY,
            },
            OrderError::Payment(PaymentError::Rejected { status, .. }) => status.http,
            OrderError::Payment(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// What the body says: fixed text, never the input or an internal error.
    pub fn public_message(&self) -> &'static str {
        match self {
            OrderError::Invalid(rule) => rule,
            OrderError::Unreadable(rejection) => match rejection {
                JsonRejection::MissingJsonContentType(_) => {
                    "expected a JSON body (Content-Type: application/json)"
                }
                JsonRejection::JsonSyntaxError(_) => "the body is not valid JSON",
                JsonRejection::JsonDataError(_) => {
                    "the body must be {\"sku\": string, \"quantity\": integer, \"amount_cents\": integer}"
                }
                _ => "the body could not be read",
            },
            OrderError::Store(_) | OrderError::Task(_) => "internal error",
            OrderError::OutOfStock => "not enough stock",
            OrderError::InProgress => "an order with this Idempotency-Key is in progress",
            OrderError::NotFound => "no such order",
            OrderError::Inventory(status) => match status.code() {
                tonic::Code::NotFound => "no such sku",
                tonic::Code::InvalidArgument => "inventory refused the order",
                tonic::Code::FailedPrecondition => "the order conflicts with a reservation",
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
                    "inventory unavailable, retry later"
                }
                _ => "inventory failed",
            },
            OrderError::Payment(PaymentError::Rejected { .. }) => "payments unavailable, retry later",
            OrderError::Payment(_) => "payment failed",
        }
    }
}

impl From<JsonRejection> for OrderError {
    fn from(rejection: JsonRejection) -> Self {
        OrderError::Unreadable(rejection)
    }
}

impl IntoResponse for OrderError {
    fn into_response(self) -> Response {
        let retry_after = match &self {
            OrderError::Payment(PaymentError::Rejected { status, .. }) => status.retry_after_header(),
            _ => None,
        };
        let mut response = error_response(self.status(), self.public_message());
        if let Some(wait) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, wait);
        }
        response
    }
}

/// The one error shape, with the request's trace id (from throughline's
/// `current_trace_id`), so that a caller can quote it.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    let body = json!({"error": message, "trace_id": current_trace_id()});
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Unknown paths: 404 in the same shape.
pub async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "no such route")
}

/// A known path with another method: 405 in the same shape.
pub async fn method_not_allowed() -> Response {
    error_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}
