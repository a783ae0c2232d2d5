//! The web UI and the JSON endpoints, served by axum: server-rendered HTML
//! that reads without a script.
//!
//! | path | what |
//! |---|---|
//! | `/` | the trace list with filters, and each route's rate, errors and percentiles |
//! | `/trace/{id}` | one trace's waterfall (`?span=ID` opens that span) |
//! | `/api/traces` | the list as JSON, with the filters as parameters |
//! | `/api/traces/{id}` | one trace as JSON: OTLP spans and log records with their service |
//! | `/api/routes` | per route: rate, error ratio, p50/p95/p99, sample traces per latency bucket |
//! | `/api/stats` | what the store holds and evicted |

use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::NestedPathRejection;
use axum::extract::{ConnectInfo, NestedPath, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::Viewer;
use crate::model::SpanId;
use crate::query::{TraceQuery, parse_trace_id};
use crate::stats::{LATENCY_BUCKET_NAMES, RouteKey};

mod page;
pub(crate) mod waterfall;

use page::{Escaped, clock, service_hue};

/// Who may reach a mounted viewer.
///
/// ```
/// use throughline_viewer::Access;
///
/// let admins = Access::peers(|ip| ip.is_loopback() || ip.to_string().starts_with("10.0.7."));
/// # let _ = admins;
/// ```
#[derive(Clone, Default)]
pub enum Access {
    /// Callers on this machine only (the default): `127.0.0.0/8` and `::1`.
    #[default]
    Loopback,
    /// Anyone who reaches the service.
    Anyone,
    /// Callers whose address the predicate accepts.
    Peers(Arc<dyn Fn(IpAddr) -> bool + Send + Sync>),
}

impl Access {
    /// Callers whose address `allow` accepts.
    pub fn peers(allow: impl Fn(IpAddr) -> bool + Send + Sync + 'static) -> Self {
        Self::Peers(Arc::new(allow))
    }

    fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            // An IPv4 caller on a dual-stack listener.
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match self {
            Self::Loopback => ip.is_loopback(),
            Self::Anyone => true,
            Self::Peers(allow) => allow(ip),
        }
    }
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Loopback => "Loopback",
            Self::Anyone => "Anyone",
            Self::Peers(_) => "Peers(..)",
        })
    }
}

impl Viewer {
    /// The UI and the JSON endpoints, for anyone who reaches them: for the
    /// standalone viewer, or behind your own access control. Nest it
    /// anywhere; its links follow the prefix.
    ///
    /// ```
    /// let viewer = throughline_viewer::Viewer::default();
    /// let app: axum::Router = axum::Router::new().nest("/traces", viewer.router());
    /// ```
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(list_page))
            .route("/trace/{id}", get(trace_page))
            .route("/api/traces", get(api_traces))
            .route("/api/traces/{id}", get(api_trace))
            .route("/api/routes", get(api_routes))
            .route("/api/stats", get(api_stats))
            .with_state(self.clone())
    }

    /// One trace's page, as `/trace/{id}` serves it at the root, or `None`
    /// when the store does not hold it.
    ///
    /// ```
    /// let viewer = throughline_viewer::Viewer::default();
    /// assert!(viewer.render_trace(&"0af7651916cd43dd8448eb211c80319c".parse().unwrap()).is_none());
    /// ```
    pub fn render_trace(&self, id: &crate::TraceId) -> Option<String> {
        let stats = self.stats();
        let store = self.store();
        let trace = store.get(id)?;
        Some(waterfall::render("", id, &trace.spans, &trace.logs, None, &stats))
    }

    /// The UI for a service to mount at `/debug/traces`, refusing callers
    /// `access` does not allow with `404 Not Found`. It reads the caller's
    /// address from axum's `ConnectInfo`: serve the app with
    /// `into_make_service_with_connect_info::<SocketAddr>()` (throughline's
    /// `Telemetry::serve` does); without it every caller is refused.
    ///
    /// ```
    /// use throughline_viewer::{Access, Viewer};
    ///
    /// let viewer = Viewer::default();
    /// let app: axum::Router = axum::Router::new()
    ///     .route("/", axum::routing::get(|| async { "ok" }))
    ///     .nest("/debug/traces", viewer.debug_router(Access::Loopback));
    /// ```
    pub fn debug_router(&self, access: Access) -> Router {
        self.router().layer(middleware::from_fn(move |request: Request, next: Next| {
            let access = access.clone();
            async move {
                let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
                match peer {
                    Some(ip) if access.allows(ip) => next.run(request).await,
                    Some(_) => StatusCode::NOT_FOUND.into_response(),
                    None => (
                        StatusCode::FORBIDDEN,
                        "the trace viewer needs the caller's address: serve the app with \
                         into_make_service_with_connect_info::<SocketAddr>()",
                    )
                        .into_response(),
                }
            }
        }))
    }
}

fn base(nested: &Result<NestedPath, NestedPathRejection>) -> String {
    nested.as_ref().map(|n| n.as_str().trim_end_matches('/').to_owned()).unwrap_or_default()
}

async fn list_page(
    State(viewer): State<Viewer>,
    nested: Result<NestedPath, NestedPathRejection>,
    Query(query): Query<TraceQuery>,
) -> Html<String> {
    Html(render_list(&viewer, &base(&nested), &query))
}

fn render_list(viewer: &Viewer, base: &str, query: &TraceQuery) -> String {
    let traces = viewer.traces(query);
    let routes = viewer.routes();
    let services = viewer.services();
    let stats = viewer.stats();
    let mut out = String::with_capacity(16 * 1024 + traces.len() * 600);
    page::open(&mut out, base, "traces", &stats);

    out.push_str("<h1>Traces</h1><form class=\"filters\" method=\"get\" action=\"\">");
    out.push_str("<label>service<select name=\"service\"><option value=\"\">any</option>");
    for service in &services {
        let selected = query.service.as_deref() == Some(service.as_str());
        let _ =
            write!(out, "<option{}>{}</option>", if selected { " selected" } else { "" }, Escaped(service));
    }
    let _ = write!(
        out,
        "</select></label><label>span name or route<input name=\"name\" value=\"{}\" maxlength=\"256\"></label>\
         <label>min duration (ms)<input name=\"min_duration_ms\" type=\"number\" min=\"0\" step=\"any\" value=\"{}\"></label>\
         <label>trace id<input name=\"trace_id\" value=\"{}\" maxlength=\"32\" size=\"34\"></label>\
         <label><span>errors only</span><input type=\"checkbox\" name=\"errors_only\"{}></label>\
         <button type=\"submit\">Filter</button> <a href=\"{}/\">clear</a></form>",
        Escaped(query.name.as_deref().unwrap_or("")),
        query.min_duration_ms.map(|m| m.to_string()).unwrap_or_default(),
        Escaped(query.trace_id.as_deref().unwrap_or("")),
        if query.errors_only { " checked" } else { "" },
        Escaped(base),
    );

    let _ = write!(
        out,
        "<table id=\"traces\"><thead><tr><th>start (UTC)</th><th>root</th><th>services</th>\
         <th class=\"num\">duration</th><th class=\"num\">spans</th><th>marks</th></tr></thead><tbody>"
    );
    for trace in &traces {
        let error = trace.errors > 0;
        let _ = write!(
            out,
            "<tr class=\"trace{}\" data-trace-id=\"{}\" data-errors=\"{}\"><td class=\"mono\">{}</td>\
             <td><a href=\"{}/trace/{}\"><span class=\"svc\">{}</span> {}</a></td><td>",
            if error { " error" } else { "" },
            trace.trace_id,
            trace.errors,
            clock(trace.start_unix_nanos),
            Escaped(base),
            trace.trace_id,
            Escaped(&trace.root_service),
            Escaped(&trace.root_name),
        );
        for service in &trace.services {
            let _ = write!(
                out,
                "<span class=\"chip service\" style=\"background:hsl({},55%,42%)\">{}</span>",
                service_hue(service),
                Escaped(service)
            );
        }
        let _ = write!(
            out,
            "</td><td class=\"num\">{:.1} ms</td><td class=\"num\">{}</td><td>",
            trace.duration_ms, trace.spans
        );
        if error {
            let _ = write!(out, "<span class=\"badge error\">{} errors</span>", trace.errors);
        }
        if trace.retries > 0 {
            let _ = write!(out, "<span class=\"badge retry\">{} retries</span>", trace.retries);
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
    if traces.is_empty() {
        out.push_str(
            "<p class=\"muted\" id=\"no-traces\">No trace matches. Send OTLP here, or clear the filters.</p>",
        );
    }

    out.push_str(
        "<h2>Routes</h2><p class=\"muted\">From entry spans (server spans and roots): the rate and error \
         ratio over the minute before each route's latest span, percentiles since the start (within 19 %). \
         The traces kept per latency bucket survive any flood.</p>\
         <table id=\"routes\"><thead><tr><th>service</th><th>route</th><th class=\"num\">req/s</th>\
         <th class=\"num\">errors</th><th class=\"num\">p50</th><th class=\"num\">p95</th><th class=\"num\">p99</th>\
         <th>sample traces by latency</th></tr></thead><tbody>",
    );
    let store = viewer.store();
    for route in &routes {
        let _ = write!(
            out,
            "<tr class=\"route{}\" data-service=\"{}\"><td><span class=\"chip\" style=\"background:hsl({},55%,42%)\">{}</span></td>\
             <td>{}</td><td class=\"num\">{:.2}</td><td class=\"num\">{:.1} %</td><td class=\"num\">{:.1} ms</td>\
             <td class=\"num\">{:.1} ms</td><td class=\"num\">{:.1} ms</td><td>",
            if route.error_ratio > 0.0 { " error" } else { "" },
            Escaped(&route.service),
            service_hue(&route.service),
            Escaped(&route.service),
            Escaped(&route.route),
            route.rate_per_second,
            route.error_ratio * 100.0,
            route.p50_ms,
            route.p95_ms,
            route.p99_ms,
        );
        let key = RouteKey::new(route.service.as_str().into(), &route.route);
        if let Some(buckets) = store.samples(&key) {
            for (bucket, ids) in buckets.iter().enumerate() {
                for id in ids {
                    let _ = write!(
                        out,
                        "<a class=\"sample\" href=\"{}/trace/{id}\" title=\"{id}\">≥{}</a> ",
                        Escaped(base),
                        LATENCY_BUCKET_NAMES[bucket]
                    );
                }
            }
        }
        out.push_str("</td></tr>");
    }
    drop(store);
    out.push_str("</tbody></table>");
    let config = viewer.config();
    let _ = write!(
        out,
        "<p class=\"muted\">Bounds: {} spans, {} MiB; {} spans refused, {} log records refused, {} metric points counted.</p>",
        config.spans_bound(),
        config.bytes_bound() >> 20,
        stats.spans_refused,
        stats.logs_refused,
        stats.metric_points_received
    );
    page::close(&mut out);
    out
}

#[derive(Deserialize)]
struct SpanParam {
    span: Option<String>,
}

async fn trace_page(
    State(viewer): State<Viewer>,
    nested: Result<NestedPath, NestedPathRejection>,
    Path(id): Path<String>,
    Query(param): Query<SpanParam>,
) -> Response {
    let base = base(&nested);
    let Some(id) = parse_trace_id(&id) else {
        return (StatusCode::BAD_REQUEST, "a trace id is 32 hex digits").into_response();
    };
    let selected = param.span.and_then(|s| s.parse::<SpanId>().ok());
    let stats = viewer.stats();
    // Rendered under the lock, without copying the trace: the store waits
    // for one render, never for a copy of ten thousand spans.
    let store = viewer.store();
    match store.get(&id) {
        Some(trace) => {
            Html(waterfall::render(&base, &id, &trace.spans, &trace.logs, selected, &stats)).into_response()
        }
        None => {
            drop(store);
            let mut out = String::new();
            page::open(&mut out, &base, "trace not found", &stats);
            let _ = write!(
                out,
                "<h1>Trace <code>{id}</code> is not here</h1><p id=\"not-found\">It has not arrived yet, or it was \
                 evicted to keep the store within its bounds. <a href=\"{}/\">All traces</a></p>",
                Escaped(&base)
            );
            page::close(&mut out);
            (StatusCode::NOT_FOUND, Html(out)).into_response()
        }
    }
}

async fn api_traces(State(viewer): State<Viewer>, Query(query): Query<TraceQuery>) -> Response {
    Json(serde_json::json!({ "traces": viewer.traces(&query), "stats": viewer.stats() })).into_response()
}

async fn api_trace(State(viewer): State<Viewer>, Path(id): Path<String>) -> Response {
    let Some(id) = parse_trace_id(&id) else {
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": "a trace id is 32 hex digits"})))
            .into_response();
    };
    let store = viewer.store();
    let Some(trace) = store.get(&id) else {
        return (StatusCode::NOT_FOUND, Json(serde_json::json!({"error": "no such trace"}))).into_response();
    };
    let spans: Vec<serde_json::Value> = waterfall::layout(&trace.spans)
        .iter()
        .map(|row| {
            let s = &trace.spans[row.index];
            serde_json::json!({
                "service": s.service(),
                "scope": s.origin.scope,
                "depth": row.depth,
                "span": s.span,
                "resource": s.origin.resource,
            })
        })
        .collect();
    let logs: Vec<serde_json::Value> = trace
        .logs
        .iter()
        .map(|l| serde_json::json!({ "service": &*l.origin.service, "scope": l.origin.scope, "record": l.record }))
        .collect();
    let body = serde_json::json!({ "trace_id": id.to_string(), "spans": spans, "logs": logs });
    drop(store);
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

async fn api_routes(State(viewer): State<Viewer>) -> Response {
    let routes = viewer.routes();
    let store = viewer.store();
    let out: Vec<serde_json::Value> = routes
        .into_iter()
        .map(|route| {
            let key = RouteKey::new(route.service.as_str().into(), &route.route);
            let samples: serde_json::Map<String, serde_json::Value> = store
                .samples(&key)
                .map(|buckets| {
                    buckets
                        .iter()
                        .enumerate()
                        .filter(|(_, ids)| !ids.is_empty())
                        .map(|(i, ids)| {
                            let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
                            (LATENCY_BUCKET_NAMES[i].to_owned(), serde_json::json!(ids))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut value = serde_json::to_value(route).unwrap_or_default();
            value["samples"] = serde_json::Value::Object(samples);
            value
        })
        .collect();
    drop(store);
    Json(out).into_response()
}

async fn api_stats(State(viewer): State<Viewer>) -> Response {
    Json(viewer.stats()).into_response()
}
