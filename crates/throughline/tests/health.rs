//! Readiness follows shutdown and registered checks; liveness stays up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use http_request::get;
use throughline::Health;
use throughline::Lifecycle;
use tower::ServiceExt;

mod http_request {
    pub(crate) fn get(path: &str) -> axum::http::Request<axum::body::Body> {
        axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap()
    }
}

async fn call(health: &Health, path: &str) -> (u16, serde_json::Value) {
    let response = health.router::<()>().oneshot(get(path)).await.unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn readiness_turns_false_when_shutdown_starts_and_liveness_stays() {
    let lifecycle = Lifecycle::new();
    let health = Health::new(lifecycle.clone());
    assert_eq!(call(&health, "/health/ready").await.0, 200);
    lifecycle.start_draining();
    let (status, body) = call(&health, "/health/ready").await;
    assert_eq!(status, 503);
    assert_eq!(body["reasons"][0], "shutting down");
    assert_eq!(call(&health, "/health/live").await.0, 200);
}

#[tokio::test]
async fn a_failing_check_makes_the_service_not_ready() {
    let health = Health::new(Lifecycle::new());
    let breaker_open = Arc::new(AtomicBool::new(false));
    let flag = breaker_open.clone();
    health.add_check("payments breaker", move || !flag.load(Ordering::Relaxed));
    assert!(health.is_ready());
    breaker_open.store(true, Ordering::Relaxed);
    let (status, body) = call(&health, "/health/ready").await;
    assert_eq!(status, 503);
    assert_eq!(body["reasons"][0], "payments breaker: failing");
    let _ = Body::empty();
}

#[cfg(feature = "resilience")]
#[tokio::test]
async fn an_open_circuit_breaker_makes_the_service_not_ready() {
    use throughline::resilience::circuit_breaker::BreakerConfig;

    let health = Health::new(Lifecycle::new());
    let breaker = BreakerConfig::new("payments").build().unwrap();
    health.add_circuit_breaker(breaker.clone());
    assert!(health.is_ready());
    breaker.force_open();
    let (status, body) = call(&health, "/health/ready").await;
    assert_eq!(status, 503);
    assert_eq!(body["reasons"][0], "circuit breaker payments: failing");
    breaker.force_closed();
    assert!(health.is_ready());
}
