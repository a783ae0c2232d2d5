//! One breaker per key: per host, per shard, per tenant.

use std::collections::hash_map::RandomState;
use std::fmt::Display;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::breaker::Breaker;
use super::config::{BreakerConfig, BreakerConfigError};

/// The most breakers one [`KeyedBreaker`] may create.
pub const MAX_KEYS: usize = 65_536;

/// A breaker per key, created on first use from one configuration, each
/// named `{name}:{key}` in events and metrics. At most `max_keys` breakers
/// are created; calls for keys beyond that share one breaker named
/// `{name}:_other`, so untrusted keys cannot grow memory or metric series
/// without bound.
///
/// Finding a known key's breaker takes no lock: the breakers sit in a table
/// made at construction (twice `max_keys` slots, open addressing), and a slot
/// once filled never changes, so a lookup is a hash and a few atomic loads. A
/// key seen for the first time takes a lock to create its breaker; once
/// `max_keys` breakers exist, an unknown key gets the shared one without a
/// lock. The breaker itself then takes none.
///
/// ```
/// use throughline_resilience::circuit_breaker::{BreakerConfig, KeyedBreaker};
///
/// let per_host = KeyedBreaker::new(BreakerConfig::new("upstream"), 64)?;
/// let a = per_host.get(&"a.internal".to_owned());
/// let b = per_host.get(&"b.internal".to_owned());
/// a.force_open();
/// assert!(a.try_acquire().is_err() && b.try_acquire().is_ok());
/// assert_eq!(b.name(), "upstream:b.internal");
/// # Ok::<(), throughline_resilience::circuit_breaker::BreakerConfigError>(())
/// ```
pub struct KeyedBreaker<K> {
    shared: Arc<Shared<K>>,
}

struct Shared<K> {
    config: BreakerConfig,
    /// Linear probing over a power-of-two table at most half full, so every
    /// probe sequence reaches an empty slot. Only `create` fills slots, one
    /// at a time under `creating`; readers never wait.
    slots: Box<[OnceLock<(K, Breaker)>]>,
    hasher: RandomState,
    created: AtomicUsize,
    creating: Mutex<()>,
    max_keys: usize,
    overflow: Breaker,
}

impl<K> Clone for KeyedBreaker<K> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone() }
    }
}

impl<K> std::fmt::Debug for KeyedBreaker<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedBreaker").field("name", &self.shared.config.name).finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone + Display> KeyedBreaker<K> {
    /// Breakers configured by `config`, at most `max_keys` of them (1 to
    /// [`MAX_KEYS`]; the table of twice that many slots is made here).
    pub fn new(config: BreakerConfig, max_keys: usize) -> Result<Self, BreakerConfigError> {
        config.validate()?;
        if !(1..=MAX_KEYS).contains(&max_keys) {
            return Err(BreakerConfigError::MaxKeys(max_keys));
        }
        let mut overflow = config.clone();
        overflow.name = format!("{}:_other", config.name);
        Ok(Self {
            shared: Arc::new(Shared {
                overflow: overflow.build()?,
                config,
                slots: (0..(2 * max_keys).next_power_of_two()).map(|_| OnceLock::new()).collect(),
                hasher: RandomState::new(),
                created: AtomicUsize::new(0),
                creating: Mutex::new(()),
                max_keys,
            }),
        })
    }

    /// The breaker for `key`, created if new.
    pub fn get(&self, key: &K) -> Breaker {
        let shared = &*self.shared;
        let hash = shared.hasher.hash_one(key);
        match shared.find(key, hash) {
            Ok(breaker) => breaker.clone(),
            // Full: no key is created any more, so a second look is final.
            Err(_) if shared.created.load(Ordering::Acquire) >= shared.max_keys => {
                shared.find(key, hash).map_or_else(|_| shared.overflow.clone(), Clone::clone)
            }
            Err(_) => shared.create(key, hash),
        }
    }

    /// The breakers created so far, with their keys.
    pub fn breakers(&self) -> Vec<(K, Breaker)> {
        self.shared.slots.iter().filter_map(OnceLock::get).cloned().collect()
    }
}

impl<K: Hash + Eq + Clone + Display> Shared<K> {
    /// The breaker of `key`, or the index of the empty slot where it would go.
    #[inline]
    fn find(&self, key: &K, hash: u64) -> Result<&Breaker, usize> {
        let mask = self.slots.len() - 1;
        let mut index = hash as usize & mask;
        loop {
            match self.slots[index].get() {
                None => return Err(index),
                Some((known, breaker)) if known == key => return Ok(breaker),
                Some(_) => index = (index + 1) & mask,
            }
        }
    }

    #[cold]
    fn create(&self, key: &K, hash: u64) -> Breaker {
        let _creating = self.creating.lock().unwrap_or_else(PoisonError::into_inner);
        // Another caller may have created it, or the last free place, meanwhile.
        let empty = match self.find(key, hash) {
            Ok(breaker) => return breaker.clone(),
            Err(empty) => empty,
        };
        if self.created.load(Ordering::Acquire) >= self.max_keys {
            return self.overflow.clone();
        }
        let mut config = self.config.clone();
        config.name = format!("{}:{key}", self.config.name);
        let breaker = Breaker::from_config(config);
        // Empty under the lock, and only this function fills slots.
        let _ = self.slots[empty].set((key.clone(), breaker.clone()));
        self.created.fetch_add(1, Ordering::Release);
        breaker
    }
}
