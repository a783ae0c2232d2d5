//! The payments client: reqwest with throughline's resilience middleware
//! (deadline, retry with budget, circuit breaker, attempt timeout) outside
//! its tracing middleware, so every attempt is a client span.

use std::time::Duration;

use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde::Deserialize;
use serde_json::json;
use throughline::reqwest::{ResilienceMiddleware, TracingMiddleware, UrlTemplate};
use throughline::resilience::circuit_breaker::{BreakerConfig, SlidingWindow};
use throughline::resilience::retry::RetryConfig;
use throughline::resilience::{Backoff, Breaker, HttpClassifier, Jitter, Policy, RejectionStatus};

use crate::config::Config;

/// A charge payments made.
#[derive(Clone, Debug, Deserialize)]
pub struct Receipt {
    /// The charge's id.
    pub charge_id: u64,
}

/// Why a payment did not go through.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The breaker, the deadline or the limit refused the call without
    /// (further) trying: answer with this status.
    #[error("payments unavailable: {message}")]
    Rejected {
        /// How to answer.
        status: RejectionStatus,
        /// What refused it.
        message: String,
    },
    /// Payments answered with an error, after the retries the policy allows.
    #[error("payments answered {0}")]
    Status(reqwest::StatusCode),
    /// The request failed (connection refused, reset, ...), after retries.
    #[error("payments unreachable: {0}")]
    Transport(String),
    /// Payments answered 2xx with a body that is not a receipt.
    #[error("payments answered an unreadable receipt: {0}")]
    Decode(String),
}

/// The client, cheap to clone.
#[derive(Clone, Debug)]
pub struct Payments {
    http: ClientWithMiddleware,
    url: String,
    breaker: Breaker,
}

impl Payments {
    /// A client for the payments service at `config.payments_url`.
    pub fn new(config: &Config) -> Result<Self, Box<dyn std::error::Error>> {
        let breaker = BreakerConfig::new("payments")
            // Wide enough that 20% of failures never reach 50% by chance.
            .window(SlidingWindow::Count(50))
            .min_calls(20)
            .failure_rate(0.5)
            .open_duration(config.breaker_open)
            .half_open_probes(2)
            .build()?;
        let policy = Policy::builder("payments")
            .timeout(Duration::from_secs(2))
            .retry(
                RetryConfig::new("payments").max_attempts(3).backoff(
                    Backoff::exponential(Duration::from_millis(20))
                        .max_delay(Duration::from_millis(200))
                        .jitter(Jitter::Full),
                ),
            )
            .circuit_breaker(breaker.clone())
            .attempt_timeout(config.payment_attempt_timeout)
            .classifier(HttpClassifier::default())
            .build()?;
        let http = ClientBuilder::new(reqwest::Client::new())
            .with(ResilienceMiddleware::new(policy))
            .with(TracingMiddleware::default())
            .build();
        Ok(Self { http, url: config.payments_url.trim_end_matches('/').to_owned(), breaker })
    }

    /// The breaker, for the readiness check.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// Charges an order. The order id is the `Idempotency-Key`, which is
    /// what makes the POST safe to retry: payments answers a repeated key
    /// with the first charge.
    pub async fn charge(&self, order_id: &str, amount_cents: u64) -> Result<Receipt, PaymentError> {
        let response = self
            .http
            .post(format!("{}/payments", self.url))
            .header("idempotency-key", order_id)
            .json(&json!({"order_id": order_id, "amount_cents": amount_cents}))
            .with_extension(UrlTemplate::new("/payments"))
            .send()
            .await
            .map_err(PaymentError::from)?;
        if !response.status().is_success() {
            return Err(PaymentError::Status(response.status()));
        }
        response.json().await.map_err(|e| PaymentError::Decode(e.to_string()))
    }

    /// Tells payments the order is complete. No `Idempotency-Key`: the
    /// policy never retries it, and a failure is only logged.
    pub async fn notify(&self, order_id: &str) -> Result<(), PaymentError> {
        let response = self
            .http
            .post(format!("{}/notify", self.url))
            .json(&json!({"order_id": order_id}))
            .with_extension(UrlTemplate::new("/notify"))
            .send()
            .await
            .map_err(PaymentError::from)?;
        match response.status() {
            status if status.is_success() => Ok(()),
            status => Err(PaymentError::Status(status)),
        }
    }
}

impl From<reqwest_middleware::Error> for PaymentError {
    fn from(error: reqwest_middleware::Error) -> Self {
        match error {
            reqwest_middleware::Error::Middleware(error) => {
                let message = error.to_string();
                match RejectionStatus::of(error.as_ref()) {
                    Some(status) => PaymentError::Rejected { status, message },
                    None => PaymentError::Transport(message),
                }
            }
            reqwest_middleware::Error::Reqwest(error) => PaymentError::Transport(error.to_string()),
        }
    }
}
