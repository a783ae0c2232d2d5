//! Health endpoints: liveness, and readiness that turns false as soon as
//! shutdown starts or a registered check fails.

use std::sync::{Arc, RwLock};

use crate::graceful::Lifecycle;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

type Check = Box<dyn Fn() -> bool + Send + Sync>;

/// `GET /health/live` and `GET /health/ready`.
///
/// Liveness answers 200 while the process serves. Readiness answers 503 once
/// shutdown starts (so a load balancer stops sending traffic while in-flight
/// requests drain) and while any check fails, such as an open circuit breaker;
/// the body names the reasons.
///
/// ```
/// use throughline::Health;
/// use throughline::Lifecycle;
///
/// let health = Health::new(Lifecycle::new());
/// health.add_check("payments breaker closed", || true);
/// let app: axum::Router = axum::Router::new().merge(health.router());
/// assert!(health.is_ready());
/// ```
#[derive(Clone)]
pub struct Health {
    lifecycle: Lifecycle,
    checks: Arc<RwLock<Vec<(String, Check)>>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health").field("draining", &self.lifecycle.is_draining()).finish()
    }
}

impl Health {
    /// Health for a service with this lifecycle.
    pub fn new(lifecycle: Lifecycle) -> Self {
        Self { lifecycle, checks: Arc::default() }
    }

    /// The lifecycle readiness follows.
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// Readiness fails while `check` returns false.
    pub fn add_check(&self, name: impl Into<String>, check: impl Fn() -> bool + Send + Sync + 'static) {
        self.checks.write().unwrap_or_else(|p| p.into_inner()).push((name.into(), Box::new(check)));
    }

    /// Readiness fails while `breaker` is open (opened by failures or forced):
    /// a service whose critical dependency is down should not take traffic it
    /// can only refuse.
    #[cfg(feature = "resilience")]
    pub fn add_circuit_breaker(&self, breaker: throughline_resilience::Breaker) {
        use throughline_resilience::CircuitState;
        let name = format!("circuit breaker {}", breaker.name());
        self.add_check(name, move || {
            !matches!(breaker.state(), CircuitState::Open | CircuitState::ForcedOpen)
        });
    }

    /// Why the service is not ready; empty when it is.
    pub fn reasons(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        if self.lifecycle.is_draining() {
            reasons.push("shutting down".to_owned());
        }
        let checks = self.checks.read().unwrap_or_else(|p| p.into_inner());
        reasons
            .extend(checks.iter().filter(|(_, check)| !check()).map(|(name, _)| format!("{name}: failing")));
        reasons
    }

    /// Whether the service should receive traffic.
    pub fn is_ready(&self) -> bool {
        self.reasons().is_empty()
    }

    /// The two routes, to merge into the service's router.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let ready = self.clone();
        Router::new()
            .route(
                "/health/live",
                get(|| async { json(StatusCode::OK, serde_json::json!({ "status": "live" })) }),
            )
            .route(
                "/health/ready",
                get(move || {
                    let reasons = ready.reasons();
                    async move {
                        if reasons.is_empty() {
                            json(StatusCode::OK, serde_json::json!({ "status": "ready" }))
                        } else {
                            let body = serde_json::json!({ "status": "not ready", "reasons": reasons });
                            json(StatusCode::SERVICE_UNAVAILABLE, body)
                        }
                    }
                }),
            )
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}
