//! `Idempotency-Key` on `POST /orders`: a repeat returns the first result,
//! a repeat while the first still runs gets 409. Kept per replica, in
//! memory, for the last [`Idempotency::CAPACITY`] keys.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};

use crate::error::OrderError;

/// The header a client sets to make its POST safe to repeat.
pub const HEADER: &str = "idempotency-key";

/// What a key has led to.
#[derive(Clone, Debug)]
pub enum Entry {
    /// The first request still runs.
    InProgress,
    /// The first request's answer, to give again.
    Done(StatusCode, serde_json::Value),
}

/// The keys seen, bounded: the oldest is forgotten first.
#[derive(Clone, Debug, Default)]
pub struct Idempotency {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    order: VecDeque<String>,
}

impl Idempotency {
    /// How many keys are remembered.
    pub const CAPACITY: usize = 10_000;

    /// The key of a request, if it sent one: 1 to 128 visible ASCII
    /// characters, or an invalid order.
    pub fn key(headers: &HeaderMap) -> Result<Option<String>, OrderError> {
        let Some(value) = headers.get(HEADER) else { return Ok(None) };
        match value.to_str() {
            Ok(key) if (1..=128).contains(&key.len()) => Ok(Some(key.to_owned())),
            _ => Err(OrderError::Invalid("Idempotency-Key must be 1 to 128 visible ASCII characters")),
        }
    }

    /// Claims `key` for a new request: `None` when it is new (now in
    /// progress), or what the key already led to.
    pub fn claim(&self, key: &str) -> Option<Entry> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(entry) = state.entries.get(key) {
            return Some(entry.clone());
        }
        if state.order.len() >= Self::CAPACITY
            && let Some(oldest) = state.order.pop_front()
        {
            state.entries.remove(&oldest);
        }
        state.entries.insert(key.to_owned(), Entry::InProgress);
        state.order.push_back(key.to_owned());
        None
    }

    /// Records the answer a claimed key led to; a key whose request failed
    /// before any effect can be released instead, so that a retry runs.
    pub fn finish(&self, key: &str, answer: Option<(StatusCode, serde_json::Value)>) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match answer {
            Some((status, body)) => {
                if let Some(entry) = state.entries.get_mut(key) {
                    *entry = Entry::Done(status, body);
                }
            }
            None => {
                state.entries.remove(key);
                state.order.retain(|known| known != key);
            }
        }
    }
}
