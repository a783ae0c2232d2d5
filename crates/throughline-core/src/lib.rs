//! The vocabulary every throughline layer shares, in a leaf crate so that a
//! layer can speak it without depending on another layer: tracing a gRPC
//! call needs a deadline, not a retry policy.
//!
//! - [`Deadline`]: the instant by which a call must be done, and the task's
//!   [`current`](deadline::current) one, which outgoing calls inherit;
//! - its two wire forms: gRPC's `grpc-timeout`
//!   ([`Deadline::grpc_timeout`], [`Deadline::from_grpc_timeout`]) and, for
//!   HTTP, the remaining milliseconds on [`DEADLINE_HEADER`]
//!   ([`Deadline::to_millis_header`], [`Deadline::from_millis_header`]);
//! - [`GrpcCode`]: gRPC's status codes, read from `grpc-status`;
//! - [`ResendCount`]: how many times a request was sent before, which retry
//!   layers set and client instrumentation records.
//!
//! ```
//! use std::time::Duration;
//! use throughline_core::{DEADLINE_HEADER, Deadline, deadline};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! // A server read 1.5 s from its caller; its handler's calls send what is left.
//! let inherited = Deadline::after(Duration::from_millis(1500));
//! deadline::scope(inherited, async {
//!     tokio::time::advance(Duration::from_millis(500)).await;
//!     let left = deadline::current().unwrap();
//!     assert_eq!(left.to_millis_header(), "1000");
//!     assert_eq!(left.grpc_timeout(), "1000000u");
//! })
//! .await;
//! assert_eq!(DEADLINE_HEADER, "request-timeout-ms");
//! # }
//! ```
#![deny(missing_docs)]

/// `get_ref`, `get_mut` and `into_inner` for a layer's service whose
/// wrapped service `S` is its `inner` field, as tower-http's services have
/// them: one definition for every throughline layer. Not part of the API.
#[doc(hidden)]
#[macro_export]
macro_rules! inner_service_accessors {
    () => {
        /// The wrapped service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The wrapped service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// The wrapped service, unwrapped.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}

pub mod deadline;
pub mod grpc;
mod resend;

pub use deadline::{DEADLINE_HEADER, Deadline, DeadlineHeaderError, GRPC_TIMEOUT, GrpcTimeoutError};
pub use grpc::{GRPC_STATUS, GrpcCode, TrailersStatus};
pub use resend::ResendCount;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
