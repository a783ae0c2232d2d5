//! The receiving side of OTLP/HTTP: one export request's body decoded from
//! protobuf or JSON, gzip-compressed or not, never past a size limit.
//!
//! Two receivers share it: throughline-testing's `OtlpReceiver`, which
//! records what exporters send in tests, and throughline-viewer's collector.
//! It is a crate of its own so that the viewer, a tool a service may embed,
//! does not compile the test-only crate (its in-memory SDK exporters, its
//! certificate generator).
//!
//! ```
//! use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
//! use throughline_otlp_decode::{Format, Limits, decode};
//!
//! let mut headers = http::HeaderMap::new();
//! headers.insert(http::header::CONTENT_TYPE, "application/json".parse().unwrap());
//! let (request, format): (ExportTraceServiceRequest, _) =
//!     decode(&headers, br#"{"resourceSpans":[]}"#, Limits::default()).unwrap();
//! assert_eq!(format, Format::Json);
//! assert!(request.resource_spans.is_empty());
//! ```
//!
//! gRPC needs nothing of this: tonic decodes (and gunzips) the generated
//! `opentelemetry-proto` messages itself.

#![deny(missing_docs)]

use std::io::Read;

use http::{HeaderMap, header};
use prost::Message;
use serde::de::DeserializeOwned;

/// How an OTLP/HTTP body is encoded, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `application/x-protobuf` (and anything that is not JSON, as the
    /// OTLP specification makes protobuf the default).
    Protobuf,
    /// `application/json`.
    Json,
}

impl Format {
    /// The format the request's `Content-Type` names.
    ///
    /// ```
    /// use throughline_otlp_decode::Format;
    ///
    /// let mut headers = http::HeaderMap::new();
    /// assert_eq!(Format::of(&headers), Format::Protobuf);
    /// headers.insert(http::header::CONTENT_TYPE, "application/json; charset=utf-8".parse().unwrap());
    /// assert_eq!(Format::of(&headers), Format::Json);
    /// ```
    pub fn of(headers: &HeaderMap) -> Self {
        let json = headers.get(header::CONTENT_TYPE).is_some_and(|v| {
            v.as_bytes().get(..16).is_some_and(|p| p.eq_ignore_ascii_case(b"application/json"))
        });
        if json { Self::Json } else { Self::Protobuf }
    }

    /// The `Content-Type` of an answer in this format: OTLP/HTTP answers in
    /// the request's encoding.
    ///
    /// ```
    /// assert_eq!(throughline_otlp_decode::Format::Json.content_type(), "application/json");
    /// ```
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }

    /// The body of a full success answer in this format: the empty
    /// `Export*ServiceResponse` `Success` (`{}` in JSON).
    ///
    /// ```
    /// use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    /// use throughline_otlp_decode::Format;
    ///
    /// assert_eq!(Format::Json.success::<ExportTraceServiceResponse>(), b"{}");
    /// assert!(Format::Protobuf.success::<ExportTraceServiceResponse>().is_empty());
    /// ```
    pub fn success<Success: prost::Message + Default>(self) -> Vec<u8> {
        match self {
            Self::Protobuf => Success::default().encode_to_vec(),
            Self::Json => b"{}".to_vec(),
        }
    }
}

/// How large a body may be, before and after gunzipping.
///
/// ```
/// use throughline_otlp_decode::Limits;
///
/// let limits = Limits::default().max_decompressed_bytes(16 << 20);
/// assert_eq!(limits.decompressed(), 16 << 20);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    decompressed: usize,
}

impl Default for Limits {
    /// 32 MiB decompressed: eight times the 4 MiB a collector accepts by
    /// default, room for any exporter's batch, and a cap on a gzip bomb.
    fn default() -> Self {
        Self { decompressed: 32 << 20 }
    }
}

impl Limits {
    /// The largest body accepted once gunzipped (and the largest plain body).
    ///
    /// ```
    /// let limits = throughline_otlp_decode::Limits::default().max_decompressed_bytes(1 << 20);
    /// assert_eq!(limits.decompressed(), 1 << 20);
    /// ```
    pub fn max_decompressed_bytes(mut self, bytes: usize) -> Self {
        self.decompressed = bytes;
        self
    }

    /// The configured decompressed limit.
    pub fn decompressed(&self) -> usize {
        self.decompressed
    }
}

/// Why a body could not be decoded: answered with HTTP 400 (or 413 for
/// [`DecodeError::TooLarge`], 415 for an unknown encoding).
///
/// ```
/// use throughline_otlp_decode::{DecodeError, Limits, decode};
/// use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert(http::header::CONTENT_ENCODING, "br".parse().unwrap());
/// let error = decode::<ExportMetricsServiceRequest>(&headers, b"", Limits::default()).unwrap_err();
/// assert!(matches!(error, DecodeError::Encoding(ref e) if e == "br"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body is larger than the limit, before or after gunzipping.
    #[error("the body is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// `Content-Encoding` is neither `gzip` nor `identity`.
    #[error("unsupported content encoding {0:?}")]
    Encoding(String),
    /// The gzip stream is corrupt.
    #[error("gzip: {0}")]
    Gzip(#[source] std::io::Error),
    /// The protobuf message is malformed.
    #[error("protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// The JSON document is malformed or not an OTLP request.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl DecodeError {
    /// The HTTP status to answer with.
    ///
    /// ```
    /// use throughline_otlp_decode::DecodeError;
    ///
    /// assert_eq!(DecodeError::TooLarge { limit: 1 }.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    /// ```
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::TooLarge { .. } => http::StatusCode::PAYLOAD_TOO_LARGE,
            Self::Encoding(_) => http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => http::StatusCode::BAD_REQUEST,
        }
    }
}

/// Decodes one OTLP/HTTP request body of type `T` (an
/// `Export{Trace,Metrics,Logs}ServiceRequest`) by its headers: gunzipped
/// when `Content-Encoding: gzip`, never past `limits`, then read as
/// protobuf or JSON by [`Format::of`].
pub fn decode<T: Message + Default + DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
    limits: Limits,
) -> Result<(T, Format), DecodeError> {
    let format = Format::of(headers);
    let limit = limits.decompressed;
    if body.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    let mut unzipped = Vec::new();
    let body = match headers.get(header::CONTENT_ENCODING).map(|v| v.as_bytes()) {
        None => body,
        Some(v) if v.eq_ignore_ascii_case(b"identity") => body,
        Some(v) if v.eq_ignore_ascii_case(b"gzip") => {
            // Reading one byte past the limit tells a bomb from a body of exactly the limit.
            let mut decoder = flate2::read::GzDecoder::new(body).take(limit as u64 + 1);
            decoder.read_to_end(&mut unzipped).map_err(DecodeError::Gzip)?;
            if unzipped.len() > limit {
                return Err(DecodeError::TooLarge { limit });
            }
            &unzipped
        }
        Some(other) => return Err(DecodeError::Encoding(String::from_utf8_lossy(other).into_owned())),
    };
    let request = match format {
        Format::Json => serde_json::from_slice(body)?,
        Format::Protobuf => T::decode(body)?,
    };
    Ok((request, format))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    use super::*;

    fn request() -> ExportTraceServiceRequest {
        let span =
            Span { trace_id: vec![1; 16], span_id: vec![2; 8], name: "GET /".into(), ..Default::default() };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans { spans: vec![span], ..Default::default() }],
                ..Default::default()
            }],
        }
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.clone(), v.parse().unwrap())).collect()
    }

    #[test]
    fn protobuf_plain_and_gzipped() {
        let bytes = request().encode_to_vec();
        let (plain, format) =
            decode::<ExportTraceServiceRequest>(&HeaderMap::new(), &bytes, Limits::default()).unwrap();
        assert_eq!((plain, format), (request(), Format::Protobuf));
        let gz = headers(&[(header::CONTENT_ENCODING, "GZIP")]);
        let (unzipped, _) =
            decode::<ExportTraceServiceRequest>(&gz, &gzip(&bytes), Limits::default()).unwrap();
        assert_eq!(unzipped, request());
    }

    #[test]
    fn json_with_hex_ids() {
        let json = serde_json::to_vec(&request()).unwrap();
        assert!(String::from_utf8_lossy(&json).contains("01010101010101010101010101010101"));
        let h = headers(&[(header::CONTENT_TYPE, "application/json")]);
        let (decoded, format) = decode::<ExportTraceServiceRequest>(&h, &json, Limits::default()).unwrap();
        assert_eq!((decoded, format), (request(), Format::Json));
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![0u8; 1 << 20]);
        let gz = headers(&[(header::CONTENT_ENCODING, "gzip")]);
        let limits = Limits::default().max_decompressed_bytes(64 << 10);
        let error = decode::<ExportTraceServiceRequest>(&gz, &bomb, limits).unwrap_err();
        assert!(matches!(error, DecodeError::TooLarge { limit } if limit == 64 << 10));
        assert_eq!(error.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        let limits = Limits::default();
        assert!(decode::<ExportTraceServiceRequest>(&HeaderMap::new(), b"\xff\xff\xff", limits).is_err());
        let json = headers(&[(header::CONTENT_TYPE, "application/json")]);
        assert!(decode::<ExportTraceServiceRequest>(&json, b"{", limits).is_err());
        let gz = headers(&[(header::CONTENT_ENCODING, "gzip")]);
        assert!(matches!(
            decode::<ExportTraceServiceRequest>(&gz, b"not gzip", limits),
            Err(DecodeError::Gzip(_))
        ));
        let br = headers(&[(header::CONTENT_ENCODING, "br")]);
        assert!(matches!(
            decode::<ExportTraceServiceRequest>(&br, b"", limits),
            Err(DecodeError::Encoding(_))
        ));
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
