//! The trace page: every span under its parent on one time axis, each a
//! `<details>` element that opens on its attributes, events, links, status,
//! resource and log records, so the page needs no script to be read.

use std::collections::HashMap;
use std::fmt::Write;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

use super::page::{self, Escaped, clock, millis, service_hue};
use crate::model::{SpanId, StoredLog, StoredSpan, TraceId, bounds, display_value, services};

/// Indentation stops growing here, so a pathological depth stays readable.
const MAX_INDENT: usize = 40;
/// Event ticks drawn on one bar; the detail lists them all.
const MAX_TICKS: usize = 50;

/// One row of the waterfall: a span and its depth.
pub(crate) struct Row {
    pub(crate) index: usize,
    pub(crate) depth: usize,
}

/// The spans in tree order: roots (and spans whose parent is missing) by
/// start time, each followed by its children by start time. Iterative,
/// and each span is placed once, so a cycle of parent ids or a deep chain
/// costs nothing extra.
pub(crate) fn layout(spans: &[StoredSpan]) -> Vec<Row> {
    let mut by_id: HashMap<SpanId, usize> = HashMap::with_capacity(spans.len());
    for (i, span) in spans.iter().enumerate() {
        if let Some(id) = span.span_id() {
            by_id.entry(id).or_insert(i);
        }
    }
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        match span.parent_id().and_then(|p| by_id.get(&p)).filter(|&&p| p != i) {
            Some(&parent) => children.entry(parent).or_default().push(i),
            None => roots.push(i),
        }
    }
    let start = |i: &usize| (spans[*i].span.start_time_unix_nano, *i);
    roots.sort_by_key(start);
    for list in children.values_mut() {
        list.sort_by_key(start);
    }
    let mut rows = Vec::with_capacity(spans.len());
    let mut placed = vec![false; spans.len()];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let mut visit = |root: usize, rows: &mut Vec<Row>, placed: &mut Vec<bool>| {
        stack.push((root, 0));
        while let Some((index, depth)) = stack.pop() {
            if std::mem::replace(&mut placed[index], true) {
                continue;
            }
            rows.push(Row { index, depth });
            if let Some(kids) = children.get(&index) {
                stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
            }
        }
    };
    for root in roots {
        visit(root, &mut rows, &mut placed);
    }
    // Spans in a cycle of parents have no root: shown last, at the top level.
    for index in 0..spans.len() {
        if !placed[index] {
            visit(index, &mut rows, &mut placed);
        }
    }
    rows
}

fn kind_name(kind: i32) -> &'static str {
    match SpanKind::try_from(kind) {
        Ok(SpanKind::Server) => "server",
        Ok(SpanKind::Client) => "client",
        Ok(SpanKind::Producer) => "producer",
        Ok(SpanKind::Consumer) => "consumer",
        Ok(SpanKind::Internal) => "internal",
        _ => "unspecified",
    }
}

/// Event names that are resilience decisions: marked on the row.
fn resilience_event(name: &str) -> bool {
    ["circuit breaker", "request shed", "not retried", "retry"].iter().any(|n| name.contains(n))
}

fn attributes_table(out: &mut String, attributes: &[KeyValue]) {
    if attributes.is_empty() {
        out.push_str("<p class=\"muted\">none</p>");
        return;
    }
    out.push_str("<table>");
    for kv in attributes {
        let value = kv.value.as_ref().map(display_value).unwrap_or_default();
        let _ =
            write!(out, "<tr><td>{}</td><td class=\"mono\">{}</td></tr>", Escaped(&kv.key), Escaped(&value));
    }
    out.push_str("</table>");
}

/// Renders the whole trace page.
pub(crate) fn render(
    base: &str,
    id: &TraceId,
    spans: &[StoredSpan],
    logs: &[StoredLog],
    selected: Option<SpanId>,
    stats: &crate::StoreStats,
) -> String {
    // About 1 KiB per span with its detail; one allocation up front.
    let mut out = String::with_capacity(4096 + spans.len() * 1200 + logs.len() * 200);
    page::open(&mut out, base, &format!("trace {id}"), stats);
    let (start, end) = bounds(spans);
    let total = (end - start).max(1) as f64;
    let pct = |t: u64| (t.saturating_sub(start) as f64 / total * 100.0).clamp(0.0, 100.0);
    let rows = layout(spans);

    let services = services(spans);
    let errors = spans.iter().filter(|s| s.is_error()).count();
    let root = rows.first().map(|r| &spans[r.index]);
    let _ = write!(out, "<h1>Trace <code id=\"trace-id\">{id}</code></h1><p class=\"summary\">");
    if let Some(root) = root {
        let _ = write!(
            out,
            "<b>{}</b> {} · started {} UTC · ",
            Escaped(root.service()),
            Escaped(&root.span.name),
            clock(start)
        );
    }
    let _ = write!(
        out,
        "<span id=\"trace-duration\">{}</span> · <span id=\"span-count\">{}</span> spans · ",
        millis(end - start),
        spans.len()
    );
    for service in &services {
        let _ = write!(
            out,
            "<span class=\"chip service\" data-service=\"{0}\" style=\"background:hsl({1},55%,42%)\">{0}</span>",
            Escaped(service),
            service_hue(service)
        );
    }
    if errors > 0 {
        let _ = write!(out, "<span class=\"badge error\" id=\"trace-errors\">{errors} with errors</span>");
    }
    let _ = write!(out, " · <a href=\"{}/api/traces/{id}\">JSON</a></p>", Escaped(base));

    // Logs by span, for the details; the rest listed under the waterfall.
    let mut logs_by_span: HashMap<SpanId, Vec<&StoredLog>> = HashMap::new();
    let mut loose_logs = Vec::new();
    let by_id: HashMap<SpanId, &StoredSpan> = spans.iter().filter_map(|s| Some((s.span_id()?, s))).collect();
    for log in logs {
        match log.span_id().filter(|s| by_id.contains_key(s)) {
            Some(span) => logs_by_span.entry(span).or_default().push(log),
            None => loose_logs.push(log),
        }
    }

    out.push_str("<section id=\"waterfall\"><div class=\"axis\">");
    for quarter in 0..=4u64 {
        let _ = write!(
            out,
            "<span style=\"left:{}%\">{}</span>",
            quarter * 25,
            millis((end - start) * quarter / 4)
        );
    }
    out.push_str("</div>");
    for row in &rows {
        let span = &spans[row.index];
        let sid = span.span_id().map(|s| s.to_string()).unwrap_or_default();
        let parent = span.parent_id().map(|s| s.to_string()).unwrap_or_default();
        let kind = kind_name(span.span.kind);
        let error = span.is_error();
        let retry = span.resend_count().filter(|&n| n > 0);
        let open = selected.is_some_and(|s| span.span_id() == Some(s));
        let hue = service_hue(span.service());
        let _ = write!(
            out,
            "<details class=\"span{}{}\" id=\"span-{sid}\" data-span-id=\"{sid}\" data-parent-id=\"{parent}\" \
             data-service=\"{}\" data-depth=\"{}\" data-kind=\"{kind}\"{}><summary>\
             <span class=\"name\" style=\"padding-left:{}px\"><i class=\"swatch\" style=\"background:hsl({hue},55%,42%)\"></i>\
             <span class=\"svc\">{}</span><span class=\"span-name\">{}</span>",
            if error { " error" } else { "" },
            if retry.is_some() { " retry" } else { "" },
            Escaped(span.service()),
            row.depth,
            if open { " open" } else { "" },
            row.depth.min(MAX_INDENT) * 14,
            Escaped(span.service()),
            Escaped(&span.span.name),
        );
        if error {
            out.push_str("<span class=\"badge error\">error</span>");
        }
        if let Some(n) = retry {
            let _ = write!(out, "<span class=\"badge retry\">retry #{n}</span>");
        }
        // A server span called by another service's client span sits right
        // under it: say who called.
        if span.span.kind == SpanKind::Server as i32
            && let Some(caller) = span.parent_id().and_then(|p| by_id.get(&p))
            && caller.span.kind == SpanKind::Client as i32
            && caller.service() != span.service()
        {
            let _ =
                write!(out, "<span class=\"badge remote\">called by {}</span>", Escaped(caller.service()));
        }
        for event in span.span.events.iter().filter(|e| resilience_event(&e.name)).take(3) {
            let _ = write!(out, "<span class=\"badge resilience\">{}</span>", Escaped(&event.name));
        }
        let left = pct(span.span.start_time_unix_nano);
        let width = (pct(span.span.end_time_unix_nano) - left).max(0.0);
        let _ = write!(
            out,
            "</span><span class=\"track\"><span class=\"bar {kind}\" style=\"left:{left:.3}%;width:{width:.3}%;background:hsl({hue},55%,{}%)\"></span>",
            if error { 40 } else { 52 }
        );
        for event in span.span.events.iter().take(MAX_TICKS) {
            let _ = write!(
                out,
                "<i class=\"tick\" style=\"left:{:.3}%\" title=\"{}\"></i>",
                pct(event.time_unix_nano),
                Escaped(&event.name)
            );
        }
        let _ = write!(
            out,
            "</span><span class=\"dur\">{}</span></summary><div class=\"detail\">",
            millis(span.duration_nanos())
        );

        // The detail, readable when the element is opened.
        let status = span.span.status.as_ref();
        let code = match status.map(|s| StatusCode::try_from(s.code)) {
            Some(Ok(StatusCode::Error)) => "error",
            Some(Ok(StatusCode::Ok)) => "ok",
            _ => "unset",
        };
        let message = status.map(|s| s.message.as_str()).unwrap_or_default();
        let _ = write!(
            out,
            "<table><tr><td>span id</td><td class=\"mono\">{sid}</td></tr><tr><td>parent</td><td class=\"mono\">{}</td></tr>\
             <tr><td>kind</td><td>{kind}</td></tr><tr><td>status</td><td class=\"status\">{code}{}{}</td></tr>\
             <tr><td>start</td><td>+{}</td></tr><tr><td>duration</td><td>{}</td></tr><tr><td>scope</td><td>{}</td></tr></table>",
            if parent.is_empty() { "(root)" } else { &parent },
            if message.is_empty() { "" } else { ": " },
            Escaped(message),
            millis(span.span.start_time_unix_nano.saturating_sub(start)),
            millis(span.duration_nanos()),
            Escaped(&span.origin.scope),
        );
        out.push_str("<h3>Attributes</h3>");
        attributes_table(&mut out, &span.span.attributes);
        if !span.span.events.is_empty() {
            out.push_str("<h3>Events</h3><table>");
            for event in &span.span.events {
                let attrs: Vec<String> = event
                    .attributes
                    .iter()
                    .map(|kv| {
                        format!("{}={}", kv.key, kv.value.as_ref().map(display_value).unwrap_or_default())
                    })
                    .collect();
                let _ = write!(
                    out,
                    "<tr class=\"event\"><td>+{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
                    millis(event.time_unix_nano.saturating_sub(start)),
                    Escaped(&event.name),
                    Escaped(&attrs.join(" "))
                );
            }
            out.push_str("</table>");
        }
        if !span.span.links.is_empty() {
            out.push_str("<h3>Links</h3><table>");
            for link in &span.span.links {
                let trace = TraceId::from_bytes(&link.trace_id).map(|t| t.to_string()).unwrap_or_default();
                let linked = SpanId::from_bytes(&link.span_id).map(|s| s.to_string()).unwrap_or_default();
                let _ = write!(
                    out,
                    "<tr class=\"link\"><td><a href=\"{}/trace/{trace}?span={linked}#span-{linked}\">{trace}</a></td><td class=\"mono\">{linked}</td></tr>",
                    Escaped(base)
                );
            }
            out.push_str("</table>");
        }
        if let Some(span_logs) = span.span_id().and_then(|id| logs_by_span.get(&id)) {
            out.push_str("<h3>Logs</h3>");
            logs_table(&mut out, span_logs, start);
        }
        out.push_str("<details class=\"resource\"><summary>Resource</summary>");
        attributes_table(&mut out, &span.origin.resource.attributes);
        out.push_str("</details></div></details>");
    }
    out.push_str("</section>");
    if !loose_logs.is_empty() {
        out.push_str("<section id=\"trace-logs\"><h2>Logs of this trace outside its stored spans</h2>");
        logs_table(&mut out, &loose_logs, start);
        out.push_str("</section>");
    }
    page::close(&mut out);
    out
}

fn logs_table(out: &mut String, logs: &[&StoredLog], start: u64) {
    out.push_str("<table class=\"logs\">");
    for log in logs {
        let record = &log.record;
        let time =
            if record.time_unix_nano > 0 { record.time_unix_nano } else { record.observed_time_unix_nano };
        // Severity numbers 17 and above are ERROR and FATAL.
        let error = record.severity_number >= 17;
        let body = record.body.as_ref().map(display_value).unwrap_or_default();
        let attrs: Vec<String> = record
            .attributes
            .iter()
            .map(|kv| format!("{}={}", kv.key, kv.value.as_ref().map(display_value).unwrap_or_default()))
            .collect();
        let _ = write!(
            out,
            "<tr class=\"log{}\"><td>+{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"muted\">{}</td></tr>",
            if error { " error" } else { "" },
            millis(time.saturating_sub(start)),
            Escaped(log.origin.service.as_ref()),
            Escaped(&record.severity_text),
            Escaped(&body),
            Escaped(&attrs.join(" ")),
        );
    }
    out.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use opentelemetry_proto::tonic::trace::v1::Span;

    use super::*;
    use crate::model::Origin;

    fn span(id: u8, parent: Option<u8>, start: u64) -> StoredSpan {
        StoredSpan {
            origin: Arc::new(Origin::new(None, String::new())),
            span: Span {
                trace_id: vec![1; 16],
                span_id: vec![id; 8],
                parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
                start_time_unix_nano: start,
                end_time_unix_nano: start + 10,
                name: format!("s{id}"),
                ..Default::default()
            },
        }
    }

    #[test]
    fn parents_first_children_by_start() {
        let spans = [span(3, Some(1), 30), span(1, None, 0), span(2, Some(1), 20), span(4, Some(2), 25)];
        let order: Vec<(String, usize)> =
            layout(&spans).iter().map(|r| (spans[r.index].span.name.clone(), r.depth)).collect();
        assert_eq!(order, [("s1".into(), 0), ("s2".into(), 1), ("s4".into(), 2), ("s3".into(), 1)]);
    }

    #[test]
    fn cycles_and_orphans_are_shown_once() {
        let spans = [span(1, Some(2), 0), span(2, Some(1), 5), span(3, Some(9), 1)];
        let rows = layout(&spans);
        assert_eq!(rows.len(), 3);
        let mut seen: Vec<usize> = rows.iter().map(|r| r.index).collect();
        seen.sort();
        assert_eq!(seen, [0, 1, 2]);
    }

    #[test]
    fn a_deep_chain_does_not_recurse() {
        let spans: Vec<StoredSpan> = (0..50_000u32)
            .map(|i| {
                let mut s = span(0, None, u64::from(i));
                s.span.span_id = (u64::from(i) + 1).to_be_bytes().to_vec();
                s.span.parent_span_id = if i == 0 { vec![] } else { u64::from(i).to_be_bytes().to_vec() };
                s
            })
            .collect();
        let rows = layout(&spans);
        assert_eq!(rows.last().map(|r| r.depth), Some(49_999));
    }
}
