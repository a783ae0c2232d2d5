//! The paths the docs call allocation-free, checked with a counting global
//! allocator (`allocation-counter`, counting per thread): the closed
//! breaker's call path (the permit API, the plain async API, the tower
//! layer, a known key of a keyed breaker), the concurrency limit's admission,
//! a policy without timeouts on its success path, and a hedging policy that
//! never fires (timer armed or not).
//!
//! Each path runs once before it is measured, so that state initialised on
//! first use (the global meter's instruments, say) is not counted as the
//! call's cost.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use throughline_resilience::circuit_breaker::{
    BreakerConfig, CircuitBreakerLayer, KeyedBreaker, SlidingWindow,
};
use throughline_resilience::classify::{Failure, Reason};
use throughline_resilience::limit::{LimitAlgorithm, LimiterConfig, Priority};
use throughline_resilience::retry::RetryConfig;
use throughline_resilience::{AnyError, Breaker, Outcome, Policy};
use tower::{Layer, Service, service_fn};

const FAIL: Outcome = Outcome::Failure(Failure::retryable(Reason::Error));

/// Heap allocations made by `run` after a first, unmeasured run.
fn allocations(mut run: impl FnMut()) -> u64 {
    run();
    allocation_counter::measure(|| {
        for _ in 0..100 {
            run();
        }
    })
    .count_total
}

/// Polls a future that is ready at once.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the service answers at once"),
    }
}

/// A breaker that stays closed through the failures the tests record: the
/// window never reaches its minimum failure rate.
fn closed(window: SlidingWindow) -> Breaker {
    BreakerConfig::new("allocations").window(window).min_calls(10).failure_rate(1.0).build().unwrap()
}

#[test]
fn the_counter_counts() {
    // Without this, a counter that never counts would pass every test below.
    assert_eq!(allocations(|| drop(black_box(String::from("x")))), 100);
}

#[test]
fn the_closed_breaker_admits_and_records_without_allocating() {
    for window in [SlidingWindow::Count(100), SlidingWindow::Time(Duration::from_secs(10))] {
        let breaker = closed(window);
        let count = allocations(|| {
            black_box(&breaker).try_acquire().unwrap().record(Outcome::Success);
            black_box(&breaker).try_acquire().unwrap().record(FAIL);
            drop(black_box(&breaker).try_acquire().unwrap()); // cancelled: counts for nothing
        });
        assert_eq!(count, 0, "{window:?}");
    }
}

#[test]
fn the_closed_breaker_measuring_slow_calls_does_not_allocate() {
    let breaker = BreakerConfig::new("allocations")
        .slow_calls(Duration::from_secs(1), 0.5)
        .min_calls(10)
        .failure_rate(1.0)
        .build()
        .unwrap();
    let count = allocations(|| black_box(&breaker).try_acquire().unwrap().record(Outcome::Success));
    assert_eq!(count, 0);
}

#[test]
fn the_plain_async_api_does_not_allocate_while_closed() {
    let breaker = closed(SlidingWindow::Count(100));
    let count = allocations(|| {
        black_box(ready(breaker.call(async { Ok::<_, std::io::Error>(1) })).unwrap());
        black_box(ready(breaker.call(async { Err::<u32, _>(std::io::ErrorKind::Other) })).unwrap_err());
    });
    assert_eq!(count, 0);
}

#[test]
fn the_closed_breaker_as_a_tower_layer_does_not_allocate() {
    let breaker = closed(SlidingWindow::Count(100));
    let mut service = CircuitBreakerLayer::new(breaker, AnyError)
        .layer(service_fn(|n: u32| std::future::ready(Ok::<_, std::io::Error>(n))));
    let count = allocations(|| {
        black_box(ready(service.call(black_box(1))).unwrap());
    });
    assert_eq!(count, 0);
}

#[test]
fn a_known_key_finds_its_breaker_without_allocating() {
    let keyed = KeyedBreaker::new(BreakerConfig::new("allocations"), 4).unwrap();
    for host in ["a", "b", "c", "d"] {
        drop(keyed.get(&host));
    }
    let count = allocations(|| {
        for host in ["a", "b", "c", "d", "over the limit"] {
            black_box(&keyed).get(&host).try_acquire().unwrap().record(Outcome::Success);
        }
    });
    assert_eq!(count, 0);
}

#[test]
fn the_concurrency_limit_admits_and_releases_without_allocating() {
    let limit = LimiterConfig::new("allocations", LimitAlgorithm::Fixed(8)).build().unwrap();
    let count = allocations(|| {
        let mut permit = black_box(&limit).try_acquire(Priority::Critical).unwrap();
        permit.record(Outcome::Success);
        drop(permit);
    });
    assert_eq!(count, 0);
}

#[test]
fn a_policy_without_timeouts_succeeds_without_allocating() {
    let policy = Policy::builder("allocations")
        .retry(RetryConfig::new("allocations"))
        .circuit_breaker(closed(SlidingWindow::Count(100)))
        .concurrency_limit(LimiterConfig::new("allocations", LimitAlgorithm::Fixed(8)).build().unwrap())
        .build()
        .unwrap();
    let count = allocations(|| {
        black_box(ready(policy.call(|| async { Ok::<_, std::io::Error>(1) })).unwrap());
    });
    assert_eq!(count, 0);
}

/// A call that is pending once, as a network call is, then answers.
struct PendingOnce(bool);

impl Future for PendingOnce {
    type Output = Result<u32, std::io::Error>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if std::mem::replace(&mut self.0, true) {
            return Poll::Ready(Ok(1));
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn a_hedging_policy_that_never_fires_does_not_allocate() {
    use throughline_resilience::hedge::{Hedge, HedgeConfig};

    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _context = runtime.enter();
    // Answered at once: no timer.
    let policy = HedgeConfig::new("allocations").delay(Duration::from_millis(50)).build().unwrap();
    let mut at_once =
        Hedge::layer(policy).layer(service_fn(|()| std::future::ready(Ok::<_, std::io::Error>(1))));
    let count = allocations(|| {
        black_box(ready(at_once.call(())).unwrap());
    });
    assert_eq!(count, 0);
    // Pending once: the hedge timer is armed and registered, and the p95 delay records the latency.
    let policy = HedgeConfig::new("allocations").build().unwrap();
    let mut pending = Hedge::layer(policy).layer(service_fn(|()| PendingOnce(false)));
    let count = allocations(|| {
        let mut call = pin!(pending.call(()));
        let mut context = Context::from_waker(Waker::noop());
        assert!(call.as_mut().poll(&mut context).is_pending(), "the timer is armed on this poll");
        assert!(matches!(call.as_mut().poll(&mut context), Poll::Ready(Ok(1))));
    });
    assert_eq!(count, 0);
}
