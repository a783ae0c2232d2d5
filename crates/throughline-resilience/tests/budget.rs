//! Retry budget arithmetic: ratios, fractional percentages, the floor, the window.

use std::time::Duration;

use throughline_resilience::RetryBudget;

fn withdrawals(budget: &RetryBudget) -> u32 {
    let mut n = 0;
    while budget.try_withdraw() {
        n += 1;
    }
    n
}

fn deposit(budget: &RetryBudget, requests: u32) {
    for _ in 0..requests {
        budget.deposit();
    }
}

#[tokio::test(start_paused = true)]
async fn the_default_is_twenty_percent_plus_ten_per_second_over_ten_seconds() {
    let budget = RetryBudget::default();
    assert_eq!(budget.available(), 100, "the floor: 10/s × 10 s");
    deposit(&budget, 50);
    assert_eq!(withdrawals(&budget), 100 + 10);
}

#[tokio::test(start_paused = true)]
async fn fractional_percentages_are_exact() {
    // tower's TpsBudget truncates 1/0.4 to 2 and allows 5 retries for 10 requests.
    for (ratio, requests, retries) in
        [(0.4, 10, 4), (0.125, 16, 2), (0.3, 10, 3), (0.0333, 100, 3), (0.2, 4, 0)]
    {
        let budget = RetryBudget::new(ratio, 0).unwrap();
        deposit(&budget, requests);
        assert_eq!(withdrawals(&budget), retries, "{ratio} of {requests}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_fraction_left_over_is_kept_for_the_next_request() {
    let budget = RetryBudget::new(0.4, 0).unwrap();
    deposit(&budget, 2); // 0.8 of a retry
    assert!(!budget.try_withdraw());
    deposit(&budget, 1); // 1.2
    assert!(budget.try_withdraw());
    assert!(!budget.try_withdraw());
}

#[tokio::test(start_paused = true)]
async fn deposits_expire_after_the_window() {
    let budget = RetryBudget::with_window(0.5, 0, Duration::from_secs(10)).unwrap();
    deposit(&budget, 10);
    tokio::time::advance(Duration::from_secs(9)).await;
    assert_eq!(budget.available(), 5);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(budget.available(), 0, "the deposits are older than the window");
}

#[tokio::test(start_paused = true)]
async fn withdrawals_expire_too_so_the_budget_recovers() {
    let budget = RetryBudget::with_window(0.0, 1, Duration::from_secs(10)).unwrap();
    assert_eq!(withdrawals(&budget), 10, "the floor: 1/s × 10 s");
    tokio::time::advance(Duration::from_secs(11)).await;
    assert_eq!(withdrawals(&budget), 10);
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_budget() {
    let budget = RetryBudget::new(1.0, 0).unwrap();
    let clone = budget.clone();
    deposit(&clone, 3);
    assert_eq!(withdrawals(&budget), 3);
}
