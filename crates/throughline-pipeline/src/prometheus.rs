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
        let mut families = self.registry.gather();
        for family in &mut families {
            let name = without_repeated_suffix(family.name());
            family.set_name(name);
        }
        let mut out = Vec::new();
        // Encoding into memory cannot fail on I/O; a metric family the encoder
        // rejects is a bug, reported in the body rather than as a panic.
        if let Err(error) = TextEncoder::new().encode(&families, &mut out) {
            return format!("# encoding failed: {error}\n");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The exporter appends `_total` to counters and the unit (`_seconds`) to
/// names whatever they already end with; the OpenTelemetry-to-Prometheus
/// compatibility rules add a suffix only when it is missing. So an instrument
/// named `orders_total` is served as `orders_total`, not `orders_total_total`,
/// and `checkout_duration_seconds` in seconds keeps its name.
fn without_repeated_suffix(name: &str) -> String {
    let mut parts: Vec<&str> = name.split('_').collect();
    // Only the last three segments can hold a suffix the exporter added.
    let tail = parts.len().saturating_sub(3);
    let mut i = parts.len();
    while i > tail.max(1) {
        i -= 1;
        if parts[i] == parts[i - 1] {
            parts.remove(i);
        }
    }
    parts.join("_")
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

#[cfg(test)]
mod tests {
    use super::without_repeated_suffix;

    #[test]
    fn suffixes_are_added_once() {
        assert_eq!(without_repeated_suffix("orders_total_total"), "orders_total");
        assert_eq!(without_repeated_suffix("checkout_duration_seconds_seconds"), "checkout_duration_seconds");
        assert_eq!(without_repeated_suffix("payload_bytes_bytes_total"), "payload_bytes_total");
        assert_eq!(
            without_repeated_suffix("http_server_request_duration_seconds"),
            "http_server_request_duration_seconds"
        );
        assert_eq!(without_repeated_suffix("a_a_b_c_d"), "a_a_b_c_d", "only the tail");
        assert_eq!(without_repeated_suffix("total"), "total");
    }
}
