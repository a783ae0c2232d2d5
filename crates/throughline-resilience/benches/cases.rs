//! The workloads every benchmark runs, so that timings, allocation counts and
//! instruction counts describe the same work: the success path of one call
//! through each pattern, for throughline and for the peers that do the same
//! (tower-resilience's circuit breaker layer, failsafe's breaker).
//!
//! Services answer at once, so what is measured is the middleware's own cost.
//! Futures are polled once with a no-op waker inside a tokio runtime context
//! (the deadline and attempt timeout create timers). The hedging cases also
//! run a service that is pending once, as a network call is, because a
//! hedge's timer is armed only when the first attempt does not answer at
//! once; next to each hedging case is the bare service it wraps.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use failsafe::CircuitBreaker as _;
use throughline_resilience::circuit_breaker::{BreakerConfig, CircuitBreakerLayer, KeyedBreaker};
use throughline_resilience::hedge::{Hedge, HedgeConfig};
use throughline_resilience::limit::{LimitAlgorithm, LimiterConfig, Priority};
use throughline_resilience::retry::{RetryConfig, RetryLayer};
use throughline_resilience::{AnyError, Outcome, Policy};
use tower::{Layer, Service, service_fn};

pub(crate) const THROUGHLINE: &str = "throughline";
pub(crate) const TOWER_RESILIENCE: &str = "tower-resilience 0.13";
pub(crate) const FAILSAFE: &str = "failsafe 1.3";
/// The same service with no middleware: what a layer's cost is read against.
pub(crate) const BARE: &str = "bare service";

/// Runs one call of a case; a case makes one per thread, sharing its state.
pub(crate) type Run = Box<dyn FnMut() + Send>;

/// A benchmark case: the operation, who does it, and a maker of runners.
pub(crate) struct Case {
    pub operation: &'static str,
    pub implementation: &'static str,
    pub make: Box<dyn Fn() -> Run>,
}

/// Polls a future that is ready at once.
pub(crate) fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the benchmark's service answers at once"),
    }
}

fn echo() -> impl Service<u32, Response = u32, Error = std::io::Error, Future: Send> + Clone + Send {
    service_fn(|n: u32| std::future::ready(Ok(n)))
}

fn unit() -> impl Service<(), Response = u32, Error = std::io::Error, Future: Send> + Clone + Send {
    service_fn(|()| std::future::ready(Ok(1)))
}

/// Polls a future that is pending once, as a call over the network is, then ready.
pub(crate) fn ready_on_second_poll<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    for _ in 0..2 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
    panic!("the benchmark's service answers on the second poll")
}

/// A future pending on its first poll and ready on the second.
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

fn pending_once() -> impl Service<(), Response = u32, Error = std::io::Error, Future: Send> + Clone + Send {
    service_fn(|()| PendingOnce(false))
}

/// Every case. Each owns its state; runners made from one case share it.
pub(crate) fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |operation, implementation, make: Box<dyn Fn() -> Run>| {
        cases.push(Case { operation, implementation, make })
    };

    let operation = "closed breaker: admit and record a success";
    let breaker = BreakerConfig::new("bench").build().unwrap();
    add(
        operation,
        THROUGHLINE,
        Box::new(move || {
            let breaker = breaker.clone();
            Box::new(move || black_box(&breaker).try_acquire().unwrap().record(Outcome::Success))
        }),
    );
    let failsafe = failsafe::Config::new().build();
    add(
        operation,
        FAILSAFE,
        Box::new(move || {
            let failsafe = failsafe.clone();
            Box::new(move || {
                black_box(black_box(&failsafe).call(|| Ok::<_, ()>(1)).is_ok());
            })
        }),
    );

    let operation = "closed breaker as a tower layer: one call";
    let breaker = BreakerConfig::new("bench").build().unwrap();
    let layer = CircuitBreakerLayer::new(breaker, AnyError);
    add(
        operation,
        THROUGHLINE,
        Box::new(move || {
            let mut service = layer.layer(echo());
            Box::new(move || {
                black_box(ready(service.call(black_box(1))).is_ok());
            })
        }),
    );
    let layer = tower_resilience_circuitbreaker::CircuitBreakerLayer::builder().build().unwrap();
    add(
        operation,
        TOWER_RESILIENCE,
        Box::new(move || {
            let mut service = layer.layer(echo());
            Box::new(move || {
                black_box(ready(service.call(black_box(1))).is_ok());
            })
        }),
    );

    let operation = "keyed breaker: find a known key's breaker, admit and record a success";
    let keyed = KeyedBreaker::new(BreakerConfig::new("bench"), 64).unwrap();
    const HOSTS: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];
    for host in HOSTS {
        drop(keyed.get(&host));
    }
    add(
        operation,
        THROUGHLINE,
        Box::new(move || {
            let keyed = keyed.clone();
            let mut next = 0;
            Box::new(move || {
                next = (next + 1) % HOSTS.len();
                black_box(&keyed).get(&HOSTS[next]).try_acquire().unwrap().record(Outcome::Success)
            })
        }),
    );

    let operation = "retry (with budget) as a tower layer: one successful call";
    let retry = RetryConfig::new("bench").build().unwrap();
    add(
        operation,
        THROUGHLINE,
        Box::new(move || {
            let mut service = RetryLayer::new(retry.clone()).layer(unit());
            Box::new(move || {
                black_box(ready(service.call(())).is_ok());
            })
        }),
    );

    // Hedging that never fires: every call answers well before the delay.
    let operation = "hedging that never fires: one call answered at once";
    add(
        operation,
        BARE,
        Box::new(|| {
            let mut service = unit();
            Box::new(move || {
                black_box(ready(service.call(())).is_ok());
            })
        }),
    );
    let hedge = HedgeConfig::new("bench").delay(Duration::from_millis(50)).build().unwrap();
    add(
        operation,
        "throughline, fixed delay",
        Box::new(move || {
            let mut service = Hedge::layer(hedge.clone()).layer(unit());
            Box::new(move || {
                black_box(ready(service.call(())).is_ok());
            })
        }),
    );
    let operation = "hedging that never fires: one call pending once (timer armed)";
    add(
        operation,
        BARE,
        Box::new(|| {
            let mut service = pending_once();
            Box::new(move || {
                black_box(ready_on_second_poll(service.call(())).is_ok());
            })
        }),
    );
    let hedge = HedgeConfig::new("bench").delay(Duration::from_millis(50)).build().unwrap();
    add(
        operation,
        "throughline, fixed delay",
        Box::new(move || {
            let mut service = Hedge::layer(hedge.clone()).layer(pending_once());
            Box::new(move || {
                black_box(ready_on_second_poll(service.call(())).is_ok());
            })
        }),
    );
    // The default delay: p95 of the observed latency, so each call also records its latency.
    let hedge = HedgeConfig::new("bench").build().unwrap();
    add(
        operation,
        "throughline, p95 delay",
        Box::new(move || {
            let mut service = Hedge::layer(hedge.clone()).layer(pending_once());
            Box::new(move || {
                black_box(ready_on_second_poll(service.call(())).is_ok());
            })
        }),
    );

    let operation = "concurrency limit: admit and release";
    let limit = LimiterConfig::new("bench", LimitAlgorithm::Fixed(1024)).build().unwrap();
    add(
        operation,
        THROUGHLINE,
        Box::new(move || {
            let limit = limit.clone();
            Box::new(move || drop(black_box(&limit).try_acquire(Priority::Critical).unwrap()))
        }),
    );

    let operation = "full stack (deadline, retry, breaker, limit, attempt timeout) as a tower layer";
    let policy = Arc::new(full_policy());
    let shared = policy.clone();
    add(
        operation,
        THROUGHLINE,
        Box::new(move || {
            let mut service = shared.layer().layer(unit());
            Box::new(move || {
                black_box(ready(service.call(())).is_ok());
            })
        }),
    );
    let operation = "full stack through the plain async API";
    add(
        operation,
        THROUGHLINE,
        Box::new(move || {
            let policy = policy.clone();
            Box::new(move || {
                black_box(ready(policy.call(|| async { Ok::<_, std::io::Error>(1) })).is_ok());
            })
        }),
    );
    cases
}

fn full_policy() -> Policy {
    Policy::builder("bench")
        .timeout(Duration::from_secs(10))
        .retry(RetryConfig::new("bench"))
        .circuit_breaker(BreakerConfig::new("bench").build().unwrap())
        .concurrency_limit(LimiterConfig::new("bench", LimitAlgorithm::Fixed(1024)).build().unwrap())
        .attempt_timeout(Duration::from_secs(1))
        .build()
        .unwrap()
}

/// A runtime context for the timers of the deadline and attempt timeout.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_time().build().unwrap()
}
