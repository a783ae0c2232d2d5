//! The OpenTelemetry RPC semantic conventions for gRPC (schema 1.42), as
//! plain functions and types shared by the server and the client layer.
//!
//! ```
//! use throughline_core::GrpcCode;
//! use throughline_tonic::semconv::{GrpcMethod, RpcStability, is_error};
//! use throughline_tower::semconv::Role;
//!
//! let method = GrpcMethod::parse("/shop.v1.Orders/Place").unwrap();
//! assert_eq!((method.service(), method.method()), ("shop.v1.Orders", "Place"));
//! assert_eq!(method.full(), "shop.v1.Orders/Place"); // the span name and `rpc.method`
//! assert!(GrpcMethod::parse("/no-method").is_none());
//!
//! // NOT_FOUND is the caller's mistake: an error for the client only.
//! assert!(!is_error(GrpcCode::NotFound, Role::Server));
//! assert!(is_error(GrpcCode::NotFound, Role::Client));
//! assert_eq!(RpcStability::parse("http,rpc/dup"), RpcStability::Duplicate);
//! ```
//!
//! What the layers record, by default (`rpc` in
//! `OTEL_SEMCONV_STABILITY_OPT_IN`, or nothing):
//!
//! - the span name and `rpc.method`: the fully-qualified method,
//!   `package.Service/Method`; `_OTHER` (with `rpc.method_original`) for a
//!   path that is not a gRPC method, or a method the server answered
//!   `UNIMPLEMENTED`, so that unknown methods cannot grow the metrics; the
//!   span is then named `grpc`, the system;
//! - `rpc.system.name` = `grpc`;
//! - `rpc.response.status_code`: the status code's name, `OK`,
//!   `DEADLINE_EXCEEDED`, ...;
//! - `error.type`: the status code's name when [`is_error`] says so;
//! - `server.address` and `server.port` when known;
//! - `rpc.request.metadata.<key>` and `rpc.response.metadata.<key>`, each
//!   an array of the key's values, for the keys a layer was told to capture
//!   (`capture_request_headers`, `capture_response_headers`), never the
//!   sensitive ones (throughline-tower's `SENSITIVE_HEADERS`);
//! - the metrics `rpc.server.call.duration` and `rpc.client.call.duration`,
//!   in seconds.
//!
//! With `rpc/dup` ([`RpcStability::Duplicate`]) the names of the earlier
//! experimental conventions are emitted too: `rpc.system`, `rpc.service`,
//! `rpc.grpc.status_code` (the number), `rpc.grpc.request.metadata.<key>`
//! and `rpc.grpc.response.metadata.<key>`, and the metrics
//! `rpc.server.duration` and `rpc.client.duration` in milliseconds. The old
//! `rpc.method` (the bare method name) shares its key with the new one; the
//! new value is kept.

pub use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, RPC_METHOD, RPC_METHOD_ORIGINAL, RPC_REQUEST_METADATA, RPC_RESPONSE_METADATA,
    RPC_RESPONSE_STATUS_CODE, RPC_SYSTEM_NAME, SERVER_ADDRESS, SERVER_PORT,
};
pub use opentelemetry_semantic_conventions::metric::{RPC_CLIENT_CALL_DURATION, RPC_SERVER_CALL_DURATION};
pub use throughline_tower::semconv::metrics::{DURATION_BUCKETS, SECONDS};

use http::StatusCode;
use throughline_core::GrpcCode;
use throughline_tower::semconv::Role;

/// The value of `rpc.system.name` (and of the old `rpc.system`).
pub const GRPC: &str = "grpc";

/// `rpc.method` of a method that is not known.
pub const OTHER: &str = "_OTHER";

/// On a client span, how many attempts of the same call went before this
/// one: gRPC's own attempt attribute (gRFC A72), set when a retry layer
/// marks the request with a `ResendCount`.
pub const PREVIOUS_RPC_ATTEMPTS: &str = "previous-rpc-attempts";

/// The names of the experimental conventions that preceded the current
/// ones, emitted under `rpc/dup`.
pub mod old {
    /// `rpc.system`, now `rpc.system.name`.
    pub const RPC_SYSTEM: &str = "rpc.system";
    /// `rpc.service`, now part of `rpc.method`.
    pub const RPC_SERVICE: &str = "rpc.service";
    /// `rpc.grpc.status_code`, the number, now `rpc.response.status_code`.
    pub const RPC_GRPC_STATUS_CODE: &str = "rpc.grpc.status_code";
    /// The prefix of `rpc.grpc.request.metadata.<key>`, now `rpc.request.metadata.<key>`.
    pub const RPC_GRPC_REQUEST_METADATA: &str = "rpc.grpc.request.metadata";
    /// The prefix of `rpc.grpc.response.metadata.<key>`, now `rpc.response.metadata.<key>`.
    pub const RPC_GRPC_RESPONSE_METADATA: &str = "rpc.grpc.response.metadata";
    /// `rpc.server.duration`, in milliseconds.
    pub const RPC_SERVER_DURATION: &str = "rpc.server.duration";
    /// `rpc.client.duration`, in milliseconds.
    pub const RPC_CLIENT_DURATION: &str = "rpc.client.duration";
    /// The unit of the old durations.
    pub const MILLISECONDS: &str = "ms";
    /// The bucket boundaries of the old durations, in milliseconds.
    pub const DURATION_BUCKETS_MS: [f64; 14] =
        [5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0, 10000.0];
}

/// Which RPC attribute names are emitted, from `OTEL_SEMCONV_STABILITY_OPT_IN`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RpcStability {
    /// The current names only (`rpc`, or nothing in the variable): this
    /// instrumentation is new, and has no older output to keep.
    #[default]
    Stable,
    /// The current names and the experimental ones before them (`rpc/dup`).
    Duplicate,
}

impl RpcStability {
    /// The environment variable [`from_env`](Self::from_env) reads.
    pub const ENV: &'static str = "OTEL_SEMCONV_STABILITY_OPT_IN";

    /// Reads [`ENV`](Self::ENV); unset or unreadable means [`Stable`](Self::Stable).
    pub fn from_env() -> Self {
        std::env::var(Self::ENV).map(|value| Self::parse(&value)).unwrap_or_default()
    }

    /// Parses a comma-separated opt-in list; `rpc/dup` wins over `rpc`.
    pub fn parse(value: &str) -> Self {
        if value.split(',').any(|token| token.trim() == "rpc/dup") { Self::Duplicate } else { Self::Stable }
    }

    /// Whether the old names are emitted too.
    pub const fn emits_old(self) -> bool {
        matches!(self, Self::Duplicate)
    }
}

/// A gRPC method as its request path names it: `/package.Service/Method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrpcMethod<'a> {
    full: &'a str,
    slash: usize,
}

impl<'a> GrpcMethod<'a> {
    /// The longest path read as a method: real ones are far shorter, and a
    /// longer one from the network would become a span name and a metric
    /// label.
    pub const MAX_PATH_LEN: usize = 512;

    /// Parses a request path; `None` unless it is `/{service}/{method}`
    /// with both parts non-empty, at most [`MAX_PATH_LEN`](Self::MAX_PATH_LEN) bytes.
    pub fn parse(path: &'a str) -> Option<Self> {
        if path.len() > Self::MAX_PATH_LEN {
            return None;
        }
        let full = path.strip_prefix('/')?;
        let slash = full.find('/')?;
        let (service, method) = (&full[..slash], &full[slash + 1..]);
        (!service.is_empty() && !method.is_empty() && !method.contains('/')).then_some(Self { full, slash })
    }

    /// `package.Service/Method`: the span name and `rpc.method`.
    pub fn full(&self) -> &'a str {
        self.full
    }

    /// `package.Service`: the old `rpc.service`.
    pub fn service(&self) -> &'a str {
        &self.full[..self.slash]
    }

    /// `Method`.
    pub fn method(&self) -> &'a str {
        &self.full[self.slash + 1..]
    }
}

/// Whether `code` fails the span of `role`. For a server only the codes
/// that say the server failed (`UNKNOWN`, `DEADLINE_EXCEEDED`,
/// `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS`); for a client
/// every code but `OK`.
pub fn is_error(code: GrpcCode, role: Role) -> bool {
    match role {
        Role::Client => code != GrpcCode::Ok,
        Role::Server => matches!(
            code,
            GrpcCode::Unknown
                | GrpcCode::DeadlineExceeded
                | GrpcCode::Unimplemented
                | GrpcCode::Internal
                | GrpcCode::Unavailable
                | GrpcCode::DataLoss
        ),
    }
}

/// The status of a response whose HTTP status is not 200, as gRPC's HTTP
/// to gRPC status mapping says (a proxy or a non-gRPC server answered).
pub fn code_from_http(status: StatusCode) -> GrpcCode {
    match status.as_u16() {
        400 => GrpcCode::Internal,
        401 => GrpcCode::Unauthenticated,
        403 => GrpcCode::PermissionDenied,
        404 => GrpcCode::Unimplemented,
        429 | 502..=504 => GrpcCode::Unavailable,
        _ => GrpcCode::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_paths_are_not_methods() {
        for path in ["", "/", "//", "/svc", "/svc/", "//m", "svc/m", "/a/b/c", "/svc/m/"] {
            assert_eq!(GrpcMethod::parse(path), None, "{path:?}");
        }
        let method = GrpcMethod::parse("/Echo/Say").unwrap();
        assert_eq!((method.full(), method.service(), method.method()), ("Echo/Say", "Echo", "Say"));
    }

    #[test]
    fn the_http_status_maps_to_the_grpc_code() {
        assert_eq!(code_from_http(StatusCode::NOT_FOUND), GrpcCode::Unimplemented);
        assert_eq!(code_from_http(StatusCode::SERVICE_UNAVAILABLE), GrpcCode::Unavailable);
        assert_eq!(code_from_http(StatusCode::IM_A_TEAPOT), GrpcCode::Unknown);
    }

    #[test]
    fn server_errors_are_the_conventions_six() {
        let server_errors: Vec<_> =
            (0..17).map(GrpcCode::from_i32).filter(|c| is_error(*c, Role::Server)).collect();
        assert_eq!(server_errors.len(), 6);
        assert!(!is_error(GrpcCode::Cancelled, Role::Server));
        assert!(is_error(GrpcCode::Cancelled, Role::Client));
    }
}
