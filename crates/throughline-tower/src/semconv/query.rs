//! `url.query` with the values of sensitive keys replaced.

use std::borrow::Cow;

/// Replaces the values of sensitive query parameters with `REDACTED`.
///
/// The default keys ([`DEFAULT_KEYS`](Self::DEFAULT_KEYS)) are the ones the
/// semantic conventions list (`AWSAccessKeyId`, `Signature`, `sig`,
/// `X-Goog-Signature`) and the common names of tokens, keys, passwords and
/// signed-URL credentials (`access_token`, `api_key`, `X-Amz-Credential`,
/// ...); add your own with [`with_key`](Self::with_key). A key matches
/// whatever its case, with `-` and `_` alike, and after percent-decoding, so
/// `?ACCESS%5FTOKEN=` and `?Api-Key=` are caught. A query with nothing to
/// redact is returned as it is, without allocating.
///
/// ```
/// use throughline_tower::semconv::QueryRedaction;
///
/// let redaction = QueryRedaction::default().with_key("pin");
/// assert_eq!(
///     redaction.redact("id=7&Access%5FToken=s3cr3t&PIN=1234&sig=abc"),
///     "id=7&Access%5FToken=REDACTED&PIN=REDACTED&sig=REDACTED",
/// );
/// assert!(matches!(redaction.redact("id=7"), std::borrow::Cow::Borrowed(_)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryRedaction {
    keys: Vec<Cow<'static, str>>,
}

impl QueryRedaction {
    /// What a redacted value is replaced with.
    pub const REDACTED: &'static str = "REDACTED";

    /// The keys redacted by default: the semantic conventions' four, then
    /// tokens, API keys, passwords, secrets, signatures and the credentials
    /// of AWS and Google signed URLs.
    pub const DEFAULT_KEYS: [&'static str; 27] = [
        "AWSAccessKeyId",
        "Signature",
        "sig",
        "X-Goog-Signature",
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "auth",
        "auth_token",
        "authorization",
        "api_key",
        "apikey",
        "key",
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "session_id",
        "sessionid",
        "jwt",
        "code",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "X-Goog-Credential",
    ];

    /// Redacts no key at all.
    pub const fn none() -> Self {
        Self { keys: Vec::new() }
    }

    /// Also redacts `key` (compared as the default keys are).
    pub fn with_key(mut self, key: impl Into<Cow<'static, str>>) -> Self {
        self.keys.push(key.into());
        self
    }

    /// Whether `key`, as sent (percent-encoded), names a sensitive parameter.
    pub fn is_sensitive(&self, key: &str) -> bool {
        self.keys.iter().any(|known| same_key(known, key))
    }

    /// `query` (without the `?`) with the values of sensitive keys replaced.
    pub fn redact<'q>(&self, query: &'q str) -> Cow<'q, str> {
        let sensitive = |pair: &str| pair.split_once('=').is_some_and(|(key, _)| self.is_sensitive(key));
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

/// Whether the known key `known` and the key `sent` (percent-encoded, `+`
/// for a space) are the same, whatever the case and with `-` and `_` alike.
/// Stops at the first difference: a long key costs no more than the known
/// one's length.
fn same_key(known: &str, sent: &str) -> bool {
    let mut sent = Decoded { bytes: sent.as_bytes() };
    known.bytes().all(|k| sent.next().is_some_and(|s| fold(s) == fold(k))) && sent.next().is_none()
}

fn fold(byte: u8) -> u8 {
    if byte == b'-' { b'_' } else { byte.to_ascii_lowercase() }
}

/// The bytes of a percent-encoded key; a `%` not followed by two hex digits
/// stands for itself.
struct Decoded<'a> {
    bytes: &'a [u8],
}

impl Iterator for Decoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.bytes.split_first()?;
        let escaped = match rest {
            [high, low, ..] if first == b'%' => hex(*high).zip(hex(*low)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        Some(match escaped {
            Some(byte) => {
                self.bytes = &rest[2..];
                byte
            }
            None => {
                self.bytes = rest;
                if first == b'+' { b' ' } else { first }
            }
        })
    }
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).map(|d| d as u8)
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
    fn keys_match_whatever_their_case_and_separator() {
        let redaction = QueryRedaction::default();
        assert_eq!(redaction.redact("SIG=1&signature=2"), "SIG=REDACTED&signature=REDACTED");
        assert_eq!(
            redaction.redact("API-KEY=1&x_amz_signature=2"),
            "API-KEY=REDACTED&x_amz_signature=REDACTED"
        );
    }

    #[test]
    fn keys_are_compared_percent_decoded() {
        let redaction = QueryRedaction::default();
        assert_eq!(redaction.redact("%74oken=1&api%2Dkey=2"), "%74oken=REDACTED&api%2Dkey=REDACTED");
        assert_eq!(redaction.redact("tok%en=1&token%=2&%=3"), "tok%en=1&token%=2&%=3");
    }

    #[test]
    fn only_whole_keys_match() {
        let redaction = QueryRedaction::default();
        assert_eq!(redaction.redact("tokens=1&my_token=2&keyboard=3"), "tokens=1&my_token=2&keyboard=3");
    }

    #[test]
    fn every_default_key_is_redacted() {
        let redaction = QueryRedaction::default();
        for key in QueryRedaction::DEFAULT_KEYS {
            assert_eq!(redaction.redact(&format!("{key}=v")), format!("{key}=REDACTED"), "{key}");
        }
    }
}
