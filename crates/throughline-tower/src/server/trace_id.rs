//! The current trace id, for an error response a caller can quote.

use opentelemetry::trace::TraceContextExt;

use crate::current::current_context;

/// The trace id of the current span, as 32 lowercase hex digits; `None`
/// outside a trace. Inside a handler behind [`HttpServerLayer`](super::HttpServerLayer)
/// (or any traced request), it names the request's trace, so an error body
/// that carries it lets support find the trace from what the caller saw:
///
/// ```
/// use throughline_tower::server::current_trace_id;
///
/// /// The one error shape of a service: `{"error": "...", "trace_id": "..."}`.
/// fn error_body(message: &str) -> String {
///     let trace_id = current_trace_id().map_or("null".to_owned(), |id| format!("\"{id}\""));
///     format!("{{\"error\":\"{message}\",\"trace_id\":{trace_id}}}")
/// }
///
/// // Outside a trace there is no id; inside a request, its 32 hex digits.
/// assert_eq!(error_body("no such order"), r#"{"error":"no such order","trace_id":null}"#);
/// ```
pub fn current_trace_id() -> Option<String> {
    let cx = current_context();
    let span = cx.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| span_context.trace_id().to_string())
}
