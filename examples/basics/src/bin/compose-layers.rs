//! The subscriber assembled by hand, without `throughline::init()`: for a
//! service that already builds its own `tracing_subscriber::registry()` and
//! wants throughline's layers in it, in the order they need.
//!
//! - the pipeline's providers, from the `OTEL_*` variables (spans to the
//!   console on standard error, metrics for Prometheus, unless the
//!   environment says otherwise);
//! - [`ContextLayer`] first: every span's fields, inherited by its descendants;
//! - a fmt layer with the [`Logfmt`] format (or `Json`), written through a
//!   [`NonBlockingWriter`], so a slow terminal or pipe never blocks a request;
//! - tracing-opentelemetry's layer after the fmt layer, so that a span's close
//!   line still finds its OpenTelemetry ids;
//! - [`SpanMetricsLayer`]: a counter and a duration histogram from each span
//!   carrying `metric_name`.
//!
//! It logs one line in a request, then prints the span-derived metrics in the
//! Prometheus text format:
//!
//! ```text
//! timestamp=… level=INFO target=compose_layers span=charge message="card charged" amount_cents=1999
//!   request_id=r-42 route=/orders metric_name=checkout metric_label_route=/orders trace_id=… span_id=…
//! checkout_duration_seconds_count{result="ok",route="/orders",otel_scope_name="basics"} 1
//! checkout_total{result="ok",route="/orders",otel_scope_name="basics"} 1
//! ```
//!
//! `cargo run -p basics --bin compose-layers`

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use throughline::pipeline::Pipeline;
use throughline::subscriber::{ContextLayer, Logfmt, NonBlockingWriter, SpanMetricsLayer};
use tracing::{info, info_span};
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The providers: the pipeline reads OTEL_*; these defaults keep the demo local.
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    for (name, default) in [
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_METRICS_EXPORTER", "prometheus"),
        ("OTEL_LOGS_EXPORTER", "none"),
    ] {
        vars.entry(name.to_owned()).or_insert_with(|| default.to_owned());
    }
    let telemetry = Pipeline::from_vars(&vars)?
        .service_name("basics-compose-layers")
        .console_output(std::io::stderr())
        .build()?;
    let tracer = telemetry.tracer_provider().ok_or("OTEL_TRACES_EXPORTER is none")?.tracer("basics");
    let meter_provider = telemetry.meter_provider().ok_or("OTEL_METRICS_EXPORTER is none")?;

    // Lines leave on a background thread; the guard flushes them when dropped.
    let (writer, flush_lines) = NonBlockingWriter::stdout();
    writer.observe(meter_provider); // throughline.log.lines.dropped

    let subscriber = tracing_subscriber::registry()
        .with(ContextLayer::new())
        .with(Logfmt::default().layer().with_writer(writer))
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .with(SpanMetricsLayer::new(meter_provider));
    tracing::subscriber::set_global_default(subscriber)?;

    // A request: the line in `charge` inherits `request_id` and `route`, and
    // names the trace; the `checkout` span becomes `checkout_total` and
    // `checkout_duration_seconds`.
    let checkout = info_span!(
        "checkout",
        request_id = "r-42",
        route = "/orders",
        metric_name = "checkout",
        metric_label_route = "/orders"
    );
    checkout.in_scope(|| {
        info_span!("charge").in_scope(|| info!(amount_cents = 1999, "card charged"));
    });
    drop(checkout);

    drop(flush_lines);
    if let Some(prometheus) = telemetry.prometheus() {
        print!("{}", prometheus.render());
    }
    telemetry.shutdown(Duration::from_secs(5)).await?;
    Ok(())
}
