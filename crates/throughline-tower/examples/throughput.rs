//! The service `wrk` measures in `docs/benchmarks.md`: `GET /users/{id}` on
//! 127.0.0.1, bare or behind an instrumentation layer. The caller's flag
//! decides (parent-based sampling): a recorded span is exported to an
//! exporter that drops it. Wired as `throughline::init()` wires it: the
//! head sampler published with the global tracer provider it describes,
//! `ContextEventsLayer` beside the bridge, and an SDK meter provider
//! (whose reader never exports during a run), so that metrics are on.
//!
//! ```sh
//! cargo run --release -p throughline-tower --features axum --example throughput -- throughline 127.0.0.1:3000
//! wrk -t1 -c32 -d10s -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
//!     http://127.0.0.1:3000/users/42
//! ```
//!
//! The first argument is `bare`, `throughline` or `otel-axum`
//! (axum-tracing-opentelemetry's `OtelAxumLayer`).

use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use throughline_tower::server::HttpServerLayer;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
struct DropSpans;

impl SpanExporter for DropSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(batch);
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "throughline".to_owned());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3000".to_owned());

    let provider = SdkTracerProvider::builder().with_simple_exporter(DropSpans).build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("throughput")))
        .with(throughline_subscriber::ContextEventsLayer::new());
    tracing::subscriber::set_global_default(subscriber)?;
    opentelemetry::global::set_tracer_provider(provider);
    throughline_propagation::HeadSampler::ALWAYS_ON.parent_based().set_global();
    let meters = SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(InMemoryMetricExporter::default())
                .with_interval(Duration::from_secs(3600))
                .build(),
        )
        .build();
    opentelemetry::global::set_meter_provider(meters);
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    // throughline's layer its own, as `init()` sets it.
    throughline_propagation::Propagator::default().set_global();

    let app = Router::new().route("/users/{id}", get(|Path(id): Path<u64>| async move { id.to_string() }));
    let app = match mode.as_str() {
        "bare" => app,
        "throughline" => app.layer(HttpServerLayer::new()),
        "otel-axum" => app.layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default()),
        other => return Err(format!("unknown mode {other:?}: bare, throughline or otel-axum").into()),
    };
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("{mode} listening on http://{}/users/42", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
