//! The retry budget: retries may add at most a fraction of the request rate,
//! plus a floor per second, over a sliding window (Finagle's and Envoy's model).
//!
//! Every request deposits `ratio` of a token; every retry withdraws one whole
//! token; a reserve of `min_per_second × window` tokens lets a client that
//! sends few requests still retry. Deposits expire after the window, so the
//! budget follows the recent rate. The defaults are **20 % of requests and
//! 10 retries per second over 10 s**: under a full outage, a client sends at
//! most 1.2× its normal load, never the 3× of three attempts per request.
//!
//! Clones share the budget: clone one [`RetryBudget`] into every client of a
//! dependency (or one policy, whose clones share it).
//!
//! ```
//! use throughline_resilience::RetryBudget;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), throughline_resilience::budget::BudgetError> {
//! let budget = RetryBudget::new(0.25, 0)?; // 25 %, no floor
//! for _ in 0..8 {
//!     budget.deposit();
//! }
//! assert!(budget.try_withdraw() && budget.try_withdraw());
//! assert!(!budget.try_withdraw(), "8 requests at 25 % pay for exactly 2 retries");
//! # Ok(()) }
//! ```
//!
//! Unlike tower's `TpsBudget`, whose withdrawal cost is `1 / ratio` truncated
//! to an integer (so 30 % behaves as 33 %), the arithmetic here is fixed-point
//! in ten-thousandths, so fractional percentages are exact to 0.01 %.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Token amounts are in ten-thousandths of a retry.
const SCALE: i64 = 10_000;
/// The window is divided into this many slots; a deposit expires a whole slot at a time.
const SLOTS: usize = 10;
/// A slot word: the slot's period number in the top 24 bits, the signed
/// balance in the low 40, so that a slot moves to a new period and takes a
/// deposit in one compare-and-swap.
const BALANCE_BITS: u32 = 40;
const BALANCE_MASK: u64 = (1 << BALANCE_BITS) - 1;
const PERIOD_MASK: u64 = (1 << (64 - BALANCE_BITS)) - 1;
const BALANCE_MAX: i64 = (1 << (BALANCE_BITS - 1)) - 1;

/// A budget configuration outside what the budget can represent.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum BudgetError {
    /// The ratio is not a number between 0 and 1.
    #[error("retry budget ratio must be between 0 and 1, got {0}")]
    Ratio(f64),
    /// The window is shorter than 1 s or longer than 1 h.
    #[error("retry budget window must be between 1 s and 1 h, got {0:?}")]
    Window(Duration),
}

/// A retry budget shared by its clones; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct RetryBudget {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    deposit: i64,
    reserve: i64,
    slot_nanos: u64,
    epoch: Instant,
    slots: [AtomicU64; SLOTS],
}

impl Default for RetryBudget {
    /// 20 % of requests plus 10 retries per second, over 10 s.
    fn default() -> Self {
        Self::with_window(0.2, 10, Duration::from_secs(10)).unwrap_or_else(|_| unreachable!("valid defaults"))
    }
}

impl RetryBudget {
    /// Retries may add `ratio` (0.2 for 20 %) of the request rate plus
    /// `min_per_second`, over a 10 s window.
    pub fn new(ratio: f64, min_per_second: u32) -> Result<Self, BudgetError> {
        Self::with_window(ratio, min_per_second, Duration::from_secs(10))
    }

    /// As [`RetryBudget::new`], over a window of your choice.
    pub fn with_window(ratio: f64, min_per_second: u32, window: Duration) -> Result<Self, BudgetError> {
        if !(0.0..=1.0).contains(&ratio) {
            return Err(BudgetError::Ratio(ratio));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&window) {
            return Err(BudgetError::Window(window));
        }
        let reserve = (f64::from(min_per_second) * window.as_secs_f64() * SCALE as f64).round() as i64;
        Ok(Self {
            shared: Arc::new(Shared {
                deposit: (ratio * SCALE as f64).round() as i64,
                reserve: reserve.min(BALANCE_MAX),
                slot_nanos: (window.as_nanos() / SLOTS as u128) as u64,
                epoch: Instant::now(),
                slots: Default::default(),
            }),
        })
    }

    /// Records a request (every call deposits, retried or not).
    pub fn deposit(&self) {
        self.shared.add(self.shared.period(Instant::now()), self.shared.deposit);
    }

    /// Takes one retry from the budget, or returns `false` if it is spent.
    ///
    /// Under concurrent withdrawals the budget can be overdrawn by at most one
    /// retry per thread withdrawing at that instant; it never drifts.
    pub fn try_withdraw(&self) -> bool {
        let period = self.shared.period(Instant::now());
        if self.shared.reserve + self.shared.balance(period) < SCALE {
            return false;
        }
        self.shared.add(period, -SCALE);
        true
    }

    /// The retries available now, in whole retries.
    pub fn available(&self) -> u64 {
        let period = self.shared.period(Instant::now());
        ((self.shared.reserve + self.shared.balance(period)).max(0) / SCALE) as u64
    }
}

impl Shared {
    fn period(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.epoch).as_nanos() / u128::from(self.slot_nanos)) as u64
    }

    fn add(&self, period: u64, amount: i64) {
        let slot = &self.slots[period as usize % SLOTS];
        let tag = period & PERIOD_MASK;
        let _ = slot.fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
            let current = if word >> BALANCE_BITS == tag { decode(word) } else { 0 };
            Some(tag << BALANCE_BITS | encode((current + amount).clamp(-BALANCE_MAX, BALANCE_MAX)))
        });
    }

    /// The sum of the slots of the last `SLOTS` periods.
    fn balance(&self, period: u64) -> i64 {
        (0..SLOTS as u64)
            .filter_map(|age| period.checked_sub(age))
            .map(|p| {
                let word = self.slots[p as usize % SLOTS].load(Ordering::Acquire);
                if word >> BALANCE_BITS == p & PERIOD_MASK { decode(word) } else { 0 }
            })
            .sum()
    }
}

fn encode(balance: i64) -> u64 {
    balance as u64 & BALANCE_MASK
}

fn decode(word: u64) -> i64 {
    // Sign-extend the low 40 bits.
    ((word << (64 - BALANCE_BITS)) as i64) >> (64 - BALANCE_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balances_round_trip_through_the_slot_word() {
        for balance in [0, 1, -1, SCALE, -SCALE, BALANCE_MAX, -BALANCE_MAX] {
            assert_eq!(decode(7 << BALANCE_BITS | encode(balance)), balance);
        }
    }

    #[test]
    fn invalid_ratios_and_windows_are_errors() {
        for ratio in [-0.1, 1.5, f64::NAN] {
            assert!(matches!(RetryBudget::new(ratio, 1), Err(BudgetError::Ratio(_))));
        }
        assert!(matches!(
            RetryBudget::with_window(0.2, 1, Duration::from_millis(10)),
            Err(BudgetError::Window(_))
        ));
    }
}
