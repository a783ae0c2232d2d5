//! `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use throughline_resilience::retry_after::{RetryAfter, parse_retry_after};
//!
//! assert_eq!(parse_retry_after("120"), Ok(RetryAfter::Delay(Duration::from_secs(120))));
//! let date = parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT")?;
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470); // ten seconds before
//! assert_eq!(date.wait_from(now), Duration::from_secs(10));
//! # Ok::<(), throughline_resilience::retry_after::RetryAfterError>(())
//! ```

use std::time::{Duration, SystemTime};

use http::HeaderMap;

/// A parsed `Retry-After` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: 120`.
    Delay(Duration),
    /// `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`.
    Date(SystemTime),
}

impl RetryAfter {
    /// How long to wait from `now`; a date in the past means no wait.
    pub fn wait_from(&self, now: SystemTime) -> Duration {
        match *self {
            Self::Delay(delay) => delay,
            Self::Date(date) => date.duration_since(now).unwrap_or(Duration::ZERO),
        }
    }

    /// The `Retry-After` of a response's headers, as a wait from now.
    /// An absent or malformed header is `None`: a server's typo must not stall the client.
    pub fn wait_in(headers: &HeaderMap) -> Option<Duration> {
        let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
        parse_retry_after(value).ok().map(|r| r.wait_from(SystemTime::now()))
    }
}

/// A `Retry-After` value that is neither delay-seconds nor an HTTP-date.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid Retry-After {0:?}: expected seconds or an HTTP-date")]
pub struct RetryAfterError(pub String);

/// Parses a `Retry-After` value. Delay-seconds are digits only (no sign, no
/// fraction); dates are any of the three HTTP-date formats.
pub fn parse_retry_after(value: &str) -> Result<RetryAfter, RetryAfterError> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More seconds than a u64 holds is still "a very long time".
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Ok(RetryAfter::Delay(Duration::from_secs(seconds)));
    }
    httpdate::parse_http_date(value).map(RetryAfter::Date).map_err(|_| RetryAfterError(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_dates_and_garbage() {
        assert_eq!(parse_retry_after(" 0 "), Ok(RetryAfter::Delay(Duration::ZERO)));
        assert_eq!(
            parse_retry_after("99999999999999999999999"),
            Ok(RetryAfter::Delay(Duration::from_secs(u64::MAX)))
        );
        // RFC 850 and asctime dates are HTTP-dates too.
        assert!(matches!(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT"), Ok(RetryAfter::Date(_))));
        assert!(matches!(parse_retry_after("Sun Nov  6 08:49:37 1994"), Ok(RetryAfter::Date(_))));
        for bad in ["", "-1", "1.5", "+3", "soon", "Wed, 21 Oct 2015"] {
            assert!(parse_retry_after(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_date_in_the_past_means_no_wait() {
        let date = parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(date.wait_from(SystemTime::now()), Duration::ZERO);
    }

    #[test]
    fn a_malformed_header_is_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "later".parse().unwrap());
        assert_eq!(RetryAfter::wait_in(&headers), None);
        headers.insert("retry-after", "3".parse().unwrap());
        assert_eq!(RetryAfter::wait_in(&headers), Some(Duration::from_secs(3)));
    }
}
