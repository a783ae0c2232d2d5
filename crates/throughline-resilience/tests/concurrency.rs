//! The lock-free breaker and the limiter's queue driven from several threads
//! at once.
//!
//! Each test is bounded in iterations and in time, and asserts what must
//! hold whatever the interleaving: the half-open probe count is never
//! exceeded and each transition is reported once; the count window's packed
//! counters equal its slots once the threads are done; a keyed breaker makes
//! one breaker per key; every queued waiter is served or times out, and a
//! cancelled waiter passes its wake-up on. The breaker tests share tokio's
//! paused clock between threads (each enters the runtime's context), so the
//! open duration passes only when the test advances it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use opentelemetry::KeyValue;
use throughline_resilience::attribute::{FROM_STATE, TO_STATE};
use throughline_resilience::circuit_breaker::{
    BreakerConfig, CircuitState, KeyedBreaker, SlidingWindow, WindowSnapshot,
};
use throughline_resilience::classify::{Failure, Reason};
use throughline_resilience::limit::{LimitAlgorithm, LimiterConfig, Priority};
use throughline_resilience::{Outcome, ShedReason};
use throughline_testing::Capture;
use tokio::runtime::Runtime;

const FAIL: Outcome = Outcome::Failure(Failure::retryable(Reason::Error));
const THREADS: usize = 8;
const OPEN_FOR: Duration = Duration::from_secs(1);

/// A current-thread runtime whose paused clock every thread of a test reads.
fn paused_clock() -> Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap()
}

/// The `resilience.circuit_breaker.transitions` counter, by (from, to).
struct Transitions(Capture);

impl Transitions {
    fn new() -> Self {
        Self(Capture::new())
    }

    fn count(&self, from: &str, to: &str) -> u64 {
        let states = [KeyValue::new(FROM_STATE, from.to_owned()), KeyValue::new(TO_STATE, to.to_owned())];
        self.0.metrics().total("resilience.circuit_breaker.transitions", &states) as u64
    }
}

#[test]
fn half_open_admits_exactly_the_configured_probes_from_many_threads() {
    const ROUNDS: usize = 20;
    const ATTEMPTS: usize = 50;
    let runtime = paused_clock();
    let _context = runtime.enter();
    for probes in [1, 3, 8] {
        let transitions = Transitions::new();
        let breaker = BreakerConfig::new("probes")
            .window(SlidingWindow::Count(10))
            .min_calls(10)
            .failure_rate(0.5)
            .open_duration(OPEN_FOR)
            .half_open_probes(probes)
            .meter_provider(transitions.0.meter_provider())
            .build()
            .unwrap();
        for round in 0..ROUNDS {
            if breaker.state() == CircuitState::Closed {
                for _ in 0..10 {
                    breaker.try_acquire().unwrap().record(FAIL);
                }
            }
            assert_eq!(breaker.state(), CircuitState::Open, "round {round}");
            runtime.block_on(tokio::time::advance(OPEN_FOR));
            // Even rounds' probes succeed and close the breaker; odd rounds' fail and reopen it.
            let outcome = if round % 2 == 0 { Outcome::Success } else { FAIL };
            let admitted = AtomicUsize::new(0);
            let (start, acquired, checked) =
                (Barrier::new(THREADS + 1), Barrier::new(THREADS + 1), Barrier::new(THREADS + 1));
            let seen = std::thread::scope(|scope| {
                for _ in 0..THREADS {
                    scope.spawn(|| {
                        let _context = runtime.handle().enter();
                        start.wait();
                        let permits: Vec<_> =
                            (0..ATTEMPTS).filter_map(|_| breaker.try_acquire().ok()).collect();
                        admitted.fetch_add(permits.len(), Ordering::SeqCst);
                        acquired.wait();
                        checked.wait();
                        for permit in permits {
                            permit.record(outcome);
                        }
                    });
                }
                start.wait();
                acquired.wait();
                // Every thread holds its permits now: nothing has been recorded
                // yet. Read here, asserted once the threads are done, so that a
                // failure cannot leave them waiting at the barrier.
                let seen = (admitted.load(Ordering::SeqCst), breaker.state());
                checked.wait();
                seen
            });
            assert_eq!(
                seen,
                (probes as usize, CircuitState::HalfOpen),
                "round {round}: probes admitted to {THREADS} threads making {ATTEMPTS} attempts each"
            );
            let expected = if round % 2 == 0 { CircuitState::Closed } else { CircuitState::Open };
            assert_eq!(breaker.state(), expected, "round {round}, {probes} probes");
        }
        // Each transition reported once, by the one caller whose compare-and-swap made it.
        let rounds = ROUNDS as u64;
        assert_eq!(transitions.count("open", "half_open"), rounds, "{probes} probes");
        assert_eq!(transitions.count("half_open", "closed"), rounds / 2);
        assert_eq!(transitions.count("half_open", "open"), rounds / 2);
        // Opened from closed before round 0, and again after each round that closed it.
        assert_eq!(transitions.count("closed", "open"), rounds / 2 + 1);
    }
}

#[test]
fn a_cancelled_probe_frees_its_slot_for_another_thread() {
    let runtime = paused_clock();
    let _context = runtime.enter();
    let breaker = BreakerConfig::new("cancelled")
        .window(SlidingWindow::Count(10))
        .min_calls(10)
        .open_duration(OPEN_FOR)
        .half_open_probes(2)
        .build()
        .unwrap();
    for _ in 0..10 {
        breaker.try_acquire().unwrap().record(FAIL);
    }
    runtime.block_on(tokio::time::advance(OPEN_FOR));
    // Threads take probes and drop them unrecorded, again and again: at no
    // moment may more than two be out.
    let out = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    let taken = AtomicUsize::new(0);
    let start = Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                let _context = runtime.handle().enter();
                start.wait();
                for _ in 0..2_000 {
                    if let Ok(permit) = breaker.try_acquire() {
                        let now = out.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        taken.fetch_add(1, Ordering::Relaxed);
                        out.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    }
                }
            });
        }
    });
    assert!(most.load(Ordering::SeqCst) <= 2, "{} probes out at once", most.load(Ordering::SeqCst));
    assert!(taken.load(Ordering::Relaxed) > 2, "dropped probes gave their slots back");
    assert_eq!(breaker.state(), CircuitState::HalfOpen, "a cancelled probe decides nothing");
}

#[test]
fn a_breaker_opened_under_load_reports_one_transition_and_rejects_everyone() {
    let runtime = paused_clock();
    let _context = runtime.enter();
    let transitions = Transitions::new();
    let breaker = BreakerConfig::new("under load")
        .window(SlidingWindow::Count(100))
        .min_calls(20)
        .failure_rate(0.5)
        .open_duration(OPEN_FOR)
        .meter_provider(transitions.0.meter_provider())
        .build()
        .unwrap();
    let (admitted, rejected) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let start = Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                let _context = runtime.handle().enter();
                start.wait();
                for _ in 0..1_000 {
                    match breaker.try_acquire() {
                        Ok(permit) => {
                            admitted.fetch_add(1, Ordering::Relaxed);
                            permit.record(FAIL);
                        }
                        Err(open) => {
                            rejected.fetch_add(1, Ordering::Relaxed);
                            assert_eq!(open.retry_in(), Some(OPEN_FOR), "the clock does not move");
                        }
                    }
                }
            });
        }
    });
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(transitions.count("closed", "open"), 1, "one caller wins the transition and reports it");
    // Calls admitted before the breaker opened may finish after it; at most
    // one in flight per thread then, and their results are not recorded.
    let admitted = admitted.load(Ordering::Relaxed);
    assert!((20..20 + THREADS).contains(&admitted), "{admitted} calls passed");
    assert_eq!(admitted + rejected.load(Ordering::Relaxed), THREADS * 1_000);
    assert!(breaker.snapshot().calls <= 100);
}

#[test]
fn the_count_window_agrees_with_its_slots_after_racing_writers() {
    let breaker =
        BreakerConfig::new("window").window(SlidingWindow::Count(100)).min_calls(100).build().unwrap();
    // Counted, never rejected: the window fills with what the threads record.
    breaker.force_closed();
    let record_from_every_thread = |outcome: Outcome| {
        let start = Barrier::new(THREADS);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    start.wait();
                    for _ in 0..5_000 {
                        breaker.try_acquire().unwrap().record(outcome);
                    }
                });
            }
        });
    };
    for _ in 0..3 {
        record_from_every_thread(FAIL);
        assert_eq!(breaker.snapshot(), WindowSnapshot { calls: 100, failures: 100, slow: 0 });
        record_from_every_thread(Outcome::Success);
        assert_eq!(breaker.snapshot(), WindowSnapshot { calls: 100, failures: 0, slow: 0 });
    }
}

#[test]
fn a_keyed_breaker_makes_one_breaker_per_key_from_many_threads() {
    const KEYS: usize = 64;
    const MAX_KEYS: usize = 48;
    let keyed = KeyedBreaker::new(BreakerConfig::new("keyed").window(SlidingWindow::Count(10_000)), MAX_KEYS)
        .unwrap();
    let start = Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (keyed, start) = (&keyed, &start);
            scope.spawn(move || {
                start.wait();
                // Every thread asks for every key, each in its own order.
                for i in 0..KEYS {
                    let key = (i * 7 + thread * 13) % KEYS;
                    keyed.get(&key).try_acquire().unwrap().record(Outcome::Success);
                }
            });
        }
    });
    let breakers = keyed.breakers();
    assert_eq!(breakers.len(), MAX_KEYS);
    let mut counted = 0;
    for (key, breaker) in &breakers {
        assert_eq!(breaker.name(), format!("keyed:{key}"));
        // Had two breakers been made for one key, their calls would be split.
        assert_eq!(breaker.snapshot().calls, THREADS as u32, "key {key}");
        assert_eq!(keyed.get(key).snapshot().calls, THREADS as u32, "key {key} finds the same breaker");
        counted += THREADS;
    }
    let overflow = keyed.get(&usize::MAX);
    assert_eq!(overflow.name(), "keyed:_other");
    assert_eq!(counted + overflow.snapshot().calls as usize, THREADS * KEYS, "every call counted once");
}

/// A multi-thread runtime for the limiter: waiters are woken on other threads.
fn workers() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_time().build().unwrap()
}

#[test]
fn every_queued_waiter_is_served_when_places_free_up() {
    const TASKS: usize = 64;
    const CALLS: usize = 50;
    const LIMIT: usize = 2;
    let runtime = workers();
    // Waits long enough that a timeout can only mean a lost wake-up.
    let limit = LimiterConfig::new("queue", LimitAlgorithm::Fixed(LIMIT))
        .queue(TASKS, Duration::from_secs(60))
        .build()
        .unwrap();
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let run = async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (limit, inside, most) = (limit.clone(), inside.clone(), most.clone());
                tokio::spawn(async move {
                    for _ in 0..CALLS {
                        let permit = limit.acquire(Priority::Critical).await?;
                        most.fetch_max(inside.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    }
                    Ok::<_, throughline_resilience::Shed>(())
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().expect("served before max_wait");
        }
    };
    runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), run).await })
        .expect("a queued waiter was never woken: a lost wake-up");
    assert!(
        most.load(Ordering::SeqCst) <= LIMIT,
        "{} calls inside a limit of {LIMIT}",
        most.load(Ordering::SeqCst)
    );
    assert_eq!(limit.in_flight(), 0);
    assert!(
        limit.try_acquire(Priority::Critical).is_ok(),
        "the queue is empty again: a newcomer is admitted"
    );
}

#[test]
fn queued_waiters_are_served_or_time_out_and_the_queue_empties() {
    const TASKS: usize = 32;
    const CALLS: usize = 20;
    let runtime = workers();
    let limit = LimiterConfig::new("timeouts", LimitAlgorithm::Fixed(1))
        .queue(8, Duration::from_millis(2))
        .build()
        .unwrap();
    let (served, timed_out, queue_full, cancelled) =
        (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    let counters = Arc::new((served, timed_out, queue_full, cancelled));
    let run = async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let (limit, counters) = (limit.clone(), counters.clone());
                tokio::spawn(async move {
                    for call in 0..CALLS {
                        let acquire = limit.acquire(Priority::Critical);
                        // Every third caller gives up before max_wait: a cancelled waiter.
                        let result = if (task + call) % 3 == 0 {
                            match tokio::time::timeout(Duration::from_micros(500), acquire).await {
                                Ok(result) => result,
                                Err(_) => {
                                    counters.3.fetch_add(1, Ordering::Relaxed);
                                    continue;
                                }
                            }
                        } else {
                            acquire.await
                        };
                        match result {
                            Ok(permit) => {
                                counters.0.fetch_add(1, Ordering::Relaxed);
                                tokio::task::yield_now().await;
                                drop(permit);
                            }
                            Err(shed) if shed.reason() == ShedReason::QueueTimeout => {
                                counters.1.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(shed) => {
                                assert_eq!(shed.reason(), ShedReason::QueueFull);
                                counters.2.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    };
    runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), run).await })
        .expect("every waiter is served, sheds or times out within max_wait");
    let (served, timed_out, queue_full, cancelled) = &*counters;
    let total = served.load(Ordering::Relaxed)
        + timed_out.load(Ordering::Relaxed)
        + queue_full.load(Ordering::Relaxed)
        + cancelled.load(Ordering::Relaxed);
    assert_eq!(total, TASKS * CALLS, "each call ends one way");
    assert!(served.load(Ordering::Relaxed) > 0);
    assert_eq!(limit.in_flight(), 0);
    assert!(limit.try_acquire(Priority::Critical).is_ok(), "no waiter is left counted in the queue");
}

#[tokio::test(start_paused = true)]
async fn a_waiter_woken_then_cancelled_passes_the_wake_up_on() {
    let limit = LimiterConfig::new("hand-off", LimitAlgorithm::Fixed(1))
        .queue(4, Duration::from_secs(10))
        .build()
        .unwrap();
    let held = limit.try_acquire(Priority::Critical).unwrap();
    let waiter = |limit: throughline_resilience::limit::Limiter| {
        tokio::spawn(
            async move { limit.acquire(Priority::Critical).await.map(|_| tokio::time::Instant::now()) },
        )
    };
    let first = waiter(limit.clone());
    tokio::task::yield_now().await;
    let second = waiter(limit.clone());
    tokio::task::yield_now().await;
    // The release wakes the first waiter, which is cancelled before it runs:
    // its wake-up must reach the second, now, not at the second's max_wait.
    let released_at = tokio::time::Instant::now();
    drop(held);
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    assert_eq!(second.await.unwrap().unwrap(), released_at);
}
