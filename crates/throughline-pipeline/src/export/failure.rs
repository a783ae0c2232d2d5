//! Why an export failed, in a word a metric can carry: `timeout`,
//! `http_503`, `grpc_invalid_argument`, `transport`, `exporter_panicked`.

use std::sync::Mutex;

use opentelemetry_sdk::error::OTelSdkError;

use crate::config::Signal;

/// Items that failed to export for one reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportFailure {
    /// Spans or log records.
    pub signal: Signal,
    /// Why: `timeout` (the export timeout or the shutdown deadline),
    /// `http_<status>`, `grpc_<code>` (as in `grpc_resource_exhausted`),
    /// `transport` (no answer: refused, reset, TLS), `exporter_panicked`, or
    /// `export_failed` for anything else.
    pub reason: String,
    /// How many items.
    pub items: u64,
}

/// Failed items by reason; written only when an export fails.
#[derive(Debug, Default)]
pub(crate) struct Reasons(Mutex<Vec<(String, u64)>>);

impl Reasons {
    pub(crate) fn add(&self, reason: String, items: u64) {
        let mut reasons = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match reasons.iter_mut().find(|(known, _)| *known == reason) {
            Some((_, count)) => *count += items,
            None => reasons.push((reason, items)),
        }
    }

    pub(crate) fn get(&self) -> Vec<(String, u64)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The reason of an export error, read from what the OTLP exporters say.
pub(crate) fn reason(error: &OTelSdkError) -> String {
    let message = match error {
        OTelSdkError::Timeout(_) => return "timeout".to_owned(),
        OTelSdkError::InternalFailure(message) => message.as_str(),
        _ => return "export_failed".to_owned(),
    };
    if let Some(status) = after(message, "status code: ") {
        return format!("http_{status}");
    }
    if let Some(code) = after(message, "gRPC code: ") {
        if code == "Unavailable" && message.contains("transport error") {
            return "transport".to_owned();
        }
        return format!("grpc_{}", snake(code));
    }
    if message.contains("network error") || message.contains("transport error") {
        return "transport".to_owned();
    }
    "export_failed".to_owned()
}

/// The word after `marker`: letters and digits.
fn after<'a>(message: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let end = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// `InvalidArgument` as `invalid_argument`.
fn snake(code: &str) -> String {
    let mut out = String::with_capacity(code.len() + 4);
    for (i, c) in code.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_read_from_the_exporters_words() {
        let failure = |message: &str| reason(&OTelSdkError::InternalFailure(message.to_owned()));
        assert_eq!(
            failure(
                "exporting 1 Traces items to http://x/v1/traces failed: Operation failed: HTTP export failed with status code: 400"
            ),
            "http_400"
        );
        assert_eq!(
            failure(
                "failed: TonicTracesClient export failed with gRPC code: InvalidArgument: the test receiver rejects"
            ),
            "grpc_invalid_argument"
        );
        assert_eq!(
            failure(
                "TonicTracesClient export failed with gRPC code: Unavailable: transport error: invalid peer certificate"
            ),
            "transport"
        );
        assert_eq!(
            failure("Operation failed: HTTP export failed: network error (tcp connect error)"),
            "transport"
        );
        assert_eq!(failure("something else"), "export_failed");
        assert_eq!(reason(&OTelSdkError::Timeout(std::time::Duration::ZERO)), "timeout");
    }
}
