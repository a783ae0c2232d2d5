//! The OpenTelemetry HTTP semantic conventions, as plain functions and types
//! shared by the server layer here and the client instrumentation
//! (`throughline-reqwest`, the HTTP client layer).
//!
//! ```
//! use http::{Method, StatusCode, Version};
//! use throughline_tower::semconv::{
//!     HttpAttributes, HttpMethod, QueryRedaction, Role, SemconvStability, protocol_version,
//!     status_error_type,
//! };
//!
//! // What a client span for `GET /search?q=rust&sig=abc` answered with a 503 records:
//! let mut attributes = HttpAttributes::new(Role::Client, SemconvStability::Stable);
//! attributes.method(&HttpMethod::new(&Method::GET));
//! let query = QueryRedaction::default().redact("q=rust&sig=abc");
//! attributes.path_and_query("/search", Some(&query));
//! attributes.protocol_version(protocol_version(Version::HTTP_11));
//! attributes.status_code(503);
//! if let Some(error_type) = status_error_type(StatusCode::SERVICE_UNAVAILABLE, Role::Client) {
//!     attributes.error_type(error_type);
//! }
//! let list = attributes.into_vec();
//! assert_eq!(list[2].value.as_str(), "q=rust&sig=REDACTED");
//! assert_eq!(list.last().map(|kv| kv.value.as_str().into_owned()), Some("503".to_owned()));
//! ```
//!
//! The pieces:
//!
//! - [`HttpMethod`]: known methods as they are, the rest as `_OTHER`;
//! - [`HttpAttributes`]: writes each attribute under its stable name, and its
//!   old name too under `OTEL_SEMCONV_STABILITY_OPT_IN=http/dup`
//!   ([`SemconvStability`]);
//! - [`is_error`] and [`status_error_type`]: a 5xx fails a server span, a
//!   4xx or 5xx a client span, and `error.type` is then the status code;
//! - [`QueryRedaction`]: `url.query` without credentials, and the URLs
//!   inside an error's description made as safe;
//! - [`ValueLength`]: the bound on every string recorded from a request;
//! - [`HeaderCapture`]: opt-in `http.request.header.<name>`, never the
//!   [`SENSITIVE_HEADERS`];
//! - [`server_address`], [`forwarded_client_address`]: the addresses, with
//!   the forwarding headers a proxy adds;
//! - the metric names, units and bucket boundaries ([`metrics`]).

mod address;
mod attributes;
mod headers;
mod method;
pub mod metrics;
mod outcome;
mod protocol;
mod query;
mod stability;
mod urls_in_text;
mod value_length;

pub use address::{direct_server_address, forwarded_client_address, forwarded_scheme, server_address};
pub use attributes::{HttpAttributes, old};
pub use headers::{HeaderCapture, Message, SENSITIVE_HEADERS};
pub use method::HttpMethod;
pub use outcome::{
    PANIC, REQUEST_CANCELLED, RESPONSE_BODY_DROPPED, Role, error_type_of, is_error, status_error_type,
};
pub use protocol::protocol_version;
pub use query::QueryRedaction;
pub use stability::SemconvStability;
pub use value_length::{OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, ValueLength};
