//! Every secret the policy lists, sent through every path telemetry takes
//! (server span, client span, log line, exported log, a failed call's error
//! description), and none of them found in what leaves the process.
//!
//! The spans' attributes and status are checked as the layers made them:
//! they must be safe at the source. The span events a log line inside a
//! span becomes are checked after the redaction the facade's `init()`
//! applies to every exported span (`Redaction::redact_attributes` and
//! `redact_in_place` on each event), as that is where it happens.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use axum::routing::get;
use opentelemetry_sdk::trace::SpanData;
use reqwest_middleware::ClientBuilder;
use support::refused_address;
use throughline_reqwest::{ClientInstrumentation, TracingMiddleware};
use throughline_subscriber::{ContextLayer, Json, LogsLayer, QueryCredentials, Redaction};
use throughline_testing::Capture;
use throughline_tower::semconv::{QueryRedaction, SENSITIVE_HEADERS};
use throughline_tower::server::HttpServerLayer;
use tokio::net::TcpListener;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// Where log lines go instead of standard output.
#[derive(Clone, Default)]
struct Stdout(Arc<Mutex<Vec<u8>>>);

impl Write for Stdout {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Stdout {
    type Writer = Stdout;

    fn make_writer(&'a self) -> Stdout {
        self.clone()
    }
}

/// A value no other text contains, one per secret.
fn secret(index: usize) -> String {
    format!("s3cr3t{index:02}zq")
}

/// Every listed query key, each with its own secret, then a visible pair;
/// keys in another case, and one percent-encoded, as a caller may send them.
fn query() -> String {
    let mut pairs: Vec<String> = QueryRedaction::DEFAULT_KEYS
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let key = if i % 2 == 0 { key.to_ascii_uppercase() } else { key.to_string() };
            format!("{key}={}", secret(i))
        })
        .collect();
    pairs.push(format!("access%5Ftoken={}", secret(90)));
    pairs.push("q=visible".to_owned());
    pairs.join("&")
}

fn sensitive_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (i, name) in SENSITIVE_HEADERS.iter().enumerate() {
        headers.insert(name.clone(), HeaderValue::from_str(&secret(50 + i)).unwrap());
    }
    headers.insert("x-request-id", HeaderValue::from_static("visible-request-id"));
    headers
}

fn captured_headers() -> Vec<HeaderName> {
    SENSITIVE_HEADERS.iter().cloned().chain([HeaderName::from_static("x-request-id")]).collect()
}

/// The spans as `init()` exports them: span events redacted.
fn exported(mut spans: Vec<SpanData>) -> Vec<SpanData> {
    let policy = Redaction::default();
    for span in &mut spans {
        for event in span.events.events.iter_mut() {
            policy.redact_in_place(&mut event.name);
            policy.redact_attributes(&mut event.attributes);
        }
    }
    spans
}

#[test]
fn the_two_lists_of_query_keys_are_the_same() {
    assert_eq!(QueryRedaction::DEFAULT_KEYS, QueryCredentials::DEFAULT_KEYS);
}

#[tokio::test(flavor = "current_thread")]
async fn no_listed_secret_leaves_the_process() {
    let capture = Capture::new();
    let stdout = Stdout::default();
    let subscriber = tracing_subscriber::registry()
        .with(ContextLayer::new())
        .with(Json::default().layer().with_writer(stdout.clone()))
        .with(capture.layer())
        .with(LogsLayer::new(capture.logger_provider()));
    let _default = tracing::subscriber::set_default(subscriber);

    let app = Router::new()
        .route(
            "/echo",
            get(|uri: Uri| async move {
                tracing::info!(uri = %uri, "received {uri}");
                (sensitive_headers(), "ok")
            }),
        )
        .layer(
            HttpServerLayer::new()
                .capture_request_headers(captured_headers())
                .capture_response_headers(captured_headers()),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::with_instrumentation(ClientInstrumentation::new()))
        .build();
    let url = format!("http://user:{}@{addr}/echo?{}", secret(98), query());
    let response = client.get(&url).headers(sensitive_headers()).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "ok");

    let refused = format!("http://user:{}@{}/echo?{}", secret(99), refused_address().await, query());
    let error = client.get(&refused).send().await.unwrap_err();
    tracing::warn!(error = %error, "call failed: {error}");

    let spans = format!("{:?}", exported(capture.spans().all().to_vec()));
    let logs = format!("{:?}", capture.logs());
    let lines = String::from_utf8(stdout.0.lock().unwrap().clone()).unwrap();
    // Each path was taken: what is not secret shows.
    assert!(spans.contains("q=visible") && spans.contains("visible-request-id"), "{spans}");
    assert!(spans.contains("error sending request"), "the error description is recorded: {spans}");
    assert!(logs.contains("q=visible") && logs.contains("call failed"), "{logs}");
    assert!(lines.contains("q=visible") && lines.contains("call failed"), "{lines}");
    for (path, output) in [("spans", &spans), ("exported logs", &logs), ("log lines", &lines)] {
        let leaked: Vec<&str> = output.match_indices("s3cr3t").map(|(at, _)| &output[at..at + 10]).collect();
        assert!(leaked.is_empty(), "{path} leak {leaked:?}:\n{output}");
    }
}

#[test]
fn spans_and_logs_redact_the_same_query_keys() {
    // Two crates, one list: throughline-subscriber does not depend on
    // throughline-tower, so each names the keys, and this keeps them equal.
    assert_eq!(throughline_tower::semconv::QueryRedaction::DEFAULT_KEYS, QueryCredentials::DEFAULT_KEYS);
}
