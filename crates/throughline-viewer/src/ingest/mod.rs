//! The ways telemetry gets in: OTLP over gRPC and HTTP, and the SDK's span
//! and log processors for a service that feeds the viewer in-process.

pub(crate) mod grpc;
pub(crate) mod http;
pub(crate) mod processor;
