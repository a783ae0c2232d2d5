//! A test service for the official W3C Trace Context test suite
//! (`w3c/trace-context`, folder `test/`).
//!
//! The harness POSTs a JSON array of `{"url": ..., "arguments": [...]}` with
//! trace headers. For each element the service POSTs `arguments` as JSON to
//! `url`, continuing the incoming trace with a new parent id for every call and
//! passing on the incoming `tracestate` and `baggage`. An invalid or missing
//! `traceparent` starts a new trace.
//!
//! The incoming context is read by throughline-tower's server layer, which
//! makes it the parent of the request's server span; each outgoing call is a
//! client span under it, whose context is what travels downstream.

use std::sync::Once;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use serde::Deserialize;
use throughline_propagation::{Propagator, TraceContext};
use throughline_tower::server::HttpServerLayer;
use tracing_opentelemetry::OpenTelemetrySpanExt;
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

#[derive(Clone)]
struct Service {
    client: reqwest::Client,
    propagator: Propagator,
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
    let service = Service { client: reqwest::Client::new(), propagator: Propagator::default() };
    Router::new().route("/test", post(test)).with_state(service).layer(HttpServerLayer::new())
}

async fn test(
    State(service): State<Service>,
    headers: HeaderMap,
    Json(actions): Json<Vec<Action>>,
) -> StatusCode {
    // The layer made the caller's context the parent of the server span. The
    // `tracestate` and baggage to pass on are read again here with the strict
    // codec, because their OpenTelemetry types lose what the suite checks:
    // `Baggage` does not keep member order, and `TraceState` rejects some
    // valid keys (a 14-character vendor id).
    let incoming = service.propagator.extract(&headers);
    for action in actions {
        // Every outgoing call is a span of its own, so each gets a new parent id.
        let call = tracing::info_span!("POST", otel.kind = "client");
        let trace = TraceContext::from_span_context(call.context().span().span_context()).map(|mut trace| {
            // Only a continued trace carries the caller's vendor state.
            if let Some(caller) = &incoming.trace
                && caller.traceparent.trace_id() == trace.traceparent.trace_id()
            {
                trace.tracestate = caller.tracestate.clone();
            }
            trace
        });
        let mut outgoing = HeaderMap::new();
        service.propagator.inject(trace.as_ref(), &incoming.baggage, &mut outgoing);
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
