//! What the export layers leave out: the exporter's own work, told by the
//! thread doing it, and the OpenTelemetry SDK's diagnostics.

use throughline_pipeline::is_export_activity;
use tracing::Metadata;
use tracing::subscriber::Interest;
use tracing_subscriber::layer::{Context, Filter};

/// A per-layer filter for the OpenTelemetry and log-export layers.
///
/// The exporters' clients (hyper, h2, tonic, reqwest, tower) trace through
/// `tracing` like any crate; exporting that would feed the exporter its own
/// output. Their work runs on threads the pipeline marks
/// ([`is_export_activity`]), so it is left out by thread, and the same
/// crates used by the application (`tower_http::trace`, `reqwest_tracing`,
/// ...) are exported. The decision depends on the thread, so it is never
/// cached per callsite.
pub(crate) struct NotExportActivity;

impl<S> Filter<S> for NotExportActivity {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        !is_export_activity() && !is_sdk_diagnostic(meta.target())
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if is_sdk_diagnostic(meta.target()) { Interest::never() } else { Interest::sometimes() }
    }
}

/// The OpenTelemetry crates' own diagnostics (`opentelemetry_sdk`,
/// `opentelemetry-otlp`, ...; their `internal-logs`) describe the pipeline
/// itself, from any thread: they are written as log lines, never exported,
/// since "export failed" cannot usefully go through the exporter that failed.
fn is_sdk_diagnostic(target: &str) -> bool {
    target.strip_prefix("opentelemetry").is_some_and(|rest| {
        rest.is_empty() || rest.starts_with("::") || rest.starts_with('_') || rest.starts_with('-')
    })
}

#[cfg(test)]
mod tests {
    use super::is_sdk_diagnostic;

    #[test]
    fn only_the_opentelemetry_crates_are_sdk_diagnostics() {
        assert!(is_sdk_diagnostic("opentelemetry_sdk"));
        assert!(is_sdk_diagnostic("opentelemetry-otlp"));
        assert!(is_sdk_diagnostic("opentelemetry"));
        assert!(!is_sdk_diagnostic("opentelemetryish"));
        assert!(!is_sdk_diagnostic("h2::codec"));
        assert!(!is_sdk_diagnostic("tower_http::trace::on_response"));
        assert!(!is_sdk_diagnostic("reqwest_tracing"));
    }
}
