//! Getting telemetry out of the process without ever making the service wait.

pub(crate) mod activity;
pub(crate) mod batch;
pub(crate) mod console;
pub(crate) mod deadline;
pub(crate) mod failure;
pub(crate) mod http_client;
#[cfg(any(feature = "grpc", feature = "http"))]
pub(crate) mod on_export_runtime;
#[cfg(any(feature = "grpc", feature = "http"))]
pub(crate) mod otlp;
pub(crate) mod processors;
pub(crate) mod runtime;
pub(crate) mod size;
#[cfg(any(feature = "grpc", feature = "http"))]
pub(crate) mod tls;
