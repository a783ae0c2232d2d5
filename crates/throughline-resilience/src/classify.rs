//! What the result of a call means: the one classification retry, the circuit
//! breaker and the adaptive limit all read.
//!
//! ```
//! use throughline_resilience::classify::{BoxError, Classify, Failure, Outcome, Reason};
//!
//! // A database call: "deadlock" is worth retrying, "constraint" is the caller's bug.
//! let classifier = |result: Result<&u64, &BoxError>| match result {
//!     Ok(_) => Outcome::Success,
//!     Err(e) if e.to_string().contains("deadlock") => Outcome::Failure(Failure::retryable(Reason::Custom("deadlock"))),
//!     Err(_) => Outcome::Failure(Failure::permanent(Reason::Error)),
//! };
//! let deadlock: BoxError = "deadlock detected".into();
//! assert!(classifier.classify(Err(&deadlock)).is_retryable());
//! assert_eq!(classifier.classify(Ok(&1)), Outcome::Success);
//! ```

use std::fmt;
use std::time::Duration;

use http::StatusCode;

use crate::error::{CircuitOpen, Shed, TimedOut, TimeoutScope};
use crate::grpc::GrpcCode;

/// The error type the tower layers return, as tower's own middleware does.
/// The crate's rejections ([`CircuitOpen`], [`Shed`], [`TimedOut`]) are typed
/// errors inside it: find them with `downcast_ref` or [`crate::RejectionStatus::of`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What one call's result means to the resilience layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The dependency did its job (a 404 is a success: the dependency is healthy).
    Success,
    /// The dependency failed: the breaker counts it, and retry may try again.
    Failure(Failure),
    /// Not the dependency's doing (a local rejection): nobody counts or retries it.
    Ignored,
}

impl Outcome {
    /// Whether retry may try the call again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Failure(f) if f.retryable)
    }

    /// Whether the circuit breaker counts this call as failed.
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Failure(_))
    }
}

/// A failed call: why, whether it may be retried, and the server's pushback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Why the call failed.
    pub reason: Reason,
    /// Whether retry may try again (subject to the request's safety and the budget).
    pub retryable: bool,
    /// How long the server asked the client to wait (`Retry-After`,
    /// `grpc-retry-pushback-ms`); it replaces the backoff delay.
    pub retry_after: Option<Duration>,
}

impl Failure {
    /// A failure retry may try again.
    pub const fn retryable(reason: Reason) -> Self {
        Self { reason, retryable: true, retry_after: None }
    }

    /// A failure that is not retried, but that the breaker counts.
    pub const fn permanent(reason: Reason) -> Self {
        Self { reason, retryable: false, retry_after: None }
    }

    /// The same failure with the server's requested wait.
    pub const fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }
}

/// Why a call failed: the retry reason on attempt spans and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// An HTTP response status.
    Status(StatusCode),
    /// A gRPC status code.
    Grpc(GrpcCode),
    /// The attempt timed out.
    Timeout,
    /// The call returned an error (connection refused, reset, ...).
    Error,
    /// A reason named by a custom classifier; keep it low-cardinality.
    Custom(&'static str),
}

impl Reason {
    /// A low-cardinality label for metric attributes (`resilience.retry.reason`).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Status(_) => "http_status",
            Self::Grpc(_) => "grpc_status",
            Self::Timeout => "timeout",
            Self::Error => "error",
            Self::Custom(name) => name,
        }
    }

    /// Whether the failure says the dependency is overloaded (a timeout, 429,
    /// 503, `RESOURCE_EXHAUSTED`, `UNAVAILABLE`): the signal an adaptive
    /// concurrency limit backs off on.
    pub fn is_overload(&self) -> bool {
        match self {
            Self::Timeout => true,
            Self::Status(s) => matches!(s.as_u16(), 429 | 503),
            Self::Grpc(code) => matches!(code, GrpcCode::ResourceExhausted | GrpcCode::Unavailable),
            Self::Error | Self::Custom(_) => false,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(s) => write!(f, "http {}", s.as_u16()),
            Self::Grpc(code) => write!(f, "grpc {}", code.as_str()),
            Self::Timeout => f.write_str("timeout"),
            Self::Error => f.write_str("error"),
            Self::Custom(name) => f.write_str(name),
        }
    }
}

/// Decides what a call's result means. Implemented by [`AnyError`],
/// [`crate::HttpClassifier`], [`crate::GrpcClassifier`], and by any
/// `Fn(Result<&Res, &BoxError>) -> Outcome`.
///
/// Errors the crate raises itself never reach a classifier: an attempt
/// timeout is a retryable [`Reason::Timeout`], a rejection (`CircuitOpen`,
/// `Shed`) or the overall deadline is [`Outcome::Ignored`] or final.
pub trait Classify<Res>: Send + Sync + 'static {
    /// The meaning of one call's result.
    fn classify(&self, result: Result<&Res, &BoxError>) -> Outcome;
}

impl<Res, F> Classify<Res> for F
where
    F: Fn(Result<&Res, &BoxError>) -> Outcome + Send + Sync + 'static,
{
    fn classify(&self, result: Result<&Res, &BoxError>) -> Outcome {
        self(result)
    }
}

/// The default for plain async calls: every error is a retryable failure,
/// every value a success.
#[derive(Clone, Copy, Debug, Default)]
pub struct AnyError;

impl<Res> Classify<Res> for AnyError {
    fn classify(&self, result: Result<&Res, &BoxError>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure(Failure::retryable(Reason::Error)),
        }
    }
}

/// Classifies with the crate's own errors first, so that every layer agrees
/// on them whatever the user's classifier says.
pub(crate) fn classify<Res, C: Classify<Res> + ?Sized>(
    classifier: &C,
    result: Result<&Res, &BoxError>,
) -> Outcome {
    if let Err(error) = result {
        if let Some(timeout) = error.downcast_ref::<TimedOut>() {
            return match timeout.scope() {
                TimeoutScope::Attempt => Outcome::Failure(Failure::retryable(Reason::Timeout)),
                // The whole call is out of time: nothing is left to retry with.
                TimeoutScope::Deadline => Outcome::Failure(Failure::permanent(Reason::Timeout)),
            };
        }
        if error.is::<CircuitOpen>() || error.is::<Shed>() {
            return Outcome::Ignored;
        }
    }
    classifier.classify(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crates_own_errors_are_classified_before_the_users_classifier() {
        let never = |_: Result<&(), &BoxError>| Outcome::Success;
        let attempt: BoxError = TimedOut::new(TimeoutScope::Attempt, Duration::from_secs(1)).into();
        assert_eq!(classify(&never, Err(&attempt)), Outcome::Failure(Failure::retryable(Reason::Timeout)));
        let deadline: BoxError = TimedOut::new(TimeoutScope::Deadline, Duration::from_secs(1)).into();
        assert!(!classify(&never, Err(&deadline)).is_retryable());
        let open: BoxError = CircuitOpen::new("db".into(), None).into();
        assert_eq!(classify(&never, Err(&open)), Outcome::Ignored);
        let other: BoxError = "boom".into();
        assert_eq!(classify(&never, Err(&other)), Outcome::Success);
    }

    #[test]
    fn overload_reasons_are_the_ones_a_limit_backs_off_on() {
        assert!(Reason::Timeout.is_overload());
        assert!(Reason::Status(StatusCode::SERVICE_UNAVAILABLE).is_overload());
        assert!(!Reason::Status(StatusCode::INTERNAL_SERVER_ERROR).is_overload());
        assert!(Reason::Grpc(GrpcCode::ResourceExhausted).is_overload());
        assert!(!Reason::Error.is_overload());
    }
}
