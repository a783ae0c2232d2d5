//! The W3C `tracestate` header: vendor-specific positions in the trace.

use std::fmt;
use std::str::FromStr;

use crate::ows::trim_ows;

/// A `tracestate`: up to 32 `key=value` list-members, most recent vendor first.
///
/// It is kept as the one canonical header string it will be sent as (no
/// optional whitespace, no empty members), so propagating an unchanged
/// `tracestate` costs no formatting, and parsing costs at most one allocation
/// per header line. Lookups scan the string; there are at most 32 members.
///
/// An empty `TraceState` is never sent: the spec asks vendors to avoid empty
/// `tracestate` headers.
///
/// ```
/// use throughline_propagation::TraceState;
///
/// let mut state = TraceState::from_lines([&b"rojo=00f067aa0ba902b7"[..], b"congo=t61rcWkgMzE"])?;
/// state.insert("congo", "ucfJifl5GOE")?;
/// assert_eq!(state.as_str(), "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7");
/// assert_eq!(state.get("rojo"), Some("00f067aa0ba902b7"));
/// # Ok::<(), throughline_propagation::TraceStateError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct TraceState {
    header: String,
}

impl TraceState {
    /// The most list-members a `tracestate` may hold.
    pub const MAX_MEMBERS: usize = 32;
    /// The longest key: 256 characters.
    pub const MAX_KEY_LEN: usize = 256;
    /// The longest value: 256 characters.
    pub const MAX_VALUE_LEN: usize = 256;

    /// An empty `tracestate`. Does not allocate.
    pub const fn new() -> Self {
        Self { header: String::new() }
    }

    /// Parses one header line.
    pub fn parse(value: impl AsRef<[u8]>) -> Result<Self, TraceStateError> {
        Self::from_lines([value.as_ref()])
    }

    /// Combines several header lines, in order, as RFC 9110 combines repeated
    /// fields, and parses the result.
    ///
    /// Empty and whitespace-only members are skipped. A key that appears again
    /// keeps its first occurrence (the most recent position, as the list is
    /// ordered) and the later ones are dropped, which the spec allows. Any
    /// invalid member, or more than 32 members as received, make the whole
    /// `tracestate` invalid: the caller drops it and keeps the `traceparent`.
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Result<Self, TraceStateError> {
        let mut header = Vec::new();
        // Where each key sits in `header`, to find duplicates without rescanning.
        let mut keys = [(0u16, 0u16); Self::MAX_MEMBERS];
        let mut kept = 0;
        let mut received = 0;
        for line in lines {
            for member in line.split(|&b| b == b',') {
                let member = trim_ows(member);
                if member.is_empty() {
                    continue;
                }
                let key = split_member(member, received)?;
                if received == Self::MAX_MEMBERS {
                    return Err(TraceStateError::TooManyMembers);
                }
                received += 1;
                if keys[..kept].iter().any(|&(start, end)| &header[start as usize..end as usize] == key) {
                    continue;
                }
                if header.is_empty() {
                    // The canonical form is never longer than its source line.
                    header.reserve_exact(line.len());
                } else {
                    header.push(b',');
                }
                // At most 32 members of 513 bytes: offsets fit in a u16.
                let start = header.len();
                keys[kept] = (start as u16, (start + key.len()) as u16);
                header.extend_from_slice(member);
                kept += 1;
            }
        }
        // Every byte was checked to be printable ASCII.
        Ok(Self { header: String::from_utf8(header).unwrap_or_default() })
    }

    /// The header value, as it is sent. Empty when there are no members.
    pub fn as_str(&self) -> &str {
        &self.header
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.header.is_empty()
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The members, most recent first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        members(&self.header)
    }

    /// Sets `key` to `value` and moves it to the front, as a vendor does when
    /// the trace passes through it again. When that makes 33 members, the last
    /// one is dropped, as the spec's truncation rule says.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), TraceStateError> {
        if !is_valid_key(key.as_bytes()) {
            return Err(TraceStateError::InvalidKey { index: 0 });
        }
        if !is_valid_value(value.as_bytes()) {
            return Err(TraceStateError::InvalidValue { index: 0 });
        }
        let mut header = String::with_capacity(key.len() + value.len() + 2 + self.header.len());
        header.push_str(key);
        header.push('=');
        header.push_str(value);
        for (k, v) in self.iter().filter(|(k, _)| *k != key).take(Self::MAX_MEMBERS - 1) {
            header.push(',');
            header.push_str(k);
            header.push('=');
            header.push_str(v);
        }
        self.header = header;
        Ok(())
    }

    /// Removes `key`, returning whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.header.len();
        self.retain(|k, _| k != key);
        self.header.len() != before
    }

    /// Keeps the whole `tracestate` within `max_len` bytes, by the spec's rule:
    /// members longer than 128 characters go first, then members from the end.
    pub fn truncate(&mut self, max_len: usize) {
        if self.header.len() > max_len {
            self.retain(|k, v| k.len() + 1 + v.len() <= 128);
        }
        while self.header.len() > max_len {
            let cut = self.header.rfind(',').unwrap_or(0);
            self.header.truncate(cut);
        }
    }

    /// Builds a `tracestate` from members in order, leaving out each member that
    /// breaks the grammar, repeats a key or comes after the 32nd.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn from_members_lossy<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut state = Self::new();
        let mut count = 0;
        for (key, value) in pairs {
            let valid = is_valid_key(key.as_bytes()) && is_valid_value(value.as_bytes());
            if count == Self::MAX_MEMBERS || !valid || state.get(key).is_some() {
                continue;
            }
            if count > 0 {
                state.header.push(',');
            }
            state.header.push_str(key);
            state.header.push('=');
            state.header.push_str(value);
            count += 1;
        }
        state
    }

    fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        let mut header = String::with_capacity(self.header.len());
        for (k, v) in self.iter().filter(|&(k, v)| keep(k, v)) {
            if !header.is_empty() {
                header.push(',');
            }
            header.push_str(k);
            header.push('=');
            header.push_str(v);
        }
        self.header = header;
    }
}

/// The members of a canonical header: no whitespace, no empty members.
fn members(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(',').filter(|m| !m.is_empty()).map(|m| m.split_once('=').unwrap_or((m, "")))
}

/// Checks `key=value` and returns the key.
fn split_member(member: &[u8], index: usize) -> Result<&[u8], TraceStateError> {
    let eq = member.iter().position(|&b| b == b'=').ok_or(TraceStateError::MissingEquals { index })?;
    let (key, value) = (&member[..eq], &member[eq + 1..]);
    if !is_valid_key(key) {
        return Err(TraceStateError::InvalidKey { index });
    }
    if !is_valid_value(value) {
        return Err(TraceStateError::InvalidValue { index });
    }
    Ok(key)
}

/// The byte classes of the key and value grammars.
const KEY_CHAR: u8 = 1;
const VALUE_CHAR: u8 = 2;
static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0x20u8;
    while b <= 0x7e {
        if b != b',' && b != b'=' {
            table[b as usize] = VALUE_CHAR;
        }
        if b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@') {
            table[b as usize] |= KEY_CHAR;
        }
        b += 1;
    }
    table
};

/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`, where
/// `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`: the current
/// grammar, which no longer splits a key into tenant and system.
fn is_valid_key(key: &[u8]) -> bool {
    match key.first() {
        Some(first) => {
            key.len() <= TraceState::MAX_KEY_LEN
                && (first.is_ascii_lowercase() || first.is_ascii_digit())
                && key.iter().all(|&b| CLASS[b as usize] & KEY_CHAR != 0)
        }
        None => false,
    }
}

/// `value = 0*255(chr) nblk-chr`: printable ASCII except `,` and `=`, not
/// ending in a space. Leading spaces belong to the value.
fn is_valid_value(value: &[u8]) -> bool {
    match value.last() {
        Some(&last) => {
            value.len() <= TraceState::MAX_VALUE_LEN
                && last != b' '
                && value.iter().all(|&b| CLASS[b as usize] & VALUE_CHAR != 0)
        }
        None => false,
    }
}

impl FromStr for TraceState {
    type Err = TraceStateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header)
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceState({:?})", self.header)
    }
}

/// Why a `tracestate` was discarded. The `traceparent` stays valid.
///
/// `index` counts the non-empty members across all header lines, from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceStateError {
    /// More than 32 members.
    TooManyMembers,
    /// A member has no `=`.
    MissingEquals {
        /// The member's position.
        index: usize,
    },
    /// A key breaks the key grammar (its first character, its characters, its length).
    InvalidKey {
        /// The member's position.
        index: usize,
    },
    /// A value is empty, too long, ends in a space or holds a character outside
    /// printable ASCII, or `,` or `=`.
    InvalidValue {
        /// The member's position.
        index: usize,
    },
}

impl fmt::Display for TraceStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid tracestate: ")?;
        match self {
            Self::TooManyMembers => write!(f, "more than {} list-members", TraceState::MAX_MEMBERS),
            Self::MissingEquals { index } => write!(f, "list-member {index} has no '='"),
            Self::InvalidKey { index } => write!(f, "list-member {index} has an invalid key"),
            Self::InvalidValue { index } => write!(f, "list-member {index} has an invalid value"),
        }
    }
}

impl std::error::Error for TraceStateError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_grammar() {
        assert!(is_valid_key(b"a"));
        assert!(is_valid_key(b"a0_-*/@"));
        assert!(is_valid_key(b"0a"));
        assert!(is_valid_key(b"0a@b"));
        assert!(is_valid_key(b"a@0"));
        assert!(is_valid_key(b"a@"));
        assert!(is_valid_key(b"a@@b"));
        assert!(is_valid_key(b"a@b@c"));
        assert!(!is_valid_key(b"@a"));
        assert!(!is_valid_key(b"_a"));
        assert!(!is_valid_key(b"A"));
        assert!(!is_valid_key(b"a.b"));
        assert!(!is_valid_key(b""));
        assert!(is_valid_key(&[b'z'; 256]));
        assert!(!is_valid_key(&[b'z'; 257]));
    }

    #[test]
    fn value_grammar() {
        assert!(is_valid_value(b" leading space"));
        assert!(!is_valid_value(b"trailing "));
        assert!(!is_valid_value(b""));
        assert!(!is_valid_value(b"a=b"));
        assert!(!is_valid_value(b"a\tb"));
        assert!(is_valid_value(&[b'x'; 256]));
        assert!(!is_valid_value(&[b'x'; 257]));
    }

    #[test]
    fn truncates_long_members_first_then_from_the_end() {
        let long = "l".repeat(130);
        let mut state = TraceState::parse(format!("a=1,b={long},c=2,d=3")).expect("valid tracestate");
        state.truncate(11);
        assert_eq!(state.as_str(), "a=1,c=2,d=3");
        state.truncate(8);
        assert_eq!(state.as_str(), "a=1,c=2");
        state.truncate(0);
        assert!(state.is_empty());
    }

    #[test]
    fn single_line_parses_with_one_allocation_sized_to_the_line() {
        let state = TraceState::parse("a=1 , b=2").expect("valid");
        assert_eq!(state.as_str(), "a=1,b=2");
        assert!(state.header.capacity() <= "a=1 , b=2".len());
    }
}
