//! The HTTP classifier: which responses are failures, which are worth another attempt.
//!
//! ```
//! use throughline_resilience::{Classify, HttpClassifier};
//!
//! let response = |status: u16| http::Response::builder().status(status).body(()).unwrap();
//! let classifier = HttpClassifier::default();
//! assert!(classifier.classify(Ok(&response(503))).is_retryable());
//! assert!(classifier.classify(Ok(&response(501))).is_failure(), "counted by the breaker");
//! assert!(!classifier.classify(Ok(&response(501))).is_retryable(), "but not retried");
//! assert!(!classifier.classify(Ok(&response(404))).is_failure(), "the dependency is healthy");
//! ```

use http::StatusCode;

use crate::classify::{BoxError, Classify, Failure, Outcome, Reason};
use crate::retry_after::RetryAfter;

/// Classifies HTTP responses by status:
///
/// - 408, 429, 500, 502, 503, 504: retryable failures; a `Retry-After` on a
///   429 or 503 replaces the backoff delay (capped by the retry policy);
/// - any other 5xx: a failure the breaker counts, not retried;
/// - everything else, including other 4xx: success, as the dependency answered;
/// - an error (connection refused or reset, a client timeout): a retryable
///   failure, unless [`HttpClassifier::retry_errors`] says otherwise.
///
/// Whether the request may be sent again is not the classifier's business:
/// retry also checks the method and `Idempotency-Key` ([`crate::ResilientRequest`]).
#[derive(Clone, Copy, Debug)]
pub struct HttpClassifier {
    retry_errors: bool,
}

impl Default for HttpClassifier {
    fn default() -> Self {
        Self { retry_errors: true }
    }
}

impl HttpClassifier {
    /// Whether transport errors are retried (default `true`). Turn it off
    /// for a client whose errors may come after the request was processed
    /// and whose requests are not idempotent even when their method says so.
    pub fn retry_errors(mut self, retry: bool) -> Self {
        self.retry_errors = retry;
        self
    }

    /// The outcome of a response status with its headers.
    pub fn classify_status(&self, status: StatusCode, headers: &http::HeaderMap) -> Outcome {
        let reason = Reason::Status(status);
        match status.as_u16() {
            429 | 503 => {
                Outcome::Failure(Failure::retryable(reason).with_retry_after(RetryAfter::wait_in(headers)))
            }
            408 | 500 | 502 | 504 => Outcome::Failure(Failure::retryable(reason)),
            501..=599 => Outcome::Failure(Failure::permanent(reason)),
            _ => Outcome::Success,
        }
    }
}

impl<B> Classify<http::Response<B>> for HttpClassifier {
    fn classify(&self, result: Result<&http::Response<B>, &BoxError>) -> Outcome {
        match result {
            Ok(response) => self.classify_status(response.status(), response.headers()),
            Err(_) if self.retry_errors => Outcome::Failure(Failure::retryable(Reason::Error)),
            Err(_) => Outcome::Failure(Failure::permanent(Reason::Error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn classify(status: u16, retry_after: Option<&str>) -> Outcome {
        let mut builder = http::Response::builder().status(status);
        if let Some(value) = retry_after {
            builder = builder.header("retry-after", value);
        }
        HttpClassifier::default().classify(Ok(&builder.body(()).unwrap()))
    }

    #[test]
    fn the_retryable_statuses_are_408_429_500_502_503_504() {
        for status in 100..=599 {
            let retryable = [408, 429, 500, 502, 503, 504].contains(&status);
            assert_eq!(classify(status, None).is_retryable(), retryable, "{status}");
            assert_eq!(classify(status, None).is_failure(), retryable || status >= 500, "{status}");
        }
    }

    #[test]
    fn retry_after_is_read_on_429_and_503() {
        let Outcome::Failure(failure) = classify(429, Some("7")) else { panic!() };
        assert_eq!(failure.retry_after, Some(Duration::from_secs(7)));
        let Outcome::Failure(failure) = classify(500, Some("7")) else { panic!() };
        assert_eq!(failure.retry_after, None);
    }

    #[test]
    fn errors_are_retryable_unless_told_otherwise() {
        let error: BoxError = "connection refused".into();
        let result: Result<&http::Response<()>, _> = Err(&error);
        assert!(HttpClassifier::default().classify(result).is_retryable());
        assert!(!HttpClassifier::default().retry_errors(false).classify(result).is_retryable());
    }
}
