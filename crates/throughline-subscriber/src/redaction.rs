//! One redaction policy for every way telemetry leaves the process: log
//! lines, exported log records, and exported span attributes and events.

mod patterns;
mod query_credentials;
mod secrets;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use opentelemetry::{Array, KeyValue, StringValue, Value};

use crate::decimal;

pub use patterns::{BearerToken, CardNumber, EmailAddress, Pattern};
pub use query_credentials::QueryCredentials;
pub use secrets::Secrets;

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// The field names redacted by default, compared without case and with `-`
/// and `_` alike, against the whole name or its last dot-separated segment
/// (`http.request.header.authorization` is an `authorization`).
pub const DEFAULT_FIELD_NAMES: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "x_api_key",
    "authorization",
    "proxy_authorization",
    "cookie",
    "set_cookie",
    "session_id",
    "private_key",
    "credentials",
];

/// A redaction policy: which field names always hide their value, and which
/// patterns are cut out of any value.
///
/// The default policy redacts the [`DEFAULT_FIELD_NAMES`] and four patterns:
/// bearer tokens ([`BearerToken`]), payment card numbers ([`CardNumber`]),
/// e-mail addresses ([`EmailAddress`]) and the values of sensitive query
/// parameters in URLs ([`QueryCredentials`]). Add names and rules of your own; start
/// from [`Redaction::none`] to choose everything.
///
/// ```
/// use throughline_subscriber::Redaction;
///
/// let policy = Redaction::default().field("ssn");
/// assert_eq!(policy.redact_field("user.password", "hunter2"), "[REDACTED]");
/// assert_eq!(policy.redact_field("SSN", "078-05-1120"), "[REDACTED]");
/// assert_eq!(
///     policy.redact_text("paid with 4111 1111 1111 1111, receipt to jane@example.com"),
///     "paid with [REDACTED], receipt to [REDACTED]",
/// );
/// assert_eq!(policy.redact_text("order 42 shipped"), "order 42 shipped"); // borrowed, not copied
/// ```
///
/// Cloning is cheap: clones share the policy.
#[derive(Clone)]
pub struct Redaction {
    policy: Arc<Policy>,
}

#[derive(Clone, Default)]
struct Policy {
    /// Normalised: lowercase, `-` as `_`.
    names: Vec<Box<str>>,
    /// A bit per known name's [`shape`]: most field names are rejected by
    /// this one test, without comparing any text.
    name_shapes: u128,
    patterns: Vec<Arc<dyn Pattern>>,
}

impl Default for Redaction {
    fn default() -> Self {
        DEFAULT_FIELD_NAMES
            .iter()
            .fold(Self::none(), |policy, name| policy.field(name))
            .pattern(BearerToken)
            .pattern(CardNumber)
            .pattern(EmailAddress)
            .pattern(QueryCredentials::default())
    }
}

impl fmt::Debug for Redaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redaction")
            .field("field_names", &self.policy.names)
            .field("patterns", &self.policy.patterns.len())
            .finish()
    }
}

impl Redaction {
    /// A policy that redacts nothing, to build up from.
    pub fn none() -> Self {
        Self { policy: Arc::new(Policy::default()) }
    }

    /// Also hides every value of fields named `name` (see
    /// [`DEFAULT_FIELD_NAMES`] for how names compare).
    pub fn field(mut self, name: &str) -> Self {
        let normalized: Box<str> = name.bytes().map(|b| char::from(normalize(b))).collect();
        let policy = Arc::make_mut(&mut self.policy);
        policy.name_shapes |= shape(&normalized);
        policy.names.push(normalized);
        self
    }

    /// Also cuts what `pattern` finds out of every value.
    pub fn pattern(mut self, pattern: impl Pattern) -> Self {
        Arc::make_mut(&mut self.policy).patterns.push(Arc::new(pattern));
        self
    }

    /// Whether this policy redacts anything at all.
    pub fn is_none(&self) -> bool {
        self.policy.names.is_empty() && self.policy.patterns.is_empty()
    }

    /// Whether every value of a field named `name` is hidden.
    pub fn is_sensitive_field(&self, name: &str) -> bool {
        match name.bytes().rposition(|b| b == b'.') {
            Some(dot) => self.matches_name(&name[dot + 1..]) || self.matches_name(name),
            None => self.matches_name(name),
        }
    }

    fn matches_name(&self, name: &str) -> bool {
        let policy = &*self.policy;
        if policy.name_shapes & shape(name) == 0 {
            return false;
        }
        policy.names.iter().any(|known| {
            known.len() == name.len() && known.bytes().zip(name.bytes()).all(|(k, n)| k == normalize(n))
        })
    }

    /// The secrets in `text`, in order and without overlap, as byte ranges
    /// (see [`Secrets`] for how the patterns' findings combine). The scan is
    /// linear in the length of `text`, however many secrets it holds.
    pub fn secrets<'a>(&'a self, text: &'a str) -> Secrets<'a> {
        Secrets::new(&self.policy.patterns, text)
    }

    /// `text` with every secret replaced by [`REDACTED`]; borrowed when there
    /// is none.
    pub fn redact_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut secrets = self.secrets(text);
        let Some(first) = secrets.next() else {
            return Cow::Borrowed(text);
        };
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for secret in std::iter::once(first).chain(secrets) {
            out.push_str(&text[copied..secret.start]);
            out.push_str(REDACTED);
            copied = secret.end;
        }
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }

    /// The value of field `name` as it may be shown: [`REDACTED`] for a
    /// sensitive name, otherwise `value` with its secrets cut out.
    pub fn redact_field<'a>(&self, name: &str, value: &'a str) -> Cow<'a, str> {
        if self.is_sensitive_field(name) { Cow::Borrowed(REDACTED) } else { self.redact_text(value) }
    }

    /// Whether an integer, read as its decimal digits, is a secret (a card
    /// number logged as a number). Integers under 13 digits never are, and
    /// cost one comparison.
    pub fn is_secret_integer(&self, value: i128) -> bool {
        const SMALLEST_CHECKED: u128 = 1_000_000_000_000;
        if value.unsigned_abs() < SMALLEST_CHECKED || self.policy.patterns.is_empty() {
            return false;
        }
        let mut digits = [0u8; decimal::MAX_LEN];
        let text = decimal::decimal(value, &mut digits);
        self.secrets(text).next().is_some()
    }

    /// Replaces, in place, what `text` must not show.
    pub fn redact_in_place(&self, text: &mut Cow<'_, str>) {
        if let Cow::Owned(redacted) = self.redact_text(text) {
            *text = Cow::Owned(redacted);
        }
    }

    /// Redacts OpenTelemetry attributes in place: a sensitive key hides its
    /// value, strings (and arrays of strings) lose their secrets, integers
    /// that are card numbers are hidden.
    ///
    /// This is how exported spans are redacted: the facade passes a closure
    /// calling it on each span's attributes, event attributes and link
    /// attributes to throughline-pipeline's `transform_spans`.
    ///
    /// ```
    /// use opentelemetry::KeyValue;
    /// use throughline_subscriber::Redaction;
    ///
    /// let mut attributes = vec![
    ///     KeyValue::new("http.request.header.authorization", "Basic dXNlcjpwYXNz"),
    ///     KeyValue::new("enduser.id", "jane@example.com"),
    ///     KeyValue::new("http.route", "/orders/{id}"),
    /// ];
    /// Redaction::default().redact_attributes(&mut attributes);
    /// assert_eq!(attributes[0], KeyValue::new("http.request.header.authorization", "[REDACTED]"));
    /// assert_eq!(attributes[1], KeyValue::new("enduser.id", "[REDACTED]"));
    /// assert_eq!(attributes[2], KeyValue::new("http.route", "/orders/{id}"));
    /// ```
    pub fn redact_attributes(&self, attributes: &mut [KeyValue]) {
        if self.is_none() {
            return;
        }
        for attribute in attributes {
            if self.is_sensitive_field(attribute.key.as_str()) {
                attribute.value = Value::from(REDACTED);
                continue;
            }
            match &mut attribute.value {
                Value::String(text) => self.redact_string_value(text),
                Value::I64(number) if self.is_secret_integer(i128::from(*number)) => {
                    attribute.value = Value::from(REDACTED);
                }
                Value::Array(Array::String(texts)) => {
                    texts.iter_mut().for_each(|t| self.redact_string_value(t))
                }
                Value::Array(Array::I64(numbers))
                    if numbers.iter().any(|n| self.is_secret_integer(i128::from(*n))) =>
                {
                    attribute.value = Value::from(REDACTED);
                }
                _ => {}
            }
        }
    }

    fn redact_string_value(&self, text: &mut StringValue) {
        if let Cow::Owned(redacted) = self.redact_text(text.as_str()) {
            *text = StringValue::from(redacted);
        }
    }
}

/// One bit out of 128 for a name's length and first and last bytes
/// (normalised).
fn shape(name: &str) -> u128 {
    let bytes = name.as_bytes();
    let (first, last) = match bytes {
        [] => (0, 0),
        [first, .., last] => (normalize(*first), normalize(*last)),
        [only] => (normalize(*only), normalize(*only)),
    };
    let mixed = (bytes.len() as u32).wrapping_mul(31) ^ u32::from(first).wrapping_mul(7) ^ u32::from(last);
    1 << (mixed % 128)
}

fn normalize(byte: u8) -> u8 {
    if byte == b'-' { b'_' } else { byte.to_ascii_lowercase() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_compare_without_case_and_by_last_segment() {
        let policy = Redaction::default();
        for name in ["password", "PASSWORD", "user.password", "Set-Cookie", "http.request.header.x-api-key"] {
            assert!(policy.is_sensitive_field(name), "{name}");
        }
        for name in ["password_hint", "passwords.count", "tokens", "user", ""] {
            assert!(!policy.is_sensitive_field(name), "{name}");
        }
    }

    #[test]
    fn several_secrets_in_one_value_are_all_replaced() {
        let policy = Redaction::default();
        assert_eq!(
            policy.redact_text("a@b.io paid 4111111111111111 with Bearer abcdefgh12 ok"),
            "[REDACTED] paid [REDACTED] with Bearer [REDACTED] ok"
        );
    }

    #[test]
    fn a_policy_without_patterns_leaves_values_alone() {
        let policy = Redaction::none().field("pin");
        assert_eq!(policy.redact_text("jane@example.com"), "jane@example.com");
        assert_eq!(policy.redact_field("pin", "1234"), REDACTED);
        assert!(!policy.is_secret_integer(4_111_111_111_111_111));
    }

    #[test]
    fn card_numbers_logged_as_integers_are_secrets() {
        let policy = Redaction::default();
        assert!(policy.is_secret_integer(4_111_111_111_111_111));
        assert!(!policy.is_secret_integer(4_111_111_111_111_112));
        assert!(!policy.is_secret_integer(42));
    }

    #[test]
    fn a_broken_user_pattern_redacts_the_rest_rather_than_panicking() {
        let policy = Redaction::none().pattern(|text: &str| text.find('é').map(|at| at + 1..at + 50));
        assert_eq!(policy.redact_text("café au lait"), "caf[REDACTED]");
        let empty = Redaction::none().pattern(|_: &str| Some(3..3));
        assert_eq!(empty.redact_text("abcdef"), "abc[REDACTED]");
        assert_eq!(empty.redact_text(""), "");
    }
}
