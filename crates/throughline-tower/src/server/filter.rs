//! Which requests are traced and measured.

/// What the layer does for one request, as the filter decides.
///
/// ```
/// use http::request::Parts;
/// use throughline_tower::server::{HttpServerLayer, Instrument};
///
/// let layer = HttpServerLayer::new().filter(|parts: &Parts| match parts.uri.path() {
///     "/health" | "/metrics" => Instrument::NOTHING,
///     _ => Instrument::EVERYTHING,
/// });
/// # let _ = layer;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instrument {
    /// Extract the context and make a server span.
    pub trace: bool,
    /// Record the request in the metrics.
    pub metrics: bool,
}

impl Instrument {
    /// Traced and measured: the default.
    pub const EVERYTHING: Self = Self { trace: true, metrics: true };
    /// Neither: the request passes through untouched.
    pub const NOTHING: Self = Self { trace: false, metrics: false };
    /// A span, no metrics.
    pub const TRACE_ONLY: Self = Self { trace: true, metrics: false };
    /// Metrics, no span.
    pub const METRICS_ONLY: Self = Self { trace: false, metrics: true };
}

impl Default for Instrument {
    fn default() -> Self {
        Self::EVERYTHING
    }
}
