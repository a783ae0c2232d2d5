//! The bound on distinct label sets per metric.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::{PoisonError, RwLock};

use opentelemetry::{KeyValue, Value};

use super::fnv::{Fnv, FnvBuild};

/// The label sets a metric has seen, up to a bound.
pub(super) struct LabelSets {
    bound: usize,
    seen: RwLock<HashSet<u64, FnvBuild>>,
}

impl LabelSets {
    pub(super) fn new(bound: usize) -> Self {
        Self { bound, seen: RwLock::default() }
    }

    /// Whether `labels` get a series of their own: yes when seen before or
    /// while fewer than the bound were; no once the bound is reached.
    ///
    /// Label sets are told apart by a 64-bit fingerprint; two sets sharing one
    /// count as one, so the bound may let a few more sets through, never
    /// fewer.
    pub(super) fn admit(&self, labels: &[KeyValue]) -> bool {
        let fingerprint = fingerprint(labels);
        if self.seen.read().unwrap_or_else(PoisonError::into_inner).contains(&fingerprint) {
            return true;
        }
        let mut seen = self.seen.write().unwrap_or_else(PoisonError::into_inner);
        if seen.len() < self.bound {
            seen.insert(fingerprint);
            return true;
        }
        seen.contains(&fingerprint)
    }
}

/// A hash of the labels, independent of their order.
fn fingerprint(labels: &[KeyValue]) -> u64 {
    labels
        .iter()
        .map(|label| {
            let mut hasher = Fnv::default();
            label.key.as_str().hash(&mut hasher);
            hash_value(&label.value, &mut hasher);
            hasher.finish()
        })
        .fold(0u64, |all, one| all ^ one.rotate_left(1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

fn hash_value(value: &Value, hasher: &mut Fnv) {
    match value {
        Value::Bool(v) => (0u8, v).hash(hasher),
        Value::I64(v) => (1u8, v).hash(hasher),
        Value::F64(v) => (2u8, v.to_bits()).hash(hasher),
        Value::String(v) => (3u8, v.as_str()).hash(hasher),
        other => (4u8, other.to_string()).hash(hasher),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_bound_only_known_sets_are_admitted() {
        let sets = LabelSets::new(2);
        let set = |route: &'static str| [KeyValue::new("route", route)];
        assert!(sets.admit(&set("/a")));
        assert!(sets.admit(&set("/b")));
        assert!(!sets.admit(&set("/c")));
        assert!(sets.admit(&set("/a")));
    }

    #[test]
    fn the_order_of_labels_does_not_matter() {
        let ab = [KeyValue::new("a", 1), KeyValue::new("b", "x")];
        let ba = [KeyValue::new("b", "x"), KeyValue::new("a", 1)];
        assert_eq!(fingerprint(&ab), fingerprint(&ba));
        assert_ne!(fingerprint(&ab), fingerprint(&[KeyValue::new("a", 2), KeyValue::new("b", "x")]));
    }
}
