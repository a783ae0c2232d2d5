//! The pages say what the trace holds: read as HTML, as a browser without
//! script would, and as JSON.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span, status};
use throughline_viewer::{Access, Viewer};
use tower::ServiceExt;

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.into(), key_strindex: 0, value: Some(AnyValue { value: Some(value) }) }
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", any_value::Value::StringValue(service.into()))],
        ..Default::default()
    })
}

fn span(id: u64, parent: Option<u64>, name: &str, kind: span::SpanKind, start: u64, end: u64) -> Span {
    Span {
        trace_id: hex(TRACE),
        span_id: id.to_be_bytes().to_vec(),
        parent_span_id: parent.map(|p| p.to_be_bytes().to_vec()).unwrap_or_default(),
        name: name.into(),
        kind: kind as i32,
        start_time_unix_nano: 1_000_000_000 + start * 1_000_000,
        end_time_unix_nano: 1_000_000_000 + end * 1_000_000,
        ..Default::default()
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn batch(service: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: resource(service),
        scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
        ..Default::default()
    }
}

/// orders' server span calls payments twice (the second a retry that
/// fails) and inventory once.
fn viewer() -> Viewer {
    use span::SpanKind::{Client, Server};
    let viewer = Viewer::default();
    let mut retry = span(3, Some(1), "POST /payments", Client, 40, 90);
    retry.attributes.push(kv("http.request.resend_count", any_value::Value::IntValue(1)));
    retry.status =
        Some(Status { code: status::StatusCode::Error as i32, message: "503 <Service Unavailable>".into() });
    retry.events.push(span::Event {
        name: "circuit breaker opened".into(),
        time_unix_nano: 1_085_000_000,
        ..Default::default()
    });
    let mut failed = span(5, Some(3), "POST /payments", Server, 42, 88);
    failed.status = Some(Status { code: status::StatusCode::Error as i32, message: "declined".into() });
    viewer.ingest_traces(ExportTraceServiceRequest {
        resource_spans: vec![
            batch(
                "orders",
                vec![
                    span(1, None, "POST /orders", Server, 0, 100),
                    span(2, Some(1), "POST /payments", Client, 5, 35),
                    retry,
                    span(6, Some(1), "inventory.Stock/Reserve", Client, 92, 99),
                ],
            ),
            batch("payments", vec![span(4, Some(2), "POST /payments", Server, 6, 34), failed]),
            batch("inventory", vec![span(7, Some(6), "inventory.Stock/Reserve", Server, 93, 98)]),
        ],
    });
    viewer.ingest_logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource("payments"),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    trace_id: hex(TRACE),
                    span_id: 5u64.to_be_bytes().to_vec(),
                    severity_number: 17,
                    severity_text: "ERROR".into(),
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("card <declined>".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    viewer
}

async fn get(app: axum::Router, uri: &str) -> (StatusCode, String) {
    let response = app.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn the_list_shows_the_trace_services_and_routes() {
    let (status, html) = get(viewer().router(), "/").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("data-trace-id=\"{TRACE}\"")));
    assert!(html.contains("href=\"/trace/0af7651916cd43dd8448eb211c80319c\""));
    for service in ["orders", "payments", "inventory"] {
        assert!(html.contains(&format!("<option>{service}</option>")), "{service} missing from the filter");
    }
    // Each entry route with its numbers.
    assert!(html.contains("<tr class=\"route\" data-service=\"orders\">"));
    assert!(html.contains("<tr class=\"route error\" data-service=\"payments\">"));
    assert!(html.contains("2 errors") && html.contains("1 retries"));
    assert!(!html.contains("<script"), "the page needs no script");
}

#[tokio::test]
async fn filters_come_from_the_form() {
    let viewer = viewer();
    let (_, html) =
        get(viewer.router(), "/?service=inventory&name=&min_duration_ms=&trace_id=&errors_only=on").await;
    assert!(html.contains(TRACE), "errors_only=on and empty fields are a valid form");
    let (_, html) = get(viewer.router(), "/?min_duration_ms=500").await;
    assert!(html.contains("id=\"no-traces\""));
}

#[tokio::test]
async fn the_trace_page_draws_the_waterfall_in_parent_order() {
    let (status, html) = get(viewer().router(), &format!("/trace/{TRACE}")).await;
    assert_eq!(status, 200);
    // Rows in tree order: each span right after its parent's earlier children.
    let order: Vec<&str> = html.split("data-span-id=\"").skip(1).map(|s| &s[..16]).collect();
    let ids: Vec<String> = [1u64, 2, 4, 3, 5, 6, 7].iter().map(|i| format!("{i:016x}")).collect();
    assert_eq!(order, ids);
    assert!(html.contains("data-depth=\"2\" data-kind=\"server\""));
    // The retry, the error, the breaker event and who called whom are marked.
    assert!(html.contains("<span class=\"badge retry\">retry #1</span>"));
    assert!(html.contains("class=\"span error retry\""));
    assert!(html.contains("<span class=\"badge resilience\">circuit breaker opened</span>"));
    assert!(html.contains("<span class=\"badge remote\">called by orders</span>"));
    // Escaped, never markup.
    assert!(html.contains("503 &lt;Service Unavailable&gt;"));
    assert!(html.contains("card &lt;declined&gt;"), "the log record is under its span");
    assert!(!html.contains("<declined>"));
}

#[tokio::test]
async fn a_selected_span_opens() {
    let uri = format!("/trace/{TRACE}?span={:016x}", 5);
    let (_, html) = get(viewer().router(), &uri).await;
    assert!(html.contains(&format!("id=\"span-{:016x}\"", 5)));
    assert_eq!(html.matches(" open><summary>").count(), 1);
}

#[tokio::test]
async fn unknown_and_malformed_ids() {
    let (status, html) = get(viewer().router(), &format!("/trace/{}", "1".repeat(32))).await;
    assert_eq!(status, 404);
    assert!(html.contains("id=\"not-found\""));
    let (status, _) = get(viewer().router(), "/trace/not-hex").await;
    assert_eq!(status, 400);
    let (status, _) = get(viewer().router(), "/api/traces/zz").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn json_for_scripts() {
    let viewer = viewer();
    let (status, body) = get(viewer.router(), "/api/traces?service=payments&errors_only=true").await;
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["traces"][0]["trace_id"], TRACE);
    assert_eq!(list["traces"][0]["services"], serde_json::json!(["inventory", "orders", "payments"]));
    let (_, body) = get(viewer.router(), &format!("/api/traces/{TRACE}")).await;
    let trace: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(trace["spans"].as_array().unwrap().len(), 7);
    assert_eq!(trace["spans"][0]["span"]["spanId"], format!("{:016x}", 1), "OTLP JSON, hex ids");
    assert_eq!(trace["logs"][0]["record"]["severityText"], "ERROR");
    let (_, body) = get(viewer.router(), "/api/routes").await;
    let routes: serde_json::Value = serde_json::from_str(&body).unwrap();
    let payments = routes.as_array().unwrap().iter().find(|r| r["service"] == "payments").unwrap();
    assert_eq!((payments["count"].as_u64(), payments["errors"].as_u64()), (Some(2), Some(1)));
    assert!(payments["samples"]["10ms"].as_array().is_some_and(|s| !s.is_empty()));
}

async fn from(app: axum::Router, peer: Option<&str>, uri: &str) -> (StatusCode, String) {
    let mut request = Request::get(uri).body(Body::empty()).unwrap();
    if let Some(peer) = peer {
        request.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    }
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn mounted_it_answers_loopback_only_with_links_under_its_prefix() {
    let viewer = viewer();
    let app = || axum::Router::new().nest("/debug/traces", viewer.debug_router(Access::Loopback));
    let (status, html) = from(app(), Some("127.0.0.1:5000"), "/debug/traces").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("href=\"/debug/traces/trace/{TRACE}\"")));
    assert_eq!(from(app(), Some("[::ffff:127.0.0.1]:5000"), "/debug/traces").await.0, 200);
    assert_eq!(from(app(), Some("10.1.2.3:5000"), "/debug/traces").await.0, 404);
    assert_eq!(from(app(), Some("10.1.2.3:5000"), &format!("/debug/traces/api/traces/{TRACE}")).await.0, 404);
    assert_eq!(from(app(), None, "/debug/traces").await.0, 403);
    let private = axum::Router::new().nest(
        "/debug/traces",
        viewer.debug_router(Access::peers(|ip| matches!(ip, std::net::IpAddr::V4(v4) if v4.is_private()))),
    );
    assert_eq!(from(private, Some("10.1.2.3:5000"), "/debug/traces").await.0, 200);
}
