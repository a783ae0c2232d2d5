//! Which requests are traced and measured.

/// What the layer records for one request, as the filter decides: a span,
/// the metrics, both or neither. (Named so that it does not clash with
/// `tracing::Instrument`, which most services import too.)
///
/// ```
/// use http::request::Parts;
/// use throughline_tower::server::{HttpServerLayer, Record};
///
/// let layer = HttpServerLayer::new().filter(|parts: &Parts| match parts.uri.path() {
///     "/health" | "/metrics" => Record::NOTHING,
///     _ => Record::EVERYTHING,
/// });
/// # let _ = layer;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Record {
    /// Extract the context and make a server span.
    pub trace: bool,
    /// Record the request in the metrics.
    pub metrics: bool,
}

impl Record {
    /// Traced and measured: the default.
    pub const EVERYTHING: Self = Self { trace: true, metrics: true };
    /// Neither: the request passes through untouched.
    pub const NOTHING: Self = Self { trace: false, metrics: false };
    /// A span, no metrics.
    pub const TRACE_ONLY: Self = Self { trace: true, metrics: false };
    /// Metrics, no span.
    pub const METRICS_ONLY: Self = Self { trace: false, metrics: true };
}

impl Default for Record {
    fn default() -> Self {
        Self::EVERYTHING
    }
}
