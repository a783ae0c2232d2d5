//! Model-based test of the circuit breaker: a plain reference model, written
//! from the documented rules, against the real lock-free breaker, over random
//! sequences of calls and clock advances.

use std::collections::VecDeque;
use std::time::Duration;

use proptest::prelude::*;
use throughline_resilience::Outcome;
use throughline_resilience::circuit_breaker::{BreakerConfig, CircuitState, SlidingWindow};
use throughline_resilience::classify::{Failure, Reason};

#[derive(Clone, Copy, Debug)]
enum Op {
    Call { fails: bool },
    Advance { millis: u64 },
}

#[derive(Clone, Copy, Debug)]
struct Config {
    window: usize,
    min_calls: usize,
    rate_percent: u64,
    probes: u64,
    open_millis: u64,
}

#[derive(Debug)]
enum ModelState {
    Closed(VecDeque<bool>),
    Open { until: u64 },
    HalfOpen { completed: u64, failed: u64 },
}

/// The breaker as its documentation describes it, with no concurrency.
struct Model {
    config: Config,
    state: ModelState,
    now: u64,
}

impl Model {
    fn over(&self, failed: u64, calls: u64) -> bool {
        failed * 100 >= self.config.rate_percent * calls
    }

    /// Whether the call is admitted, or the wait until the next probe if known.
    fn call(&mut self, fails: bool) -> Result<(), Option<u64>> {
        if let ModelState::Open { until } = self.state {
            if self.now < until {
                return Err(Some(until - self.now));
            }
            self.state = ModelState::HalfOpen { completed: 0, failed: 0 };
        }
        let open = ModelState::Open { until: self.now + self.config.open_millis };
        match &mut self.state {
            ModelState::Closed(window) => {
                window.push_back(fails);
                if window.len() > self.config.window {
                    window.pop_front();
                }
                let (calls, failed) = (window.len() as u64, window.iter().filter(|f| **f).count() as u64);
                if fails && calls >= self.config.min_calls as u64 && self.over(failed, calls) {
                    self.state = open;
                }
                Ok(())
            }
            ModelState::HalfOpen { completed, failed } => {
                if *completed >= self.config.probes {
                    return Err(None);
                }
                *completed += 1;
                *failed += u64::from(fails);
                let (completed, failed) = (*completed, *failed);
                if completed == self.config.probes {
                    self.state =
                        if self.over(failed, completed) { open } else { ModelState::Closed(VecDeque::new()) };
                }
                Ok(())
            }
            ModelState::Open { .. } => unreachable!("left above"),
        }
    }

    fn state(&self) -> CircuitState {
        match self.state {
            ModelState::Closed(_) => CircuitState::Closed,
            ModelState::Open { .. } => CircuitState::Open,
            ModelState::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }
}

fn config() -> impl Strategy<Value = Config> {
    (1usize..12, 1u64..4, prop::sample::select(vec![25u64, 50, 75, 100]), 1u64..5, 1u64..50).prop_flat_map(
        |(window, probes, rate_percent, open_tenths, _)| {
            (1..=window).prop_map(move |min_calls| Config {
                window,
                min_calls,
                rate_percent,
                probes,
                open_millis: open_tenths * 100,
            })
        },
    )
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        4 => any::<bool>().prop_map(|fails| Op::Call { fails }),
        1 => (0u64..600).prop_map(|millis| Op::Advance { millis }),
    ];
    prop::collection::vec(op, 1..200)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_breaker_behaves_as_its_model(config in config(), ops in ops()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        runtime.block_on(async {
            let breaker = BreakerConfig::new("model")
                .window(SlidingWindow::Count(config.window as u32))
                .min_calls(config.min_calls as u32)
                .failure_rate(config.rate_percent as f64 / 100.0)
                .half_open_probes(config.probes as u32)
                .open_duration(Duration::from_millis(config.open_millis))
                .build()
                .unwrap();
            let mut model = Model { config, state: ModelState::Closed(VecDeque::new()), now: 0 };
            for (step, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Advance { millis } => {
                        tokio::time::advance(Duration::from_millis(millis)).await;
                        model.now += millis;
                    }
                    Op::Call { fails } => {
                        let expected = model.call(fails);
                        let actual = breaker.try_acquire().map(|permit| {
                            permit.record(if fails { Outcome::Failure(Failure::retryable(Reason::Error)) } else { Outcome::Success });
                        });
                        let actual = actual.map_err(|open| open.retry_in().map(|d| d.as_millis() as u64));
                        prop_assert_eq!(actual, expected, "step {} ({:?})", step, op);
                    }
                }
                // An open breaker past its duration reports Open until a call arrives; so does the model.
                prop_assert_eq!(breaker.state(), model.state(), "step {}", step);
            }
            Ok(())
        })?;
    }
}
