//! How big an item is once encoded, closely enough to keep every export
//! request under a collector's message limit (4 MiB by default for gRPC), and
//! how a span too big for any request is cut down rather than losing its
//! batch. Computed on the export thread, never on the span's.

use opentelemetry::logs::AnyValue;
use opentelemetry::trace::Status;
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::logs::SdkLogRecord;
use opentelemetry_sdk::trace::SpanData;

/// What every encoded item costs besides its text: ids, times, kinds, tags.
const OVERHEAD: usize = 64;
/// What a number, a bool or a field tag costs.
const SCALAR: usize = 10;
/// The mark a cut attribute value ends with.
pub(crate) const TRUNCATED: &str = "…[truncated]";

/// An item's encoded size, an upper estimate.
pub(crate) trait EncodedSize {
    fn encoded_size(&self) -> usize;

    /// Cuts the item down to about `limit` bytes, marking what was cut;
    /// items that cannot be cut are left as they are.
    fn truncate_to(&mut self, _limit: usize) {}
}

fn value_size(value: &Value) -> usize {
    match value {
        Value::String(s) => s.as_str().len() + SCALAR,
        Value::Array(Array::String(items)) => items.iter().map(|s| s.as_str().len() + SCALAR).sum(),
        Value::Array(Array::Bool(items)) => items.len() * SCALAR,
        Value::Array(Array::I64(items)) => items.len() * SCALAR,
        Value::Array(Array::F64(items)) => items.len() * SCALAR,
        _ => SCALAR,
    }
}

fn attributes_size(attributes: &[KeyValue]) -> usize {
    attributes.iter().map(|kv| kv.key.as_str().len() + value_size(&kv.value) + SCALAR).sum()
}

fn any_value_size(value: &AnyValue) -> usize {
    match value {
        AnyValue::String(s) => s.as_str().len() + SCALAR,
        AnyValue::Bytes(bytes) => bytes.len() + SCALAR,
        AnyValue::ListAny(items) => items.iter().map(any_value_size).sum::<usize>() + SCALAR,
        AnyValue::Map(map) => {
            map.iter().map(|(k, v)| k.as_str().len() + any_value_size(v)).sum::<usize>() + SCALAR
        }
        _ => SCALAR,
    }
}

impl EncodedSize for SpanData {
    fn encoded_size(&self) -> usize {
        let status = match &self.status {
            Status::Error { description } => description.len(),
            _ => 0,
        };
        let events: usize =
            self.events.iter().map(|e| OVERHEAD + e.name.len() + attributes_size(&e.attributes)).sum();
        let links: usize = self.links.iter().map(|l| OVERHEAD + attributes_size(&l.attributes)).sum();
        OVERHEAD + self.name.len() + status + attributes_size(&self.attributes) + events + links
    }

    /// Cuts the longest string attribute values (the span's, then its
    /// events') until the span fits, each ending with [`TRUNCATED`].
    fn truncate_to(&mut self, limit: usize) {
        let mut excess = self.encoded_size().saturating_sub(limit);
        let events = self.events.events.iter_mut().flat_map(|e| e.attributes.iter_mut());
        let mut strings: Vec<&mut KeyValue> = self
            .attributes
            .iter_mut()
            .chain(events)
            .filter(|kv| matches!(kv.value, Value::String(_)))
            .collect();
        strings.sort_by_key(|kv| std::cmp::Reverse(value_size(&kv.value)));
        for kv in strings {
            if excess == 0 {
                break;
            }
            let Value::String(text) = &kv.value else { continue };
            let text = text.as_str();
            let mut keep = text.len().saturating_sub(excess + TRUNCATED.len());
            while !text.is_char_boundary(keep) {
                keep -= 1;
            }
            let shorter = format!("{}{TRUNCATED}", &text[..keep]);
            if shorter.len() >= text.len() {
                continue;
            }
            excess = excess.saturating_sub(text.len() - shorter.len());
            kv.value = Value::String(StringValue::from(shorter));
        }
    }
}

impl<S> EncodedSize for (SdkLogRecord, S) {
    fn encoded_size(&self) -> usize {
        let record = &self.0;
        let body = record.body().map_or(0, any_value_size);
        let attributes: usize =
            record.attributes_iter().map(|(k, v)| k.as_str().len() + any_value_size(v) + SCALAR).sum();
        OVERHEAD + body + attributes
    }
}

#[cfg(test)]
impl EncodedSize for u32 {
    fn encoded_size(&self) -> usize {
        *self as usize
    }
}
