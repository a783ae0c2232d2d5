//! The head sampling decision, known before any span is built.
//!
//! A server layer that knows the tracer provider's sampler can decide up
//! front that a request is not recorded and then build no span at all: it
//! only keeps the ids propagation and log correlation need. [`HeadSampler`]
//! describes the standard samplers (`OTEL_TRACES_SAMPLER`) and decides
//! exactly as OpenTelemetry's SDK does.

use std::cell::Cell;
use std::num::NonZeroU128;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use crate::ids::TraceId;

/// A description of the tracer provider's head sampler, for deciding before
/// a span is built. It must describe the sampler the provider really runs:
/// `throughline::init()` publishes the one `OTEL_TRACES_SAMPLER` names.
///
/// ```
/// use throughline_propagation::{HeadSampler, TraceId};
///
/// let sampler = HeadSampler::trace_id_ratio(0.25).parent_based();
/// let trace_id: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse()?;
/// assert!(sampler.samples(trace_id, Some(true)), "a sampled parent is followed");
/// assert!(!sampler.samples(trace_id, Some(false)));
/// // A root: the low 63 bits of the trace id against a quarter of the range.
/// assert!(!sampler.samples(trace_id, None));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadSampler {
    /// A root is sampled when its trace id's low 63 bits are below this
    /// bound: `ALWAYS` passes every id, 0 none.
    bound: u64,
    parent_based: bool,
}

/// The bound every 63-bit value is below.
const ALWAYS: u64 = 1 << 63;

/// The published sampler, read on every request in two loads and no lock:
/// its bound, and whether one is published and follows parents.
static BOUND: AtomicU64 = AtomicU64::new(0);
static MODE: AtomicU8 = AtomicU8::new(UNSET);
const UNSET: u8 = 0;
const PLAIN: u8 = 1;
const PARENT_BASED: u8 = 2;

thread_local! {
    /// The trace id a head decision drew for a trace it is about to start.
    static NEW_TRACE: Cell<Option<TraceId>> = const { Cell::new(None) };
}

impl HeadSampler {
    /// Records every span (`always_on`).
    pub const ALWAYS_ON: Self = Self { bound: ALWAYS, parent_based: false };

    /// Records no span (`always_off`).
    pub const ALWAYS_OFF: Self = Self { bound: 0, parent_based: false };

    /// Records this share of traces by trace id (`traceidratio`): the
    /// SDK's rule, the trace id's low 63 bits below `ratio` of their range.
    pub fn trace_id_ratio(ratio: f64) -> Self {
        let bound = if ratio >= 1.0 {
            ALWAYS
        } else {
            // The SDK's bound, to the bit: a NaN or negative ratio is zero.
            (ratio.max(0.0) * ALWAYS as f64) as u64
        };
        Self { bound, parent_based: false }
    }

    /// Follows a parent's sampled flag, and decides as `self` for a root
    /// (`parentbased_*`, with OpenTelemetry's default delegates).
    pub fn parent_based(self) -> Self {
        Self { parent_based: true, ..self }
    }

    /// Whether a span of `trace_id` is recorded; `parent_sampled` is the
    /// sampled flag of its parent, `None` for a root.
    pub fn samples(&self, trace_id: TraceId, parent_sampled: Option<bool>) -> bool {
        if self.parent_based
            && let Some(sampled) = parent_sampled
        {
            return sampled;
        }
        (NonZeroU128::from(trace_id).get() as u64 >> 1) < self.bound
    }

    /// Makes `self` the process-wide head sampler, which throughline's layers
    /// consult unless they were given one. Only for a sampler `self`
    /// describes exactly, under a tracer provider whose id generator takes
    /// [`HeadSampler::take_new_trace_id`] (throughline-pipeline's does).
    pub fn set_global(self) {
        BOUND.store(self.bound, Ordering::Relaxed);
        MODE.store(if self.parent_based { PARENT_BASED } else { PLAIN }, Ordering::Release);
    }

    /// The process-wide head sampler, if one was published.
    pub fn global() -> Option<Self> {
        let mode = MODE.load(Ordering::Acquire);
        (mode != UNSET)
            .then(|| Self { bound: BOUND.load(Ordering::Relaxed), parent_based: mode == PARENT_BASED })
    }

    /// Runs `start`, in which a span that starts a new trace takes
    /// `trace_id`: the id a root's head decision was made on, so that the
    /// recorded trace carries it and samplers downstream see the same id.
    pub fn with_new_trace_id<R>(trace_id: TraceId, start: impl FnOnce() -> R) -> R {
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                NEW_TRACE.set(None);
            }
        }
        NEW_TRACE.set(Some(trace_id));
        let _reset = Reset;
        start()
    }

    /// The trace id [`HeadSampler::with_new_trace_id`] handed to the id
    /// generator, once: what an id generator calls before drawing one.
    pub fn take_new_trace_id() -> Option<TraceId> {
        NEW_TRACE.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(low: u64) -> TraceId {
        TraceId::from_int(u128::from(low) | 1 << 100).unwrap()
    }

    #[test]
    fn a_ratio_compares_the_low_63_bits() {
        let half = HeadSampler::trace_id_ratio(0.5);
        assert!(half.samples(id(0), None));
        assert!(half.samples(id((1 << 63) - 1), None), "bit 0 is dropped: just below half");
        assert!(!half.samples(id(1 << 63), None));
        assert!(!HeadSampler::trace_id_ratio(f64::NAN).samples(id(0), None));
        assert!(HeadSampler::trace_id_ratio(2.0).samples(id(u64::MAX), None));
    }

    #[test]
    fn only_a_parent_based_sampler_follows_the_parent() {
        assert!(!HeadSampler::ALWAYS_OFF.samples(id(0), Some(true)));
        assert!(HeadSampler::ALWAYS_ON.samples(id(0), Some(false)));
        assert!(!HeadSampler::ALWAYS_ON.parent_based().samples(id(0), Some(false)));
        assert!(HeadSampler::ALWAYS_OFF.parent_based().samples(id(0), Some(true)));
        assert!(!HeadSampler::ALWAYS_OFF.parent_based().samples(id(0), None));
    }

    #[test]
    fn a_new_trace_id_is_taken_once_and_only_inside() {
        let drawn = id(7);
        let taken = HeadSampler::with_new_trace_id(drawn, || {
            (HeadSampler::take_new_trace_id(), HeadSampler::take_new_trace_id())
        });
        assert_eq!(taken, (Some(drawn), None));
        HeadSampler::with_new_trace_id(drawn, || ());
        assert_eq!(HeadSampler::take_new_trace_id(), None, "an untaken id does not leak to the next trace");
    }
}
