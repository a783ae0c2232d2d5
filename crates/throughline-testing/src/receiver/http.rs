//! The HTTP front end: OTLP/HTTP with protobuf bodies, gzip accepted.

use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{Answer, Shared, Signal};
use crate::received::Protocol;

pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .route("/v1/logs", post(logs))
        .with_state(shared);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        })
        .await;
    if let Err(error) = served {
        eprintln!("throughline-testing: OTLP HTTP receiver stopped: {error}");
    }
}

async fn traces(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let request = match decode::<ExportTraceServiceRequest>(&headers, &body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let answer =
        shared.handle(Signal::Traces, |store| store.record_traces(Protocol::HttpProtobuf, request)).await;
    respond(answer, ExportTraceServiceResponse::default())
}

async fn metrics(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let request = match decode::<ExportMetricsServiceRequest>(&headers, &body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let answer =
        shared.handle(Signal::Metrics, |store| store.record_metrics(Protocol::HttpProtobuf, request)).await;
    respond(answer, ExportMetricsServiceResponse::default())
}

async fn logs(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let request = match decode::<ExportLogsServiceRequest>(&headers, &body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let answer =
        shared.handle(Signal::Logs, |store| store.record_logs(Protocol::HttpProtobuf, request)).await;
    respond(answer, ExportLogsServiceResponse::default())
}

/// Reads a protobuf body, gunzipping it first when the sender compressed it.
fn decode<T: Message + Default>(headers: &HeaderMap, body: &[u8]) -> Result<T, Response> {
    let bad_request = |why: String| (StatusCode::BAD_REQUEST, why).into_response();
    let gzip =
        headers.get(header::CONTENT_ENCODING).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let decoded;
    let body = if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .map_err(|e| bad_request(format!("gzip: {e}")))?;
        decoded = out;
        &decoded[..]
    } else {
        body
    };
    T::decode(body).map_err(|e| bad_request(format!("protobuf: {e}")))
}

fn respond(answer: Answer, success: impl Message) -> Response {
    match answer {
        Answer::Accepted => {
            ([(header::CONTENT_TYPE, "application/x-protobuf")], success.encode_to_vec()).into_response()
        }
        Answer::Unavailable => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Answer::Rejected => StatusCode::BAD_REQUEST.into_response(),
    }
}
