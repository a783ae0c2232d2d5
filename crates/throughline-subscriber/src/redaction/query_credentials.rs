//! The values of sensitive query parameters, wherever a URL is written: a
//! log message, a field holding a URL, an error's text.

use std::ops::Range;

use super::Pattern;

/// The value of a sensitive query parameter in any URL inside a value:
/// `?access_token=...`, `&X-Amz-Signature=...`, `#id_token=...`. Keys are
/// compared as throughline-tower's `QueryRedaction` compares them (the same
/// [`DEFAULT_KEYS`](Self::DEFAULT_KEYS), whatever the case, with `-` and `_`
/// alike, after percent-decoding), so a URL logged by hand loses what the
/// `url.full` attribute loses. Only the value is redacted; it ends at `&`,
/// `#`, a blank or a quote.
///
/// ```
/// use throughline_subscriber::{QueryCredentials, Redaction};
///
/// let policy = Redaction::none().pattern(QueryCredentials::default().with_key("pin"));
/// assert_eq!(
///     policy.redact_text("GET /cb?state=x&Access%5FToken=eyJ0 then /v?PIN=1234 ok"),
///     "GET /cb?state=x&Access%5FToken=[REDACTED] then /v?PIN=[REDACTED] ok",
/// );
/// ```
#[derive(Clone, Debug)]
pub struct QueryCredentials {
    keys: Vec<Box<str>>,
}

impl QueryCredentials {
    /// The keys redacted by default, the same as throughline-tower's
    /// `QueryRedaction::DEFAULT_KEYS`.
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

    /// Also redacts the value of `key`.
    pub fn with_key(mut self, key: &str) -> Self {
        self.keys.push(key.into());
        self
    }

    fn is_sensitive(&self, key: &[u8]) -> bool {
        self.keys.iter().any(|known| same_key(known.as_bytes(), key))
    }
}

impl Default for QueryCredentials {
    fn default() -> Self {
        Self { keys: Self::DEFAULT_KEYS.iter().map(|key| Box::from(*key)).collect() }
    }
}

impl Pattern for QueryCredentials {
    fn find(&self, text: &str) -> Option<Range<usize>> {
        let bytes = text.as_bytes();
        let mut from = 0;
        // Each parameter starts after `?`, `&` or `#` and is read up to the
        // next one at most: one pass over the text.
        while let Some(offset) = bytes[from..].iter().position(|b| matches!(b, b'?' | b'&' | b'#')) {
            let key_start = from + offset + 1;
            let key_len = bytes[key_start..].iter().take_while(|b| !ends_key(**b)).count();
            from = key_start + key_len;
            if bytes.get(from) != Some(&b'=') || !self.is_sensitive(&bytes[key_start..from]) {
                continue;
            }
            let value_start = from + 1;
            let value_len = bytes[value_start..].iter().take_while(|b| !ends_value(**b)).count();
            if value_len > 0 {
                return Some(value_start..value_start + value_len);
            }
        }
        None
    }
}

fn ends_key(byte: u8) -> bool {
    ends_value(byte) || matches!(byte, b'=' | b'?')
}

fn ends_value(byte: u8) -> bool {
    byte.is_ascii_whitespace() || matches!(byte, b'&' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`')
}

/// Whether `known` and `sent` (percent-encoded, `+` for a space) are the
/// same key, whatever the case and with `-` and `_` alike; stops at the
/// first difference.
fn same_key(known: &[u8], sent: &[u8]) -> bool {
    let mut sent = Decoded(sent);
    known.iter().all(|k| sent.next().is_some_and(|s| fold(s) == fold(*k))) && sent.next().is_none()
}

fn fold(byte: u8) -> u8 {
    if byte == b'-' { b'_' } else { byte.to_ascii_lowercase() }
}

/// The bytes of a percent-encoded key; a `%` not followed by two hex digits
/// stands for itself.
struct Decoded<'a>(&'a [u8]);

impl Iterator for Decoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        if let [b'%', high, low, ..] = self.0
            && let (Some(high), Some(low)) = (hex(*high), hex(*low))
        {
            self.0 = &self.0[3..];
            return Some(high << 4 | low);
        }
        self.0 = rest;
        Some(if first == b'+' { b' ' } else { first })
    }
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Option<&str> {
        QueryCredentials::default().find(text).map(|r| &text[r])
    }

    #[test]
    fn the_value_of_every_default_key_is_found() {
        for key in QueryCredentials::DEFAULT_KEYS {
            assert_eq!(found(&format!("https://a.io/p?x=1&{key}=s3cr3t#f")), Some("s3cr3t"), "{key}");
        }
    }

    #[test]
    fn keys_match_whatever_their_case_separator_or_escapes() {
        assert_eq!(found("/p?API-KEY=1"), Some("1"));
        assert_eq!(found("/p?%74oken=2 next"), Some("2"));
        assert_eq!(found("/cb#access_token=3&state=x"), Some("3"));
    }

    #[test]
    fn other_keys_and_words_are_left_alone() {
        assert_eq!(found("/p?tokens=1&my_token=2&keyboard=3"), None);
        assert_eq!(found("token=1 without a query"), None);
        assert_eq!(found("/p?token=&sig"), None, "no value");
        assert_eq!(found("/p?q=a?token"), None);
    }
}
