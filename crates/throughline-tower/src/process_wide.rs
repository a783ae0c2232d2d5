//! Which propagator the layers use when they were not given one.

use throughline_propagation::Propagator;

/// The process-wide propagator, when it is throughline's (or none was
/// installed at all: then the default, `tracecontext,baggage`); `None` when
/// it is another OpenTelemetry propagator, to be called through its API.
pub(crate) fn process_wide() -> Option<Propagator> {
    Propagator::global().or_else(|| {
        // OpenTelemetry's default global propagator is a no-op with no fields.
        let installed = opentelemetry::global::get_text_map_propagator(|p| p.fields().next().is_some());
        (!installed).then(Propagator::default)
    })
}
