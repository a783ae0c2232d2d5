//! Jaeger propagation: the `uber-trace-id` header and `uberctx-{key}` baggage,
//! for services still instrumented with Jaeger clients.
//!
//! The format is the one the Jaeger client libraries document
//! (jaegertracing.io, "Propagation Format") and OpenTelemetry's `jaeger`
//! propagators speak:
//!
//! ```text
//! uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}
//! uberctx-{key}: {percent-encoded value}
//! ```

use std::fmt;

use crate::baggage::{BaggageError, BaggageMember};
use crate::hex;
use crate::ids::{SpanId, TraceFlags, TraceId};
use crate::ows::trim_ows;
use crate::percent;
use crate::traceparent::TraceParent;

/// The prefix of a Jaeger baggage header: `uberctx-{key}`.
pub const UBERCTX_PREFIX: &str = "uberctx-";

/// The Jaeger `{flags}` byte.
///
/// Bit 1 (`0x01`) is `sampled`, bit 2 (`0x02`) `debug` (meaningful only with
/// `sampled`), bit 4 (`0x08`) `firehose`; the other bits are unused.
///
/// ```
/// use throughline_propagation::JaegerFlags;
///
/// let flags = JaegerFlags::new(0x03);
/// assert!(flags.is_sampled() && flags.is_debug() && !flags.is_firehose());
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct JaegerFlags(u8);

impl JaegerFlags {
    /// The trace is sampled.
    pub const SAMPLED: u8 = 0x01;
    /// The trace is a debug trace (set only together with `sampled`).
    pub const DEBUG: u8 = 0x02;
    /// The spans are not indexed by the backend.
    pub const FIREHOSE: u8 = 0x08;

    /// Flags from raw bits.
    pub const fn new(bits: u8) -> Self {
        Self(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether the `sampled` bit is set.
    pub const fn is_sampled(self) -> bool {
        self.0 & Self::SAMPLED != 0
    }

    /// Whether the `debug` bit is set.
    pub const fn is_debug(self) -> bool {
        self.0 & Self::DEBUG != 0
    }

    /// Whether the `firehose` bit is set.
    pub const fn is_firehose(self) -> bool {
        self.0 & Self::FIREHOSE != 0
    }
}

impl fmt::Debug for JaegerFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JaegerFlags({:02x})", self.0)
    }
}

/// A parsed `uber-trace-id` header.
///
/// Parsing is strict to the Jaeger client specification and never allocates:
///
/// - exactly four fields separated by `:`, or all by `%3A` (either case),
///   the form some clients send after URL-encoding the whole value; the two
///   separators are never mixed;
/// - `{trace-id}`: 1 to 32 hex digits, left-padded with zeros to 128 bits; not zero;
/// - `{span-id}`: 1 to 16 hex digits, left-padded; not zero;
/// - `{parent-span-id}`: 1 to 16 hex digits, `0` meaning none. It is
///   deprecated and ignored when continuing the trace, but still checked;
/// - `{flags}`: one or two hex digits.
///
/// Hex digits may be upper or lower case (the specification says "base16"
/// without a case, and the Jaeger clients read both); encoding writes
/// lowercase. Optional whitespace around the value is ignored.
///
/// The `jaeger-debug-id` and `jaeger-baggage` headers, which some Jaeger
/// clients also read, are not part of the propagation format and are not read.
///
/// ```
/// use throughline_propagation::Jaeger;
///
/// let jaeger = Jaeger::parse("4d0000000000000016:17c29:0:1")?;
/// assert_eq!(jaeger.trace_id.to_string(), "000000000000004d0000000000000016");
/// assert_eq!(jaeger.span_id.to_string(), "0000000000017c29");
/// assert!(jaeger.flags.is_sampled());
/// assert_eq!(Jaeger::parse("4d0000000000000016%3A17c29%3A0%3A1")?, jaeger);
/// # Ok::<(), throughline_propagation::JaegerError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Jaeger {
    /// The trace id; a shorter id is padded on the left with zeros.
    pub trace_id: TraceId,
    /// The caller's span id.
    pub span_id: SpanId,
    /// The caller's parent span, `None` for `0` (a root span, or not sent).
    pub parent_span_id: Option<SpanId>,
    /// The flags.
    pub flags: JaegerFlags,
}

impl Jaeger {
    /// Parses one `uber-trace-id` value.
    pub fn parse(value: impl AsRef<[u8]>) -> Result<Self, JaegerError> {
        let value = trim_ows(value.as_ref());
        if value.is_empty() {
            return Err(JaegerError::Empty);
        }
        let [trace_id, span_id, parent_span_id, flags] = split_fields(value)?;
        let trace_id = TraceId::from_int(parse_hex(trace_id, 32).map_err(JaegerError::TraceId)?)
            .ok_or(JaegerError::TraceId(JaegerIdError::AllZero))?;
        let span_id = SpanId::from_int(parse_hex(span_id, 16).map_err(JaegerError::SpanId)? as u64)
            .ok_or(JaegerError::SpanId(JaegerIdError::AllZero))?;
        let parent_span_id =
            SpanId::from_int(parse_hex(parent_span_id, 16).map_err(JaegerError::ParentSpanId)? as u64);
        let flags = JaegerFlags::new(parse_hex(flags, 2).map_err(|_| JaegerError::InvalidFlags)? as u8);
        Ok(Self { trace_id, span_id, parent_span_id, flags })
    }

    /// Reads the `uber-trace-id` from every line a carrier holds: `Ok(None)`
    /// when there is none, an error when there is more than one.
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Result<Option<Self>, JaegerError> {
        let mut lines = lines.into_iter();
        let Some(first) = lines.next() else { return Ok(None) };
        if lines.next().is_some() {
            return Err(JaegerError::Duplicate);
        }
        Self::parse(first).map(Some)
    }

    /// The position to continue: `sampled` when the `sampled` bit is set
    /// (`debug` alone does not sample, as in the Jaeger clients). Jaeger has
    /// no W3C `random` flag, and `debug` has no W3C equivalent.
    pub fn trace_parent(&self) -> TraceParent {
        TraceParent::new(self.trace_id, self.span_id, TraceFlags::NONE.with_sampled(self.flags.is_sampled()))
    }
}

/// Length of an `uber-trace-id` written by [`encode`]:
/// `{32}:{16}:0:{2}`.
pub const JAEGER_LEN: usize = 32 + 1 + 16 + 1 + 1 + 1 + 2;

/// Encodes `parent` as an `uber-trace-id` value,
/// `{trace-id}:{span-id}:0:{flags}`: the full 32-digit trace id, the
/// deprecated parent span id as `0`, and the flags as two digits, `01` when
/// sampled and `00` otherwise. Never allocates.
///
/// A received `debug` or `firehose` bit is not sent on: a [`TraceParent`]
/// has no place for it, and the W3C `random` flag is not Jaeger's `debug`.
///
/// ```
/// use throughline_propagation::{TraceParent, encode_jaeger};
///
/// let parent: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".parse()?;
/// assert_eq!(&encode_jaeger(&parent), b"4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:01");
/// # Ok::<(), throughline_propagation::TraceParentError>(())
/// ```
pub fn encode(parent: &TraceParent) -> [u8; JAEGER_LEN] {
    let mut out = [b':'; JAEGER_LEN];
    hex::encode(&parent.trace_id().to_bytes(), &mut out[..32]);
    hex::encode(&parent.parent_id().to_bytes(), &mut out[33..49]);
    out[50] = b'0';
    out[52] = b'0';
    out[53] = if parent.flags().is_sampled() { b'1' } else { b'0' };
    out
}

/// The four fields, split on `:` or, when the value holds no `:`, on `%3A`.
fn split_fields(value: &[u8]) -> Result<[&[u8]; 4], JaegerError> {
    let encoded = !value.contains(&b':');
    let mut fields: [&[u8]; 4] = [&[]; 4];
    let mut found = 0;
    let mut rest = value;
    loop {
        let separator = if encoded {
            rest.windows(3).position(|w| w[0] == b'%' && w[1] == b'3' && (w[2] | 0x20) == b'a')
        } else {
            rest.iter().position(|&b| b == b':')
        };
        let (field, next) = match separator {
            Some(at) => (&rest[..at], Some(&rest[at + if encoded { 3 } else { 1 }..])),
            None => (rest, None),
        };
        if found < 4 {
            fields[found] = field;
        }
        found += 1;
        match next {
            Some(next) => rest = next,
            None => break,
        }
    }
    if found == 4 { Ok(fields) } else { Err(JaegerError::FieldCount { found }) }
}

/// Reads 1 to `max` hex digits of either case.
fn parse_hex(digits: &[u8], max: usize) -> Result<u128, JaegerIdError> {
    if digits.is_empty() || digits.len() > max {
        return Err(JaegerIdError::Length { max, found: digits.len() });
    }
    let mut value = 0u128;
    for (position, &byte) in digits.iter().enumerate() {
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'f' => byte - b'a' + 10,
            b'A'..=b'F' => byte - b'A' + 10,
            _ => return Err(JaegerIdError::Character { position }),
        };
        value = value << 4 | u128::from(digit);
    }
    Ok(value)
}

/// The baggage member a `uberctx-{key}` header carries: the key is the rest
/// of the header name, the value is percent-decoded (invalid UTF-8 becomes
/// U+FFFD). A value with a control character other than a tab is refused.
pub(crate) fn baggage_member(name: &str, value: &[u8], index: usize) -> Result<BaggageMember, BaggageError> {
    let key = name.get(UBERCTX_PREFIX.len()..).unwrap_or_default();
    let value = trim_ows(value);
    if value.iter().any(|&b| (b.is_ascii_control() && b != b'\t') || b == 0x7f) {
        return Err(BaggageError::InvalidValue { index });
    }
    BaggageMember::new(key, percent::decode(value)).map_err(|error| error.at(index))
}

/// Why an `uber-trace-id` was rejected. Every case starts a new trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JaegerError {
    /// The value is empty or only whitespace.
    Empty,
    /// The carrier holds more than one `uber-trace-id`.
    Duplicate,
    /// The value does not have exactly four fields.
    FieldCount {
        /// The number of fields found.
        found: usize,
    },
    /// The trace id is not 1 to 32 hex digits, or is zero.
    TraceId(JaegerIdError),
    /// The span id is not 1 to 16 hex digits, or is zero.
    SpanId(JaegerIdError),
    /// The parent span id is not 1 to 16 hex digits.
    ParentSpanId(JaegerIdError),
    /// The flags are not one or two hex digits.
    InvalidFlags,
}

/// What is wrong with an identifier in an `uber-trace-id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JaegerIdError {
    /// Empty, or more digits than the identifier holds.
    Length {
        /// The most digits allowed.
        max: usize,
        /// Bytes found.
        found: usize,
    },
    /// A byte is not a hex digit.
    Character {
        /// Offset of the byte in the field.
        position: usize,
    },
    /// The identifier is zero.
    AllZero,
}

impl fmt::Display for JaegerIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { max, found } => write!(f, "expected 1 to {max} hex digits, found {found} bytes"),
            Self::Character { position } => write!(f, "byte {position} is not a hex digit"),
            Self::AllZero => f.write_str("a zero identifier is invalid"),
        }
    }
}

impl std::error::Error for JaegerIdError {}

impl fmt::Display for JaegerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid uber-trace-id: ")?;
        match self {
            Self::Empty => f.write_str("the value is empty"),
            Self::Duplicate => f.write_str("more than one uber-trace-id header"),
            Self::FieldCount { found } => write!(f, "expected 4 fields separated by ':', found {found}"),
            Self::TraceId(e) => write!(f, "trace id: {e}"),
            Self::SpanId(e) => write!(f, "span id: {e}"),
            Self::ParentSpanId(e) => write!(f, "parent span id: {e}"),
            Self::InvalidFlags => f.write_str("the flags are not one or two hex digits"),
        }
    }
}

impl std::error::Error for JaegerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::TraceId(e) | Self::SpanId(e) | Self::ParentSpanId(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_colons_or_on_encoded_colons_never_both() {
        assert_eq!(split_fields(b"a:b:c:d"), Ok([&b"a"[..], b"b", b"c", b"d"]));
        assert_eq!(split_fields(b"a%3Ab%3ac%3Ad"), Ok([&b"a"[..], b"b", b"c", b"d"]));
        // A value with a `:` is split on `:` only.
        assert_eq!(split_fields(b"a%3Ab:c:d"), Err(JaegerError::FieldCount { found: 3 }));
        assert_eq!(split_fields(b"a:b:c:d:"), Err(JaegerError::FieldCount { found: 5 }));
        assert_eq!(split_fields(b"abcd"), Err(JaegerError::FieldCount { found: 1 }));
    }

    #[test]
    fn reads_hex_of_either_case_up_to_the_limit() {
        assert_eq!(parse_hex(b"aB", 2), Ok(0xab));
        assert_eq!(parse_hex(b"", 2), Err(JaegerIdError::Length { max: 2, found: 0 }));
        assert_eq!(parse_hex(b"123", 2), Err(JaegerIdError::Length { max: 2, found: 3 }));
        assert_eq!(parse_hex(b"1g", 2), Err(JaegerIdError::Character { position: 1 }));
        assert_eq!(parse_hex(&[b'f'; 32], 32), Ok(u128::MAX));
    }

    #[test]
    fn encodes_a_fixed_length_value() {
        let parent = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
        assert_eq!(&encode(&parent), b"4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:00");
    }
}
