//! Hedged requests on tokio's paused clock: when a hedge goes, which answer
//! wins, what is cancelled, and what the spans and metrics say. Every test
//! captures with its own `Capture` made the default, so no test runs without
//! a subscriber and tracing's per-callsite interest stays "always".

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use opentelemetry::KeyValue;
use throughline_resilience::circuit_breaker::BreakerConfig;
use throughline_resilience::hedge::{Hedge, HedgeConfig, HedgeConfigError, SafeMethods};
use throughline_resilience::{BoxError, Deadline, ResendCount, RetryBudget, attribute};
use throughline_testing::Capture;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

/// How a replica answers the call numbered `n` (from 1): after how long, and
/// whether with a response or an error.
type Script = dyn Fn(u32) -> (u64, bool) + Send + Sync;

/// A dependency whose every call is scripted, and which counts the calls
/// that were dropped before they answered.
#[derive(Clone)]
struct Replica {
    script: Arc<Script>,
    calls: Arc<AtomicU32>,
    cancelled: Arc<Mutex<Vec<u32>>>,
    resends: Arc<Mutex<Vec<Option<u32>>>>,
}

impl Replica {
    fn new(script: impl Fn(u32) -> (u64, bool) + Send + Sync + 'static) -> Self {
        Self {
            script: Arc::new(script),
            calls: Arc::default(),
            cancelled: Arc::default(),
            resends: Arc::default(),
        }
    }

    /// Call `n` answers successfully after `latency(n)` milliseconds.
    fn answering(latency: impl Fn(u32) -> u64 + Send + Sync + 'static) -> Self {
        Self::new(move |n| (latency(n), true))
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    fn cancelled(&self) -> Vec<u32> {
        self.cancelled.lock().unwrap().clone()
    }
}

/// Counts the call as cancelled unless it finished.
struct Guard {
    call: u32,
    finished: bool,
    cancelled: Arc<Mutex<Vec<u32>>>,
}

impl Guard {
    fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.finished {
            self.cancelled.lock().unwrap().push(self.call);
        }
    }
}

impl<B> Service<Request<B>> for Replica {
    type Response = Response<u32>;
    type Error = std::io::Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Response<u32>, std::io::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.resends.lock().unwrap().push(request.extensions().get::<ResendCount>().map(|r| r.0));
        let (latency, ok) = (self.script)(call);
        let mut guard = Guard { call, finished: false, cancelled: self.cancelled.clone() };
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(latency)).await;
            guard.finish(); // a method, so the block owns the whole guard, not a copy of a field
            if ok {
                Ok(Response::new(call))
            } else {
                Err(std::io::Error::other(format!("call {call} failed")))
            }
        })
    }
}

/// The policy most tests start from: a hedge after a fixed 50 ms.
fn after_50ms() -> HedgeConfig {
    HedgeConfig::new("inventory").delay(Duration::from_millis(50))
}

fn get() -> Request<String> {
    Request::get("http://inventory/items/7").body(String::new()).unwrap()
}

/// Sends one request through `hedge` around `replica`; the answer and how long it took.
async fn send<S>(service: &mut S, request: Request<String>) -> (Result<Response<u32>, BoxError>, Duration)
where
    S: Service<Request<String>, Response = Response<u32>, Error = BoxError>,
{
    let started = Instant::now();
    let result = match service.ready().await {
        Ok(service) => service.call(request).await,
        Err(error) => Err(error),
    };
    (result, started.elapsed())
}

/// Each `resilience.hedge` span as (attempt, winner).
fn hedge_spans(capture: &Capture) -> Vec<(i64, Option<bool>)> {
    let spans = capture.spans();
    let mut found: Vec<(i64, Option<bool>)> = spans
        .all()
        .iter()
        .filter(|span| span.name == "resilience.hedge")
        .map(|span| {
            let value =
                |key: &str| span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value);
            let attempt = match value(attribute::HEDGE_ATTEMPT) {
                Some(opentelemetry::Value::I64(n)) => *n,
                other => panic!("attempt attribute: {other:?}"),
            };
            let winner = match value(attribute::HEDGE_WINNER) {
                Some(opentelemetry::Value::Bool(b)) => Some(*b),
                None => None,
                other => panic!("winner attribute: {other:?}"),
            };
            (attempt, winner)
        })
        .collect();
    found.sort();
    found
}

fn counter(capture: &Capture, name: &str) -> f64 {
    capture.metrics().total(name, &[KeyValue::new(attribute::NAME, "inventory")])
}

#[tokio::test(start_paused = true)]
async fn a_slow_first_attempt_is_beaten_by_the_hedge() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let policy = after_50ms().meter_provider(capture.meter_provider()).build().unwrap();
    let replica = Replica::answering(|n| if n == 1 { 1000 } else { 10 });
    let mut client = Hedge::layer(policy).layer(replica.clone());

    let (result, elapsed) = send(&mut client, get()).await;

    assert_eq!(*result.unwrap().body(), 2, "the hedge's answer");
    assert_eq!(elapsed, Duration::from_millis(60), "sent at 50 ms, answered 10 ms later");
    assert_eq!(replica.cancelled(), [1], "the slow first attempt was dropped");
    assert_eq!(*replica.resends.lock().unwrap(), [None, Some(1)], "the hedge is a resend");
    assert_eq!(hedge_spans(&capture), [(1, Some(false)), (2, Some(true))]);
    let spans = capture.spans();
    let second = KeyValue::new(attribute::HEDGE_ATTEMPT, 2_i64);
    let hedge = spans.all().iter().find(|s| s.attributes.contains(&second)).unwrap();
    assert!(hedge.attributes.contains(&KeyValue::new("http.request.resend_count", 1_i64)));
    assert_eq!(counter(&capture, "resilience.hedge.sent"), 1.0);
    assert_eq!(counter(&capture, "resilience.hedge.won"), 1.0);
    assert_eq!(counter(&capture, "resilience.hedge.cancelled"), 1.0);
}

#[tokio::test(start_paused = true)]
async fn a_fast_first_attempt_sends_no_hedge() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let policy = after_50ms().meter_provider(capture.meter_provider()).build().unwrap();
    let replica = Replica::answering(|_| 10);
    let mut client = Hedge::layer(policy).layer(replica.clone());

    let (result, elapsed) = send(&mut client, get()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    assert_eq!(*result.unwrap().body(), 1);
    assert_eq!(elapsed, Duration::from_millis(10));
    assert_eq!(replica.calls(), 1);
    assert_eq!(hedge_spans(&capture), [(1, None)], "one attempt, no race, no winner to mark");
    assert_eq!(counter(&capture, "resilience.hedge.sent"), 0.0);
}

#[tokio::test(start_paused = true)]
async fn no_hedge_when_the_budget_is_spent() {
    let capture = Capture::new();
    let _default = capture.set_default();
    // 10 % of calls and no floor: one call pays a tenth of a hedge.
    let policy = after_50ms()
        .budget(RetryBudget::new(0.1, 0).unwrap())
        .meter_provider(capture.meter_provider())
        .build()
        .unwrap();
    let replica = Replica::answering(|n| if n == 1 { 1000 } else { 10 });
    let mut client = Hedge::layer(policy).layer(replica.clone());

    let (result, elapsed) = send(&mut client, get()).await;

    assert_eq!(*result.unwrap().body(), 1, "no hedge: the first attempt's answer");
    assert_eq!(elapsed, Duration::from_millis(1000));
    assert_eq!(replica.calls(), 1);
    assert_eq!(counter(&capture, "resilience.hedge.sent"), 0.0);
    let logs = capture.logs();
    assert!(logs.iter().any(|log| log.body.contains("hedge budget exhausted")), "{logs:?}");
}

#[tokio::test(start_paused = true)]
async fn no_hedge_when_the_deadline_is_nearer_than_the_delay() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let policy = after_50ms().build().unwrap();
    let replica = Replica::answering(|n| if n == 1 { 70 } else { 10 });
    let mut client = Hedge::layer(policy).layer(replica.clone());

    // At 50 ms, 30 ms would be left: less than the delay.
    let mut near = get();
    near.extensions_mut().insert(Deadline::after(Duration::from_millis(80)));
    let (result, _) = send(&mut client, near).await;
    assert_eq!(*result.unwrap().body(), 1);
    assert_eq!(replica.calls(), 1, "no hedge");

    // The same call with time to spare is hedged.
    let replica = Replica::answering(|n| if n == 1 { 70 } else { 10 });
    let mut client = Hedge::layer(after_50ms().build().unwrap()).layer(replica.clone());
    let mut far = get();
    far.extensions_mut().insert(Deadline::after(Duration::from_millis(100)));
    let (result, elapsed) = send(&mut client, far).await;
    assert_eq!((*result.unwrap().body(), elapsed), (2, Duration::from_millis(60)));
}

#[tokio::test(start_paused = true)]
async fn no_hedge_while_the_breaker_is_open() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let breaker = BreakerConfig::new("inventory").build().unwrap();
    let policy = after_50ms()
        .circuit_breaker(breaker.clone())
        .meter_provider(capture.meter_provider())
        .build()
        .unwrap();
    let replica = Replica::answering(|n| if n <= 2 { 1000 } else { 10 });
    let mut client = Hedge::layer(policy).layer(replica.clone());

    breaker.force_open();
    let (result, elapsed) = send(&mut client, get()).await;
    assert_eq!((*result.unwrap().body(), elapsed), (1, Duration::from_millis(1000)));
    assert_eq!(replica.calls(), 1, "no hedge");

    breaker.reset();
    let (result, _) = send(&mut client, get()).await;
    assert_eq!(*result.unwrap().body(), 3, "closed again: hedged");
    assert_eq!(counter(&capture, "resilience.hedge.sent"), 1.0);
}

#[tokio::test(start_paused = true)]
async fn a_request_that_is_not_safe_to_send_twice_is_not_hedged() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let policy = after_50ms().build().unwrap();
    let replica = Replica::answering(|n| if n == 1 { 1000 } else { 10 });
    let mut client = Hedge::layer(policy).layer(replica.clone());

    let post = Request::post("http://payments/charges").body(String::from("{}")).unwrap();
    let (result, elapsed) = send(&mut client, post).await;

    assert_eq!((*result.unwrap().body(), elapsed), (1, Duration::from_millis(1000)));
    assert_eq!(replica.calls(), 1);
    assert_eq!(hedge_spans(&capture), [], "a call that is never hedged has no hedge span");
}

#[tokio::test(start_paused = true)]
async fn a_grpc_method_marked_safe_is_hedged_and_the_others_are_not() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let policy =
        after_50ms().safe_to_hedge(SafeMethods::new(["/inventory.v1.Inventory/GetStock"])).build().unwrap();
    let replica = Replica::answering(|n| if n == 1 || n == 3 { 1000 } else { 10 });
    let mut client = Hedge::layer(policy).layer(replica.clone());
    let grpc = |method: &str| {
        Request::post(format!("http://inventory{method}"))
            .header("content-type", "application/grpc")
            .body(String::new())
            .unwrap()
    };

    let (result, elapsed) = send(&mut client, grpc("/inventory.v1.Inventory/GetStock")).await;
    assert_eq!((*result.unwrap().body(), elapsed), (2, Duration::from_millis(60)));
    let (result, elapsed) = send(&mut client, grpc("/inventory.v1.Inventory/Reserve")).await;
    assert_eq!((*result.unwrap().body(), elapsed), (3, Duration::from_millis(1000)), "not marked safe");
    assert_eq!(replica.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_losing_hedge_is_cancelled_when_the_first_attempt_wins() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let policy = after_50ms().max_hedges(2).meter_provider(capture.meter_provider()).build().unwrap();
    // The first attempt answers at 120 ms; hedges go at 50 and 100 ms and would take 500.
    let replica = Replica::answering(|n| if n == 1 { 120 } else { 500 });
    let mut client = Hedge::layer(policy).layer(replica.clone());

    let (result, elapsed) = send(&mut client, get()).await;

    assert_eq!((*result.unwrap().body(), elapsed), (1, Duration::from_millis(120)));
    let mut cancelled = replica.cancelled();
    cancelled.sort();
    assert_eq!(cancelled, [2, 3], "both hedges dropped when the first attempt won");
    assert_eq!(hedge_spans(&capture), [(1, Some(true)), (2, Some(false)), (3, Some(false))]);
    assert_eq!(counter(&capture, "resilience.hedge.sent"), 2.0);
    assert_eq!(counter(&capture, "resilience.hedge.won"), 0.0, "the first attempt is not a hedge");
    assert_eq!(counter(&capture, "resilience.hedge.cancelled"), 2.0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_attempt_waits_for_the_one_in_flight() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let policy = after_50ms().build().unwrap();
    // The first attempt fails at 100 ms, while the hedge sent at 50 ms is in flight.
    let replica = Replica::new(|n| if n == 1 { (100, false) } else { (100, true) });
    let mut client = Hedge::layer(policy).layer(replica.clone());

    let (result, elapsed) = send(&mut client, get()).await;
    assert_eq!((*result.unwrap().body(), elapsed), (2, Duration::from_millis(150)));

    // A failure with nothing else in flight ends the call: hedging is not retry.
    let replica = Replica::new(|_| (10, false));
    let mut client = Hedge::layer(after_50ms().build().unwrap()).layer(replica.clone());
    let (result, elapsed) = send(&mut client, get()).await;
    assert_eq!(result.unwrap_err().to_string(), "call 1 failed");
    assert_eq!((elapsed, replica.calls()), (Duration::from_millis(10), 1));

    // When every attempt fails, the call fails with the last failure.
    let replica = Replica::new(|n| (if n == 1 { 100 } else { 80 }, false));
    let mut client = Hedge::layer(after_50ms().build().unwrap()).layer(replica.clone());
    let (result, elapsed) = send(&mut client, get()).await;
    assert_eq!(result.unwrap_err().to_string(), "call 2 failed");
    assert_eq!(elapsed, Duration::from_millis(130));
}

#[tokio::test(start_paused = true)]
async fn a_percentile_delay_takes_over_from_the_fallback_after_enough_samples() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let policy = HedgeConfig::new("inventory")
        .percentile_delay(0.95, Duration::from_millis(500))
        .min_samples(20)
        .without_budget()
        .build()
        .unwrap();
    // Calls 1 to 20 take 1 to 20 ms; call 21 is stuck; its hedge, call 22, takes 1 ms.
    let replica = Replica::answering(|n| match n {
        1..=20 => u64::from(n),
        21 => 10_000,
        _ => 1,
    });
    let mut client = Hedge::layer(policy.clone()).layer(replica.clone());

    for n in 1..=19 {
        send(&mut client, get()).await.0.unwrap();
        assert_eq!(policy.samples(), n);
        assert_eq!(policy.delay(), Duration::from_millis(500), "{n} samples: the fallback");
    }
    send(&mut client, get()).await.0.unwrap();
    assert_eq!(policy.delay(), Duration::from_millis(19), "the p95 of 1..=20 ms");

    let (result, elapsed) = send(&mut client, get()).await;
    assert_eq!(*result.unwrap().body(), 22);
    assert_eq!(elapsed, Duration::from_millis(20), "hedged at the p95, 19 ms, not at 500");
    assert_eq!(replica.calls(), 22, "no call among the first 20 was hedged");
}

#[test]
fn configurations_out_of_range_are_errors() {
    let config = || HedgeConfig::new("inventory");
    assert_eq!(config().max_hedges(0).build().unwrap_err(), HedgeConfigError::MaxHedges(0));
    assert_eq!(config().max_hedges(9).build().unwrap_err(), HedgeConfigError::MaxHedges(9));
    assert!(matches!(
        config().percentile_delay(f64::NAN, Duration::ZERO).build(),
        Err(HedgeConfigError::Percentile(_))
    ));
    assert_eq!(
        config().percentile_delay(0.0, Duration::ZERO).build().unwrap_err(),
        HedgeConfigError::Percentile(0.0)
    );
    assert_eq!(config().min_samples(0).build().unwrap_err(), HedgeConfigError::MinSamples(0));
    assert_eq!(config().min_samples(257).build().unwrap_err(), HedgeConfigError::MinSamples(257));
}

/// A call that waits `latency`, counting how often it is polled.
struct Counted {
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
    polls: Arc<AtomicU32>,
}

impl Future for Counted {
    type Output = Result<Response<u32>, std::io::Error>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        self.sleep.as_mut().poll(cx).map(|()| Ok(Response::new(1)))
    }
}

#[tokio::test(start_paused = true)]
async fn arming_the_hedge_timer_does_not_poll_the_first_attempt_again() {
    let capture = Capture::new();
    let _default = capture.set_default();
    let policy = HedgeConfig::new("inventory").delay(Duration::from_millis(500)).build().unwrap();
    let polls = Arc::new(AtomicU32::new(0));
    let counted = polls.clone();
    let mut client = Hedge::layer(policy).layer(tower::service_fn(move |_: Request<String>| Counted {
        sleep: Box::pin(tokio::time::sleep(Duration::from_millis(100))),
        polls: counted.clone(),
    }));

    let (result, elapsed) = send(&mut client, get()).await;

    assert_eq!((*result.unwrap().body(), elapsed), (1, Duration::from_millis(100)));
    assert_eq!(polls.load(Ordering::SeqCst), 2, "once pending, once when its timer woke it");
}

#[tokio::test(start_paused = true)]
async fn every_attempt_span_is_a_child_of_the_callers_span() {
    use tracing::Instrument;

    let capture = Capture::new();
    let _default = capture.set_default();
    let policy = after_50ms().max_hedges(2).build().unwrap();
    let replica = Replica::answering(|n| if n == 3 { 10 } else { 1000 });
    let mut client = Hedge::layer(policy).layer(replica.clone());

    let (result, elapsed) = send(&mut client, get()).instrument(tracing::info_span!("checkout")).await;

    assert_eq!((*result.unwrap().body(), elapsed), (3, Duration::from_millis(110)), "the second hedge won");
    assert_eq!(hedge_spans(&capture), [(1, Some(false)), (2, Some(false)), (3, Some(true))]);
    let spans = capture.spans();
    let checkout = spans.named("checkout");
    for span in spans.all().iter().filter(|span| span.name == "resilience.hedge") {
        assert_eq!(span.parent_span_id, checkout.span_context.span_id());
    }
}

/// Call `n` answers with `status(n)` after `latency(n)` milliseconds.
fn statuses(
    script: impl Fn(u32) -> (u64, u16) + Send + Sync + 'static,
) -> impl Service<Request<String>, Response = Response<u32>, Error = std::io::Error, Future: Send> + Clone {
    let calls = Arc::new(AtomicU32::new(0));
    let script = Arc::new(script);
    tower::service_fn(move |_: Request<String>| {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        let (latency, status) = script(n);
        async move {
            tokio::time::sleep(Duration::from_millis(latency)).await;
            Ok(Response::builder().status(status).body(n).unwrap())
        }
    })
}

#[tokio::test(start_paused = true)]
async fn a_retryable_status_waits_for_the_hedge_and_retry_sees_one_result_per_hedged_call() {
    use throughline_resilience::retry::{Retry, RetryConfig};
    use throughline_resilience::{Backoff, HttpClassifier};

    let capture = Capture::new();
    let _default = capture.set_default();
    let hedge = after_50ms()
        .classifier(HttpClassifier::default())
        .meter_provider(capture.meter_provider())
        .build()
        .unwrap();
    let retry = RetryConfig::new("inventory")
        .backoff(Backoff::constant(Duration::from_millis(10)))
        .classifier(HttpClassifier::default())
        .build()
        .unwrap();

    // A 503 from the first attempt waits for the hedge in flight, whose 200 wins.
    let service = statuses(|n| if n == 1 { (100, 503) } else { (100, 200) });
    let mut client = Hedge::layer(hedge.clone()).layer(service);
    let (result, elapsed) = send(&mut client, get()).await;
    let response = result.unwrap();
    assert_eq!((response.status().as_u16(), *response.body(), elapsed), (200, 2, Duration::from_millis(150)));

    // Both attempts answer 503: the hedged call fails once, and retry tries it again.
    let service = statuses(|n| if n <= 2 { (100, 503) } else { (10, 200) });
    let mut client = Retry::layer(retry).layer(Hedge::layer(hedge).layer(service));
    let (result, elapsed) = send(&mut client, get()).await;
    let response = result.unwrap();
    assert_eq!(
        (response.status().as_u16(), *response.body()),
        (200, 3),
        "the retry's first attempt answered"
    );
    assert_eq!(elapsed, Duration::from_millis(150 + 10 + 10), "hedged call, backoff, retry");
}
