//! B3 propagation (Zipkin), single-header and multi-header, for meshes such as
//! Envoy and Istio that still speak it.

use std::fmt;

use crate::hex;
use crate::ids::{IdError, SpanId, TraceFlags, TraceId};
use crate::ows::trim_ows;
use crate::traceparent::TraceParent;

/// The sampling decision B3 carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum B3Sampling {
    /// `0`: do not record.
    Deny,
    /// `1`: record.
    Accept,
    /// `d`: record, and debug (implies accept).
    Debug,
}

/// What a B3 header carries: a trace position, or only a sampling decision.
///
/// ```
/// use throughline_propagation::{B3, B3Sampling};
///
/// let b3 = B3::parse_single("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90")?;
/// let parent = b3.trace_parent().unwrap();
/// assert!(parent.flags().is_sampled());
/// assert_eq!(B3::parse_single("0")?, B3::SamplingOnly(B3Sampling::Deny));
/// # Ok::<(), throughline_propagation::B3Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum B3 {
    /// Trace and span ids, with an optional decision and parent span.
    Context {
        /// The trace id; a 64-bit id is padded on the left with zeros.
        trace_id: TraceId,
        /// The caller's span id.
        span_id: SpanId,
        /// The decision, when the caller made one.
        sampling: Option<B3Sampling>,
        /// The caller's parent span, when sent.
        parent_span_id: Option<SpanId>,
    },
    /// Only a decision (`b3: 0`), no trace to continue.
    SamplingOnly(B3Sampling),
}

impl B3 {
    /// Parses the single `b3` header:
    /// `{trace-id}-{span-id}[-{sampling}[-{parent-span-id}]]`, or a lone sampling state.
    pub fn parse_single(value: impl AsRef<[u8]>) -> Result<Self, B3Error> {
        let value = trim_ows(value.as_ref());
        if value.is_empty() {
            return Err(B3Error::Empty);
        }
        if value.len() == 1 {
            return Ok(Self::SamplingOnly(parse_sampling(value)?));
        }
        let mut parts = value.split(|&b| b == b'-');
        let trace_id = parse_trace_id(parts.next().unwrap_or_default())?;
        let span_id = parse_span_id(parts.next().ok_or(B3Error::MissingSpanId)?).map_err(B3Error::SpanId)?;
        let sampling = parts.next().map(parse_sampling).transpose()?;
        let parent_span_id =
            parts.next().map(|id| parse_span_id(id).map_err(B3Error::ParentSpanId)).transpose()?;
        if parts.next().is_some() {
            return Err(B3Error::TrailingData);
        }
        Ok(Self::Context { trace_id, span_id, sampling, parent_span_id })
    }

    /// Reads the multi-header form from the values of `X-B3-TraceId`,
    /// `X-B3-SpanId`, `X-B3-ParentSpanId`, `X-B3-Sampled` and `X-B3-Flags`.
    ///
    /// `Ok(None)` when none is present. `X-B3-Sampled` also accepts `true` and
    /// `false`, which older tracers sent; `X-B3-Flags: 1` means debug.
    pub fn from_multi(headers: B3MultiHeaders<'_>) -> Result<Option<Self>, B3Error> {
        let sampling = match (headers.flags.map(trim_ows), headers.sampled.map(trim_ows)) {
            (Some(b"1"), _) => Some(B3Sampling::Debug),
            (_, Some(b"1" | b"true")) => Some(B3Sampling::Accept),
            (_, Some(b"0" | b"false")) => Some(B3Sampling::Deny),
            (_, Some(_)) => return Err(B3Error::InvalidSampling),
            (Some(b"0"), None) | (None, None) => None,
            (Some(_), None) => return Err(B3Error::InvalidSampling),
        };
        let (trace_id, span_id) = match (headers.trace_id, headers.span_id) {
            (None, None) => return Ok(sampling.map(Self::SamplingOnly)),
            (Some(_), None) => return Err(B3Error::MissingSpanId),
            (None, Some(_)) => return Err(B3Error::MissingTraceId),
            (Some(trace_id), Some(span_id)) => (trace_id, span_id),
        };
        Ok(Some(Self::Context {
            trace_id: parse_trace_id(trim_ows(trace_id))?,
            span_id: parse_span_id(trim_ows(span_id)).map_err(B3Error::SpanId)?,
            sampling,
            parent_span_id: headers
                .parent_span_id
                .map(|id| parse_span_id(trim_ows(id)).map_err(B3Error::ParentSpanId))
                .transpose()?,
        }))
    }

    /// The position to continue, for a header that carries one: `sampled` when
    /// the decision was accept or debug. B3 has no `random` flag.
    pub fn trace_parent(&self) -> Option<TraceParent> {
        match *self {
            Self::Context { trace_id, span_id, sampling, .. } => {
                let sampled = matches!(sampling, Some(B3Sampling::Accept | B3Sampling::Debug));
                Some(TraceParent::new(trace_id, span_id, TraceFlags::NONE.with_sampled(sampled)))
            }
            Self::SamplingOnly(_) => None,
        }
    }
}

/// The raw values of the B3 multi-header fields, for [`B3::from_multi`].
#[derive(Clone, Copy, Debug, Default)]
pub struct B3MultiHeaders<'a> {
    /// `X-B3-TraceId`.
    pub trace_id: Option<&'a [u8]>,
    /// `X-B3-SpanId`.
    pub span_id: Option<&'a [u8]>,
    /// `X-B3-ParentSpanId`.
    pub parent_span_id: Option<&'a [u8]>,
    /// `X-B3-Sampled`.
    pub sampled: Option<&'a [u8]>,
    /// `X-B3-Flags`.
    pub flags: Option<&'a [u8]>,
}

/// Length of a single `b3` header written by [`encode_single`]:
/// `{32}-{16}-{1}`.
pub const B3_SINGLE_LEN: usize = 32 + 1 + 16 + 1 + 1;

/// Encodes `parent` as a single `b3` header, `{trace-id}-{span-id}-{0|1}`.
pub fn encode_single(parent: &TraceParent) -> [u8; B3_SINGLE_LEN] {
    let mut out = [b'-'; B3_SINGLE_LEN];
    hex::encode(&parent.trace_id().to_bytes(), &mut out[..32]);
    hex::encode(&parent.parent_id().to_bytes(), &mut out[33..49]);
    out[50] = if parent.flags().is_sampled() { b'1' } else { b'0' };
    out
}

fn parse_sampling(value: &[u8]) -> Result<B3Sampling, B3Error> {
    match value {
        b"0" => Ok(B3Sampling::Deny),
        b"1" => Ok(B3Sampling::Accept),
        b"d" => Ok(B3Sampling::Debug),
        _ => Err(B3Error::InvalidSampling),
    }
}

fn parse_trace_id(value: &[u8]) -> Result<TraceId, B3Error> {
    match value.len() {
        32 => TraceId::from_hex(value).map_err(B3Error::TraceId),
        // A 64-bit id reads exactly like a span id, then widens.
        16 => SpanId::from_hex(value).map(|id| TraceId::from_u64(id.into())).map_err(B3Error::TraceId),
        found => Err(B3Error::TraceId(IdError::Length { expected: 32, found })),
    }
}

fn parse_span_id(value: &[u8]) -> Result<SpanId, IdError> {
    SpanId::from_hex(value)
}

/// Why a B3 header was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum B3Error {
    /// The header is empty.
    Empty,
    /// More than one `b3` header.
    Duplicate,
    /// The trace id is not 16 or 32 lowercase hex digits, or is all zeros.
    TraceId(IdError),
    /// The span id is missing.
    MissingSpanId,
    /// The span id is present without a trace id.
    MissingTraceId,
    /// The span id is not 16 lowercase hex digits, or is all zeros.
    SpanId(IdError),
    /// The parent span id is not 16 lowercase hex digits, or is all zeros.
    ParentSpanId(IdError),
    /// The sampling state is not `0`, `1` or `d` (or `X-B3-Flags` is not `0` or `1`).
    InvalidSampling,
    /// More than four fields.
    TrailingData,
}

impl fmt::Display for B3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid b3: ")?;
        match self {
            Self::Empty => f.write_str("the value is empty"),
            Self::Duplicate => f.write_str("more than one b3 header"),
            Self::TraceId(e) => write!(f, "trace id: {e} (16 or 32 digits)"),
            Self::MissingSpanId => f.write_str("the span id is missing"),
            Self::MissingTraceId => f.write_str("the trace id is missing"),
            Self::SpanId(e) => write!(f, "span id: {e}"),
            Self::ParentSpanId(e) => write!(f, "parent span id: {e}"),
            Self::InvalidSampling => f.write_str("the sampling state is not 0, 1 or d"),
            Self::TrailingData => f.write_str("unexpected data after the parent span id"),
        }
    }
}

impl std::error::Error for B3Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_64_bit_trace_ids() {
        let b3 = B3::parse_single("a3ce929d0e0e4736-00f067aa0ba902b7").unwrap();
        let parent = b3.trace_parent().unwrap();
        assert_eq!(parent.trace_id().to_string(), "0000000000000000a3ce929d0e0e4736");
        assert!(!parent.flags().is_sampled());
    }

    #[test]
    fn encodes_single() {
        let parent = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(&encode_single(&parent), b"4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1");
    }
}
