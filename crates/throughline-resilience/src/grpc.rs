//! gRPC status codes as data, and the gRPC classifier.
//!
//! The crate does not depend on tonic: a gRPC client is a tower service over
//! `http::Request`, and a trailers-only error response (what a server sends
//! when it fails before any message, the overload and outage cases) carries
//! `grpc-status` in its headers, which [`GrpcClassifier`] reads. A status in
//! the trailers, after the headers, is read by throughline-tonic's
//! `UnaryStatusLayer` for the unary methods it names, which hands it on as
//! [`TrailersStatus`] in the response's extensions.
//!
//! ```
//! use throughline_resilience::{Classify, GrpcClassifier, GrpcCode};
//! use throughline_resilience::classify::Outcome;
//!
//! let response = http::Response::builder()
//!     .header("grpc-status", "8") // RESOURCE_EXHAUSTED
//!     .header("grpc-retry-pushback-ms", "250")
//!     .body(())?;
//! let Outcome::Failure(failure) = GrpcClassifier.classify(Ok(&response)) else { panic!() };
//! assert!(failure.retryable, "RESOURCE_EXHAUSTED is retried only with pushback");
//! assert_eq!(failure.retry_after, Some(std::time::Duration::from_millis(250)));
//! assert_eq!(GrpcCode::ResourceExhausted as i32, 8);
//! # Ok::<(), http::Error>(())
//! ```

use std::time::Duration;

use http::HeaderMap;

use crate::classify::{BoxError, Classify, Failure, Outcome, Reason};

pub use throughline_core::grpc::{GRPC_STATUS, GrpcCode, TrailersStatus};

/// The server's pushback (gRFC A6): milliseconds to wait, or negative for "do not retry".
pub const GRPC_RETRY_PUSHBACK_MS: &str = "grpc-retry-pushback-ms";

/// A server's pushback (`grpc-retry-pushback-ms`, gRFC A6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushback {
    /// Retry after this long.
    After(Duration),
    /// Do not retry: the value was negative or malformed, as gRFC A6 reads it.
    Never,
}

impl Pushback {
    /// The pushback in a header map, if the server sent one.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(GRPC_RETRY_PUSHBACK_MS)?;
        Some(match value.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(ms) => Self::After(Duration::from_millis(ms)),
            None => Self::Never,
        })
    }
}

/// Classifies gRPC responses over HTTP/2 by their trailers-only status:
///
/// - `UNAVAILABLE`: retryable;
/// - `RESOURCE_EXHAUSTED`: retryable only when the server sent a pushback
///   (`grpc-retry-pushback-ms`), which replaces the backoff delay;
/// - a negative pushback: never retried, whatever the code;
/// - `DEADLINE_EXCEEDED`, `INTERNAL`, `UNKNOWN`, `DATA_LOSS`: failures the
///   breaker counts, not retried (the request may have taken effect);
/// - any other code, or no status: success (client errors say nothing about
///   the dependency's health);
/// - a status that came in the trailers ([`TrailersStatus`], which
///   throughline-tonic's `UnaryStatusLayer` puts in the response's
///   extensions): classified by the same rules but never retryable, since
///   the server had committed to the call;
/// - a transport error: retryable (the idempotency rules still apply).
#[derive(Clone, Copy, Debug, Default)]
pub struct GrpcClassifier;

impl GrpcClassifier {
    /// The outcome of a call that ended with `code`, given the response headers or trailers.
    pub fn classify_code(code: GrpcCode, headers: &HeaderMap) -> Outcome {
        Self::classify_code_retrying(code, headers, |code, pushback| {
            code == GrpcCode::Unavailable
                || (code == GrpcCode::ResourceExhausted && matches!(pushback, Some(Pushback::After(_))))
        })
    }

    /// As [`classify_code`](Self::classify_code), with `retryable` saying
    /// which codes may be retried (a gRPC retry policy's
    /// `retryableStatusCodes`, say): a code it names is a failure, the
    /// others fail as `classify_code` says, and never retry. The server's
    /// pushback replaces the backoff, or, negative, forbids the retry.
    pub fn classify_code_retrying(
        code: GrpcCode,
        headers: &HeaderMap,
        retryable: impl FnOnce(GrpcCode, Option<Pushback>) -> bool,
    ) -> Outcome {
        if code == GrpcCode::Ok {
            return Outcome::Success;
        }
        let pushback = Pushback::from_headers(headers);
        let retry = retryable(code, pushback);
        let fails = matches!(
            code,
            GrpcCode::Unavailable
                | GrpcCode::ResourceExhausted
                | GrpcCode::DeadlineExceeded
                | GrpcCode::Internal
                | GrpcCode::Unknown
                | GrpcCode::DataLoss
        );
        if !retry && !fails {
            return Outcome::Success;
        }
        let reason = Reason::Grpc(code);
        let failure = if retry { Failure::retryable(reason) } else { Failure::permanent(reason) };
        Outcome::Failure(match pushback {
            Some(Pushback::After(wait)) => failure.with_retry_after(Some(wait)),
            Some(Pushback::Never) => Failure::permanent(reason),
            None => failure,
        })
    }
}

impl<B> Classify<http::Response<B>> for GrpcClassifier {
    fn classify(&self, result: Result<&http::Response<B>, &BoxError>) -> Outcome {
        match result {
            Err(_) => Outcome::Failure(Failure::retryable(Reason::Error)),
            Ok(response) => match GrpcCode::from_headers(response.headers()) {
                Some(code) => Self::classify_code(code, response.headers()),
                // Committed: counted, never retried.
                None => match response.extensions().get::<TrailersStatus>() {
                    Some(TrailersStatus(code)) => {
                        Self::classify_code_retrying(*code, response.headers(), |_, _| false)
                    }
                    None => Outcome::Success,
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: &str, pushback: Option<&str>) -> http::Response<()> {
        let mut builder = http::Response::builder().header(GRPC_STATUS, status);
        if let Some(p) = pushback {
            builder = builder.header(GRPC_RETRY_PUSHBACK_MS, p);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn unavailable_is_retried_and_resource_exhausted_only_with_pushback() {
        assert!(GrpcClassifier.classify(Ok(&response("14", None))).is_retryable());
        let exhausted = GrpcClassifier.classify(Ok(&response("8", None)));
        assert!(exhausted.is_failure() && !exhausted.is_retryable());
        assert!(GrpcClassifier.classify(Ok(&response("8", Some("100")))).is_retryable());
    }

    #[test]
    fn a_negative_pushback_forbids_retrying() {
        assert!(!GrpcClassifier.classify(Ok(&response("14", Some("-1")))).is_retryable());
        assert!(!GrpcClassifier.classify(Ok(&response("14", Some("soon")))).is_retryable());
    }

    #[test]
    fn a_status_from_the_trailers_counts_but_is_never_retried() {
        let mut response = http::Response::new(());
        response.extensions_mut().insert(TrailersStatus(GrpcCode::Unavailable));
        let outcome = GrpcClassifier.classify(Ok(&response));
        assert!(outcome.is_failure() && !outcome.is_retryable());
        response.extensions_mut().insert(TrailersStatus(GrpcCode::Ok));
        assert_eq!(GrpcClassifier.classify(Ok(&response)), Outcome::Success);
    }

    #[test]
    fn client_errors_and_ok_are_successes_for_the_dependency() {
        for code in ["0", "3", "5", "7", "16"] {
            assert_eq!(GrpcClassifier.classify(Ok(&response(code, None))), Outcome::Success);
        }
        assert_eq!(GrpcClassifier.classify(Ok(&http::Response::new(()))), Outcome::Success);
    }
}
