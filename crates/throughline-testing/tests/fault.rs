//! The fault layer on a real axum router: statuses, timeouts, outages, run-time changes.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use throughline_testing::{FaultLayer, Faults, Outage};
use tower::ServiceExt;

async fn status(app: &Router) -> StatusCode {
    app.clone().oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap().status()
}

fn app(faults: &FaultLayer) -> Router {
    Router::new().route("/", get(|| async { "ok" })).layer(faults.clone())
}

#[tokio::test(start_paused = true)]
async fn injects_errors_at_the_configured_rate_with_the_configured_status() {
    let faults = FaultLayer::new(Faults::new(5).error_rate(0.5).error_status(StatusCode::BAD_GATEWAY));
    let app = app(&faults);
    let mut failed = 0;
    for _ in 0..400 {
        match status(&app).await {
            StatusCode::BAD_GATEWAY => failed += 1,
            StatusCode::OK => {}
            other => panic!("{other}"),
        }
    }
    assert!((160..240).contains(&failed), "{failed}");
    assert_eq!(faults.stats().errors, failed);
    assert_eq!(faults.stats().requests, 400);
}

#[tokio::test(start_paused = true)]
async fn timed_out_requests_hang_then_answer_504() {
    let faults = FaultLayer::new(Faults::new(1).timeout_rate(1.0).hang(Duration::from_secs(10)));
    let app = app(&faults);
    let started = tokio::time::Instant::now();
    assert_eq!(status(&app).await, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(started.elapsed(), Duration::from_secs(10));
    let client_timeout = tokio::time::timeout(Duration::from_secs(1), status(&app)).await;
    assert!(client_timeout.is_err(), "a client with a 1 s timeout gives up");
}

#[tokio::test(start_paused = true)]
async fn outage_windows_answer_503_and_end() {
    let faults = FaultLayer::new(
        Faults::new(0).outage(Outage { start: Duration::from_secs(5), length: Duration::from_secs(5) }),
    );
    let app = app(&faults);
    assert_eq!(status(&app).await, StatusCode::OK);
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(status(&app).await, StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(status(&app).await, StatusCode::OK);
    assert_eq!(faults.stats().outages, 1);
}

#[tokio::test(start_paused = true)]
async fn faults_can_be_switched_at_run_time() {
    let faults = FaultLayer::new(Faults::new(0).error_rate(1.0));
    let app = app(&faults);
    assert_eq!(status(&app).await, StatusCode::INTERNAL_SERVER_ERROR);
    faults.set(Faults::new(0));
    assert_eq!(status(&app).await, StatusCode::OK);
    assert_eq!(faults.faults(), Faults::new(0));
}
