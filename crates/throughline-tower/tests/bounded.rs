//! Values taken from a request are cut to a bound before anything scans
//! them: a 200 KB user agent or header, a 30 KB path or query, is recorded
//! as its first 4096 characters.

mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, Request};
use axum::routing::get;
use opentelemetry::Value;
use opentelemetry::trace::SpanKind;
use support::{WAIT, layer};
use throughline_testing::Capture;
use throughline_tower::semconv::{SemconvStability, ValueLength};
use tower::ServiceExt;

/// 200 KB of secret-like tokens (visible ASCII, as a header value must be
/// to be recorded at all).
fn flood() -> String {
    "Bearer abcdefgh12 a@b.cd 4111111111111111 ".repeat(200 * 1024 / 42)
}

#[tokio::test(flavor = "current_thread")]
async fn every_string_from_the_request_is_cut_to_the_bound() {
    assert_eq!(ValueLength::from_env(), ValueLength::DEFAULT, "the test runs without the variable");
    let capture = Capture::new();
    let _default = capture.set_default();
    let layer = layer(&capture)
        .semconv_stability(SemconvStability::Duplicate)
        .capture_request_headers([HeaderName::from_static("x-note")]);
    let app = Router::new().fallback(get(|| async { "ok" })).layer(layer);

    // A URI holds at most 64 KiB (http::Uri's own bound).
    let long_path = format!("/{}", "p".repeat(30 * 1024));
    let query = format!("token=s3cr3t&q={}", "x".repeat(30 * 1024));
    let request = Request::get(format!("{long_path}?{query}"))
        .header("user-agent", flood())
        .header("x-note", flood())
        .header("x-forwarded-for", format!("{}, 10.0.0.1", "1".repeat(200 * 1024)))
        .body(Body::empty())
        .unwrap();
    app.oneshot(request).await.unwrap();

    let spans = capture.wait_for_spans(1, WAIT).await.unwrap();
    let span = spans.one_of_kind(SpanKind::Server);
    for attribute in &span.attributes {
        let longest = match &attribute.value {
            Value::String(text) => text.as_str().chars().count(),
            Value::Array(opentelemetry::Array::String(texts)) => {
                texts.iter().map(|t| t.as_str().chars().count()).max().unwrap_or(0)
            }
            _ => 0,
        };
        assert!(longest <= 4096, "{} holds {longest} characters", attribute.key);
    }
    let user_agent = flood().chars().take(4096).collect::<String>();
    span.assert_attribute("user_agent.original", user_agent.clone())
        .assert_strings("http.request.header.x-note", &[&user_agent]);
    let recorded_query = span.attribute("url.query").unwrap().as_str();
    assert!(recorded_query.starts_with("token=REDACTED&q=xxx"), "{}", &recorded_query[..40]);
    // Cut (to 4096), redacted (two characters longer), and cut again as it is recorded.
    assert_eq!(recorded_query.len(), 4096);
    assert_eq!(span.attribute("url.path").unwrap().as_str().len(), 4096);
    assert_eq!(span.attribute("http.target").unwrap().as_str().len(), 4096);
}
