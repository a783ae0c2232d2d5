//! Shedding, the bounded queue, priorities and adaptive limits, with the
//! status codes a server answers.

use std::time::Duration;

use http::{Request, Response, StatusCode};
use throughline_resilience::http_rejection::HttpRejectionLayer;
use throughline_resilience::limit::{
    Aimd, ConcurrencyLimitLayer, LimitAlgorithm, LimiterConfig, LimiterConfigError, Priority,
};
use throughline_resilience::{GrpcCode, HttpClassifier, RejectionStatus, Shed, ShedReason};
use tokio::sync::oneshot;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

fn fixed(n: usize) -> LimiterConfig {
    LimiterConfig::new("test", LimitAlgorithm::Fixed(n))
}

#[tokio::test(start_paused = true)]
async fn without_a_queue_calls_over_the_limit_are_shed_at_once() {
    let limit = fixed(2).build().unwrap();
    let (_a, _b) =
        (limit.try_acquire(Priority::Critical).unwrap(), limit.try_acquire(Priority::Critical).unwrap());
    let shed = limit.acquire(Priority::Critical).await.unwrap_err();
    assert_eq!((shed.reason(), shed.limit()), (ShedReason::LimitReached, 2));
}

#[tokio::test(start_paused = true)]
async fn a_queued_call_gets_the_next_free_place() {
    let limit = fixed(1).queue(4, Duration::from_secs(1)).build().unwrap();
    let held = limit.try_acquire(Priority::Critical).unwrap();
    let waiter = tokio::spawn({
        let limit = limit.clone();
        async move { limit.acquire(Priority::Critical).await.map(|_| tokio::time::Instant::now()) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let released_at = tokio::time::Instant::now();
    drop(held);
    assert_eq!(waiter.await.unwrap().unwrap(), released_at);
}

#[tokio::test(start_paused = true)]
async fn a_queued_call_waits_at_most_max_wait() {
    let limit = fixed(1).queue(4, Duration::from_millis(250)).build().unwrap();
    let _held = limit.try_acquire(Priority::Critical).unwrap();
    let started = tokio::time::Instant::now();
    let shed = limit.acquire(Priority::Critical).await.unwrap_err();
    assert_eq!((shed.reason(), started.elapsed()), (ShedReason::QueueTimeout, Duration::from_millis(250)));
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_sheds_at_once() {
    let limit = fixed(1).queue(1, Duration::from_secs(10)).build().unwrap();
    let _held = limit.try_acquire(Priority::Critical).unwrap();
    let queued = tokio::spawn({
        let limit = limit.clone();
        async move { limit.acquire(Priority::Critical).await.is_ok() }
    });
    tokio::task::yield_now().await;
    assert_eq!(limit.acquire(Priority::Critical).await.unwrap_err().reason(), ShedReason::QueueFull);
    queued.abort();
}

#[tokio::test(start_paused = true)]
async fn sheddable_calls_are_shed_before_critical_ones() {
    let limit = fixed(10).sheddable_share(0.5).queue(4, Duration::from_secs(1)).build().unwrap();
    let held: Vec<_> = (0..5).map(|_| limit.try_acquire(Priority::Sheddable).unwrap()).collect();
    let shed = limit.acquire(Priority::Sheddable).await.unwrap_err();
    assert_eq!(
        shed.reason(),
        ShedReason::Sheddable,
        "half the limit used: sheddable calls go, and never queue"
    );
    let critical: Vec<_> = (0..5).map(|_| limit.try_acquire(Priority::Critical).unwrap()).collect();
    assert_eq!(limit.in_flight(), 10);
    drop((held, critical));
}

#[test]
fn invalid_limits_are_typed_errors() {
    assert!(matches!(fixed(0).build(), Err(LimiterConfigError::Bounds { .. })));
    let aimd = |a: Aimd| LimiterConfig::new("t", LimitAlgorithm::Aimd(a)).build();
    assert!(matches!(
        aimd(Aimd { min: 5, initial: 2, ..Aimd::default() }),
        Err(LimiterConfigError::Bounds { .. })
    ));
    assert!(matches!(aimd(Aimd { backoff: 1.0, ..Aimd::default() }), Err(LimiterConfigError::Factor { .. })));
    assert!(matches!(fixed(1).sheddable_share(0.0).build(), Err(LimiterConfigError::Factor { .. })));
    assert!(matches!(fixed(1).queue(0, Duration::from_secs(1)).build(), Err(LimiterConfigError::EmptyQueue)));
}

#[tokio::test(start_paused = true)]
async fn aimd_backs_off_on_503_and_grows_on_success_through_the_layer() {
    let limit = LimiterConfig::new("aimd", LimitAlgorithm::Aimd(Aimd { initial: 10, ..Aimd::default() }))
        .build()
        .unwrap();
    let overloaded = service_fn(|request: Request<String>| {
        let status = if request.uri().path() == "/busy" { 503 } else { 200 };
        std::future::ready(Ok::<_, std::io::Error>(
            Response::builder().status(status).body(String::new()).unwrap(),
        ))
    });
    let mut service =
        ConcurrencyLimitLayer::new(limit.clone()).classifier(HttpClassifier::default()).layer(overloaded);
    for _ in 0..3 {
        service
            .ready()
            .await
            .unwrap()
            .call(Request::get("/busy").body(String::new()).unwrap())
            .await
            .unwrap();
    }
    assert_eq!(limit.limit(), 7, "10 × 0.9 = 9, × 0.9 = 8, × 0.9 = 7");
    // Growth needs the limit half used: hold 4 places while calling.
    let _busy: Vec<_> = (0..4).map(|_| limit.try_acquire(Priority::Critical).unwrap()).collect();
    service.ready().await.unwrap().call(Request::get("/").body(String::new()).unwrap()).await.unwrap();
    assert_eq!(limit.limit(), 8);
}

#[tokio::test(start_paused = true)]
async fn a_server_answers_shed_requests_with_503_or_429_and_retry_after() {
    for status in [StatusCode::SERVICE_UNAVAILABLE, StatusCode::TOO_MANY_REQUESTS] {
        let limit = fixed(1).retry_after(Duration::from_secs(3)).build().unwrap();
        let (release, released) = oneshot::channel::<()>();
        let released = std::sync::Arc::new(tokio::sync::Mutex::new(Some(released)));
        let slow = service_fn(move |_: Request<String>| {
            let released = released.clone();
            async move {
                if let Some(rx) = released.lock().await.take() {
                    let _ = rx.await;
                }
                Ok::<_, std::io::Error>(Response::new(String::new()))
            }
        });
        let mut server = ServiceBuilder::new()
            .layer(HttpRejectionLayer::new().shed_status(status))
            .layer(ConcurrencyLimitLayer::new(limit))
            .service(slow);
        let first = server.ready().await.unwrap().call(Request::new(String::new()));
        let first = tokio::spawn(first);
        tokio::task::yield_now().await;
        let response = server.ready().await.unwrap().call(Request::new(String::new())).await.unwrap();
        assert_eq!(response.status(), status);
        assert_eq!(response.headers()["retry-after"], "3");
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
    }
}

#[test]
fn over_grpc_a_shed_request_is_resource_exhausted_with_pushback() {
    let limit = fixed(1).retry_after(Duration::from_millis(1500)).build().unwrap();
    let _held = limit.try_acquire(Priority::Critical).unwrap();
    let shed: Shed = limit.try_acquire(Priority::Critical).unwrap_err();
    let status = RejectionStatus::of(&shed).unwrap();
    assert_eq!(status.grpc, GrpcCode::ResourceExhausted);
    assert_eq!(status.grpc_retry_pushback_ms().unwrap(), "1500");
}

#[tokio::test(start_paused = true)]
async fn a_policy_sheds_by_the_priority_it_was_given() {
    let limit = fixed(2).sheddable_share(0.5).build().unwrap();
    let policy = throughline_resilience::Policy::builder("api")
        .concurrency_limit(limit.clone())
        .priority(|request: &Request<String>| match request.headers().contains_key("x-batch") {
            true => Priority::Sheddable,
            false => Priority::Critical,
        })
        .build()
        .unwrap();
    let mut server = ServiceBuilder::new().layer(HttpRejectionLayer::new()).layer(policy.layer()).service(
        service_fn(|_: Request<String>| async { Ok::<_, std::io::Error>(Response::new(String::new())) }),
    );
    let _held = limit.try_acquire(Priority::Critical).unwrap(); // half the limit in use
    let batch = Request::get("/report").header("x-batch", "1").body(String::new()).unwrap();
    let response = server.ready().await.unwrap().call(batch).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "sheddable: over its share");
    let user = Request::get("/orders").body(String::new()).unwrap();
    let response = server.ready().await.unwrap().call(user).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "critical: within the limit");
}
