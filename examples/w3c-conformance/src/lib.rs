//! A test service for the official W3C Trace Context test suite
//! (`w3c/trace-context`, folder `test/`).
//!
//! The harness POSTs a JSON array of `{"url": ..., "arguments": [...]}` with
//! trace headers. For each element the service POSTs `arguments` as JSON to
//! `url`, continuing the incoming trace with a new parent id for every call.
//! An invalid or missing `traceparent` starts a new trace.
//!
//! It is built as any service would be, on the production path only:
//! throughline-tower's `HttpServerLayer` reads the incoming context and makes
//! it the parent of the request's server span, and each outgoing call goes
//! through throughline-reqwest's `TracingMiddleware`, a client span whose
//! context is what travels downstream. Nothing is read or written by hand:
//! the `tracestate` members and the random flag that OpenTelemetry's types
//! cannot hold cross the service through the context's `TraceOrigin`.

use std::sync::Once;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use opentelemetry::trace::TracerProvider as _;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde::Deserialize;
use throughline_reqwest::TracingMiddleware;
use throughline_tower::server::HttpServerLayer;
use tracing_subscriber::layer::SubscriberExt;

/// One call the harness asks for.
#[derive(Debug, Deserialize)]
pub struct Action {
    /// Where to POST.
    pub url: String,
    /// The JSON body to POST; `[]` when absent or null.
    #[serde(default)]
    pub arguments: Option<serde_json::Value>,
}

/// The service's routes: `POST /test`, behind the server layer.
///
/// Installs, once per process, the tracing subscriber that bridges spans to
/// OpenTelemetry (an SDK tracer provider that samples like its parent and
/// exports nowhere): without a tracer there are no span ids to send.
pub fn app() -> Router {
    static TRACING: Once = Once::new();
    TRACING.call_once(|| {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("w3c-conformance")));
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            eprintln!("w3c-conformance: a global tracing subscriber was already set");
        }
    });
    let client = ClientBuilder::new(reqwest::Client::new()).with(TracingMiddleware::default()).build();
    Router::new().route("/test", post(test)).with_state(client).layer(HttpServerLayer::new())
}

async fn test(State(client): State<ClientWithMiddleware>, Json(actions): Json<Vec<Action>>) -> StatusCode {
    for action in actions {
        // Each call is a client span of its own, so each gets a new parent id.
        let body = action.arguments.unwrap_or_else(|| serde_json::json!([]));
        let sent = client
            .post(&action.url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        if let Err(error) = sent {
            eprintln!("w3c-conformance: POST {} failed: {error}", action.url);
        }
    }
    StatusCode::OK
}
