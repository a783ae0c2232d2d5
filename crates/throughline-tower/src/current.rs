//! The context a request is in, wherever it is kept.

use opentelemetry::Context;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The context of the current `tracing` span, or OpenTelemetry's current
/// context when no span is entered (or it is disabled): a request the head
/// sampler did not record has no span, only an attached context.
pub(crate) fn current_context() -> Context {
    let current = Span::current();
    if current.is_disabled() { Context::current() } else { current.context() }
}
