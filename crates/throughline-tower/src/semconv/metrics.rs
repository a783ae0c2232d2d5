//! Metric names, units and bucket boundaries of the HTTP conventions.

pub use opentelemetry_semantic_conventions::metric::{
    HTTP_CLIENT_ACTIVE_REQUESTS, HTTP_CLIENT_REQUEST_DURATION, HTTP_SERVER_ACTIVE_REQUESTS,
    HTTP_SERVER_REQUEST_BODY_SIZE, HTTP_SERVER_REQUEST_DURATION, HTTP_SERVER_RESPONSE_BODY_SIZE,
};

/// The bucket boundaries, in seconds, the conventions advise for
/// `http.server.request.duration` and `http.client.request.duration`.
pub const DURATION_BUCKETS: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

/// The unit of durations: seconds.
pub const SECONDS: &str = "s";

/// The unit of body sizes: bytes.
pub const BYTES: &str = "By";

/// The unit of `http.server.active_requests` and `http.client.active_requests`.
pub const REQUESTS: &str = "{request}";
