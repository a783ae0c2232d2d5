//! Deadlines from call to call: `grpc-timeout` in, the remaining time out.
//!
//! The server layer reads the caller's `grpc-timeout` (1 to 8 digits and a
//! unit of `H`, `M`, `S`, `m`, `u` or `n`, as the gRPC spec says; anything
//! else is ignored) and gives the handler the deadline two ways:
//!
//! - as a [`Deadline`] request extension, which a tonic handler reads with
//!   [`remaining`] or [`deadline`] and throughline-resilience's layers
//!   read as they are;
//! - as the *current* deadline of the task, a `tokio` task-local set while
//!   the server polls the handler's future and its response stream, so the
//!   handler's own outgoing calls through
//!   [`GrpcClientLayer`](crate::GrpcClientLayer) inherit it with no code.
//!
//! The client layer sends the earliest of its own timeout, the request's
//! [`Deadline`] extension, a `grpc-timeout` already on the request
//! (tonic's `Request::set_timeout`) and the [`current`] deadline, as
//! `grpc-timeout`.
//!
//! A task the handler spawns does not inherit a task-local: carry the
//! deadline over with [`scope`].
//!
//! ```
//! use std::time::Duration;
//! use throughline_tonic::deadline::Deadline;
//! use throughline_tonic::deadline;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! // What a handler sees when the caller allowed 1.5 s:
//! let mut request = tonic::Request::new(());
//! request.extensions_mut().insert(Deadline::after(Duration::from_millis(1500)));
//! assert_eq!(deadline::remaining(&request), Some(Duration::from_millis(1500)));
//!
//! // Work spawned for the call keeps its deadline:
//! let inherited = deadline::deadline(&request).unwrap();
//! let seen = tokio::spawn(deadline::scope(inherited, async { deadline::current() })).await.unwrap();
//! assert_eq!(seen, Some(inherited));
//! assert_eq!(deadline::current(), None, "outside any call");
//! # }
//! ```

use std::time::Duration;

use http::HeaderMap;
pub(crate) use throughline_core::deadline::sync_scope;
pub use throughline_core::deadline::{current, scope};
pub use throughline_core::{Deadline, GRPC_TIMEOUT};

/// The time left to answer a tonic request, if its caller set a deadline.
pub fn remaining<T>(request: &tonic::Request<T>) -> Option<Duration> {
    deadline(request).map(|deadline| deadline.remaining())
}

/// The deadline of a tonic request, if its caller set one.
pub fn deadline<T>(request: &tonic::Request<T>) -> Option<Deadline> {
    request.extensions().get::<Deadline>().copied()
}

/// The deadline an incoming `grpc-timeout` sets; a missing or malformed
/// value (more than 8 digits, an unknown unit, not ASCII) is none.
pub fn from_headers(headers: &HeaderMap) -> Option<Deadline> {
    let value = headers.get(GRPC_TIMEOUT)?.to_str().ok()?;
    Deadline::from_grpc_timeout(value).ok()
}

/// The deadline an outgoing call inherits: its `Deadline` extension, its
/// `grpc-timeout`, or the one the task is serving, whichever is earliest.
pub(crate) fn inherited<B>(request: &http::Request<B>) -> Option<Deadline> {
    Deadline::earliest(
        request.extensions().get::<Deadline>().copied(),
        Deadline::earliest(current(), from_headers(request.headers())),
    )
}

/// Writes the time left before `deadline` as `grpc-timeout`.
pub(crate) fn insert(headers: &mut HeaderMap, deadline: Deadline) {
    headers.insert(GRPC_TIMEOUT, deadline.grpc_timeout());
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(GRPC_TIMEOUT, HeaderValue::from_static(value));
        headers
    }

    #[tokio::test(start_paused = true)]
    async fn every_unit_of_the_spec_is_read() {
        for (value, expected) in [
            ("1H", Duration::from_secs(3600)),
            ("2M", Duration::from_secs(120)),
            ("3S", Duration::from_secs(3)),
            ("200m", Duration::from_millis(200)),
            ("5u", Duration::from_micros(5)),
            ("99999999n", Duration::from_nanos(99_999_999)),
        ] {
            assert_eq!(from_headers(&headers(value)).map(|d| d.remaining()), Some(expected), "{value}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn malformed_values_are_ignored() {
        for value in ["", "S", "123456789m", "1s", "-1S", "1.5S", "1 S", "+1S", "18446744073709551616H"] {
            assert_eq!(from_headers(&headers(value)), None, "{value:?}");
        }
        let mut binary = HeaderMap::new();
        binary.insert(GRPC_TIMEOUT, HeaderValue::from_bytes(b"1\xffm").unwrap());
        assert_eq!(from_headers(&binary), None);
    }
}
