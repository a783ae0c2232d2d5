//! gRPC status codes as data: the spec's names and numbers, read from a
//! `grpc-status` header or trailer.

use http::{HeaderMap, HeaderName};

/// The header a trailers-only gRPC response carries its status in, and the
/// trailer of any other.
pub const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// The gRPC status codes, with their numeric values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
#[allow(missing_docs)] // the names are the specification's
pub enum GrpcCode {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

impl GrpcCode {
    const ALL: [GrpcCode; 17] = [
        Self::Ok,
        Self::Cancelled,
        Self::Unknown,
        Self::InvalidArgument,
        Self::DeadlineExceeded,
        Self::NotFound,
        Self::AlreadyExists,
        Self::PermissionDenied,
        Self::ResourceExhausted,
        Self::FailedPrecondition,
        Self::Aborted,
        Self::OutOfRange,
        Self::Unimplemented,
        Self::Internal,
        Self::Unavailable,
        Self::DataLoss,
        Self::Unauthenticated,
    ];

    /// The code for a numeric value; unknown values are `UNKNOWN`, as the spec says.
    pub fn from_i32(value: i32) -> Self {
        usize::try_from(value).ok().and_then(|i| Self::ALL.get(i).copied()).unwrap_or(Self::Unknown)
    }

    /// The specification's name, e.g. `UNAVAILABLE`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Cancelled => "CANCELLED",
            Self::Unknown => "UNKNOWN",
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Self::FailedPrecondition => "FAILED_PRECONDITION",
            Self::Aborted => "ABORTED",
            Self::OutOfRange => "OUT_OF_RANGE",
            Self::Unimplemented => "UNIMPLEMENTED",
            Self::Internal => "INTERNAL",
            Self::Unavailable => "UNAVAILABLE",
            Self::DataLoss => "DATA_LOSS",
            Self::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// The status in a header map (`grpc-status`), if present and numeric.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(GRPC_STATUS)?.to_str().ok()?;
        value.trim().parse::<i32>().ok().map(Self::from_i32)
    }
}

/// A call's status that arrived in its trailers, after the response headers:
/// the call was committed (it is not retried), but its outcome still counts.
/// throughline-tonic's `UnaryStatusLayer` puts it in the response's
/// extensions for the unary calls it reads whole, where a classifier that
/// looks only at the headers at the time of the response would miss it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrailersStatus(pub GrpcCode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_numbers_are_unknown() {
        for code in GrpcCode::ALL {
            assert_eq!(GrpcCode::from_i32(code as i32), code);
        }
        assert_eq!(GrpcCode::from_i32(99), GrpcCode::Unknown);
        assert_eq!(GrpcCode::from_i32(-1), GrpcCode::Unknown);
    }

    #[test]
    fn the_status_is_read_from_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(GrpcCode::from_headers(&headers), None);
        headers.insert(GRPC_STATUS, http::HeaderValue::from_static("14"));
        assert_eq!(GrpcCode::from_headers(&headers), Some(GrpcCode::Unavailable));
        assert_eq!(GrpcCode::Unavailable.as_str(), "UNAVAILABLE");
    }
}
