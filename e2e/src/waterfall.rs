//! One trace as a waterfall: each span under its parent, with its service,
//! its duration and a bar placed on the trace's time line.

use std::fmt::Write;

use throughline::testing::ReceivedSpan;

const BAR: usize = 40;

/// Renders the spans of one trace, roots first, children in start order.
pub fn render(spans: &[ReceivedSpan]) -> String {
    let Some(start) = spans.iter().map(|s| s.span.start_time_unix_nano).min() else {
        return String::from("(no spans)\n");
    };
    let end = spans.iter().map(|s| s.span.end_time_unix_nano).max().unwrap_or(start);
    let total = (end - start).max(1) as f64;
    let ids: Vec<String> = spans.iter().map(ReceivedSpan::span_id).collect();
    let mut out = String::new();
    let mut roots: Vec<&ReceivedSpan> =
        spans.iter().filter(|s| s.parent_span_id().is_none_or(|p| !ids.contains(&p))).collect();
    roots.sort_by_key(|s| s.span.start_time_unix_nano);
    for root in roots {
        write_span(&mut out, spans, root, 0, start, total);
    }
    out
}

fn write_span(
    out: &mut String,
    spans: &[ReceivedSpan],
    span: &ReceivedSpan,
    depth: usize,
    start: u64,
    total: f64,
) {
    let service = service_name(span);
    let name = format!("{}{}", "  ".repeat(depth), span.name());
    let offset = ((span.span.start_time_unix_nano - start) as f64 / total * BAR as f64) as usize;
    let width = ((span.duration().as_nanos() as f64 / total * BAR as f64).round() as usize).max(1);
    let bar =
        format!("{}{}", " ".repeat(offset.min(BAR - 1)), "█".repeat(width.min(BAR - offset.min(BAR - 1))));
    let status = if span.is_error() { " error" } else { "" };
    let millis = span.duration().as_secs_f64() * 1000.0;
    let _ = writeln!(out, "{service:<10} {name:<44} {bar:<BAR$} {millis:>8.1} ms{status}");
    let id = span.span_id();
    let mut children: Vec<&ReceivedSpan> =
        spans.iter().filter(|s| s.parent_span_id().as_ref() == Some(&id)).collect();
    children.sort_by_key(|s| s.span.start_time_unix_nano);
    for child in children {
        write_span(out, spans, child, depth + 1, start, total);
    }
}

/// The `service.name` of the span's resource.
pub fn service_name(span: &ReceivedSpan) -> String {
    span.resource_attribute("service.name").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}
