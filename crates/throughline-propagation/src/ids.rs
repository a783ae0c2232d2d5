//! Trace and span identifiers, and the trace flags.
//!
//! The all-zero identifier is invalid in every format this crate speaks, so the
//! types cannot hold it: a `TraceId` or `SpanId` is always valid, and
//! `Option<TraceId>` costs nothing extra.

use std::fmt;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::num::{NonZeroU64, NonZeroU128};
use std::str::FromStr;

use crate::hex;

/// A 16-byte trace identifier, never all zero.
///
/// ```
/// use throughline_propagation::TraceId;
///
/// let id: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
/// assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(TraceId::from_bytes([0; 16]).is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(NonZeroU128);

/// An 8-byte span identifier (the W3C `parent-id`), never all zero.
///
/// ```
/// use throughline_propagation::SpanId;
///
/// let id: SpanId = "00f067aa0ba902b7".parse().unwrap();
/// assert_eq!(id.to_bytes()[7], 0xb7);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(NonZeroU64);

/// Why a hex string is not a valid identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdError {
    /// The string does not have exactly the expected number of hex digits.
    Length {
        /// Digits the identifier needs.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// A byte is not a lowercase hex digit.
    Character {
        /// Offset of the first offending byte.
        position: usize,
    },
    /// Every digit is zero, which no format allows.
    AllZero,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { expected, found } => {
                write!(f, "expected {expected} lowercase hex digits, found {found} bytes")
            }
            Self::Character { position } => {
                write!(f, "byte {position} is not a lowercase hex digit")
            }
            Self::AllZero => f.write_str("an all-zero identifier is invalid"),
        }
    }
}

impl std::error::Error for IdError {}

macro_rules! identifier {
    ($name:ident, $int:ty, $nonzero:ty, $bytes:literal, $decode:path, $random:expr) => {
        impl $name {
            /// The identifier's size in bytes.
            pub const BYTES: usize = $bytes;
            /// The identifier's size in hex digits.
            pub const HEX_LEN: usize = 2 * $bytes;

            /// The identifier with these big-endian bytes, or `None` when they are all zero.
            pub const fn from_bytes(bytes: [u8; $bytes]) -> Option<Self> {
                match <$nonzero>::new(<$int>::from_be_bytes(bytes)) {
                    Some(id) => Some(Self(id)),
                    None => None,
                }
            }

            /// The identifier for this integer, or `None` when it is zero.
            pub const fn from_int(value: $int) -> Option<Self> {
                match <$nonzero>::new(value) {
                    Some(id) => Some(Self(id)),
                    None => None,
                }
            }

            /// The big-endian bytes.
            pub const fn to_bytes(self) -> [u8; $bytes] {
                self.0.get().to_be_bytes()
            }

            /// The identifier as an integer, never zero.
            pub const fn to_int(self) -> $int {
                self.0.get()
            }

            /// Parses exactly the lowercase hex form, as it travels in headers.
            pub fn from_hex(hex: impl AsRef<[u8]>) -> Result<Self, IdError> {
                let hex = hex.as_ref();
                let digits: &[u8; 2 * $bytes] = hex
                    .try_into()
                    .map_err(|_| IdError::Length { expected: Self::HEX_LEN, found: hex.len() })?;
                let value = $decode(digits)
                    .ok_or_else(|| IdError::Character { position: hex::first_invalid(hex) })?;
                Self::from_int(value).ok_or(IdError::AllZero)
            }

            /// Writes the lowercase hex form into `out`, without allocating.
            pub fn encode_hex(self, out: &mut [u8; 2 * $bytes]) {
                hex::encode(&self.to_bytes(), out);
            }

            /// A fresh pseudo-random identifier, for a new trace or span. Seeded from the
            /// operating system per thread; fine for the W3C `random` flag, not for cryptography.
            pub fn random() -> Self {
                loop {
                    if let Some(id) = Self::from_int($random) {
                        return id;
                    }
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut out = [0u8; 2 * $bytes];
                self.encode_hex(&mut out);
                // Hex digits are ASCII.
                f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl From<$name> for $nonzero {
            fn from(id: $name) -> $nonzero {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::from_hex(s)
            }
        }
    };
}

identifier!(
    TraceId,
    u128,
    NonZeroU128,
    16,
    hex::decode_u128,
    (random_u64() as u128) << 64 | random_u64() as u128
);
identifier!(SpanId, u64, NonZeroU64, 8, hex::decode_u64, random_u64());

impl TraceId {
    /// Widens a 64-bit trace id (B3, older Zipkin and Jaeger peers) by padding
    /// it on the left with zeros, as B3 prescribes.
    pub fn from_u64(value: NonZeroU64) -> Self {
        Self(NonZeroU128::from(value))
    }
}

/// 64 bits from the standard library's randomly keyed SipHash.
///
/// `RandomState` keys come from the operating system's entropy once per thread
/// and are stepped on every `new`, so each call hashes under fresh keys: the
/// output is pseudo-random and unpredictable across processes, which is what
/// the W3C `random` flag asks of a trace id. It is not meant for cryptography;
/// it keeps this crate free of a `rand` dependency.
fn random_u64() -> u64 {
    RandomState::new().build_hasher().finish()
}

/// The 8-bit `trace-flags` field.
///
/// W3C Trace Context Level 2 defines two flags: `sampled` (bit 0) and
/// `random` (bit 1: at least the right-most 7 bytes of the trace id are
/// random). Other bits are reserved: they are accepted when read and never
/// sent.
///
/// ```
/// use throughline_propagation::TraceFlags;
///
/// let flags = TraceFlags::new(0x0b);
/// assert!(flags.is_sampled() && flags.is_random());
/// assert_eq!(flags.known().bits(), 0x03);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// No flag set.
    pub const NONE: Self = Self(0);
    /// The caller may have recorded trace data.
    pub const SAMPLED: Self = Self(0x01);
    /// The trace id's right-most 7 bytes are random (Level 2).
    pub const RANDOM: Self = Self(0x02);

    /// Flags from raw bits, reserved bits included.
    pub const fn new(bits: u8) -> Self {
        Self(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether the `sampled` flag is set.
    pub const fn is_sampled(self) -> bool {
        self.0 & Self::SAMPLED.0 != 0
    }

    /// Whether the `random` flag is set.
    pub const fn is_random(self) -> bool {
        self.0 & Self::RANDOM.0 != 0
    }

    /// These flags with `sampled` set or cleared.
    pub const fn with_sampled(self, sampled: bool) -> Self {
        if sampled { Self(self.0 | Self::SAMPLED.0) } else { Self(self.0 & !Self::SAMPLED.0) }
    }

    /// These flags with `random` set or cleared.
    pub const fn with_random(self, random: bool) -> Self {
        if random { Self(self.0 | Self::RANDOM.0) } else { Self(self.0 & !Self::RANDOM.0) }
    }

    /// Only the flags this version of the specification defines: what is sent.
    pub const fn known(self) -> Self {
        Self(self.0 & (Self::SAMPLED.0 | Self::RANDOM.0))
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceFlags({:02x})", self.0)
    }
}

impl std::ops::BitOr for TraceFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let id = TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap();
        assert_eq!(id.to_string(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(id.to_bytes()[0], 0x0a);
    }

    #[test]
    fn rejects_bad_hex() {
        assert_eq!(SpanId::from_hex("00f067aa0ba902b"), Err(IdError::Length { expected: 16, found: 15 }));
        assert_eq!(SpanId::from_hex("00F067aa0ba902b7"), Err(IdError::Character { position: 2 }));
        assert_eq!(SpanId::from_hex("0000000000000000"), Err(IdError::AllZero));
    }

    #[test]
    fn random_ids_differ() {
        let a = TraceId::random();
        let b = TraceId::random();
        assert_ne!(a, b);
        assert_ne!(SpanId::random(), SpanId::random());
    }

    #[test]
    fn widens_64_bit_trace_ids() {
        let id = TraceId::from_u64(NonZeroU64::new(0x1234).unwrap());
        assert_eq!(id.to_string(), "00000000000000000000000000001234");
    }
}
