//! tower layers that make tonic gRPC servers and clients observable: the
//! W3C context carried in the metadata, a span and a call duration per call
//! by the OpenTelemetry RPC semantic conventions with the status read at the
//! end of the stream, and the caller's `grpc-timeout` deadline carried on to
//! the calls a handler makes.
//!
//! ```
//! use std::time::Duration;
//! use throughline_tonic::{GrpcClientLayer, GrpcServerLayer};
//! use throughline_tonic_testproto::EchoClient;
//!
//! # #[tokio::main] async fn main() {
//! // Server: every call a span in the caller's trace, with its deadline.
//! let server = tonic::transport::Server::builder().layer(GrpcServerLayer::new());
//!
//! // Client: spans, the context and the remaining deadline sent on.
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
//! let service = tower::ServiceBuilder::new()
//!     .layer(GrpcClientLayer::new().timeout(Duration::from_secs(2)))
//!     .service(channel);
//! let client = EchoClient::new(service);
//! # let _ = (server, client);
//! # }
//! ```
//!
//! - [`server`]: [`GrpcServerLayer`]; what a call becomes on the server.
//! - [`client`]: [`GrpcClientLayer`]; what a call becomes on the client.
//! - [`deadline`]: `grpc-timeout` in and out, [`deadline::remaining`] for a
//!   handler, and the current deadline a handler's calls inherit.
//! - `retry` and `hedge` (feature `resilience`): gRPC retries by a service
//!   config's `retryPolicy` (gRFC A6), and hedged calls for the methods
//!   marked safe; each attempt a client span. `status`: a unary call's
//!   status from its trailers, where breakers and limiters classify it.
//! - [`semconv`]: the RPC conventions as plain functions and types: method
//!   parsing, which codes are errors, names old and new.
//!
//! A handler's spans nest under the server span. With the sampler known
//! (`throughline::init()` publishes it), an unrecorded call builds no span
//! and a recorded one's is built directly as an OpenTelemetry span, its
//! context attached while the call runs (throughline-tower's
//! `HeadSampling` and `DirectSpans`); otherwise the spans are `tracing`
//! spans (targets [`server::TARGET`] and [`client::TARGET`]) bridged by
//! `tracing-opentelemetry`. The duration metrics go through the
//! OpenTelemetry metrics API: the global meter provider unless one is
//! given.
//!
//! # Code generation without `protoc`
//!
//! The examples and tests here call `throughline.test.v1.Echo`, from the
//! unpublished `throughline-tonic-testproto` crate, a development
//! dependency: its build script compiles `proto/echo.proto` with `protox`
//! (a protobuf compiler in Rust) into a `FileDescriptorSet` and hands it to
//! `tonic_prost_build::compile_fds`, so a fresh machine builds everything
//! with cargo alone. A service of yours can do the same in its `build.rs`:
//!
//! ```ignore
//! let descriptors = protox::compile(["service.proto"], ["proto"])?;
//! tonic_prost_build::compile_fds(descriptors)?;
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod body;
mod call;
pub mod client;
pub mod deadline;
mod future;
#[cfg(feature = "resilience")]
pub mod hedge;
mod metadata;
mod metrics;
#[cfg(feature = "resilience")]
pub mod retry;
pub mod semconv;
pub mod server;
#[cfg(feature = "resilience")]
pub mod status;
#[cfg(feature = "resilience")]
mod unary;

pub use body::GrpcBody;
pub use client::{GrpcClient, GrpcClientLayer};
pub use future::ResponseFuture;
pub use server::{GrpcServer, GrpcServerLayer};
/// What a server filter records for a call: throughline-tower's.
pub use throughline_tower::server::Record;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
