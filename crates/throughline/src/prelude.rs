//! The names a service uses most, in one import: `use throughline::prelude::*;`.

#[cfg(feature = "init")]
pub use crate::{Guard, Health, Init, LogFormat, init};
#[cfg(feature = "propagation")]
pub use throughline_propagation::{Baggage, Propagator, TraceContext, TraceParent};
#[cfg(feature = "tower")]
pub use throughline_tower::server::{HttpServerLayer, TrustPolicy};
#[cfg(feature = "init")]
pub use tracing::{Instrument, debug, error, info, info_span, instrument, trace, warn};
