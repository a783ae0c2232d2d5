//! Retry through the tower layer and the plain API, with tokio's paused clock:
//! every delay below is exact, not raced.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use throughline_resilience::replay_body::{BufferBodyLayer, ReplayBody};
use throughline_resilience::retry::{RetryConfig, RetryLayer};
use throughline_resilience::{Backoff, BoxError, HttpClassifier, Jitter, Policy, ResendCount, RetryBudget};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

const MS: Duration = Duration::from_millis(1);

/// A server double answering the statuses in `script` in turn (then 200),
/// recording when each request arrived and its resend count.
#[derive(Clone, Default)]
struct Script {
    calls: Arc<AtomicU32>,
    log: Arc<std::sync::Mutex<Vec<Arrival>>>,
}

/// When a request arrived, and its resend count.
type Arrival = (Duration, Option<u32>);

impl Script {
    fn service<B: Send + 'static>(
        &self,
        started: Instant,
        script: Vec<(u16, Option<&'static str>)>,
    ) -> impl Service<Request<B>, Response = Response<String>, Error = std::io::Error, Future: Send> + Clone
    {
        let this = self.clone();
        service_fn(move |request: Request<B>| {
            let n = this.calls.fetch_add(1, Ordering::SeqCst) as usize;
            let resend = request.extensions().get::<ResendCount>().map(|r| r.0);
            this.log.lock().unwrap().push((started.elapsed(), resend));
            let (status, retry_after) = script.get(n).copied().unwrap_or((200, None));
            let mut response = Response::builder().status(status);
            if let Some(value) = retry_after {
                response = response.header("retry-after", value);
            }
            std::future::ready(Ok(response.body(String::new()).unwrap()))
        })
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    fn arrivals(&self) -> Vec<Duration> {
        self.log.lock().unwrap().iter().map(|(at, _)| *at).collect()
    }
}

fn http_policy(attempts: u32, backoff: Backoff) -> RetryConfig<HttpClassifier> {
    RetryConfig::new("test")
        .max_attempts(attempts)
        .backoff(backoff)
        .without_budget()
        .classifier(HttpClassifier::default())
}

async fn send<S, B>(service: &mut S, request: Request<B>) -> Result<Response<String>, BoxError>
where
    S: Service<Request<B>, Response = Response<String>, Error = BoxError>,
{
    service.ready().await?.call(request).await
}

fn get() -> Request<String> {
    Request::get("http://upstream/items").body(String::new()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_waits_exactly_its_schedule_between_attempts() {
    let script = Script::default();
    let backoff = Backoff::exponential(100 * MS).jitter(Jitter::None);
    let mut client = RetryLayer::new(http_policy(4, backoff).build().unwrap())
        .layer(script.service(Instant::now(), vec![(503, None), (502, None), (500, None)]));
    let response = send(&mut client, get()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(script.arrivals(), [Duration::ZERO, 100 * MS, 300 * MS, 700 * MS]);
}

#[tokio::test(start_paused = true)]
async fn attempts_stop_at_max_attempts_and_the_last_response_is_returned() {
    let script = Script::default();
    let mut client = RetryLayer::new(http_policy(3, Backoff::constant(10 * MS)).build().unwrap())
        .layer(script.service(Instant::now(), vec![(503, None); 5]));
    assert_eq!(send(&mut client, get()).await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(script.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn resend_count_is_carried_from_the_first_retry_on() {
    let script = Script::default();
    let mut client = RetryLayer::new(http_policy(3, Backoff::constant(MS)).build().unwrap())
        .layer(script.service(Instant::now(), vec![(503, None), (503, None)]));
    send(&mut client, get()).await.unwrap();
    let resends: Vec<_> = script.log.lock().unwrap().iter().map(|(_, r)| *r).collect();
    assert_eq!(resends, [None, Some(1), Some(2)]);
}

#[tokio::test(start_paused = true)]
async fn non_retryable_statuses_and_successes_are_not_retried() {
    for status in [200, 404, 409, 501] {
        let script = Script::default();
        let mut client = RetryLayer::new(http_policy(3, Backoff::constant(MS)).build().unwrap())
            .layer(script.service(Instant::now(), vec![(status, None)]));
        assert_eq!(send(&mut client, get()).await.unwrap().status().as_u16(), status);
        assert_eq!(script.calls(), 1, "{status}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_post_is_not_retried_unless_it_carries_an_idempotency_key() {
    let script = Script::default();
    let mut client = RetryLayer::new(http_policy(3, Backoff::constant(MS)).build().unwrap())
        .layer(script.service(Instant::now(), vec![(503, None); 5]));
    let post = Request::post("http://payments/charges").body(String::from("{}")).unwrap();
    assert_eq!(send(&mut client, post).await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(script.calls(), 1, "POST sent once");

    let keyed = Request::post("http://payments/charges")
        .header("idempotency-key", "k-1")
        .body(String::from("{}"))
        .unwrap();
    send(&mut client, keyed).await.unwrap();
    assert_eq!(script.calls(), 1 + 3, "a keyed POST is retried");
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_replaces_the_backoff_delay() {
    let script = Script::default();
    let mut client = RetryLayer::new(http_policy(2, Backoff::constant(10 * MS)).build().unwrap())
        .layer(script.service(Instant::now(), vec![(429, Some("3"))]));
    send(&mut client, get()).await.unwrap();
    assert_eq!(script.arrivals(), [Duration::ZERO, Duration::from_secs(3)]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date_is_honoured() {
    let script = Script::default();
    // Twenty seconds ahead of the wall clock, well over the date's 1 s resolution.
    let date: &'static str =
        Box::leak(httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(20)).into_boxed_str());
    let mut client = RetryLayer::new(http_policy(2, Backoff::constant(10 * MS)).build().unwrap())
        .layer(script.service(Instant::now(), vec![(503, Some(date))]));
    send(&mut client, get()).await.unwrap();
    let waited = script.arrivals()[1];
    assert!((Duration::from_secs(18)..=Duration::from_secs(20)).contains(&waited), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_cap_ends_the_call_instead_of_waiting() {
    let script = Script::default();
    let policy =
        http_policy(3, Backoff::constant(10 * MS)).retry_after_cap(Duration::from_secs(5)).build().unwrap();
    let mut client = RetryLayer::new(policy).layer(script.service(Instant::now(), vec![(503, Some("60"))]));
    let started = Instant::now();
    assert_eq!(send(&mut client, get()).await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!((script.calls(), started.elapsed()), (1, Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_stops_retries_that_would_start_too_late() {
    let script = Script::default();
    let policy =
        http_policy(10, Backoff::constant(400 * MS)).max_elapsed(Duration::from_secs(1)).build().unwrap();
    let mut client = RetryLayer::new(policy).layer(script.service(Instant::now(), vec![(503, None); 10]));
    send(&mut client, get()).await.unwrap();
    assert_eq!(script.arrivals(), [Duration::ZERO, 400 * MS, 800 * MS], "a retry at 1200 ms is not started");
}

#[tokio::test(start_paused = true)]
async fn the_budget_caps_retries_across_calls_and_clones() {
    let script = Script::default();
    let budget = RetryBudget::new(0.2, 0).unwrap();
    let policy = http_policy(3, Backoff::constant(MS)).budget(budget.clone()).build().unwrap();
    let client = RetryLayer::new(policy).layer(script.service(Instant::now(), vec![(503, None); 1000]));
    for _ in 0..20 {
        let mut clone = client.clone();
        send(&mut clone, get()).await.unwrap();
    }
    // 20 calls deposit 20 × 0.2 = 4 retries, whatever the clone.
    assert_eq!(script.calls(), 20 + 4);
    assert_eq!(budget.available(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_buffered_body_is_replayed_byte_for_byte() {
    let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = bodies.clone();
    let inner = service_fn(move |request: Request<ReplayBody<Full<Bytes>>>| {
        let seen = seen.clone();
        async move {
            let body = request.into_body().collect().await.unwrap().to_bytes();
            let mut seen = seen.lock().unwrap();
            seen.push(body);
            let status = if seen.len() < 3 { 503 } else { 200 };
            Ok::<_, std::io::Error>(Response::builder().status(status).body(String::new()).unwrap())
        }
    });
    let mut client = ServiceBuilder::new()
        .layer(BufferBodyLayer::new(1024))
        .layer(RetryLayer::new(http_policy(3, Backoff::constant(MS)).build().unwrap()))
        .service(inner);
    let request =
        Request::put("http://inventory/items/7").body(Full::new(Bytes::from_static(b"payload"))).unwrap();
    assert_eq!(send(&mut client, request).await.unwrap().status(), StatusCode::OK);
    assert_eq!(*bodies.lock().unwrap(), vec![Bytes::from_static(b"payload"); 3]);
}

#[tokio::test(start_paused = true)]
async fn a_body_over_the_limit_is_sent_once_and_whole() {
    let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = bodies.clone();
    let inner = service_fn(move |request: Request<ReplayBody<Full<Bytes>>>| {
        let seen = seen.clone();
        async move {
            assert!(!request.body().is_replayable());
            let body = request.into_body().collect().await.unwrap().to_bytes();
            seen.lock().unwrap().push(body);
            Ok::<_, std::io::Error>(Response::builder().status(503).body(String::new()).unwrap())
        }
    });
    let mut client = ServiceBuilder::new()
        .layer(BufferBodyLayer::new(4))
        .layer(RetryLayer::new(http_policy(3, Backoff::constant(MS)).build().unwrap()))
        .service(inner);
    let request =
        Request::put("http://inventory/items/7").body(Full::new(Bytes::from_static(b"too large"))).unwrap();
    send(&mut client, request).await.unwrap();
    assert_eq!(*bodies.lock().unwrap(), [Bytes::from_static(b"too large")]);
}

#[tokio::test(start_paused = true)]
async fn the_plain_api_retries_errors_and_returns_the_last_one() {
    let policy = Policy::builder("db")
        .retry(RetryConfig::new("db").max_attempts(3).backoff(Backoff::constant(5 * MS)).without_budget())
        .build()
        .unwrap();
    let tries = AtomicU32::new(0);
    let result: Result<(), _> = policy
        .call(|| async {
            let n = tries.fetch_add(1, Ordering::SeqCst);
            Err(std::io::Error::other(format!("deadlock {n}")))
        })
        .await;
    assert_eq!(result.unwrap_err().into_inner().unwrap().to_string(), "deadlock 2");
    assert_eq!(tries.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn the_plain_api_tells_the_closure_its_attempt() {
    let policy = Policy::builder("db")
        .retry(RetryConfig::new("db").max_attempts(2).backoff(Backoff::constant(MS)).without_budget())
        .build()
        .unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    let result = policy
        .call_with(|attempt| {
            seen.lock().unwrap().push((attempt.number(), attempt.is_retry()));
            async move { if attempt.is_retry() { Ok(1) } else { Err(std::io::Error::other("first")) } }
        })
        .await;
    assert_eq!(result.unwrap(), 1);
    assert_eq!(*seen.lock().unwrap(), [(1, false), (2, true)]);
}
