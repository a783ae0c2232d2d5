//! What every integration test needs: the OpenTelemetry SDK with in-memory
//! exporters behind tracing-opentelemetry, and an axum app served on
//! 127.0.0.1. Tests run on tokio's current-thread runtime, so the
//! thread-local subscriber set here also covers the server's tasks.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider, SpanData};
use throughline_tower::server::HttpServerLayer;
use tokio::net::TcpListener;
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt;

pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub const PARENT_ID: &str = "00f067aa0ba902b7";
pub const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

pub struct Telemetry {
    spans: InMemorySpanExporter,
    metrics: InMemoryMetricExporter,
    pub meter_provider: SdkMeterProvider,
    _tracer_provider: SdkTracerProvider,
    _default: DefaultGuard,
}

impl Telemetry {
    pub fn install() -> Self {
        Self::with_sampler(Sampler::AlwaysOn)
    }

    pub fn with_sampler(sampler: Sampler) -> Self {
        let spans = InMemorySpanExporter::default();
        let tracer_provider =
            SdkTracerProvider::builder().with_sampler(sampler).with_simple_exporter(spans.clone()).build();
        let metrics = InMemoryMetricExporter::default();
        let meter_provider =
            SdkMeterProvider::builder().with_reader(PeriodicReader::builder(metrics.clone()).build()).build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("tests")));
        let _default = tracing::subscriber::set_default(subscriber);
        Self { spans, metrics, meter_provider, _tracer_provider: tracer_provider, _default }
    }

    /// The layer under test, measuring into this telemetry.
    pub fn layer(&self) -> HttpServerLayer {
        HttpServerLayer::new().meter_provider(&self.meter_provider)
    }

    pub fn spans(&self) -> Vec<SpanData> {
        self.spans.get_finished_spans().unwrap()
    }

    /// Waits, by yielding to the server's tasks, until `count` spans are
    /// exported; bounded so a missing span fails rather than hangs.
    pub async fn wait_for_spans(&self, count: usize) -> Vec<SpanData> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let spans = self.spans();
            if spans.len() >= count {
                return spans;
            }
            assert!(Instant::now() < deadline, "expected {count} spans, got {spans:#?}");
            tokio::task::yield_now().await;
        }
    }

    /// The one server span, once exported.
    pub async fn server_span(&self) -> SpanData {
        let spans = self.wait_for_spans(1).await;
        let mut servers: Vec<_> = spans.into_iter().filter(|s| s.span_kind == SpanKind::Server).collect();
        assert_eq!(servers.len(), 1, "one server span: {servers:#?}");
        servers.remove(0)
    }

    pub fn metrics(&self) -> Vec<ResourceMetrics> {
        self.meter_provider.force_flush().unwrap();
        self.metrics.get_finished_metrics().unwrap()
    }

    /// Reads the latest export of the metric `name`, if any.
    pub fn metric<T>(&self, name: &str, read: impl FnOnce(&Metric) -> T) -> Option<T> {
        let exported = self.metrics();
        let metric = exported
            .iter()
            .flat_map(|rm| rm.scope_metrics())
            .flat_map(|sm| sm.metrics())
            .filter(|m| m.name() == name)
            .last();
        metric.map(read)
    }
}

pub async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap()
    });
    addr
}

pub fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value)
}

pub fn string(attributes: &[KeyValue], key: &str) -> Option<String> {
    attribute(attributes, key).map(|value| value.as_str().into_owned())
}

/// A string-array attribute, as captured headers are.
pub fn strings(attributes: &[KeyValue], key: &str) -> Vec<String> {
    match attribute(attributes, key) {
        Some(Value::Array(opentelemetry::Array::String(values))) => {
            values.iter().map(|v| v.as_str().to_owned()).collect()
        }
        other => panic!("{key} is not a string array: {other:?}"),
    }
}

pub fn int(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attribute(attributes, key) {
        Some(Value::I64(value)) => Some(*value),
        _ => None,
    }
}

/// The data of a histogram or sum, whatever its number type, for assertions.
pub fn histogram_f64(metric: &Metric) -> &opentelemetry_sdk::metrics::data::Histogram<f64> {
    match metric.data() {
        AggregatedMetrics::F64(opentelemetry_sdk::metrics::data::MetricData::Histogram(h)) => h,
        other => panic!("{} is not an f64 histogram: {other:?}", metric.name()),
    }
}

/// A response body the test feeds chunk by chunk; it ends when the sender
/// is dropped.
pub struct ChannelBody(tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>);

impl http_body::Body for ChannelBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|data| Ok(http_body::Frame::data(data))))
    }
}

pub type BodySender = tokio::sync::mpsc::UnboundedSender<bytes::Bytes>;

/// `GET /stream` answers at once with a body the test writes: each request
/// hands the test the sender of its body.
pub fn streaming_app(layer: HttpServerLayer) -> (Router, tokio::sync::mpsc::UnboundedReceiver<BodySender>) {
    let (senders, bodies) = tokio::sync::mpsc::unbounded_channel::<BodySender>();
    let app = Router::new()
        .route(
            "/stream",
            axum::routing::get(move || {
                let senders = senders.clone();
                async move {
                    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
                    senders.send(sender).unwrap();
                    axum::body::Body::new(ChannelBody(receiver))
                }
            }),
        )
        .layer(layer);
    (app, bodies)
}
