//! The HTTP front end: OTLP/HTTP with protobuf or JSON bodies, gzip accepted,
//! decoded by throughline-otlp-decode.

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
use serde::de::DeserializeOwned;
use throughline_otlp_decode::{Format, Limits, decode};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::tls::TlsListener;
use super::{Answer, Shared, Signal, Store};
use crate::received::Protocol;

pub(super) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let refused = shared.tls_refused.clone();
    let app = Router::new()
        .route(
            "/v1/traces",
            post(|State(shared), headers, body| {
                export::<ExportTraceServiceRequest, ExportTraceServiceResponse>(
                    shared,
                    Signal::Traces,
                    headers,
                    body,
                    Store::record_traces,
                )
            }),
        )
        .route(
            "/v1/metrics",
            post(|State(shared), headers, body| {
                export::<ExportMetricsServiceRequest, ExportMetricsServiceResponse>(
                    shared,
                    Signal::Metrics,
                    headers,
                    body,
                    Store::record_metrics,
                )
            }),
        )
        .route(
            "/v1/logs",
            post(|State(shared), headers, body| {
                export::<ExportLogsServiceRequest, ExportLogsServiceResponse>(
                    shared,
                    Signal::Logs,
                    headers,
                    body,
                    Store::record_logs,
                )
            }),
        )
        .with_state(shared);
    let stopped = async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    let served = match tls {
        None => axum::serve(listener, app).with_graceful_shutdown(stopped).await,
        Some(acceptor) => {
            let listener = TlsListener { tcp: listener, acceptor, refused };
            axum::serve(listener, app).with_graceful_shutdown(stopped).await
        }
    };
    if let Err(error) = served {
        eprintln!("throughline-testing: OTLP HTTP receiver stopped: {error}");
    }
}

/// One export request: decode, answer by the current behaviour, record.
async fn export<Request, Success>(
    shared: Arc<Shared>,
    signal: Signal,
    headers: HeaderMap,
    body: Bytes,
    record: fn(&mut Store, Protocol, Request),
) -> Response
where
    Request: Message + Default + DeserializeOwned,
    Success: Message + Default,
{
    // Decoded as throughline-viewer decodes it: one reading of OTLP/HTTP.
    let (request, format) = match decode::<Request>(&headers, &body, Limits::default()) {
        Ok(decoded) => decoded,
        Err(why) => return (why.status(), why.to_string()).into_response(),
    };
    let protocol = match format {
        Format::Json => Protocol::HttpJson,
        Format::Protobuf => Protocol::HttpProtobuf,
    };
    match shared.handle(signal, |store| record(store, protocol, request)).await {
        // The response uses the request's encoding, as OTLP/HTTP requires.
        Answer::Accepted => {
            ([(header::CONTENT_TYPE, format.content_type())], format.success::<Success>()).into_response()
        }
        Answer::Unavailable => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Answer::Throttled(delay) => {
            let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
            (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, seconds.to_string())]).into_response()
        }
        Answer::Rejected => StatusCode::BAD_REQUEST.into_response(),
    }
}
