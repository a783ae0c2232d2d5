//! A test service for the official W3C Trace Context test suite
//! (`w3c/trace-context`, folder `test/`).
//!
//! The harness POSTs a JSON array of `{"url": ..., "arguments": [...]}` with
//! trace headers. For each element the service POSTs `arguments` as JSON to
//! `url`, continuing the incoming trace with a new parent id for every call and
//! passing on the incoming `tracestate` and `baggage`. An invalid or missing
//! `traceparent` starts a new trace.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use throughline_propagation::{Propagator, SpanId, TraceContext, TraceParent};

/// One call the harness asks for.
#[derive(Debug, Deserialize)]
pub struct Action {
    /// Where to POST.
    pub url: String,
    /// The JSON body to POST; `[]` when absent or null.
    #[serde(default)]
    pub arguments: Option<serde_json::Value>,
}

#[derive(Clone)]
struct Service {
    client: reqwest::Client,
    propagator: Propagator,
}

/// The service's routes: `POST /test`.
pub fn app() -> Router {
    let service = Service { client: reqwest::Client::new(), propagator: Propagator::default() };
    Router::new().route("/test", post(test)).with_state(service)
}

async fn test(
    State(service): State<Service>,
    headers: HeaderMap,
    Json(actions): Json<Vec<Action>>,
) -> StatusCode {
    let extracted = service.propagator.extract(&headers);
    for error in &extracted.errors {
        eprintln!("w3c-conformance: ignored incoming header: {error}");
    }
    // This request's own span: a child of the caller's, or the root of a new trace.
    let server_span = match extracted.trace {
        Some(incoming) => incoming.child(SpanId::random()),
        None => TraceContext::new(TraceParent::new_trace(true)),
    };
    for action in actions {
        // Every outgoing call is a span of its own, so each gets a new parent id.
        let call = server_span.child(SpanId::random());
        let mut outgoing = HeaderMap::new();
        service.propagator.inject(Some(&call), &extracted.baggage, &mut outgoing);
        let body = action.arguments.unwrap_or_else(|| serde_json::json!([]));
        let sent = service
            .client
            .post(&action.url)
            .headers(outgoing)
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
