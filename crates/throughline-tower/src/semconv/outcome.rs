//! Which responses are errors, and the `error.type` they carry.

use std::borrow::Cow;

use http::StatusCode;

/// The side of the exchange a span describes; the error rules differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The service answering: only a 5xx is its error. A 4xx is the
    /// caller's mistake, not a failure of the server.
    Server,
    /// The caller: a 4xx or a 5xx means the call failed.
    Client,
}

/// Whether `status` marks the span as failed for `role`.
///
/// ```
/// use http::StatusCode;
/// use throughline_tower::semconv::{Role, is_error};
///
/// assert!(is_error(StatusCode::BAD_GATEWAY, Role::Server));
/// assert!(!is_error(StatusCode::NOT_FOUND, Role::Server));
/// assert!(is_error(StatusCode::NOT_FOUND, Role::Client));
/// ```
pub fn is_error(status: StatusCode, role: Role) -> bool {
    match role {
        Role::Server => status.is_server_error(),
        Role::Client => status.is_client_error() || status.is_server_error(),
    }
}

/// The `error.type` for a response: its status code as text when it is an
/// error for `role`, `None` otherwise.
///
/// ```
/// use http::StatusCode;
/// use throughline_tower::semconv::{Role, status_error_type};
///
/// assert_eq!(status_error_type(StatusCode::SERVICE_UNAVAILABLE, Role::Server).as_deref(), Some("503"));
/// assert_eq!(status_error_type(StatusCode::OK, Role::Server), None);
/// ```
pub fn status_error_type(status: StatusCode, role: Role) -> Option<Cow<'static, str>> {
    if !is_error(status, role) {
        return None;
    }
    // The common codes without an allocation; the rest are rare.
    Some(match status.as_u16() {
        400 => "400".into(),
        401 => "401".into(),
        403 => "403".into(),
        404 => "404".into(),
        500 => "500".into(),
        502 => "502".into(),
        503 => "503".into(),
        504 => "504".into(),
        _ => status.as_str().to_owned().into(),
    })
}

/// `error.type` for an error value: its type's name, which is what the
/// conventions ask for when no status code says more, and is low-cardinality.
///
/// ```
/// use throughline_tower::semconv::error_type_of;
///
/// assert_eq!(error_type_of::<std::io::Error>(), "std::io::error::Error");
/// ```
pub fn error_type_of<E: ?Sized>() -> &'static str {
    std::any::type_name::<E>()
}

/// `error.type` when a handler panicked.
pub const PANIC: &str = "panic";

/// `error.type` when the response body was dropped before its end, usually
/// because the client went away.
pub const RESPONSE_BODY_DROPPED: &str = "response_body_dropped";

/// `error.type` when the request was dropped before a response was ready,
/// by a timeout or because the client went away.
pub const REQUEST_CANCELLED: &str = "request_cancelled";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_span_fails_only_on_5xx() {
        for code in [100, 200, 204, 301, 304, 400, 404, 429, 499] {
            assert!(!is_error(StatusCode::from_u16(code).unwrap(), Role::Server), "{code}");
        }
        for code in [500, 501, 503, 599] {
            assert!(is_error(StatusCode::from_u16(code).unwrap(), Role::Server), "{code}");
        }
    }

    #[test]
    fn error_type_is_the_status_code() {
        for code in 400..600 {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(status_error_type(status, Role::Client).as_deref(), Some(status.as_str()));
        }
    }
}
