//! A local axum server on 127.0.0.1 and the telemetry the tests assert on.
//! Tests run on tokio's current-thread runtime, so the thread-local
//! subscriber also covers the server's tasks.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::SpanData;
use throughline_testing::Capture;
use tokio::net::TcpListener;

/// How many requests the flaky routes have answered.
#[derive(Clone, Default)]
pub(crate) struct Calls(pub Arc<AtomicU32>);

impl Calls {
    pub(crate) fn get(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The header value the server received, or `none`.
fn header(headers: &HeaderMap, name: &str) -> String {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("none").to_owned()
}

/// `/echo`: the traceparent and baggage received; `/status/{code}`;
/// `/slow`: answers after a minute; `/flaky`: 503 on the first call, then 200.
pub(crate) async fn serve() -> (SocketAddr, Calls) {
    let calls = Calls::default();
    let flaky = |State(calls): State<Calls>| async move {
        match calls.0.fetch_add(1, Ordering::SeqCst) {
            0 => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::OK,
        }
    };
    let app = Router::new()
        .route(
            "/echo",
            get(|headers: HeaderMap| async move {
                format!("{} {}", header(&headers, "traceparent"), header(&headers, "baggage"))
            }),
        )
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>| async move { StatusCode::from_u16(code).unwrap() }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        )
        .route("/flaky", get(flaky).post(flaky))
        .route("/post", post(|| async { "ok" }))
        .with_state(calls.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, calls)
}

/// An address nothing listens on: bound, then released.
pub(crate) async fn refused_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// The client spans, in the order they ended.
pub(crate) fn client_spans(capture: &Capture) -> Vec<SpanData> {
    capture.spans().all().iter().filter(|s| s.span_kind == SpanKind::Client).cloned().collect()
}

/// The `traceparent` the server echoed: (trace id, parent id, flags).
pub(crate) fn parse_traceparent(echo: &str) -> Option<(String, String, String)> {
    let traceparent = echo.split(' ').next()?;
    let mut parts = traceparent.split('-');
    let (_, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some((trace.to_owned(), parent.to_owned(), flags.to_owned()))
}

pub(crate) fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a opentelemetry::Value> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value)
}
