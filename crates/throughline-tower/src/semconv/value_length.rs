//! The bound on every string value recorded from a request: whatever a
//! caller sends, an attribute holds at most this many characters.

use std::sync::OnceLock;

/// The variable that lowers the bound, as the OpenTelemetry SDKs read it.
pub const OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT";

/// How many characters of a value taken from a request (the URL, its path
/// and query, the user agent, captured headers, the route, addresses) an
/// attribute keeps: 4096 by default, or fewer when
/// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` says so. The value is cut before
/// anything scans it (query redaction, then the subscriber's redaction at
/// export), so a 200 KB user agent costs what a 4 KB one does.
///
/// ```
/// use throughline_tower::semconv::ValueLength;
///
/// let limit = ValueLength::from_var(Some("8"));
/// assert_eq!(limit.cap("Mozilla/5.0 (X11)"), "Mozilla/");
/// assert_eq!(limit.cap("résumé-café"), "résumé-c"); // characters, never half of one
/// assert_eq!(ValueLength::from_var(None), ValueLength::DEFAULT);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueLength {
    max_chars: usize,
}

impl ValueLength {
    /// 4096 characters: a long URL fits, a flood does not.
    pub const DEFAULT: Self = Self { max_chars: 4096 };

    /// At most `max_chars` characters (and never more than
    /// [`DEFAULT`](Self::DEFAULT): the bound only goes down).
    pub const fn chars(max_chars: usize) -> Self {
        let max_chars = if max_chars < Self::DEFAULT.max_chars { max_chars } else { Self::DEFAULT.max_chars };
        Self { max_chars }
    }

    /// The bound from a value of `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`: the
    /// default when it is unset or not a number (the pipeline's
    /// configuration reports that), the smaller of the two otherwise.
    pub fn from_var(value: Option<&str>) -> Self {
        value.and_then(|value| value.trim().parse::<usize>().ok()).map_or(Self::DEFAULT, Self::chars)
    }

    /// The bound of this process, from its environment, read once.
    pub fn from_env() -> Self {
        static FROM_ENV: OnceLock<ValueLength> = OnceLock::new();
        *FROM_ENV
            .get_or_init(|| Self::from_var(std::env::var(OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT).ok().as_deref()))
    }

    /// The most characters a value keeps.
    pub const fn max_chars(self) -> usize {
        self.max_chars
    }

    /// `value`, cut after [`max_chars`](Self::max_chars) characters. Costs
    /// nothing for a value shorter in bytes than the bound.
    pub fn cap(self, value: &str) -> &str {
        if value.len() <= self.max_chars {
            return value;
        }
        value.char_indices().nth(self.max_chars).map_or(value, |(at, _)| &value[..at])
    }
}

impl Default for ValueLength {
    fn default() -> Self {
        Self::from_env()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_can_only_lower_the_bound() {
        assert_eq!(ValueLength::from_var(Some("100")).max_chars(), 100);
        assert_eq!(ValueLength::from_var(Some(" 0 ")).max_chars(), 0);
        assert_eq!(ValueLength::from_var(Some("1000000")), ValueLength::DEFAULT);
        assert_eq!(ValueLength::from_var(Some("many")), ValueLength::DEFAULT);
    }

    #[test]
    fn a_long_value_is_cut_on_a_character_boundary() {
        let long = "é".repeat(5000);
        let capped = ValueLength::DEFAULT.cap(&long);
        assert_eq!(capped.chars().count(), 4096);
        assert_eq!(ValueLength::chars(3).cap("ab€d"), "ab€");
        assert_eq!(ValueLength::chars(0).cap("abc"), "");
    }
}
