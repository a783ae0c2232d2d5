//! `url.query` with the values of sensitive keys replaced.

use std::borrow::Cow;

/// Replaces the values of sensitive query parameters with `REDACTED`.
///
/// The default keys are the ones the semantic conventions list
/// (`AWSAccessKeyId`, `Signature`, `sig`, `X-Goog-Signature`); add your own
/// with [`with_key`](Self::with_key). Keys match exactly, as sent. A query
/// with nothing to redact is returned as it is, without allocating.
///
/// ```
/// use throughline_tower::semconv::QueryRedaction;
///
/// let redaction = QueryRedaction::default().with_key("token");
/// assert_eq!(redaction.redact("id=7&token=s3cr3t&sig=abc"), "id=7&token=REDACTED&sig=REDACTED");
/// assert!(matches!(redaction.redact("id=7"), std::borrow::Cow::Borrowed(_)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryRedaction {
    keys: Vec<Cow<'static, str>>,
}

impl QueryRedaction {
    /// What a redacted value is replaced with.
    pub const REDACTED: &'static str = "REDACTED";

    /// The keys the semantic conventions ask to redact.
    pub const DEFAULT_KEYS: [&'static str; 4] = ["AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"];

    /// Redacts no key at all.
    pub const fn none() -> Self {
        Self { keys: Vec::new() }
    }

    /// Also redacts `key`.
    pub fn with_key(mut self, key: impl Into<Cow<'static, str>>) -> Self {
        self.keys.push(key.into());
        self
    }

    /// `query` (without the `?`) with the values of sensitive keys replaced.
    pub fn redact<'q>(&self, query: &'q str) -> Cow<'q, str> {
        let sensitive = |pair: &str| {
            let key = pair.split_once('=').map_or(pair, |(key, _)| key);
            pair.contains('=') && self.keys.iter().any(|k| k == key)
        };
        if !query.split('&').any(sensitive) {
            return Cow::Borrowed(query);
        }
        let mut redacted = String::with_capacity(query.len());
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                redacted.push('&');
            }
            match pair.split_once('=') {
                Some((key, _)) if sensitive(pair) => {
                    redacted.push_str(key);
                    redacted.push('=');
                    redacted.push_str(Self::REDACTED);
                }
                _ => redacted.push_str(pair),
            }
        }
        Cow::Owned(redacted)
    }
}

impl Default for QueryRedaction {
    fn default() -> Self {
        Self { keys: Self::DEFAULT_KEYS.iter().map(|k| Cow::Borrowed(*k)).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_empty_pairs_and_keys_without_values() {
        let redaction = QueryRedaction::default();
        assert_eq!(redaction.redact("a=1&&Signature=x&sig&b"), "a=1&&Signature=REDACTED&sig&b");
    }

    #[test]
    fn keys_match_exactly() {
        assert_eq!(QueryRedaction::default().redact("SIG=1&signature=2"), "SIG=1&signature=2");
    }
}
