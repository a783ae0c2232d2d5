//! The sliding windows the breaker measures rates over, lock-free.
//!
//! The count window is a ring of one-byte outcomes and one packed counter
//! word. A call swaps its outcome into the next slot and, only if that changes
//! the counts (a failure replacing a success, say), adds the difference to the
//! counter word in one atomic add. In a healthy steady state a success
//! replaces a success, so recording is two uncontended atomic operations.
//!
//! The time window is ten buckets, each tagged with the period it counts; a
//! bucket whose tag is old is reused for the current period.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// What a window holds: how many calls, how many failed, how many were slow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowSnapshot {
    /// Calls in the window.
    pub calls: u32,
    /// Of those, failed.
    pub failures: u32,
    /// Of those, slower than the slow-call threshold.
    pub slow: u32,
}

const PRESENT: u8 = 1;
const FAILED: u8 = 2;
const SLOW: u8 = 4;

/// The one-byte record of a call's outcome.
pub(super) fn outcome_bits(failed: bool, slow: bool) -> u8 {
    PRESENT | if failed { FAILED } else { 0 } | if slow { SLOW } else { 0 }
}

pub(super) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    pub(super) fn count(size: u32) -> Self {
        Self::Count(CountWindow::new(size))
    }

    pub(super) fn time(duration: Duration, epoch: Instant) -> Self {
        Self::Time(TimeWindow::new(duration, epoch))
    }

    pub(super) fn needs_clock(&self) -> bool {
        matches!(self, Self::Time(_))
    }

    pub(super) fn record(&self, bits: u8, now: Option<Instant>) {
        match self {
            Self::Count(w) => w.record(bits),
            Self::Time(w) => w.record(bits, now.unwrap_or_else(Instant::now)),
        }
    }

    pub(super) fn snapshot(&self, now: Option<Instant>) -> WindowSnapshot {
        match self {
            Self::Count(w) => w.snapshot(),
            Self::Time(w) => w.snapshot(now.unwrap_or_else(Instant::now)),
        }
    }

    pub(super) fn reset(&self) {
        match self {
            Self::Count(w) => w.reset(),
            Self::Time(w) => w.reset(),
        }
    }
}

/// Three 21-bit counters in one word, each stored with a bias of 2^19 so that
/// a decrement that overtakes the increment it undoes (two threads racing on
/// one slot) never borrows from its neighbour.
const FIELD_BITS: u32 = 21;
const FIELD_MASK: u64 = (1 << FIELD_BITS) - 1;
const BIAS: u64 = 1 << 19;
const BIASED_ZERO: u64 = BIAS | BIAS << FIELD_BITS | BIAS << (2 * FIELD_BITS);

pub(super) struct CountWindow {
    slots: Box<[AtomicU8]>,
    cursor: AtomicU32,
    counts: AtomicU64,
    // Lemire's fast modulo: `cursor % len` without a division on the hot path.
    len: u32,
    magic: u64,
}

impl CountWindow {
    fn new(size: u32) -> Self {
        let len = size.max(1);
        Self {
            slots: (0..len).map(|_| AtomicU8::new(0)).collect(),
            cursor: AtomicU32::new(0),
            counts: AtomicU64::new(BIASED_ZERO),
            len,
            magic: (u64::MAX / u64::from(len)).wrapping_add(1),
        }
    }

    fn index(&self, cursor: u32) -> usize {
        let low = self.magic.wrapping_mul(u64::from(cursor));
        ((u128::from(low) * u128::from(self.len)) >> 64) as usize
    }

    fn record(&self, bits: u8) {
        let slot = &self.slots[self.index(self.cursor.fetch_add(1, Ordering::Relaxed))];
        let old = slot.swap(bits, Ordering::AcqRel);
        if old != bits {
            self.counts.fetch_add(delta(old, bits), Ordering::AcqRel);
        }
    }

    fn snapshot(&self) -> WindowSnapshot {
        let word = self.counts.load(Ordering::Acquire);
        let field = |i: u32| ((word >> (i * FIELD_BITS)) & FIELD_MASK).saturating_sub(BIAS) as u32;
        WindowSnapshot { calls: field(0), failures: field(1), slow: field(2) }
    }

    fn reset(&self) {
        for slot in &*self.slots {
            slot.store(0, Ordering::Relaxed);
        }
        self.cursor.store(0, Ordering::Relaxed);
        self.counts.store(BIASED_ZERO, Ordering::Release);
    }
}

/// The change to the packed counters when `new` replaces `old` in a slot, as
/// a wrapping addend: negative field changes are two's complement.
fn delta(old: u8, new: u8) -> u64 {
    let change = |bit: u8| i64::from(new & bit != 0) - i64::from(old & bit != 0);
    let (calls, failures, slow) = (change(PRESENT), change(FAILED), change(SLOW));
    (calls as u64)
        .wrapping_add((failures as u64) << FIELD_BITS)
        .wrapping_add((slow as u64) << (2 * FIELD_BITS))
}

const BUCKETS: usize = 10;

struct Bucket {
    period: AtomicU64,
    calls: AtomicU32,
    failures: AtomicU32,
    slow: AtomicU32,
}

pub(super) struct TimeWindow {
    buckets: Box<[Bucket]>,
    bucket_nanos: u64,
    epoch: Instant,
}

impl TimeWindow {
    fn new(duration: Duration, epoch: Instant) -> Self {
        let bucket = || Bucket {
            period: AtomicU64::new(u64::MAX),
            calls: AtomicU32::new(0),
            failures: AtomicU32::new(0),
            slow: AtomicU32::new(0),
        };
        Self {
            buckets: (0..BUCKETS).map(|_| bucket()).collect(),
            bucket_nanos: (duration.as_nanos() / BUCKETS as u128).max(1) as u64,
            epoch,
        }
    }

    fn period(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.epoch).as_nanos() / u128::from(self.bucket_nanos)) as u64
    }

    fn record(&self, bits: u8, now: Instant) {
        let period = self.period(now);
        let bucket = &self.buckets[period as usize % BUCKETS];
        let seen = bucket.period.load(Ordering::Acquire);
        if seen != period
            && bucket.period.compare_exchange(seen, period, Ordering::AcqRel, Ordering::Acquire).is_ok()
        {
            // The bucket held an older period. A call recorded by another
            // thread between the swap above and these stores is lost: a
            // bounded, rare undercount, the price of taking no lock.
            bucket.calls.store(0, Ordering::Release);
            bucket.failures.store(0, Ordering::Release);
            bucket.slow.store(0, Ordering::Release);
        }
        bucket.calls.fetch_add(1, Ordering::AcqRel);
        if bits & FAILED != 0 {
            bucket.failures.fetch_add(1, Ordering::AcqRel);
        }
        if bits & SLOW != 0 {
            bucket.slow.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn snapshot(&self, now: Instant) -> WindowSnapshot {
        let period = self.period(now);
        let mut snapshot = WindowSnapshot::default();
        for bucket in &*self.buckets {
            let p = bucket.period.load(Ordering::Acquire);
            if p <= period && period - p < BUCKETS as u64 {
                snapshot.calls += bucket.calls.load(Ordering::Acquire);
                snapshot.failures += bucket.failures.load(Ordering::Acquire);
                snapshot.slow += bucket.slow.load(Ordering::Acquire);
            }
        }
        snapshot
    }

    fn reset(&self) {
        for bucket in &*self.buckets {
            bucket.period.store(u64::MAX, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_modulo_equals_the_remainder() {
        for len in [1, 2, 3, 7, 100, 99_999, 100_000] {
            let window = CountWindow::new(len);
            for cursor in (0..1000).chain([u32::MAX - 1, u32::MAX]) {
                assert_eq!(window.index(cursor), (cursor % len) as usize, "{cursor} % {len}");
            }
        }
    }

    #[test]
    fn a_count_window_forgets_the_oldest_call() {
        let window = CountWindow::new(3);
        for failed in [true, true, false] {
            window.record(outcome_bits(failed, false));
        }
        assert_eq!(window.snapshot(), WindowSnapshot { calls: 3, failures: 2, slow: 0 });
        window.record(outcome_bits(false, true));
        window.record(outcome_bits(false, false));
        assert_eq!(window.snapshot(), WindowSnapshot { calls: 3, failures: 0, slow: 1 });
    }

    #[test]
    fn a_decrement_before_its_increment_does_not_corrupt_neighbours() {
        let window = CountWindow::new(4);
        // Slot replaced by a success before the failure's own add landed.
        window
            .counts
            .fetch_add(delta(outcome_bits(true, false), outcome_bits(false, false)), Ordering::AcqRel);
        window.counts.fetch_add(delta(0, outcome_bits(true, false)), Ordering::AcqRel);
        assert_eq!(window.snapshot(), WindowSnapshot { calls: 1, failures: 0, slow: 0 });
    }

    #[tokio::test(start_paused = true)]
    async fn a_time_window_forgets_calls_older_than_its_duration() {
        let window = TimeWindow::new(Duration::from_secs(10), Instant::now());
        window.record(outcome_bits(true, false), Instant::now());
        tokio::time::advance(Duration::from_secs(5)).await;
        window.record(outcome_bits(false, false), Instant::now());
        assert_eq!(window.snapshot(Instant::now()), WindowSnapshot { calls: 2, failures: 1, slow: 0 });
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(window.snapshot(Instant::now()), WindowSnapshot { calls: 1, failures: 0, slow: 0 });
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(window.snapshot(Instant::now()), WindowSnapshot::default());
    }
}
