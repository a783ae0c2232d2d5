//! Backoff schedules and jitter bounds, with seeded generators.

use std::time::Duration;

use throughline_resilience::{Backoff, Jitter};

const MS: Duration = Duration::from_millis(1);

fn backoff(jitter: Jitter) -> Backoff {
    Backoff::exponential(10 * MS).max_delay(500 * MS).jitter(jitter)
}

#[test]
fn no_jitter_is_the_capped_exponential() {
    let delays: Vec<_> = backoff(Jitter::None).delays(0).take(8).collect();
    assert_eq!(delays, [10, 20, 40, 80, 160, 320, 500, 500].map(|ms| ms * MS));
}

#[test]
fn a_multiplier_other_than_two_is_honoured() {
    let delays: Vec<_> = backoff(Jitter::None).multiplier(3.0).unwrap().delays(0).take(4).collect();
    assert_eq!(delays, [10, 30, 90, 270].map(|ms| ms * MS));
}

#[test]
fn full_jitter_stays_between_zero_and_the_exponential() {
    for seed in 0..200 {
        for (n, delay) in backoff(Jitter::Full).delays(seed).take(10).enumerate() {
            assert!(delay <= backoff(Jitter::None).exponential_delay(n as u32 + 1), "seed {seed}, retry {n}");
        }
    }
}

#[test]
fn equal_jitter_stays_between_half_and_all_of_the_exponential() {
    for seed in 0..200 {
        for (n, delay) in backoff(Jitter::Equal).delays(seed).take(10).enumerate() {
            let exp = backoff(Jitter::None).exponential_delay(n as u32 + 1);
            assert!(delay >= exp / 2 && delay <= exp, "seed {seed}, retry {n}: {delay:?} of {exp:?}");
        }
    }
}

#[test]
fn decorrelated_jitter_stays_between_base_and_three_times_the_previous_capped() {
    for seed in 0..200 {
        let mut previous = 10 * MS;
        for delay in backoff(Jitter::Decorrelated).delays(seed).take(20) {
            assert!(
                delay >= 10 * MS && delay <= (previous * 3).min(500 * MS),
                "seed {seed}: {delay:?} after {previous:?}"
            );
            previous = delay;
        }
    }
}

#[test]
fn jitter_actually_varies_and_a_seed_reproduces_it() {
    let a: Vec<_> = backoff(Jitter::Full).delays(1).take(6).collect();
    let b: Vec<_> = backoff(Jitter::Full).delays(2).take(6).collect();
    assert_ne!(a, b);
    assert_eq!(a, backoff(Jitter::Full).delays(1).take(6).collect::<Vec<_>>());
}

#[test]
fn full_jitter_spreads_over_its_range() {
    // Over many draws the mean of uniform [0, 500 ms] is near 250 ms.
    let delays: Vec<_> = (0..2000).map(|seed| backoff(Jitter::Full).delays(seed).nth(7).unwrap()).collect();
    let mean = delays.iter().sum::<Duration>() / delays.len() as u32;
    assert!((220 * MS..=280 * MS).contains(&mean), "{mean:?}");
}
