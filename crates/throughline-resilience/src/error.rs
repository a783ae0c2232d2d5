//! The typed rejections the layers raise, the plain API's error, and how a
//! rejection maps to an HTTP or gRPC status.

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, StatusCode};

use crate::classify::BoxError;
use crate::grpc::GrpcCode;

/// The circuit breaker rejected the call without running it.
#[derive(Clone, Debug, thiserror::Error)]
#[error("circuit breaker {breaker:?} is open{}", match .retry_in {
    Some(wait) => format!("; next probe in {wait:?}"),
    None => String::new(),
})]
pub struct CircuitOpen {
    breaker: Arc<str>,
    retry_in: Option<Duration>,
}

impl CircuitOpen {
    pub(crate) fn new(breaker: Arc<str>, retry_in: Option<Duration>) -> Self {
        Self { breaker, retry_in }
    }

    /// The breaker's name.
    pub fn breaker(&self) -> &str {
        &self.breaker
    }

    /// How long until the breaker lets a probe through; `None` when it will
    /// not by itself (forced open, or half-open with all probes in flight).
    pub fn retry_in(&self) -> Option<Duration> {
        self.retry_in
    }
}

/// Why a concurrency limit shed a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShedReason {
    /// The limit was reached and the limiter does not queue.
    LimitReached,
    /// The request was sheddable and the sheddable share of the limit was used.
    Sheddable,
    /// The bounded queue was full.
    QueueFull,
    /// The request waited in the queue for the longest allowed time.
    QueueTimeout,
}

impl ShedReason {
    /// The label on `resilience.shed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LimitReached => "limit_reached",
            Self::Sheddable => "sheddable",
            Self::QueueFull => "queue_full",
            Self::QueueTimeout => "queue_timeout",
        }
    }
}

/// A concurrency limit refused the request.
#[derive(Clone, Debug, thiserror::Error)]
#[error("request shed by concurrency limit {limiter:?} ({}, limit {limit})", .reason.as_str())]
pub struct Shed {
    limiter: Arc<str>,
    reason: ShedReason,
    limit: usize,
    retry_after: Duration,
}

impl Shed {
    pub(crate) fn new(limiter: Arc<str>, reason: ShedReason, limit: usize, retry_after: Duration) -> Self {
        Self { limiter, reason, limit, retry_after }
    }

    /// The limiter's name.
    pub fn limiter(&self) -> &str {
        &self.limiter
    }

    /// Why the request was shed.
    pub fn reason(&self) -> ShedReason {
        self.reason
    }

    /// The concurrency limit when the request was shed.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// How long the limiter suggests the caller wait (`Retry-After`).
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }
}

/// Which timeout fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeoutScope {
    /// One attempt took longer than the per-attempt timeout; retry may try again.
    Attempt,
    /// The call's overall deadline passed; nothing is retried after it.
    Deadline,
}

/// A call or an attempt ran out of time.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{} timed out after {after:?}", match .scope { TimeoutScope::Attempt => "attempt", TimeoutScope::Deadline => "call" })]
pub struct TimedOut {
    scope: TimeoutScope,
    after: Duration,
}

impl TimedOut {
    pub(crate) fn new(scope: TimeoutScope, after: Duration) -> Self {
        Self { scope, after }
    }

    /// Which timeout fired.
    pub fn scope(&self) -> TimeoutScope {
        self.scope
    }

    /// How long the call or attempt had run.
    pub fn after(&self) -> Duration {
        self.after
    }
}

/// The error of the plain async API ([`crate::Policy::call`]): the
/// closure's own error, or one of the crate's rejections.
#[derive(Debug, thiserror::Error)]
pub enum ResilienceError<E> {
    /// The call ran and failed; with retries, this is the last attempt's error.
    #[error(transparent)]
    Inner(E),
    /// The circuit breaker rejected the call.
    #[error(transparent)]
    CircuitOpen(CircuitOpen),
    /// The concurrency limit shed the call.
    #[error(transparent)]
    Shed(Shed),
    /// An attempt or the whole call timed out.
    #[error(transparent)]
    TimedOut(TimedOut),
}

impl<E: Error + Send + Sync + 'static> ResilienceError<E> {
    /// Recovers the typed error from what the layers return. An error of any
    /// other type cannot come out of the plain API, whose closure returns `E`.
    pub(crate) fn from_box(error: BoxError) -> Self {
        // Unreachable by construction; a timeout is the least wrong answer.
        Self::try_from_box(error)
            .unwrap_or_else(|_| Self::TimedOut(TimedOut::new(TimeoutScope::Deadline, Duration::ZERO)))
    }

    /// Sorts the error a resilience layer returned: the inner service's `E`,
    /// or one of the policy's own rejections. Any other error is given back,
    /// for adapters (a reqwest middleware, say) whose chain can fail with
    /// errors of other types.
    ///
    /// ```
    /// use throughline_resilience::{BoxError, ResilienceError};
    ///
    /// let error: BoxError = Box::new(std::io::Error::other("reset"));
    /// let sorted = ResilienceError::<std::io::Error>::try_from_box(error).unwrap();
    /// assert!(matches!(sorted, ResilienceError::Inner(_)));
    /// ```
    pub fn try_from_box(error: BoxError) -> Result<Self, BoxError> {
        let error = match error.downcast::<E>() {
            Ok(inner) => return Ok(Self::Inner(*inner)),
            Err(other) => other,
        };
        let error = match error.downcast::<CircuitOpen>() {
            Ok(open) => return Ok(Self::CircuitOpen(*open)),
            Err(other) => other,
        };
        let error = match error.downcast::<Shed>() {
            Ok(shed) => return Ok(Self::Shed(*shed)),
            Err(other) => other,
        };
        error.downcast::<TimedOut>().map(|timeout| Self::TimedOut(*timeout))
    }
}

impl<E> ResilienceError<E> {
    /// The closure's error, if the call ran and failed.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Inner(e) => Some(e),
            _ => None,
        }
    }
}

/// How a rejection answers over HTTP and gRPC: data that a server layer
/// ([`crate::http_rejection::HttpRejectionLayer`]) or an adapter such as
/// throughline-tonic turns into a response, so this crate needs no gRPC
/// dependency.
///
/// | rejection | HTTP | gRPC |
/// |---|---|---|
/// | [`CircuitOpen`] | 503 + `Retry-After` (time to the next probe) | `UNAVAILABLE` |
/// | [`Shed`] | 503 (or 429, configurable) + `Retry-After` | `RESOURCE_EXHAUSTED` + `grpc-retry-pushback-ms` |
/// | [`TimedOut`] | 504 | `DEADLINE_EXCEEDED` |
///
/// ```
/// use throughline_resilience::{BoxError, RejectionStatus};
/// use throughline_resilience::grpc::GrpcCode;
///
/// fn to_grpc(error: &BoxError) -> Option<(GrpcCode, String)> {
///     let status = RejectionStatus::of(error.as_ref())?;
///     Some((status.grpc, error.to_string())) // tonic::Status::new(Code::from(status.grpc as i32), ...)
/// }
/// let other: BoxError = "connection reset".into();
/// assert!(to_grpc(&other).is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RejectionStatus {
    /// The HTTP status to answer with.
    pub http: StatusCode,
    /// The gRPC code to answer with.
    pub grpc: GrpcCode,
    /// How long the caller should wait before trying again, if known.
    pub retry_after: Option<Duration>,
}

impl RejectionStatus {
    /// The status for one of the crate's rejections, or `None` for any other error.
    pub fn of(error: &(dyn Error + 'static)) -> Option<Self> {
        if let Some(open) = error.downcast_ref::<CircuitOpen>() {
            // With no probe scheduled, ask for a second: long enough to not hammer.
            let wait = open.retry_in().unwrap_or(Duration::from_secs(1));
            return Some(Self {
                http: StatusCode::SERVICE_UNAVAILABLE,
                grpc: GrpcCode::Unavailable,
                retry_after: Some(wait),
            });
        }
        if let Some(shed) = error.downcast_ref::<Shed>() {
            return Some(Self {
                http: StatusCode::SERVICE_UNAVAILABLE,
                grpc: GrpcCode::ResourceExhausted,
                retry_after: Some(shed.retry_after()),
            });
        }
        if error.is::<TimedOut>() {
            return Some(Self {
                http: StatusCode::GATEWAY_TIMEOUT,
                grpc: GrpcCode::DeadlineExceeded,
                retry_after: None,
            });
        }
        None
    }

    /// The `Retry-After` header value: whole seconds, rounded up, at least 1.
    pub fn retry_after_header(&self) -> Option<HeaderValue> {
        let wait = self.retry_after?;
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Some(HeaderValue::from(seconds.max(1)))
    }

    /// The `grpc-retry-pushback-ms` value, for a gRPC answer.
    pub fn grpc_retry_pushback_ms(&self) -> Option<HeaderValue> {
        self.retry_after.map(|wait| HeaderValue::from(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)))
    }

    /// An HTTP response with this status and `Retry-After`, and an empty body.
    pub fn to_http_response<B: Default>(&self) -> http::Response<B> {
        let mut response = http::Response::new(B::default());
        *response.status_mut() = self.http;
        if let Some(value) = self.retry_after_header() {
            response.headers_mut().insert(http::header::RETRY_AFTER, value);
        }
        response
    }
}

impl fmt::Display for RejectionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.http, self.grpc.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_at_least_one() {
        let status = |ms| RejectionStatus {
            http: StatusCode::SERVICE_UNAVAILABLE,
            grpc: GrpcCode::Unavailable,
            retry_after: Some(Duration::from_millis(ms)),
        };
        assert_eq!(status(0).retry_after_header().unwrap(), "1");
        assert_eq!(status(1_000).retry_after_header().unwrap(), "1");
        assert_eq!(status(1_001).retry_after_header().unwrap(), "2");
        assert_eq!(status(2_500).grpc_retry_pushback_ms().unwrap(), "2500");
    }

    #[test]
    fn each_rejection_has_its_status_and_other_errors_none() {
        let open = CircuitOpen::new("db".into(), Some(Duration::from_secs(3)));
        let status = RejectionStatus::of(&open).unwrap();
        assert_eq!((status.http, status.grpc), (StatusCode::SERVICE_UNAVAILABLE, GrpcCode::Unavailable));
        let response: http::Response<String> = status.to_http_response();
        assert_eq!(response.headers()["retry-after"], "3");

        let shed = Shed::new("api".into(), ShedReason::QueueFull, 8, Duration::from_secs(1));
        assert_eq!(RejectionStatus::of(&shed).unwrap().grpc, GrpcCode::ResourceExhausted);
        let timeout = TimedOut::new(TimeoutScope::Deadline, Duration::from_secs(1));
        assert_eq!(RejectionStatus::of(&timeout).unwrap().http, StatusCode::GATEWAY_TIMEOUT);
        assert!(RejectionStatus::of(&std::io::Error::other("x")).is_none());
    }

    #[test]
    fn the_plain_error_recovers_the_closures_type() {
        let inner: BoxError = Box::new(std::io::Error::other("disk"));
        assert!(matches!(ResilienceError::<std::io::Error>::from_box(inner), ResilienceError::Inner(_)));
        let shed: BoxError = Shed::new("l".into(), ShedReason::LimitReached, 1, Duration::ZERO).into();
        assert!(matches!(ResilienceError::<std::io::Error>::from_box(shed), ResilienceError::Shed(_)));
    }
}
