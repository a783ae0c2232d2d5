//! W3C Baggage: user-defined key/value pairs that travel with a request.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::ows::trim_ows;
use crate::percent;

/// The `baggage` of a request: list-members in order, each a key, a value and
/// optional properties.
///
/// Values, and the values of properties, are percent-decoded when read
/// (invalid UTF-8 becomes U+FFFD) and percent-encoded when written, as the
/// W3C Baggage text of 2025 asks. Keys, of members and of properties, are
/// HTTP tokens and travel as they are.
///
/// # Limits
///
/// A `Baggage` holds at most [`MAX_MEMBERS`](Self::MAX_MEMBERS) (64) members
/// and encodes to at most [`MAX_BYTES`](Self::MAX_BYTES) (8192) bytes: the
/// floor W3C Baggage requires every platform to carry, so whatever this crate
/// accepts, every compliant hop will carry too. When a header goes past a
/// limit, members are kept in order while they fit and the rest are dropped
/// whole, never truncated; each dropped member is reported as an error by
/// [`from_lines`](Self::from_lines). [`insert`](Self::insert) refuses a member
/// that does not fit.
///
/// Duplicate keys are kept in order, as the spec asks; [`get`](Self::get)
/// returns the last one, like a map built from the list would.
///
/// ```
/// use throughline_propagation::Baggage;
///
/// let baggage: Baggage = "userId=alice, serverNode=DF%2028;region=eu".parse()?;
/// assert_eq!(baggage.get("serverNode"), Some("DF 28"));
///
/// let mut outgoing = baggage.clone();
/// outgoing.insert("isProduction", "false")?;
/// assert_eq!(outgoing.to_string(), "userId=alice,serverNode=DF%2028;region=eu,isProduction=false");
/// # Ok::<(), throughline_propagation::BaggageError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Baggage {
    members: Vec<BaggageMember>,
}

/// One baggage list-member: a key, a value, and properties.
///
/// A property is a key, or a key and a value; its value is given and read
/// decoded, and percent-encoded on the wire like the member's value.
///
/// ```
/// use throughline_propagation::{Baggage, BaggageMember};
///
/// let member = BaggageMember::new("serverNode", "DF 28")?.with_property("region", Some("eu west"))?.with_property("stale", None)?;
/// assert_eq!(member.properties_str(), "region=eu%20west;stale");
///
/// let mut baggage = Baggage::new();
/// baggage.insert_member(member)?;
/// let received: Baggage = baggage.to_string().parse()?;
/// let member = received.iter().next().unwrap();
/// let properties: Vec<_> = member.properties().collect();
/// assert_eq!(properties[0], ("region", Some("eu west".into())));
/// assert_eq!(properties[1], ("stale", None));
/// # Ok::<(), throughline_propagation::BaggageError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct BaggageMember {
    key: String,
    value: String,
    /// Canonical properties, `k=v;k2`, without the leading `;`: values
    /// percent-encoded as `percent::encode_into` writes them.
    properties: String,
}

impl Baggage {
    /// The most members a `Baggage` holds.
    pub const MAX_MEMBERS: usize = 64;
    /// The most bytes a `Baggage` encodes to.
    pub const MAX_BYTES: usize = 8192;

    /// An empty baggage. Does not allocate.
    pub const fn new() -> Self {
        Self { members: Vec::new() }
    }

    /// Reads every line of a `baggage` header, keeping each valid member that
    /// fits the limits and returning one error per member dropped.
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> (Self, Vec<BaggageError>) {
        let mut baggage = Self::new();
        let mut errors = Vec::new();
        let mut size = 0;
        let mut index = 0;
        for line in lines {
            for raw in line.split(|&b| b == b',') {
                let raw = trim_ows(raw);
                if raw.is_empty() {
                    continue;
                }
                match BaggageMember::parse(raw, index) {
                    Ok(member) => {
                        let added = member.encoded_len() + usize::from(size > 0);
                        if baggage.members.len() == Self::MAX_MEMBERS {
                            errors.push(BaggageError::TooManyMembers { index });
                        } else if size + added > Self::MAX_BYTES {
                            errors.push(BaggageError::TooLarge { index });
                        } else {
                            size += added;
                            baggage.members.push(member);
                        }
                    }
                    Err(error) => errors.push(error),
                }
                index += 1;
            }
        }
        (baggage, errors)
    }

    /// Parses one header value strictly: the first problem is an error.
    pub fn parse(value: impl AsRef<[u8]>) -> Result<Self, BaggageError> {
        let (baggage, errors) = Self::from_lines([value.as_ref()]);
        match errors.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(baggage),
        }
    }

    /// The value of the last member named `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members.iter().rev().find(|m| m.key == key).map(|m| m.value.as_str())
    }

    /// The members, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, BaggageMember> {
        self.members.iter()
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Sets `key` to `value`, replacing every member of that key; see
    /// [`insert_member`](Self::insert_member).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Result<(), BaggageError> {
        let member = BaggageMember::new(key, value).map_err(|e| e.at(self.members.len()))?;
        self.insert_member(member)
    }

    /// Adds `member` at the end, replacing every member with its key. Refuses
    /// it, leaving the baggage as it was, when the result would pass a limit.
    pub fn insert_member(&mut self, member: BaggageMember) -> Result<(), BaggageError> {
        let others = self.members.iter().filter(|m| m.key != member.key);
        let count = others.clone().count() + 1;
        let size = others.map(|m| m.encoded_len() + 1).sum::<usize>() + member.encoded_len();
        let index = count - 1;
        if count > Self::MAX_MEMBERS {
            return Err(BaggageError::TooManyMembers { index });
        }
        if size > Self::MAX_BYTES {
            return Err(BaggageError::TooLarge { index });
        }
        self.members.retain(|m| m.key != member.key);
        self.members.push(member);
        Ok(())
    }

    /// Removes every member named `key`, returning whether there was one.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.members.len();
        self.members.retain(|m| m.key != key);
        self.members.len() != before
    }

    /// The length of the header value.
    pub fn encoded_len(&self) -> usize {
        self.members.iter().map(BaggageMember::encoded_len).sum::<usize>()
            + self.members.len().saturating_sub(1)
    }

    /// The header value, in one allocation.
    pub fn to_header_value(&self) -> String {
        let mut out = String::with_capacity(self.encoded_len());
        for (i, member) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            member.encode_into(&mut out);
        }
        out
    }
}

impl BaggageMember {
    /// A member without properties. The key must be an HTTP token; the value
    /// may be any string and is percent-encoded when sent.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Result<Self, BaggageError> {
        let key = key.into();
        if !is_token(key.as_bytes()) {
            return Err(BaggageError::InvalidKey { index: 0 });
        }
        Ok(Self { key, value: value.into(), properties: String::new() })
    }

    /// This member with properties given as in the header, `k1=v1;k2`, in
    /// place of any it had: values percent-encoded, optional whitespace
    /// around keys and values.
    pub fn with_properties(mut self, properties: &str) -> Result<Self, BaggageError> {
        self.properties =
            parse_properties(properties.as_bytes()).ok_or(BaggageError::InvalidProperty { index: 0 })?;
        Ok(self)
    }

    /// This member with one more property, after those it has: `key`, an
    /// HTTP token, and `value`, any string, percent-encoded when sent; `None`
    /// for a property that is only a key. Keys may repeat.
    pub fn with_property(mut self, key: &str, value: Option<&str>) -> Result<Self, BaggageError> {
        if !is_token(key.as_bytes()) {
            return Err(BaggageError::InvalidProperty { index: 0 });
        }
        if !self.properties.is_empty() {
            self.properties.push(';');
        }
        self.properties.push_str(key);
        if let Some(value) = value {
            self.properties.push('=');
            percent::encode_into(value, &mut self.properties);
        }
        Ok(self)
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The decoded value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The properties as they travel, `k1=v1;k2`, values percent-encoded;
    /// empty when there are none.
    pub fn properties_str(&self) -> &str {
        &self.properties
    }

    /// The properties, in order: each a key and, when it has one, its
    /// decoded value (borrowed unless it had escapes).
    pub fn properties(&self) -> impl Iterator<Item = (&str, Option<Cow<'_, str>>)> {
        self.properties.split(';').filter(|p| !p.is_empty()).map(|p| match p.split_once('=') {
            Some((k, v)) => (k, Some(percent::decode(v.as_bytes()))),
            None => (p, None),
        })
    }

    fn parse(raw: &[u8], index: usize) -> Result<Self, BaggageError> {
        let (pair, properties) = match raw.iter().position(|&b| b == b';') {
            Some(semi) => (&raw[..semi], &raw[semi + 1..]),
            None => (raw, &b""[..]),
        };
        let eq = pair.iter().position(|&b| b == b'=').ok_or(BaggageError::MissingEquals { index })?;
        let key = trim_ows(&pair[..eq]);
        let value = trim_ows(&pair[eq + 1..]);
        if !is_token(key) {
            return Err(BaggageError::InvalidKey { index });
        }
        if !value.iter().all(|&b| is_baggage_octet(b)) {
            return Err(BaggageError::InvalidValue { index });
        }
        let properties = if raw.len() == pair.len() {
            String::new()
        } else {
            parse_properties(properties).ok_or(BaggageError::InvalidProperty { index })?
        };
        Ok(Self {
            // A token is ASCII.
            key: String::from_utf8_lossy(key).into_owned(),
            value: percent::decode(value).into_owned(),
            properties,
        })
    }

    fn encoded_len(&self) -> usize {
        let properties = if self.properties.is_empty() { 0 } else { 1 + self.properties.len() };
        self.key.len() + 1 + percent::encoded_len(&self.value) + properties
    }

    fn encode_into(&self, out: &mut String) {
        out.push_str(&self.key);
        out.push('=');
        percent::encode_into(&self.value, out);
        if !self.properties.is_empty() {
            out.push(';');
            out.push_str(&self.properties);
        }
    }
}

/// `property = key OWS "=" OWS value / key OWS`, separated by `OWS ";" OWS`.
/// Returns the canonical form, values decoded and encoded again as this
/// crate encodes them, or `None` when a property is malformed.
fn parse_properties(raw: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    for property in raw.split(|&b| b == b';') {
        let (key, value) = match property.iter().position(|&b| b == b'=') {
            Some(eq) => (trim_ows(&property[..eq]), Some(trim_ows(&property[eq + 1..]))),
            None => (trim_ows(property), None),
        };
        if !is_token(key) || !value.unwrap_or_default().iter().all(|&b| is_baggage_octet(b)) {
            return None;
        }
        if !out.is_empty() {
            out.push(';');
        }
        out.push_str(std::str::from_utf8(key).ok()?);
        if let Some(value) = value {
            out.push('=');
            percent::encode_into(&percent::decode(value), &mut out);
        }
    }
    Some(out)
}

/// `token` (RFC 9110 §5.6.2): one or more `tchar`.
fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// US-ASCII except controls, whitespace, `"`, `,`, `;` and `\`.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

impl FromStr for Baggage {
    type Err = BaggageError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header_value())
    }
}

impl fmt::Debug for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.members).finish()
    }
}

impl fmt::Debug for BaggageMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.key, self.value)?;
        if !self.properties.is_empty() {
            write!(f, ";{}", self.properties)?;
        }
        Ok(())
    }
}

impl IntoIterator for Baggage {
    type Item = BaggageMember;
    type IntoIter = std::vec::IntoIter<BaggageMember>;
    fn into_iter(self) -> Self::IntoIter {
        self.members.into_iter()
    }
}

impl<'a> IntoIterator for &'a Baggage {
    type Item = &'a BaggageMember;
    type IntoIter = std::slice::Iter<'a, BaggageMember>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Why a baggage member was dropped or refused.
///
/// `index` counts the non-empty members across all header lines, from 0; for
/// [`Baggage::insert`] it is the position the member would have taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BaggageError {
    /// The member has no `=`.
    MissingEquals {
        /// The member's position.
        index: usize,
    },
    /// The key is empty or not an HTTP token.
    InvalidKey {
        /// The member's position.
        index: usize,
    },
    /// The value holds a character outside `baggage-octet` (encode it).
    InvalidValue {
        /// The member's position.
        index: usize,
    },
    /// A property is empty or malformed.
    InvalidProperty {
        /// The member's position.
        index: usize,
    },
    /// [`Baggage::MAX_MEMBERS`] members were already kept.
    TooManyMembers {
        /// The member's position.
        index: usize,
    },
    /// The member would take the baggage past [`Baggage::MAX_BYTES`].
    TooLarge {
        /// The member's position.
        index: usize,
    },
}

impl BaggageError {
    pub(crate) fn at(self, index: usize) -> Self {
        match self {
            Self::MissingEquals { .. } => Self::MissingEquals { index },
            Self::InvalidKey { .. } => Self::InvalidKey { index },
            Self::InvalidValue { .. } => Self::InvalidValue { index },
            Self::InvalidProperty { .. } => Self::InvalidProperty { index },
            Self::TooManyMembers { .. } => Self::TooManyMembers { index },
            Self::TooLarge { .. } => Self::TooLarge { index },
        }
    }
}

impl fmt::Display for BaggageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingEquals { index } => write!(f, "baggage member {index} has no '='"),
            Self::InvalidKey { index } => {
                write!(f, "baggage member {index} has a key that is not an HTTP token")
            }
            Self::InvalidValue { index } => {
                write!(f, "baggage member {index} has a value with a character that must be percent-encoded")
            }
            Self::InvalidProperty { index } => {
                write!(f, "baggage member {index} has a malformed property")
            }
            Self::TooManyMembers { index } => {
                write!(f, "baggage member {index} dropped: more than {} members", Baggage::MAX_MEMBERS)
            }
            Self::TooLarge { index } => {
                write!(f, "baggage member {index} dropped: baggage would exceed {} bytes", Baggage::MAX_BYTES)
            }
        }
    }
}

impl std::error::Error for BaggageError {}
