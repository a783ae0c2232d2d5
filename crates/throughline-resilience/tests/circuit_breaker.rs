//! Every breaker transition, the half-open probe limit, forced states, keyed
//! breakers, and the tower layer, with tokio's paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use throughline_resilience::circuit_breaker::{
    BreakerConfig, BreakerConfigError, CircuitBreakerLayer, CircuitState, KeyedBreaker, MAX_KEYS,
    SlidingWindow,
};
use throughline_resilience::classify::{Failure, Reason};
use throughline_resilience::http_rejection::HttpRejectionLayer;
use throughline_resilience::{Breaker, CircuitOpen, HttpClassifier, Outcome};
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

const FAIL: Outcome = Outcome::Failure(Failure::retryable(Reason::Error));

fn breaker(config: BreakerConfig) -> Breaker {
    config.build().unwrap()
}

fn small() -> BreakerConfig {
    BreakerConfig::new("test")
        .window(SlidingWindow::Count(10))
        .min_calls(4)
        .failure_rate(0.5)
        .open_duration(Duration::from_secs(10))
        .half_open_probes(2)
}

fn record(breaker: &Breaker, outcomes: &[Outcome]) {
    for outcome in outcomes {
        breaker.try_acquire().unwrap().record(*outcome);
    }
}

fn open(breaker: &Breaker) {
    record(breaker, &[FAIL; 4]);
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn closed_opens_when_the_failure_rate_reaches_the_threshold() {
    let breaker = breaker(small());
    record(&breaker, &[Outcome::Success, FAIL, Outcome::Success]);
    assert_eq!(breaker.state(), CircuitState::Closed, "three calls: below the minimum");
    record(&breaker, &[FAIL]);
    assert_eq!(breaker.state(), CircuitState::Open, "2 of 4 failed: 50 %");
}

#[tokio::test(start_paused = true)]
async fn below_the_threshold_it_stays_closed() {
    let breaker = breaker(small());
    record(&breaker, &[FAIL, Outcome::Success, Outcome::Success, Outcome::Success, FAIL, Outcome::Success]);
    assert_eq!(breaker.state(), CircuitState::Closed, "2 of 6");
}

#[tokio::test(start_paused = true)]
async fn the_count_window_forgets_old_failures() {
    let breaker = breaker(small().window(SlidingWindow::Count(4)));
    record(&breaker, &[FAIL, Outcome::Success, Outcome::Success, Outcome::Success]);
    record(&breaker, &[Outcome::Success; 4]);
    assert_eq!(breaker.snapshot().failures, 0);
    record(&breaker, &[FAIL]);
    assert_eq!(breaker.state(), CircuitState::Closed, "1 of 4");
}

#[tokio::test(start_paused = true)]
async fn ignored_outcomes_are_not_counted() {
    let breaker = breaker(small());
    record(&breaker, &[Outcome::Ignored; 10]);
    assert_eq!(breaker.snapshot().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn open_rejects_with_the_time_until_the_next_probe() {
    let breaker = breaker(small());
    open(&breaker);
    tokio::time::advance(Duration::from_secs(4)).await;
    let rejection: CircuitOpen = breaker.try_acquire().unwrap_err();
    assert_eq!(rejection.retry_in(), Some(Duration::from_secs(6)));
    assert_eq!(rejection.breaker(), "test");
}

#[tokio::test(start_paused = true)]
async fn after_the_open_duration_it_admits_only_the_allowed_probes() {
    let breaker = breaker(small());
    open(&breaker);
    tokio::time::advance(Duration::from_secs(10)).await;
    let first = breaker.try_acquire().unwrap();
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    let second = breaker.try_acquire().unwrap();
    let third = breaker.try_acquire().unwrap_err();
    assert_eq!(third.retry_in(), None, "no probe slot until one finishes");
    first.record(Outcome::Success);
    assert!(breaker.try_acquire().is_err(), "a finished probe does not free a slot");
    second.record(Outcome::Success);
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.snapshot().calls, 0, "closing starts a fresh window");
}

#[tokio::test(start_paused = true)]
async fn failing_probes_open_it_again() {
    let breaker = breaker(small());
    open(&breaker);
    tokio::time::advance(Duration::from_secs(10)).await;
    record(&breaker, &[FAIL, Outcome::Success]);
    assert_eq!(breaker.state(), CircuitState::Open, "1 of 2 probes failed: 50 %");
    assert_eq!(breaker.try_acquire().unwrap_err().retry_in(), Some(Duration::from_secs(10)));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_probe_frees_its_slot() {
    let breaker = breaker(small());
    open(&breaker);
    tokio::time::advance(Duration::from_secs(10)).await;
    let (a, b) = (breaker.try_acquire().unwrap(), breaker.try_acquire().unwrap());
    drop(a);
    let c = breaker.try_acquire().expect("the dropped probe's slot is free again");
    b.record(Outcome::Success);
    c.record(Outcome::Success);
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn the_open_duration_grows_with_each_failed_probe_round_and_resets_on_close() {
    let breaker = breaker(small().growing_open_duration(2.0, Duration::from_secs(30)));
    open(&breaker);
    for expected in [20, 30, 30] {
        tokio::time::advance(breaker.try_acquire().unwrap_err().retry_in().unwrap()).await;
        record(&breaker, &[FAIL, FAIL]);
        assert_eq!(breaker.try_acquire().unwrap_err().retry_in(), Some(Duration::from_secs(expected)));
    }
    tokio::time::advance(Duration::from_secs(30)).await;
    record(&breaker, &[Outcome::Success, Outcome::Success]);
    open(&breaker);
    assert_eq!(breaker.try_acquire().unwrap_err().retry_in(), Some(Duration::from_secs(10)));
}

#[tokio::test(start_paused = true)]
async fn slow_calls_open_it_even_when_they_succeed() {
    let breaker = breaker(small().slow_calls(Duration::from_millis(100), 0.5));
    for _ in 0..4 {
        let permit = breaker.try_acquire().unwrap();
        tokio::time::advance(Duration::from_millis(150)).await;
        permit.record(Outcome::Success);
    }
    assert_eq!(breaker.snapshot().slow, 4);
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_time_window_counts_only_recent_calls() {
    let breaker = breaker(small().window(SlidingWindow::Time(Duration::from_secs(10))));
    record(&breaker, &[FAIL, FAIL, Outcome::Success]);
    tokio::time::advance(Duration::from_secs(11)).await;
    record(&breaker, &[FAIL, Outcome::Success, Outcome::Success, Outcome::Success]);
    assert_eq!(breaker.state(), CircuitState::Closed, "the old failures left the window: 1 of 4");
    record(&breaker, &[FAIL, FAIL]);
    assert_eq!(breaker.state(), CircuitState::Open, "3 of 6");
}

#[tokio::test(start_paused = true)]
async fn forced_and_disabled_states_hold_until_reset() {
    let breaker = breaker(small());
    breaker.force_open();
    assert_eq!(breaker.try_acquire().unwrap_err().retry_in(), None);
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(breaker.state(), CircuitState::ForcedOpen);

    breaker.force_closed();
    record(&breaker, &[FAIL; 10]);
    assert_eq!(breaker.state(), CircuitState::ForcedClosed, "counted but never opened");
    assert_eq!(breaker.snapshot().failures, 10);

    breaker.disable();
    record(&breaker, &[FAIL; 10]);
    assert_eq!(breaker.state(), CircuitState::Disabled);

    breaker.reset();
    assert_eq!((breaker.state(), breaker.snapshot().calls), (CircuitState::Closed, 0));
}

#[tokio::test(start_paused = true)]
async fn a_result_from_before_a_transition_is_not_counted() {
    let breaker = breaker(small());
    let stale = breaker.try_acquire().unwrap();
    breaker.force_open();
    breaker.reset();
    stale.record(FAIL);
    assert_eq!(breaker.snapshot().calls, 0);
}

#[test]
fn invalid_configurations_are_typed_errors() {
    let invalid = |config: BreakerConfig| config.build().unwrap_err();
    assert!(matches!(invalid(small().failure_rate(0.0)), BreakerConfigError::Rate { .. }));
    assert!(matches!(invalid(small().failure_rate(1.5)), BreakerConfigError::Rate { .. }));
    assert!(matches!(
        invalid(small().slow_calls(Duration::from_secs(1), f64::NAN)),
        BreakerConfigError::Rate { .. }
    ));
    assert_eq!(invalid(small().window(SlidingWindow::Count(0))), BreakerConfigError::WindowSize(0));
    assert_eq!(
        invalid(small().min_calls(11)),
        BreakerConfigError::MinCallsAboveWindow { min_calls: 11, window: 10 }
    );
    assert!(matches!(
        invalid(small().window(SlidingWindow::Time(Duration::ZERO))),
        BreakerConfigError::WindowDuration(_)
    ));
    assert_eq!(invalid(small().half_open_probes(0)), BreakerConfigError::Probes(0));
    assert!(matches!(
        invalid(small().growing_open_duration(0.5, Duration::from_secs(1))),
        BreakerConfigError::Multiplier(_)
    ));
}

#[tokio::test(start_paused = true)]
async fn keyed_breakers_are_independent_and_bounded() {
    let keyed = KeyedBreaker::new(small(), 2).unwrap();
    open(&keyed.get(&"a"));
    assert!(keyed.get(&"b").try_acquire().is_ok());
    assert_eq!(keyed.get(&"c").name(), "test:_other", "over max_keys, keys share one breaker");
    assert_eq!(keyed.breakers().len(), 2);
    assert_eq!(keyed.get(&"a").state(), CircuitState::Open, "a known key finds its breaker when full");
}

#[test]
fn a_keyed_breaker_allows_one_to_max_keys_keys() {
    let invalid = |max_keys| KeyedBreaker::<String>::new(small(), max_keys).unwrap_err();
    assert_eq!(invalid(0), BreakerConfigError::MaxKeys(0));
    assert_eq!(invalid(MAX_KEYS + 1), BreakerConfigError::MaxKeys(MAX_KEYS + 1));
    assert!(KeyedBreaker::<String>::new(small(), MAX_KEYS).is_ok());
}

fn counting_server(
    status: u16,
) -> (
    Arc<AtomicU32>,
    impl Service<Request<String>, Response = Response<String>, Error = std::io::Error> + Clone,
) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let service = service_fn(move |_: Request<String>| {
        counter.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(Response::builder().status(status).body(String::new()).unwrap()))
    });
    (calls, service)
}

#[tokio::test(start_paused = true)]
async fn the_layer_counts_classified_responses_and_rejects_without_calling_the_service() {
    let breaker = breaker(small());
    let (calls, server) = counting_server(503);
    let mut client = CircuitBreakerLayer::new(breaker.clone(), HttpClassifier::default()).layer(server);
    for _ in 0..4 {
        let response = client.ready().await.unwrap().call(Request::new(String::new())).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let error = client.ready().await.unwrap().call(Request::new(String::new())).await.unwrap_err();
    assert!(error.is::<CircuitOpen>());
    assert_eq!(calls.load(Ordering::SeqCst), 4, "the rejected call never reached the service");
}

#[tokio::test(start_paused = true)]
async fn a_server_answers_an_open_breaker_with_503_and_retry_after() {
    let breaker = breaker(small());
    open(&breaker);
    tokio::time::advance(Duration::from_millis(2500)).await;
    let (_, server) = counting_server(200);
    let mut service = ServiceBuilder::new()
        .layer(HttpRejectionLayer::new())
        .layer(CircuitBreakerLayer::new(breaker, HttpClassifier::default()))
        .service(server);
    let response = service.ready().await.unwrap().call(Request::new(String::new())).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "8", "7.5 s to the probe, rounded up");
}

#[tokio::test(start_paused = true)]
async fn a_keyed_layer_opens_only_the_failing_hosts_breaker() {
    let keyed = KeyedBreaker::new(small(), 16).unwrap();
    let server = service_fn(|request: Request<String>| {
        let status = if request.uri().host() == Some("down") { 503 } else { 200 };
        std::future::ready(Ok::<_, std::io::Error>(
            Response::builder().status(status).body(String::new()).unwrap(),
        ))
    });
    let host = |request: &Request<String>| request.uri().host().unwrap_or_default().to_owned();
    let mut client = CircuitBreakerLayer::keyed(keyed.clone(), HttpClassifier::default(), host).layer(server);
    for uri in ["http://down/", "http://up/"].repeat(4) {
        client.ready().await.unwrap().call(Request::get(uri).body(String::new()).unwrap()).await.unwrap();
    }
    assert_eq!(keyed.get(&"down".to_owned()).state(), CircuitState::Open);
    assert_eq!(keyed.get(&"up".to_owned()).state(), CircuitState::Closed);
}
