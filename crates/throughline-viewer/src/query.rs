//! Finding traces: the list page's filters and `/api/traces`' parameters,
//! one linear pass over the stored traces.

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde::{Deserialize, Serialize};

use crate::model::TraceId;
use crate::store::{Store, StoredTrace};

/// The most traces one query returns.
///
/// ```
/// use throughline_viewer::{MAX_LIMIT, TraceQuery, Viewer};
///
/// let all = TraceQuery { limit: Some(usize::MAX), ..TraceQuery::default() };
/// assert!(Viewer::default().traces(&all).len() <= MAX_LIMIT);
/// ```
pub const MAX_LIMIT: usize = 1_000;

/// Which traces to list. Every field is optional; strings longer than 256
/// bytes are cut before anything compares them.
///
/// ```
/// use throughline_viewer::TraceQuery;
///
/// let query: TraceQuery = serde_json::from_str(r#"{"service":"orders","errors_only":true}"#).unwrap();
/// assert_eq!(query.service.as_deref(), Some("orders"));
/// ```
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct TraceQuery {
    /// Traces with a span of this service.
    pub service: Option<String>,
    /// Traces with a span whose name contains this text (a route, for server spans).
    pub name: Option<String>,
    /// Only traces with an error.
    #[serde(deserialize_with = "checkbox")]
    pub errors_only: bool,
    /// Traces at least this long, in milliseconds.
    #[serde(deserialize_with = "empty_as_none")]
    pub min_duration_ms: Option<f64>,
    /// The trace with this id (32 hex digits), or those whose id starts with it.
    pub trace_id: Option<String>,
    /// At most this many (default 100, at most [`MAX_LIMIT`]).
    #[serde(deserialize_with = "empty_as_none")]
    pub limit: Option<usize>,
}

/// An HTML checkbox sends `on`; scripts send `true`.
fn checkbox<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    Ok(match Option::<Flag>::deserialize(d)? {
        None => false,
        Some(Flag::Bool(b)) => b,
        Some(Flag::Text(t)) => matches!(t.as_str(), "on" | "true" | "1" | "yes"),
    })
}

/// A form's empty field is no value, not a malformed number.
fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr + Deserialize<'de>,
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Field<T> {
        Value(T),
        Text(String),
    }
    match Option::<Field<T>>::deserialize(d)? {
        None => Ok(None),
        Some(Field::Value(v)) => Ok(Some(v)),
        Some(Field::Text(t)) if t.trim().is_empty() => Ok(None),
        Some(Field::Text(t)) => t.trim().parse().map(Some).map_err(serde::de::Error::custom),
    }
}

fn capped(s: &Option<String>) -> Option<&str> {
    let s = s.as_deref()?.trim();
    if s.is_empty() {
        return None;
    }
    let mut end = s.len().min(256);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Some(&s[..end])
}

/// One line of the trace list.
///
/// ```
/// use throughline_viewer::{TraceQuery, Viewer};
///
/// for trace in Viewer::default().traces(&TraceQuery::default()) {
///     println!("{} {} {:.1} ms, {} errors", trace.trace_id, trace.root_name, trace.duration_ms, trace.errors);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceSummary {
    /// The trace id, 32 hex digits.
    pub trace_id: String,
    /// The root span's service.
    pub root_service: String,
    /// The root span's name.
    pub root_name: String,
    /// The earliest start, Unix nanoseconds.
    pub start_unix_nanos: u64,
    /// From the earliest start to the latest end, in milliseconds.
    pub duration_ms: f64,
    /// Spans held.
    pub spans: usize,
    /// Spans with an error status.
    pub errors: usize,
    /// Client spans that were retries (`http.request.resend_count` above 0).
    pub retries: usize,
    /// The services of its spans, sorted.
    pub services: Vec<String>,
}

impl TraceSummary {
    pub(crate) fn of(trace: &StoredTrace) -> Self {
        let (start, end) = trace.bounds();
        let root = trace.root();
        let services = crate::model::services(&trace.spans).into_iter().map(str::to_owned).collect();
        TraceSummary {
            trace_id: trace.id.to_string(),
            root_service: root.map(|r| r.service().to_owned()).unwrap_or_default(),
            root_name: root.map(|r| r.span.name.clone()).unwrap_or_default(),
            start_unix_nanos: start,
            duration_ms: (end - start) as f64 / 1e6,
            spans: trace.spans.len(),
            errors: trace.error_count(),
            retries: trace
                .spans
                .iter()
                .filter(|s| s.span.kind == SpanKind::Client as i32 && s.resend_count().is_some_and(|n| n > 0))
                .count(),
            services,
        }
    }
}

impl TraceQuery {
    fn matches(&self, trace: &StoredTrace) -> bool {
        if self.errors_only && trace.error_count() == 0 {
            return false;
        }
        if let Some(id) = capped(&self.trace_id) {
            let id = id.to_ascii_lowercase();
            if !trace.id.to_string().starts_with(&id) {
                return false;
            }
        }
        if let Some(service) = capped(&self.service)
            && !trace.spans.iter().any(|s| s.service() == service)
        {
            return false;
        }
        if let Some(name) = capped(&self.name)
            && !trace.spans.iter().any(|s| s.span.name.contains(name))
        {
            return false;
        }
        if let Some(min) = self.min_duration_ms {
            let (start, end) = trace.bounds();
            if ((end - start) as f64 / 1e6) < min {
                return false;
            }
        }
        true
    }

    pub(crate) fn run(&self, store: &Store) -> Vec<TraceSummary> {
        let limit = self.limit.unwrap_or(100).clamp(1, MAX_LIMIT);
        // Newest first by start; only the ones shown are summarised.
        let mut matching: Vec<(u64, &StoredTrace)> =
            store.traces().filter(|t| self.matches(t)).map(|t| (t.bounds().0, t)).collect();
        matching.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.id.cmp(&a.1.id)));
        matching.into_iter().take(limit).map(|(_, t)| TraceSummary::of(t)).collect()
    }
}

/// A trace id from user input, or `None` when it is not 32 hex digits.
pub(crate) fn parse_trace_id(s: &str) -> Option<TraceId> {
    s.trim().parse().ok()
}
