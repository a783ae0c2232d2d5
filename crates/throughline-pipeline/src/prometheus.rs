//! The Prometheus `/metrics` endpoint, on the maintained `opentelemetry-prometheus`
//! exporter and the `prometheus` crate's text encoder.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode, header};
use prometheus::{Encoder, TextEncoder};

use crate::error::PipelineError;

/// The meter provider's metrics in the Prometheus text format.
///
/// It is a tower `Service`, so it mounts on any tower or axum router:
///
/// ```no_run
/// # fn demo(telemetry: &throughline_pipeline::Telemetry) {
/// let prometheus = telemetry.prometheus().expect("OTEL_METRICS_EXPORTER includes prometheus").clone();
/// let app: axum::Router = axum::Router::new().route_service("/metrics", prometheus);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Prometheus {
    registry: prometheus::Registry,
}

impl Prometheus {
    /// A registry and the reader that fills it, for the meter provider.
    pub(crate) fn new() -> Result<(Self, opentelemetry_prometheus::PrometheusExporter), PipelineError> {
        let registry = prometheus::Registry::new();
        let reader = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .build()
            .map_err(|e| PipelineError::Prometheus(e.to_string()))?;
        Ok((Self { registry }, reader))
    }

    /// The current metrics, in the text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into memory cannot fail on I/O; a metric family the encoder
        // rejects is a bug, reported in the body rather than as a panic.
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            return format!("# encoding failed: {error}\n");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl<B> tower_service::Service<Request<B>> for Prometheus {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<B>) -> Self::Future {
        let mut response = Response::new(self.render());
        *response.status_mut() = StatusCode::OK;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        ready(Ok(response))
    }
}
