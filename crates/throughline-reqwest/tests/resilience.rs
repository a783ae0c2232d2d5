//! `ResilienceMiddleware` outside `TracingMiddleware`: one client span per attempt.

#![cfg(feature = "resilience")]

mod support;

use std::time::Duration;

use opentelemetry::Value;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use support::{attribute, client_spans, serve};
use throughline_reqwest::{ClientInstrumentation, ResilienceMiddleware, TracingMiddleware};
use throughline_resilience::retry::RetryConfig;
use throughline_resilience::{Backoff, HttpClassifier, Policy};
use throughline_testing::Capture;
use tracing::Instrument;

fn client(capture: &Capture) -> ClientWithMiddleware {
    let policy = Policy::builder("flaky")
        .retry(
            RetryConfig::new("flaky")
                .max_attempts(3)
                .backoff(Backoff::exponential(Duration::from_millis(10)))
                .without_budget(),
        )
        .classifier(HttpClassifier::default())
        .build()
        .unwrap();
    let tracing = TracingMiddleware::with_instrumentation(
        ClientInstrumentation::new().meter_provider(capture.meter_provider()),
    );
    ClientBuilder::new(reqwest::Client::new()).with(ResilienceMiddleware::new(policy)).with(tracing).build()
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_503_on_get_is_retried_as_a_second_client_span() {
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, calls) = serve().await;
    let parent = tracing::info_span!("checkout");
    let response =
        client(&capture).get(format!("http://{addr}/flaky")).send().instrument(parent).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(calls.get(), 2);
    let spans = client_spans(&capture);
    assert_eq!(spans.len(), 2, "{spans:#?}");
    assert_eq!(attribute(&spans[0], "http.response.status_code"), Some(&Value::from(503)));
    assert_eq!(attribute(&spans[0], "http.request.resend_count"), None);
    assert_eq!(attribute(&spans[1], "http.response.status_code"), Some(&Value::from(200)));
    assert_eq!(attribute(&spans[1], "http.request.resend_count"), Some(&Value::from(1)));
    // Both attempts are in the caller's trace.
    assert_eq!(spans[0].span_context.trace_id(), spans[1].span_context.trace_id());
    assert_eq!(
        spans[0].span_context.trace_id(),
        capture.spans().named("checkout").data().span_context.trace_id()
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_post_without_an_idempotency_key_is_never_retried() {
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, calls) = serve().await;
    let response = client(&capture).post(format!("http://{addr}/flaky")).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(calls.get(), 1);
    assert_eq!(client_spans(&capture).len(), 1);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_post_with_an_idempotency_key_is_retried() {
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, calls) = serve().await;
    let response = client(&capture)
        .post(format!("http://{addr}/flaky"))
        .header("idempotency-key", "8e03978e-40d5-43e8-bc93-6894a57f9324")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(calls.get(), 2);
    let spans = client_spans(&capture);
    assert_eq!(spans.len(), 2);
    assert_eq!(attribute(&spans[1], "http.request.resend_count"), Some(&Value::from(1)));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_streamed_body_is_not_retried() {
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, calls) = serve().await;
    let response = client(&capture)
        .post(format!("http://{addr}/flaky"))
        .header("idempotency-key", "k")
        .body(reqwest::Body::wrap(unclonable_body()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503, "the body could not be cloned, so no second attempt");
    assert_eq!(calls.get(), 1);
}

/// A body that reqwest cannot clone.
fn unclonable_body() -> http_body_util::Full<bytes::Bytes> {
    http_body_util::Full::new(bytes::Bytes::from_static(b"{}"))
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_open_circuit_is_a_typed_rejection_with_its_answer() {
    use throughline_resilience::RejectionStatus;
    use throughline_resilience::circuit_breaker::BreakerConfig;

    // A subscriber, as every test here has: a test without one can leave
    // tracing's per-callsite interest cache at "never" for the others.
    let _default = tracing::subscriber::set_default(Capture::new().subscriber());
    let (addr, calls) = serve().await;
    let breaker = BreakerConfig::new("down").build().unwrap();
    breaker.force_open();
    let policy = Policy::builder("down")
        .circuit_breaker(breaker)
        .classifier(HttpClassifier::default())
        .build()
        .unwrap();
    let client = ClientBuilder::new(reqwest::Client::new()).with(ResilienceMiddleware::new(policy)).build();
    let error = client.get(format!("http://{addr}/flaky")).send().await.unwrap_err();
    assert_eq!(calls.get(), 0, "an open circuit sends nothing");
    let reqwest_middleware::Error::Middleware(error) = error else {
        panic!("not the policy's error: {error}")
    };
    let status = RejectionStatus::of(error.as_ref()).expect("a rejection");
    assert_eq!(status.http, 503);
    assert!(error.downcast_ref::<throughline_resilience::CircuitOpen>().is_some());
}
