//! A map that forgets: at most so many entries, none older than so long.
//! The oldest go first, and how many went is counted.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Entries by key, bounded by count and by age.
#[derive(Debug)]
pub struct BoundedMap<V> {
    entries: HashMap<String, (V, Instant)>,
    /// Keys in insertion order, with the instant each was inserted.
    order: VecDeque<(String, Instant)>,
    capacity: usize,
    max_age: Duration,
    evicted: u64,
}

impl<V> BoundedMap<V> {
    /// At most `capacity` entries, each kept at most `max_age`.
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        Self { entries: HashMap::new(), order: VecDeque::new(), capacity, max_age, evicted: 0 }
    }

    /// The live entry for `key`, if any.
    pub fn get_mut(&mut self, key: &str, now: Instant) -> Option<&mut V> {
        let max_age = self.max_age;
        self.entries.get_mut(key).filter(|(_, at)| now.duration_since(*at) < max_age).map(|(value, _)| value)
    }

    /// Inserts `key` (forgetting the expired and, when full, the oldest).
    pub fn insert(&mut self, key: String, value: V, now: Instant) {
        self.expire(now);
        if !self.entries.contains_key(&key) {
            while self.entries.len() >= self.capacity.max(1) {
                self.evict_oldest();
            }
        }
        self.order.push_back((key.clone(), now));
        self.entries.insert(key, (value, now));
    }

    /// How many entries were forgotten, by age or for room.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// How many entries are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        while self.order.front().is_some_and(|(_, at)| now.duration_since(*at) >= self.max_age) {
            self.evict_oldest();
        }
    }

    fn evict_oldest(&mut self) {
        if let Some((key, at)) = self.order.pop_front() {
            // A key inserted again later has a newer instant: only the entry
            // this position stands for goes.
            if self.entries.get(&key).is_some_and(|(_, inserted)| *inserted == at) {
                self.entries.remove(&key);
                self.evicted += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_go_when_full_and_are_counted() {
        let now = Instant::now();
        let mut map = BoundedMap::new(2, Duration::from_secs(60));
        for key in ["a", "b", "c"] {
            map.insert(key.to_owned(), 1, now);
        }
        assert_eq!((map.len(), map.evicted()), (2, 1));
        assert!(map.get_mut("a", now).is_none());
        assert!(map.get_mut("c", now).is_some());
    }

    #[test]
    fn entries_expire_with_age() {
        let now = Instant::now();
        let mut map = BoundedMap::new(10, Duration::from_secs(1));
        map.insert("a".to_owned(), 1, now);
        let later = now + Duration::from_secs(2);
        assert!(map.get_mut("a", later).is_none(), "expired, even before it is evicted");
        map.insert("b".to_owned(), 2, later);
        assert_eq!((map.len(), map.evicted()), (1, 1));
    }
}
