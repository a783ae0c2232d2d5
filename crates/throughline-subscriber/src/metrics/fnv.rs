//! FNV-1a: a hash for the short keys this layer looks up once per span
//! (metric names, label sets), several times cheaper than the standard
//! SipHash. Both maps are bounded, so a flooding attack on the hash can cost
//! at most a few slow lookups.

use std::hash::{BuildHasherDefault, Hasher};

/// The 64-bit FNV-1a hasher.
#[derive(Clone, Copy, Debug)]
pub(super) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`Fnv`] hashers, for `HashMap` and `HashSet`.
pub(super) type FnvBuild = BuildHasherDefault<Fnv>;
