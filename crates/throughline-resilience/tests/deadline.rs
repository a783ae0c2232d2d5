//! Deadlines: carried in the request, tightened per attempt, enforced, and
//! no retry started that cannot finish before them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use throughline_resilience::retry::RetryConfig;
use throughline_resilience::timeout::TimeoutLayer;
use throughline_resilience::{
    Backoff, Deadline, EnforceDeadlineLayer, HttpClassifier, Policy, TimedOut, TimeoutScope,
};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

const MS: Duration = Duration::from_millis(1);

#[tokio::test(start_paused = true)]
async fn the_deadline_is_written_into_the_request_and_enforced() {
    let seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    let slow = service_fn(move |request: Request<()>| {
        *record.lock().unwrap() = request.extensions().get::<Deadline>().map(Deadline::remaining);
        async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, std::io::Error>(Response::new(()))
        }
    });
    let mut service = EnforceDeadlineLayer::new(Duration::from_secs(2)).layer(slow);
    let started = Instant::now();
    let error = service.ready().await.unwrap().call(Request::new(())).await.unwrap_err();
    let timeout = error.downcast_ref::<TimedOut>().unwrap();
    assert_eq!((timeout.scope(), started.elapsed()), (TimeoutScope::Deadline, Duration::from_secs(2)));
    assert_eq!(*seen.lock().unwrap(), Some(Duration::from_secs(2)));
}

#[tokio::test(start_paused = true)]
async fn an_earlier_inherited_deadline_wins_and_an_expired_one_is_not_started() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let record = calls.clone();
    let service = service_fn(move |request: Request<()>| {
        record.lock().unwrap().push(request.extensions().get::<Deadline>().unwrap().remaining());
        std::future::ready(Ok::<_, std::io::Error>(Response::new(())))
    });
    let mut service = EnforceDeadlineLayer::new(Duration::from_secs(10)).layer(service);
    let mut request = Request::new(());
    request.extensions_mut().insert(Deadline::after(Duration::from_secs(1)));
    service.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(*calls.lock().unwrap(), [Duration::from_secs(1)]);

    let mut expired = Request::new(());
    expired.extensions_mut().insert(Deadline::after(Duration::ZERO));
    assert!(service.ready().await.unwrap().call(expired).await.unwrap_err().is::<TimedOut>());
    assert_eq!(calls.lock().unwrap().len(), 1, "the expired request never reached the service");
}

#[tokio::test(start_paused = true)]
async fn the_attempt_timeout_tightens_the_deadline_the_callee_sees() {
    let seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    let service = service_fn(move |request: Request<()>| {
        *record.lock().unwrap() = request.extensions().get::<Deadline>().map(Deadline::remaining);
        std::future::ready(Ok::<_, std::io::Error>(Response::new(())))
    });
    let mut service =
        EnforceDeadlineLayer::new(Duration::from_secs(10)).layer(TimeoutLayer::new(300 * MS).layer(service));
    service.ready().await.unwrap().call(Request::new(())).await.unwrap();
    assert_eq!(*seen.lock().unwrap(), Some(300 * MS));
}

#[tokio::test(start_paused = true)]
async fn a_retry_that_cannot_finish_before_the_deadline_is_not_started() {
    // Each attempt takes 400 ms and fails; the deadline is 1 s; the backoff 100 ms.
    // Attempt 1 ends at 400 ms; attempt 2 would run 500-900 ms: started.
    // Attempt 2 ends at 900 ms; attempt 3 would need until 1400 ms: not started.
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let record = arrivals.clone();
    let started = Instant::now();
    let failing = service_fn(move |_: Request<String>| {
        record.lock().unwrap().push(started.elapsed());
        async {
            tokio::time::sleep(400 * MS).await;
            Ok::<_, std::io::Error>(Response::builder().status(503).body(String::new()).unwrap())
        }
    });
    let policy = Policy::builder("deadline")
        .timeout(Duration::from_secs(1))
        .retry(
            RetryConfig::new("deadline")
                .max_attempts(5)
                .backoff(Backoff::constant(100 * MS))
                .without_budget(),
        )
        .classifier(HttpClassifier::default())
        .build()
        .unwrap();
    let mut client = policy.layer().layer(failing);
    let response =
        client.ready().await.unwrap().call(Request::get("/").body(String::new()).unwrap()).await.unwrap();
    assert_eq!(response.status(), 503, "the last response, well before the deadline");
    assert_eq!(*arrivals.lock().unwrap(), [Duration::ZERO, 500 * MS]);
    assert_eq!(started.elapsed(), 900 * MS);
}

#[tokio::test(start_paused = true)]
async fn attempt_timeouts_are_retried_within_the_deadline() {
    let attempts = Arc::new(Mutex::new(0));
    let count = attempts.clone();
    let hangs_once = service_fn(move |_: Request<String>| {
        let first = {
            let mut n = count.lock().unwrap();
            *n += 1;
            *n == 1
        };
        async move {
            if first {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Ok::<_, std::io::Error>(Response::new(String::new()))
        }
    });
    let policy = Policy::builder("hang")
        .timeout(Duration::from_secs(2))
        .retry(RetryConfig::new("hang").backoff(Backoff::constant(10 * MS)).without_budget())
        .attempt_timeout(200 * MS)
        .classifier(HttpClassifier::default())
        .build()
        .unwrap();
    let started = Instant::now();
    let mut client = policy.layer().layer(hangs_once);
    client.ready().await.unwrap().call(Request::get("/").body(String::new()).unwrap()).await.unwrap();
    assert_eq!((*attempts.lock().unwrap(), started.elapsed()), (2, 210 * MS));
}
