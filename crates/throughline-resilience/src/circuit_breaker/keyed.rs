//! One breaker per key: per host, per shard, per tenant.

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::sync::{Arc, PoisonError, RwLock};

use super::breaker::CircuitBreaker;
use super::config::{CircuitBreakerConfig, InvalidConfig};

/// A breaker per key, created on first use from one configuration, each
/// named `{name}:{key}` in events and metrics. At most `max_keys` breakers
/// are created; calls for keys beyond that share one breaker named
/// `{name}:_other`, so untrusted keys cannot grow memory or metric series
/// without bound.
///
/// Looking up a key takes a read lock on the map (a write lock the first time
/// a key is seen); the breaker itself then takes none.
///
/// ```
/// use throughline_resilience::circuit_breaker::{CircuitBreakerConfig, KeyedCircuitBreaker};
///
/// let per_host = KeyedCircuitBreaker::new(CircuitBreakerConfig::new("upstream"), 64)?;
/// let a = per_host.get(&"a.internal".to_owned());
/// let b = per_host.get(&"b.internal".to_owned());
/// a.force_open();
/// assert!(a.try_acquire().is_err() && b.try_acquire().is_ok());
/// assert_eq!(b.name(), "upstream:b.internal");
/// # Ok::<(), throughline_resilience::circuit_breaker::InvalidConfig>(())
/// ```
pub struct KeyedCircuitBreaker<K> {
    shared: Arc<Shared<K>>,
}

struct Shared<K> {
    config: CircuitBreakerConfig,
    breakers: RwLock<HashMap<K, CircuitBreaker>>,
    max_keys: usize,
    overflow: CircuitBreaker,
}

impl<K> Clone for KeyedCircuitBreaker<K> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone() }
    }
}

impl<K> std::fmt::Debug for KeyedCircuitBreaker<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedCircuitBreaker").field("name", &self.shared.config.name).finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone + Display> KeyedCircuitBreaker<K> {
    /// Breakers configured by `config`, at most `max_keys` of them.
    pub fn new(config: CircuitBreakerConfig, max_keys: usize) -> Result<Self, InvalidConfig> {
        config.validate()?;
        let mut overflow = config.clone();
        overflow.name = format!("{}:_other", config.name);
        Ok(Self {
            shared: Arc::new(Shared {
                overflow: overflow.build()?,
                config,
                breakers: RwLock::new(HashMap::new()),
                max_keys,
            }),
        })
    }

    /// The breaker for `key`, created if new.
    pub fn get(&self, key: &K) -> CircuitBreaker {
        let shared = &*self.shared;
        if let Some(breaker) = shared.breakers.read().unwrap_or_else(PoisonError::into_inner).get(key) {
            return breaker.clone();
        }
        let mut breakers = shared.breakers.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(breaker) = breakers.get(key) {
            return breaker.clone();
        }
        if breakers.len() >= shared.max_keys {
            return shared.overflow.clone();
        }
        let mut config = shared.config.clone();
        config.name = format!("{}:{key}", shared.config.name);
        let breaker = CircuitBreaker::from_config(config);
        breakers.insert(key.clone(), breaker.clone());
        breaker
    }

    /// The breakers created so far, with their keys.
    pub fn breakers(&self) -> Vec<(K, CircuitBreaker)> {
        let breakers = self.shared.breakers.read().unwrap_or_else(PoisonError::into_inner);
        breakers.iter().map(|(k, b)| (k.clone(), b.clone())).collect()
    }
}
