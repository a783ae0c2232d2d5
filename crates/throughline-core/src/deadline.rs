//! Deadlines: a value that travels with a request, within a process as a
//! request extension or the task's current deadline, and between processes
//! as a header.

use std::future::Future;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use tokio::time::Instant;

/// The header gRPC carries a deadline in: 1 to 8 digits and a unit.
pub const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");

/// The header throughline's HTTP layers carry a deadline in, unless told
/// another: the time the caller still allows, in whole milliseconds, as
/// 1 to 12 ASCII digits. Relative, as `grpc-timeout` is, because two hosts'
/// clocks disagree; each hop sends what is left of it.
pub const DEADLINE_HEADER: HeaderName = HeaderName::from_static("request-timeout-ms");

/// The instant by which a call must be done. Cheap to copy. Uses tokio's
/// clock, so tests with paused time see it move with `tokio::time::advance`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline(Instant);

/// A `grpc-timeout` value that is not one the gRPC spec allows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid grpc-timeout {0:?}: expected 1 to 8 digits and a unit of H, M, S, m, u or n")]
pub struct GrpcTimeoutError(pub String);

/// A [`DEADLINE_HEADER`] value that is not 1 to 12 ASCII digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid deadline header: expected 1 to 12 digits of milliseconds")]
pub struct DeadlineHeaderError;

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

    /// The earlier of two optional deadlines.
    pub fn earliest(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The remaining time as a `grpc-timeout` value: the finest unit that
    /// fits in 8 digits, rounded up as gRPC's own implementations do.
    pub fn grpc_timeout(&self) -> HeaderValue {
        encode_grpc_timeout(self.remaining())
    }

    /// The deadline an incoming `grpc-timeout` value sets, counted from now.
    pub fn from_grpc_timeout(value: &str) -> Result<Self, GrpcTimeoutError> {
        parse_grpc_timeout(value).map(Self::after)
    }

    /// The remaining time in whole milliseconds, rounded down so that the
    /// next hop never gets more than is left: the [`DEADLINE_HEADER`] value.
    pub fn to_millis_header(&self) -> HeaderValue {
        HeaderValue::from(u64::try_from(self.remaining().as_millis()).unwrap_or(u64::MAX).min(MAX_MILLIS))
    }

    /// The deadline a [`DEADLINE_HEADER`] value sets, counted from now.
    pub fn from_millis_header(value: &HeaderValue) -> Result<Self, DeadlineHeaderError> {
        let digits = value.as_bytes();
        if digits.is_empty() || digits.len() > 12 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(DeadlineHeaderError);
        }
        let millis = digits.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        Ok(Self::after(Duration::from_millis(millis)))
    }
}

/// The most milliseconds the header holds: 12 digits, about 31 years.
const MAX_MILLIS: u64 = 999_999_999_999;

tokio::task_local! {
    static CURRENT: Deadline;
}

/// The deadline of the call the current task is serving, if any: the server
/// layers set it while they poll the handler, and the client layers send it
/// on.
pub fn current() -> Option<Deadline> {
    CURRENT.try_with(|deadline| *deadline).ok()
}

/// Runs `future` with `deadline` as its [`current`] deadline: for a task
/// spawned by a handler, whose outgoing calls should keep the handler's
/// deadline (a task-local is not inherited by a spawned task).
pub fn scope<F: Future>(deadline: Deadline, future: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(deadline, future)
}

/// Runs `f` with `deadline`, if any, as the [`current`] deadline: what a
/// server layer's response future does around each poll of the handler.
pub fn sync_scope<R>(deadline: Option<Deadline>, f: impl FnOnce() -> R) -> R {
    match deadline {
        Some(deadline) => CURRENT.sync_scope(deadline, f),
        None => f(),
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

    #[tokio::test(start_paused = true)]
    async fn the_millis_header_round_trips_and_rejects_anything_but_digits() {
        let deadline = Deadline::after(Duration::from_millis(1500));
        let value = deadline.to_millis_header();
        assert_eq!(value, "1500");
        assert_eq!(Deadline::from_millis_header(&value), Ok(deadline));
        assert_eq!(
            Deadline::from_millis_header(&HeaderValue::from_static("0")).map(|d| d.is_expired()),
            Ok(true)
        );
        for bad in ["", "1.5", "-1", "+1", " 1", "1 ", "0x10", "1000000000000", "1e3"] {
            assert_eq!(
                Deadline::from_millis_header(&HeaderValue::from_static(bad)),
                Err(DeadlineHeaderError),
                "{bad:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_millis_header_rounds_down_and_caps() {
        let deadline = Deadline::after(Duration::from_micros(1999));
        assert_eq!(deadline.to_millis_header(), "1");
        let far = Deadline::after(Duration::from_secs(10_000_000_000));
        assert_eq!(far.to_millis_header(), "999999999999");
    }

    #[tokio::test(start_paused = true)]
    async fn the_earliest_deadline_wins() {
        let (soon, late) = (Deadline::after(Duration::from_secs(1)), Deadline::after(Duration::from_secs(2)));
        assert_eq!(Deadline::earliest(Some(late), Some(soon)), Some(soon));
        assert_eq!(Deadline::earliest(None, Some(late)), Some(late));
        assert_eq!(Deadline::earliest(None, None), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_current_deadline_is_the_scopes() {
        let deadline = Deadline::after(Duration::from_secs(1));
        assert_eq!(current(), None);
        assert_eq!(scope(deadline, async { current() }).await, Some(deadline));
        assert_eq!(sync_scope(Some(deadline), current), Some(deadline));
        assert_eq!(sync_scope(None, current), None);
    }
}
