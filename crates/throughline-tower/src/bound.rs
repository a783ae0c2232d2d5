//! Instruments bound to their attribute sets, so that recording a
//! measurement skips the SDK's per-record attribute lookup.
//!
//! An unbound `record(value, &attributes)` makes the SDK hash the whole
//! attribute set (and on a miss sort a copy of it) to find where the
//! measurement goes: about a thousand instructions for each of the server's
//! three updates per request. A request's attributes come from a few
//! routes, methods and statuses, so each set is bound once
//! (`Histogram::bind`) and kept here, per thread so that no request waits on
//! another; later requests with the same set find their handle by a cheap
//! hash of the handful of values that make up the key.
//!
//! Behind the `bound-metrics` feature, which turns on opentelemetry's
//! `experimental_metrics_bound_instruments`. The SDK must be built with
//! its feature of the same name (throughline-pipeline does); an SDK
//! without it gives handles that drop every measurement.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

use thread_local::ThreadLocal;

/// How many attribute sets one thread binds; past it, a measurement is
/// recorded unbound. The SDK's default cardinality limit: a thread never
/// binds more sets than the SDK keeps apart.
const LIMIT: usize = 2000;

/// What each thread has bound, by key: `V` holds the bound handles of one
/// attribute set, `K` the values the set is made of.
pub struct BoundSets<K: Send, V: Send> {
    per_thread: ThreadLocal<RefCell<HashMap<K, V, foldhash::fast::RandomState>>>,
}

impl<K: Hash + Eq + Clone + Send, V: Send> BoundSets<K, V> {
    /// No set bound yet.
    pub fn new() -> Self {
        Self { per_thread: ThreadLocal::new() }
    }

    /// Runs `record` with the handles bound for `key` on this thread,
    /// binding them with `bind` the first time. Returns `false`, having
    /// run nothing, once this thread holds its limit of sets: the caller
    /// then records unbound.
    ///
    /// ```
    /// use opentelemetry::KeyValue;
    /// use throughline_tower::bound::BoundSets;
    ///
    /// let meter = opentelemetry::global::meter("doc");
    /// let histogram = meter.f64_histogram("duration").build();
    /// let bound = BoundSets::new();
    /// let route = "/users/{id}";
    /// let attributes = || [KeyValue::new("http.route", route)];
    /// if !bound.record(&route, || histogram.bind(&attributes()), |handle| handle.record(0.25)) {
    ///     histogram.record(0.25, &attributes());
    /// }
    /// ```
    pub fn record(&self, key: &K, bind: impl FnOnce() -> V, record: impl FnOnce(&V)) -> bool {
        let mut sets = self.per_thread.get_or_default().borrow_mut();
        if let Some(handles) = sets.get(key) {
            record(handles);
            return true;
        }
        if sets.len() >= LIMIT {
            return false;
        }
        let handles = bind();
        record(&handles);
        sets.insert(key.clone(), handles);
        true
    }
}

impl<K: Hash + Eq + Clone + Send, V: Send> Default for BoundSets<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Send, V: Send> fmt::Debug for BoundSets<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundSets").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_set_is_bound_once_per_thread_and_no_more_than_the_limit() {
        let sets = BoundSets::new();
        let binds = Cell::new(0);
        let records = Cell::new(0);
        let record = |key: usize| {
            sets.record(&key, || binds.set(binds.get() + 1), |()| records.set(records.get() + 1))
        };
        assert!(record(0));
        assert!(record(0));
        assert_eq!((binds.get(), records.get()), (1, 2));
        for key in 1..LIMIT {
            assert!(record(key));
        }
        assert!(!record(LIMIT), "past the limit the caller records unbound");
        assert!(record(7), "sets already bound still record");
        assert_eq!((binds.get(), records.get()), (LIMIT, LIMIT + 2));
        std::thread::scope(|scope| {
            scope.spawn(|| assert!(sets.record(&LIMIT, || (), |()| ()), "another thread binds its own"));
        });
    }
}
