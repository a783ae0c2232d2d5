//! The metrics schema through throughline-testing's in-memory capture
//! (the attempt spans are in `attempt_spans.rs`).

mod support;

use support::status_server;

use std::time::Duration;

use http::Request;
use opentelemetry::KeyValue;
use throughline_resilience::circuit_breaker::{BreakerConfig, SlidingWindow};
use throughline_resilience::limit::{LimitAlgorithm, LimiterConfig, Priority};
use throughline_resilience::retry::RetryConfig;
use throughline_resilience::{Backoff, HttpClassifier, Policy};
use throughline_testing::Capture;
use tower::{Layer, Service, ServiceExt};

/// The value of the metric `name` at the point with these attributes.
fn value(capture: &Capture, name: &str, attributes: &[(&'static str, &'static str)]) -> u64 {
    let attributes: Vec<_> = attributes.iter().map(|(key, value)| KeyValue::new(*key, *value)).collect();
    capture.metrics().total(name, &attributes) as u64
}

#[tokio::test(start_paused = true)]
async fn calls_retries_and_breaker_transitions_follow_the_schema() {
    let capture = Capture::new();
    let breaker = BreakerConfig::new("payments")
        .window(SlidingWindow::Count(4))
        .min_calls(4)
        .meter_provider(capture.meter_provider())
        .build()
        .unwrap();
    let policy = Policy::builder("payments")
        .retry(
            RetryConfig::new("payments")
                .max_attempts(2)
                .backoff(Backoff::constant(Duration::from_millis(1)))
                .meter_provider(capture.meter_provider()),
        )
        .circuit_breaker(breaker)
        .classifier(HttpClassifier::default())
        .meter_provider(capture.meter_provider())
        .build()
        .unwrap();
    let mut client = policy.layer().layer(status_server(vec![503, 200, 500, 500, 500, 500]));
    for _ in 0..4 {
        let _ = client.ready().await.unwrap().call(Request::get("/").body(String::new()).unwrap()).await;
    }
    let name = ("resilience.name", "payments");
    assert_eq!(value(&capture, "resilience.calls", &[name, ("resilience.outcome", "success")]), 1);
    // Call 2 fails twice, which fills the window with 3 failures of 4: the breaker opens.
    assert_eq!(value(&capture, "resilience.calls", &[name, ("resilience.outcome", "failure")]), 1);
    assert_eq!(value(&capture, "resilience.calls", &[name, ("resilience.outcome", "rejected")]), 2);
    assert_eq!(
        value(&capture, "resilience.retry.attempts", &[name, ("resilience.retry.reason", "http_status")]),
        2
    );
    let opened =
        [name, ("resilience.circuit_breaker.from", "closed"), ("resilience.circuit_breaker.to", "open")];
    assert_eq!(value(&capture, "resilience.circuit_breaker.transitions", &opened), 1);
    assert_eq!(value(&capture, "resilience.circuit_breaker.state", &[name]), 2, "2 = open");
    assert_eq!(value(&capture, "resilience.circuit_breaker.rejections", &[name]), 2);
}

#[tokio::test(start_paused = true)]
async fn shed_requests_budget_exhaustion_and_the_limit_are_metrics() {
    let capture = Capture::new();
    let limit = LimiterConfig::new("api", LimitAlgorithm::Fixed(1))
        .meter_provider(capture.meter_provider())
        .build()
        .unwrap();
    let _held = limit.try_acquire(Priority::Critical).unwrap();
    let _ = limit.try_acquire(Priority::Critical).unwrap_err();
    let _ = limit.try_acquire(Priority::Sheddable).unwrap_err();
    let name = ("resilience.name", "api");
    assert_eq!(value(&capture, "resilience.shed", &[name, ("resilience.shed.reason", "limit_reached")]), 1);
    assert_eq!(value(&capture, "resilience.shed", &[name, ("resilience.shed.reason", "sheddable")]), 1);
    assert_eq!(value(&capture, "resilience.concurrency.limit", &[name]), 1);

    let policy = Policy::builder("db")
        .retry(
            RetryConfig::new("db")
                .budget(throughline_resilience::RetryBudget::new(0.0, 0).unwrap())
                .meter_provider(capture.meter_provider()),
        )
        .build()
        .unwrap();
    let _ = policy.call(|| async { Err::<(), _>(std::io::Error::other("down")) }).await;
    assert_eq!(value(&capture, "resilience.retry.budget_exhausted", &[("resilience.name", "db")]), 1);
}
