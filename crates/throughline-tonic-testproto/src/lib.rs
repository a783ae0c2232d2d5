//! The `throughline.test.v1.Echo` service that throughline-tonic's tests
//! and benchmarks call: its messages, client and server, generated at build
//! time from `proto/echo.proto` by protox and tonic-prost-build (no
//! `protoc` needed). Not published; a development dependency only, so the
//! library itself carries no code generation.
//!
//! ```
//! use throughline_tonic_testproto::EchoRequest;
//!
//! let request = EchoRequest { message: "hi".into(), count: 2, code: 0 };
//! assert_eq!(request.count, 2);
//! ```

#![allow(missing_docs)] // generated code
#![allow(clippy::all, clippy::pedantic)]

tonic::include_proto!("throughline.test.v1");

pub use echo_client::EchoClient;
pub use echo_server::{Echo, EchoServer};
