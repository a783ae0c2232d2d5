//! AWS X-Ray propagation: the `X-Amzn-Trace-Id` header that AWS load
//! balancers, API Gateway and Lambda add and read.
//!
//! ```text
//! X-Amzn-Trace-Id: Root=1-{8 hex epoch}-{24 hex};Parent={16 hex};Sampled={0|1|?}
//! ```
//!
//! The trace id of the W3C and OpenTelemetry world is the root's two hex
//! parts joined: `1-5759e988-bd862e3fe1be46a994272793` is the trace id
//! `5759e988bd862e3fe1be46a994272793`, and back.

use std::fmt;

use crate::hex;
use crate::ids::{IdError, SpanId, TraceFlags, TraceId};
use crate::ows::trim_ows;
use crate::traceparent::TraceParent;

/// The sampling decision an X-Ray header carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XRaySampling {
    /// `Sampled=0`: not recorded.
    Deny,
    /// `Sampled=1`: recorded.
    Accept,
    /// `Sampled=?`: the caller asks the receiver to decide.
    Requested,
}

/// A parsed `X-Amzn-Trace-Id` header.
///
/// The value is a `;`-separated list of `key=value` fields in any order,
/// each with optional whitespace around it; one `;` may end the list.
/// `Root` is required and must be `1-{8 lowercase hex}-{24 lowercase hex}`,
/// not all zeros. `Parent`, when present, is 16 lowercase hex digits, not
/// zero; `Sampled`, when present, is `0`, `1` or `?`. Keys are case-sensitive,
/// and none of these three may repeat. Every other field (`Self`, `Lineage`,
/// and whatever AWS adds) must be a `key=value` pair and is ignored. Parsing
/// never allocates.
///
/// A header without `Parent`, which a load balancer sends when it starts the
/// trace, names no span to continue: [`XRay::trace_parent`] is `None`, as with
/// OpenTelemetry's X-Ray propagators.
///
/// ```
/// use throughline_propagation::{XRay, XRaySampling};
///
/// let xray = XRay::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")?;
/// assert_eq!(xray.trace_id.to_string(), "5759e988bd862e3fe1be46a994272793");
/// assert_eq!(xray.sampling, Some(XRaySampling::Accept));
/// assert!(xray.trace_parent().unwrap().flags().is_sampled());
///
/// let from_a_load_balancer = XRay::parse("Self=1-67891234-12456789abcdef012345678;Root=1-67891233-abcdef012345678912345678")?;
/// assert!(from_a_load_balancer.trace_parent().is_none());
/// # Ok::<(), throughline_propagation::XRayError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct XRay {
    /// The `Root`, as a 128-bit trace id: epoch and unique part.
    pub trace_id: TraceId,
    /// The caller's segment (span) id, when sent.
    pub parent_id: Option<SpanId>,
    /// The decision, when sent.
    pub sampling: Option<XRaySampling>,
}

impl XRay {
    /// Parses one `X-Amzn-Trace-Id` value.
    pub fn parse(value: impl AsRef<[u8]>) -> Result<Self, XRayError> {
        let mut value = trim_ows(value.as_ref());
        if let Some(rest) = value.strip_suffix(b";") {
            value = trim_ows(rest);
        }
        if value.is_empty() {
            return Err(XRayError::Empty);
        }
        let (mut root, mut parent, mut sampled) = (None, None, None);
        for field in value.split(|&b| b == b';') {
            let field = trim_ows(field);
            let eq = field.iter().position(|&b| b == b'=').ok_or(XRayError::MalformedField)?;
            let (key, value) = (&field[..eq], &field[eq + 1..]);
            let slot = match key {
                b"Root" => &mut root,
                b"Parent" => &mut parent,
                b"Sampled" => &mut sampled,
                b"" => return Err(XRayError::MalformedField),
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(XRayError::DuplicateField);
            }
        }
        let trace_id = parse_root(root.ok_or(XRayError::MissingRoot)?)?;
        let parent_id = parent.map(|id| SpanId::from_hex(id).map_err(XRayError::ParentId)).transpose()?;
        let sampling = sampled
            .map(|sampled| match sampled {
                b"0" => Ok(XRaySampling::Deny),
                b"1" => Ok(XRaySampling::Accept),
                b"?" => Ok(XRaySampling::Requested),
                _ => Err(XRayError::InvalidSampling),
            })
            .transpose()?;
        Ok(Self { trace_id, parent_id, sampling })
    }

    /// Reads the `X-Amzn-Trace-Id` from every line a carrier holds:
    /// `Ok(None)` when there is none, an error when there is more than one.
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Result<Option<Self>, XRayError> {
        let mut lines = lines.into_iter();
        let Some(first) = lines.next() else { return Ok(None) };
        if lines.next().is_some() {
            return Err(XRayError::Duplicate);
        }
        Self::parse(first).map(Some)
    }

    /// The position to continue, when the header names a parent: `sampled`
    /// for `Sampled=1` only (`?` and an absent decision leave it to this
    /// service's sampler, like B3's deferred decision). X-Ray has no W3C
    /// `random` flag.
    pub fn trace_parent(&self) -> Option<TraceParent> {
        let sampled = self.sampling == Some(XRaySampling::Accept);
        Some(TraceParent::new(self.trace_id, self.parent_id?, TraceFlags::NONE.with_sampled(sampled)))
    }
}

/// `1-{8 hex}-{24 hex}`, as a trace id.
fn parse_root(root: &[u8]) -> Result<TraceId, XRayError> {
    let Some(root) = root.strip_prefix(b"1-") else {
        return Err(if root.first().is_some_and(u8::is_ascii_digit) && root.get(1) == Some(&b'-') {
            XRayError::RootVersion
        } else {
            XRayError::RootFormat
        });
    };
    if root.len() != 8 + 1 + 24 || root[8] != b'-' {
        return Err(XRayError::RootFormat);
    }
    let mut digits = [0u8; 32];
    digits[..8].copy_from_slice(&root[..8]);
    digits[8..].copy_from_slice(&root[9..]);
    TraceId::from_hex(digits).map_err(|error| match error {
        // Point at the byte in the root value, past `1-` and the inner `-`.
        IdError::Character { position } => {
            XRayError::TraceId(IdError::Character { position: position + if position < 8 { 2 } else { 3 } })
        }
        other => XRayError::TraceId(other),
    })
}

/// Length of an `X-Amzn-Trace-Id` written by [`encode`]:
/// `Root=1-{8}-{24};Parent={16};Sampled={1}`.
pub const XRAY_LEN: usize = ROOT.len() + 8 + 1 + 24 + PARENT.len() + 16 + SAMPLED.len() + 1;

const ROOT: &[u8] = b"Root=1-";
const PARENT: &[u8] = b";Parent=";
const SAMPLED: &[u8] = b";Sampled=";

/// Encodes `parent` as an `X-Amzn-Trace-Id` value,
/// `Root=1-{8}-{24};Parent={16};Sampled={0|1}`: the trace id's first 8 hex
/// digits are the root's epoch, the other 24 its unique part. Never
/// allocates.
///
/// X-Ray's backend expects the epoch to be the trace's start time; a trace id
/// drawn at random (W3C, OpenTelemetry) still travels through X-Ray headers
/// intact, as with OpenTelemetry's X-Ray propagators. Fields other than
/// `Root`, `Parent` and `Sampled` (`Lineage`) are not sent on.
///
/// ```
/// use throughline_propagation::{TraceParent, encode_xray};
///
/// let parent: TraceParent = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01".parse()?;
/// assert_eq!(
///     &encode_xray(&parent),
///     b"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
/// );
/// # Ok::<(), throughline_propagation::TraceParentError>(())
/// ```
pub fn encode(parent: &TraceParent) -> [u8; XRAY_LEN] {
    let mut out = [0u8; XRAY_LEN];
    let mut trace_id = [0u8; 32];
    parent.trace_id().encode_hex(&mut trace_id);
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        out[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(ROOT);
    put(&trace_id[..8]);
    put(b"-");
    put(&trace_id[8..]);
    put(PARENT);
    let mut parent_id = [0u8; 16];
    hex::encode(&parent.parent_id().to_bytes(), &mut parent_id);
    put(&parent_id);
    put(SAMPLED);
    put(if parent.flags().is_sampled() { b"1" } else { b"0" });
    out
}

/// Why an `X-Amzn-Trace-Id` was rejected. Every case starts a new trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum XRayError {
    /// The value is empty or only whitespace.
    Empty,
    /// The carrier holds more than one `X-Amzn-Trace-Id`.
    Duplicate,
    /// A field is empty, has no `=`, or has an empty key.
    MalformedField,
    /// `Root`, `Parent` or `Sampled` appears twice.
    DuplicateField,
    /// There is no `Root`.
    MissingRoot,
    /// The root's version is not `1`.
    RootVersion,
    /// The root is not `1-{8 hex digits}-{24 hex digits}`.
    RootFormat,
    /// The root's digits are not lowercase hex, or are all zeros.
    TraceId(IdError),
    /// `Parent` is not 16 lowercase hex digits, or is all zeros.
    ParentId(IdError),
    /// `Sampled` is not `0`, `1` or `?`.
    InvalidSampling,
}

impl fmt::Display for XRayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid X-Amzn-Trace-Id: ")?;
        match self {
            Self::Empty => f.write_str("the value is empty"),
            Self::Duplicate => f.write_str("more than one X-Amzn-Trace-Id header"),
            Self::MalformedField => f.write_str("a field is not key=value"),
            Self::DuplicateField => f.write_str("Root, Parent or Sampled appears twice"),
            Self::MissingRoot => f.write_str("there is no Root"),
            Self::RootVersion => f.write_str("the Root version is not 1"),
            Self::RootFormat => f.write_str("the Root is not 1-{8 hex digits}-{24 hex digits}"),
            Self::TraceId(e) => write!(f, "Root: {e}"),
            Self::ParentId(e) => write!(f, "Parent: {e}"),
            Self::InvalidSampling => f.write_str("Sampled is not 0, 1 or ?"),
        }
    }
}

impl std::error::Error for XRayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::TraceId(e) | Self::ParentId(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_errors_point_into_the_root() {
        assert_eq!(
            parse_root(b"1-5759e98G-bd862e3fe1be46a994272793"),
            Err(XRayError::TraceId(IdError::Character { position: 9 }))
        );
        assert_eq!(
            parse_root(b"1-5759e988-bd862e3fe1be46a99427279G"),
            Err(XRayError::TraceId(IdError::Character { position: 34 }))
        );
        assert_eq!(parse_root(b"2-5759e988-bd862e3fe1be46a994272793"), Err(XRayError::RootVersion));
        assert_eq!(parse_root(b"1-5759e988bd862e3fe1be46a994272793"), Err(XRayError::RootFormat));
    }

    #[test]
    fn encodes_every_byte() {
        assert_eq!(XRAY_LEN, 74);
        let parent = TraceParent::parse("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00").unwrap();
        assert_eq!(
            &encode(&parent),
            b"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
        );
    }
}
