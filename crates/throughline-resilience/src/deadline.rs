//! The overall deadline of a call: a value that travels with the request, and
//! the layer that sets and enforces it.
//!
//! [`DeadlineLayer`] gives every call a deadline (the earlier of its own
//! timeout and a deadline the request already carries, say from an incoming
//! `grpc-timeout`), stores it in the request as a [`Deadline`] extension, and
//! fails the call with [`TimedOut`] when it passes. Layers below read it: retry
//! starts no attempt that cannot finish before it, the attempt timeout never
//! outlives it, and client adapters send the remaining time on
//! (`grpc-timeout` in throughline-tonic, a header in throughline-reqwest):
//!
//! ```
//! use std::time::Duration;
//! use throughline_resilience::Deadline;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let mut request = http::Request::get("http://inventory/items").body(()).unwrap();
//! request.extensions_mut().insert(Deadline::after(Duration::from_millis(1500)));
//!
//! // What an adapter does before sending:
//! if let Some(deadline) = request.extensions().get::<Deadline>() {
//!     let value = deadline.grpc_timeout();
//!     request.headers_mut().insert("grpc-timeout", value);
//! }
//! assert_eq!(request.headers()["grpc-timeout"], "1500000u");
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::HeaderValue;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower_layer::Layer;
use tower_service::Service;

use crate::classify::BoxError;
use crate::error::{TimedOut, TimeoutScope};
use crate::request::ResilientRequest;

/// The instant by which a call must be done. Cheap to copy; stored in the
/// request's extensions by [`DeadlineLayer`]. Uses tokio's clock, so tests
/// with paused time see it move with `tokio::time::advance`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline(Instant);

/// A `grpc-timeout` value that is not one the gRPC spec allows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid grpc-timeout {0:?}: expected 1 to 8 digits and a unit of H, M, S, m, u or n")]
pub struct GrpcTimeoutError(pub String);

impl Deadline {
    /// The deadline at `instant`.
    pub fn at(instant: Instant) -> Self {
        Self(instant)
    }

    /// The deadline `timeout` from now.
    pub fn after(timeout: Duration) -> Self {
        Self(Instant::now() + timeout)
    }

    /// The instant of the deadline.
    pub fn instant(&self) -> Instant {
        self.0
    }

    /// The time left, zero once passed.
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// Whether the deadline has passed.
    pub fn is_expired(&self) -> bool {
        Instant::now() >= self.0
    }

    /// The remaining time as a `grpc-timeout` value: the finest unit that
    /// fits in 8 digits, rounded up as gRPC's own implementations do.
    pub fn grpc_timeout(&self) -> HeaderValue {
        encode_grpc_timeout(self.remaining())
    }

    /// The remaining time in whole milliseconds, for a header of your choice
    /// (throughline-reqwest sends it on a configurable header).
    pub fn remaining_millis_header(&self) -> HeaderValue {
        HeaderValue::from(u64::try_from(self.remaining().as_millis()).unwrap_or(u64::MAX))
    }

    /// The deadline an incoming `grpc-timeout` value sets, counted from now.
    pub fn from_grpc_timeout(value: &str) -> Result<Self, GrpcTimeoutError> {
        parse_grpc_timeout(value).map(Self::after)
    }
}

fn encode_grpc_timeout(remaining: Duration) -> HeaderValue {
    const MAX: u128 = 99_999_999;
    let nanos = remaining.as_nanos();
    for (unit, per) in
        [("n", 1u128), ("u", 1_000), ("m", 1_000_000), ("S", 1_000_000_000), ("M", 60_000_000_000)]
    {
        let value = nanos.div_ceil(per);
        if value <= MAX {
            return HeaderValue::try_from(format!("{value}{unit}")).unwrap_or(HeaderValue::from_static("0n"));
        }
    }
    let hours = nanos.div_ceil(3_600_000_000_000).min(MAX);
    HeaderValue::try_from(format!("{hours}H")).unwrap_or(HeaderValue::from_static("0n"))
}

fn parse_grpc_timeout(value: &str) -> Result<Duration, GrpcTimeoutError> {
    let error = || GrpcTimeoutError(value.to_owned());
    let (digits, unit) = value.split_at_checked(value.len().wrapping_sub(1)).ok_or_else(error)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error());
    }
    let amount: u64 = digits.parse().map_err(|_| error())?;
    Ok(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return Err(error()),
    })
}

/// Gives each call a [`Deadline`] and fails it with [`TimedOut`] (scope
/// `Deadline`) when the deadline passes. The outermost stage of a policy.
#[derive(Clone, Copy, Debug)]
pub struct DeadlineLayer {
    timeout: Option<Duration>,
}

impl DeadlineLayer {
    /// Every call gets at most `timeout`, or less if the request already
    /// carries an earlier deadline.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout: Some(timeout) }
    }

    /// Only the deadline the request already carries is enforced (a server
    /// that set it from `grpc-timeout`, say).
    pub fn inherited() -> Self {
        Self { timeout: None }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService { inner, timeout: self.timeout }
    }
}

/// The service of [`DeadlineLayer`].
#[derive(Clone, Debug)]
pub struct DeadlineService<S> {
    inner: S,
    timeout: Option<Duration>,
}

impl<S, Req> Service<Req> for DeadlineService<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    Req: ResilientRequest,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Req) -> Self::Future {
        let started = Instant::now();
        let own = self.timeout.map(|t| Deadline(started + t));
        let deadline = match (own, request.deadline()) {
            (Some(own), Some(inherited)) => Some(own.min(inherited)),
            (own, inherited) => own.or(inherited),
        };
        let Some(deadline) = deadline else {
            return ResponseFuture { inner: Some(self.inner.call(request)), sleep: None, started };
        };
        request.set_deadline(deadline);
        // A call that is already out of time is not started.
        let inner = (!deadline.is_expired()).then(|| self.inner.call(request));
        ResponseFuture { inner, sleep: Some(Box::pin(tokio::time::sleep_until(deadline.0))), started }
    }
}

pin_project! {
    /// The future of [`DeadlineService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Option<F>,
        // Boxed so that a call without a deadline carries no timer.
        sleep: Option<Pin<Box<Sleep>>>,
        started: Instant,
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(inner) = this.inner.as_pin_mut()
            && let Poll::Ready(result) = inner.poll(cx)
        {
            return Poll::Ready(result.map_err(Into::into));
        }
        match this.sleep {
            Some(sleep) => {
                ready!(sleep.as_mut().poll(cx));
                Poll::Ready(Err(TimedOut::new(TimeoutScope::Deadline, this.started.elapsed()).into()))
            }
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_uses_the_finest_unit_that_fits_eight_digits() {
        let encode = |d| encode_grpc_timeout(d).to_str().unwrap().to_owned();
        assert_eq!(encode(Duration::from_nanos(5)), "5n");
        assert_eq!(encode(Duration::from_millis(1500)), "1500000u");
        assert_eq!(encode(Duration::from_secs(100)), "100000m");
        assert_eq!(encode(Duration::from_secs(200_000)), "200000S");
        assert_eq!(encode(Duration::from_nanos(100_000_001)), "100001u", "rounded up");
        assert_eq!(encode(Duration::ZERO), "0n");
    }

    #[test]
    fn grpc_timeout_parses_every_unit_and_rejects_what_the_spec_forbids() {
        assert_eq!(parse_grpc_timeout("2H"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("3M"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout("1S"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_grpc_timeout("250m"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("7u"), Ok(Duration::from_micros(7)));
        assert_eq!(parse_grpc_timeout("99999999n"), Ok(Duration::from_nanos(99_999_999)));
        for bad in ["", "m", "123456789m", "1s", "-1S", "1.5S", " 1S", "1é"] {
            assert!(parse_grpc_timeout(bad).is_err(), "{bad:?}");
        }
    }
}
