//! The W3C `traceparent` header: who called, in which trace, with which flags.

use std::fmt;
use std::str::FromStr;

use crate::hex;
use crate::ids::{SpanId, TraceFlags, TraceId};
use crate::ows::trim_ows;

/// Length of an encoded version-00 `traceparent`: `vv-<32>-<16>-ff`.
pub const TRACEPARENT_LEN: usize = 55;

// Offsets of the fields in the version-00 layout, which every version shares.
const TRACE_ID: std::ops::Range<usize> = 3..35;
const PARENT_ID: std::ops::Range<usize> = 36..52;
const FLAGS: std::ops::Range<usize> = 53..55;

/// A parsed `traceparent`: the trace id, the caller's span id and the flags.
///
/// Parsing follows every MUST of W3C Trace Context (Level 2): lowercase hex
/// only, exact field lengths, version `ff` rejected, all-zero ids rejected,
/// unknown higher versions read by the version-00 prefix rules, and the
/// optional whitespace HTTP allows around a field value ignored. Neither
/// parsing nor encoding allocates.
///
/// ```
/// use throughline_propagation::{SpanId, TraceParent};
///
/// let parent = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")?;
/// assert!(parent.flags().is_sampled());
///
/// // The header for an outgoing call: same trace, our span as the parent.
/// let child = parent.with_parent_id(SpanId::random());
/// assert_eq!(child.trace_id(), parent.trace_id());
/// assert_eq!(child.encode().len(), 55);
/// # Ok::<(), throughline_propagation::TraceParentError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    version: u8,
    trace_id: TraceId,
    parent_id: SpanId,
    flags: TraceFlags,
}

impl TraceParent {
    /// A version-00 `traceparent`.
    pub const fn new(trace_id: TraceId, parent_id: SpanId, flags: TraceFlags) -> Self {
        Self { version: 0, trace_id, parent_id, flags }
    }

    /// A new trace: random ids and the `random` flag, plus `sampled` if asked.
    pub fn new_trace(sampled: bool) -> Self {
        Self::new(TraceId::random(), SpanId::random(), TraceFlags::RANDOM.with_sampled(sampled))
    }

    /// Parses one `traceparent` field value.
    pub fn parse(value: impl AsRef<[u8]>) -> Result<Self, TraceParentError> {
        parse(trim_ows(value.as_ref()))
    }

    /// Reads the `traceparent` from every line of the header a carrier holds.
    ///
    /// `Ok(None)` when there is none. More than one line is an error: the spec
    /// gives no way to choose between two parents, so the trace restarts.
    pub fn from_lines<'a>(
        lines: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Option<Self>, TraceParentError> {
        let mut lines = lines.into_iter();
        let Some(first) = lines.next() else { return Ok(None) };
        if lines.next().is_some() {
            return Err(TraceParentError::Duplicate);
        }
        Self::parse(first).map(Some)
    }

    /// The version that was received. Encoding always writes `00`, the highest
    /// version this implementation knows, as the spec requires.
    pub const fn version(&self) -> u8 {
        self.version
    }

    /// The trace id.
    pub const fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The caller's span id (`parent-id`).
    pub const fn parent_id(&self) -> SpanId {
        self.parent_id
    }

    /// The flags, reserved bits included as received.
    pub const fn flags(&self) -> TraceFlags {
        self.flags
    }

    /// The same trace with another parent: what a service sends downstream.
    pub const fn with_parent_id(self, parent_id: SpanId) -> Self {
        Self { version: 0, parent_id, ..self }
    }

    /// The same position with other flags.
    pub const fn with_flags(self, flags: TraceFlags) -> Self {
        Self { flags, ..self }
    }

    /// Encodes as version 00 with only the known flags, into a stack buffer.
    pub fn encode(&self) -> EncodedTraceParent {
        let mut out = [b'-'; TRACEPARENT_LEN];
        out[0] = b'0';
        out[1] = b'0';
        hex::encode(&self.trace_id.to_bytes(), &mut out[TRACE_ID]);
        hex::encode(&self.parent_id.to_bytes(), &mut out[PARENT_ID]);
        hex::encode(&[self.flags.known().bits()], &mut out[FLAGS]);
        EncodedTraceParent(out)
    }
}

fn parse(s: &[u8]) -> Result<TraceParent, TraceParentError> {
    if s.is_empty() {
        return Err(TraceParentError::Empty);
    }
    // "When the version prefix cannot be parsed (it's not 2 hex characters
    // followed by a dash), the implementation should restart the trace."
    if s.get(2) != Some(&b'-') {
        return Err(TraceParentError::InvalidVersion);
    }
    let version = hex::decode_byte(&[s[0], s[1]]).ok_or(TraceParentError::InvalidVersion)?;
    if version == 0xff {
        return Err(TraceParentError::ForbiddenVersion);
    }
    let layout_ok = match (version, s.len()) {
        (_, len) if len < TRACEPARENT_LEN => false,
        (0, len) => len == TRACEPARENT_LEN,
        // A higher version may append fields, each introduced by a dash.
        (_, len) => len == TRACEPARENT_LEN || s[TRACEPARENT_LEN] == b'-',
    };
    if !layout_ok || s[TRACE_ID.end] != b'-' || s[PARENT_ID.end] != b'-' {
        return Err(diagnose_layout(version, s));
    }

    let field = |field: Field| &s[field.range()];
    let trace_id = field(Field::TraceId).first_chunk().and_then(hex::decode_u128);
    let parent_id = field(Field::ParentId).first_chunk().and_then(hex::decode_u64);
    let flags = field(Field::TraceFlags).first_chunk().and_then(hex::decode_byte);
    let (Some(trace_id), Some(parent_id), Some(flags)) = (trace_id, parent_id, flags) else {
        let invalid = [Field::TraceId, Field::ParentId, Field::TraceFlags]
            .into_iter()
            .find(|&f| field(f).iter().any(|&b| !hex::is_digit(b)))
            .unwrap_or(Field::TraceId);
        return Err(TraceParentError::InvalidCharacter {
            field: invalid,
            position: invalid.range().start + hex::first_invalid(field(invalid)),
        });
    };

    Ok(TraceParent {
        version,
        trace_id: TraceId::from_int(trace_id).ok_or(TraceParentError::ZeroTraceId)?,
        parent_id: SpanId::from_int(parent_id).ok_or(TraceParentError::ZeroParentId)?,
        flags: TraceFlags::new(flags),
    })
}

/// Names the field whose length is wrong. Only runs on invalid input, so the
/// fast path above can check fixed offsets and stay branch-light.
fn diagnose_layout(version: u8, s: &[u8]) -> TraceParentError {
    let mut fields = s[3..].splitn(4, |&b| b == b'-');
    for (field, expected) in [(Field::TraceId, 32), (Field::ParentId, 16), (Field::TraceFlags, 2)] {
        match fields.next() {
            Some(value) if value.len() == expected => {}
            Some(value) => {
                return TraceParentError::FieldLength { field, expected, found: value.len() };
            }
            None => return TraceParentError::FieldLength { field, expected, found: 0 },
        }
    }
    TraceParentError::TrailingData { version }
}

impl FromStr for TraceParent {
    type Err = TraceParentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode().as_str())
    }
}

impl fmt::Debug for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceParent")
            .field("version", &self.version)
            .field("trace_id", &self.trace_id)
            .field("parent_id", &self.parent_id)
            .field("flags", &self.flags)
            .finish()
    }
}

/// An encoded `traceparent`, on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EncodedTraceParent([u8; TRACEPARENT_LEN]);

impl EncodedTraceParent {
    /// The header value.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits, letters and dashes are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The header value's bytes.
    pub fn as_bytes(&self) -> &[u8; TRACEPARENT_LEN] {
        &self.0
    }
}

impl std::ops::Deref for EncodedTraceParent {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for EncodedTraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for EncodedTraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field of the `traceparent` header, named in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `trace-id`: 32 lowercase hex digits.
    TraceId,
    /// `parent-id`: 16 lowercase hex digits.
    ParentId,
    /// `trace-flags`: 2 lowercase hex digits.
    TraceFlags,
}

impl Field {
    const fn range(self) -> std::ops::Range<usize> {
        match self {
            Self::TraceId => TRACE_ID,
            Self::ParentId => PARENT_ID,
            Self::TraceFlags => FLAGS,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TraceId => "trace-id",
            Self::ParentId => "parent-id",
            Self::TraceFlags => "trace-flags",
        })
    }
}

/// Why a `traceparent` was rejected. Every case restarts the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceParentError {
    /// The value is empty or only whitespace.
    Empty,
    /// The carrier holds more than one `traceparent`.
    Duplicate,
    /// The value does not start with two lowercase hex digits and a dash.
    InvalidVersion,
    /// Version `ff` is forbidden.
    ForbiddenVersion,
    /// A field has the wrong number of characters.
    FieldLength {
        /// The field.
        field: Field,
        /// Characters the field needs.
        expected: usize,
        /// Characters found.
        found: usize,
    },
    /// A field holds a byte that is not a lowercase hex digit.
    InvalidCharacter {
        /// The field.
        field: Field,
        /// Offset of the byte in the trimmed value.
        position: usize,
    },
    /// Something follows the flags: never allowed in version 00, and only after
    /// a dash in higher versions.
    TrailingData {
        /// The version that was received.
        version: u8,
    },
    /// The trace id is all zeros.
    ZeroTraceId,
    /// The parent id is all zeros.
    ZeroParentId,
}

impl fmt::Display for TraceParentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid traceparent: ")?;
        match self {
            Self::Empty => f.write_str("the value is empty"),
            Self::Duplicate => f.write_str("more than one traceparent header"),
            Self::InvalidVersion => {
                f.write_str("the version is not two lowercase hex digits followed by '-'")
            }
            Self::ForbiddenVersion => f.write_str("version ff is forbidden"),
            Self::FieldLength { field, expected, found } => {
                write!(f, "{field} must be {expected} lowercase hex digits, found {found} characters")
            }
            Self::InvalidCharacter { field, position } => {
                write!(f, "{field} has a character that is not a lowercase hex digit at byte {position}")
            }
            Self::TrailingData { version: 0 } => f.write_str("version 00 allows nothing after trace-flags"),
            Self::TrailingData { version } => {
                write!(f, "version {version:02x} allows more fields only after a '-' following trace-flags")
            }
            Self::ZeroTraceId => f.write_str("trace-id is all zeros"),
            Self::ZeroParentId => f.write_str("parent-id is all zeros"),
        }
    }
}

impl std::error::Error for TraceParentError {}
