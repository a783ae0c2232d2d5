//! The process-wide propagator: what throughline's layers use unless they are
//! given one.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::propagator::{Format, Propagator};

/// The installed propagator, encoded in one word so that reading it on every
/// request is a single atomic load: bit 31 says one is installed, and each
/// nibble from the lowest holds one format's position in [`Format::ALL`] plus
/// one, in order, until a zero nibble.
static INSTALLED: AtomicU32 = AtomicU32::new(0);
const IS_SET: u32 = 1 << 31;

impl Propagator {
    /// Makes `self` the process-wide propagator, which every throughline
    /// server and client layer uses unless it was given one explicitly.
    /// `throughline::init()` installs the one `OTEL_PROPAGATORS` names, here
    /// and as OpenTelemetry's global text-map propagator (with the
    /// `opentelemetry` feature, `Propagator` is one), so that
    /// OpenTelemetry-native libraries propagate alike; this call alone
    /// leaves OpenTelemetry's global as it is.
    ///
    /// ```
    /// use throughline_propagation::{Format, Propagator};
    ///
    /// Propagator::new([Format::B3]).set_global();
    /// assert_eq!(Propagator::global(), Some(Propagator::new([Format::B3])));
    /// ```
    pub fn set_global(self) {
        let mut word = IS_SET;
        for (i, format) in self.formats().enumerate() {
            let position = Format::ALL.iter().position(|f| *f == format).unwrap_or_default() as u32;
            word |= (position + 1) << (4 * i);
        }
        INSTALLED.store(word, Ordering::Release);
    }

    /// The process-wide propagator, if [`Propagator::set_global`] installed one.
    pub fn global() -> Option<Self> {
        let word = INSTALLED.load(Ordering::Acquire);
        if word & IS_SET == 0 {
            return None;
        }
        let formats = (0..7).map(|i| (word >> (4 * i)) & 0xf).take_while(|&n| n != 0);
        Some(Self::new(formats.filter_map(|n| Format::ALL.get(n as usize - 1).copied())))
    }
}
