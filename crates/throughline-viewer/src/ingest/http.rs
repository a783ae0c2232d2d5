//! OTLP over HTTP: `/v1/traces`, `/v1/metrics`, `/v1/logs`, protobuf or
//! JSON, gzip or not, decoded by throughline-otlp-decode (as
//! throughline-testing's receiver decodes them).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, header};
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
use throughline_otlp_decode::{Limits, decode};

use crate::Viewer;

/// The largest OTLP/HTTP body accepted as sent (compressed or not): 16 MiB.
///
/// ```
/// assert_eq!(throughline_viewer::MAX_HTTP_BODY_BYTES, 16 << 20);
/// ```
pub const MAX_HTTP_BODY_BYTES: usize = 16 << 20;

impl Viewer {
    /// The OTLP/HTTP receiver feeding this viewer: `POST /v1/traces`,
    /// `/v1/metrics` and `/v1/logs`, bodies up to
    /// [`MAX_HTTP_BODY_BYTES`] and 32 MiB once gunzipped.
    ///
    /// ```
    /// let viewer = throughline_viewer::Viewer::default();
    /// let app = viewer.otlp_http_router().merge(viewer.router());
    /// ```
    pub fn otlp_http_router(&self) -> Router {
        Router::new()
            .route(
                "/v1/traces",
                post(|State(viewer): State<Viewer>, headers: HeaderMap, body: Bytes| async move {
                    receive::<ExportTraceServiceRequest, ExportTraceServiceResponse>(&headers, &body, |r| {
                        viewer.ingest_traces(r)
                    })
                }),
            )
            .route(
                "/v1/metrics",
                post(|State(viewer): State<Viewer>, headers: HeaderMap, body: Bytes| async move {
                    receive::<ExportMetricsServiceRequest, ExportMetricsServiceResponse>(
                        &headers,
                        &body,
                        |r| viewer.ingest_metrics(&r),
                    )
                }),
            )
            .route(
                "/v1/logs",
                post(|State(viewer): State<Viewer>, headers: HeaderMap, body: Bytes| async move {
                    receive::<ExportLogsServiceRequest, ExportLogsServiceResponse>(&headers, &body, |r| {
                        viewer.ingest_logs(r)
                    })
                }),
            )
            .layer(DefaultBodyLimit::max(MAX_HTTP_BODY_BYTES))
            .with_state(self.clone())
    }
}

fn receive<Request, Success>(headers: &HeaderMap, body: &[u8], ingest: impl FnOnce(Request)) -> Response
where
    Request: Message + Default + DeserializeOwned,
    Success: Message + Default,
{
    match decode::<Request>(headers, body, Limits::default()) {
        Ok((request, format)) => {
            ingest(request);
            // The answer uses the request's encoding, as OTLP/HTTP requires.
            ([(header::CONTENT_TYPE, format.content_type())], format.success::<Success>()).into_response()
        }
        Err(error) => (error.status(), error.to_string()).into_response(),
    }
}
