//! `ContextEventsLayer` against tracing-opentelemetry: one corpus of events,
//! each written once in a bridged `tracing` span and once in an
//! OpenTelemetry span built directly and attached, must give the same span
//! events, status and event-made span attributes.
//!
//! Intended differences, not compared: the attributes tracing-opentelemetry
//! gives the bridged span itself (its code location, thread, timings), which
//! the directly built span was never given.

use std::fmt;

use opentelemetry::trace::{Status, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use throughline_subscriber::ContextEventsLayer;
use tracing_subscriber::prelude::*;

#[derive(Debug)]
struct Refused {
    source: std::io::Error,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the payment was refused")
    }
}

impl std::error::Error for Refused {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The events of the corpus, written where the caller's span is current.
fn corpus() {
    tracing::info!("received");
    tracing::debug!(order.id = 7_i64, total = 12.5, paid = true, note = "gift", items = ?[1, 2], big = 7_u64, "loaded");
    tracing::info!(rows = 3_i64);
    tracing::warn!(error = "timeout", "retrying later");
    tracing::warn!(error = "timeout");
    tracing::warn!(error = ?std::io::ErrorKind::TimedOut);
    let refused = Refused { source: std::io::Error::other("card declined") };
    tracing::error!(error = &refused as &(dyn std::error::Error + 'static), "charge failed");
}

/// What a span shows of the events written in it.
#[derive(Debug, PartialEq)]
struct Shown {
    events: Vec<String>,
    status: String,
    event_attributes: Vec<String>,
}

fn shown(span: &SpanData) -> Shown {
    let events = span
        .events
        .iter()
        .map(|event| {
            let attributes: Vec<String> =
                event.attributes.iter().map(|kv| format!("{}={}", kv.key, kv.value)).collect();
            format!("{} {attributes:?}", event.name)
        })
        .collect();
    let status = match &span.status {
        Status::Error { description } => format!("error({description})"),
        other => format!("{other:?}"),
    };
    let event_attributes = span
        .attributes
        .iter()
        .filter(|kv| kv.key.as_str().starts_with("exception."))
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    Shown { events, status, event_attributes }
}

fn telemetry() -> (InMemorySpanExporter, SdkTracerProvider) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    (exporter, provider)
}

#[test]
fn events_outside_any_tracing_span_are_recorded_as_tracing_opentelemetry_records_them() {
    let (exporter, provider) = telemetry();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bridge")))
        .with(ContextEventsLayer::new());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("work").in_scope(corpus);
        provider.tracer("direct").in_span("work", |_| corpus());
    });
    let spans = exporter.get_finished_spans().unwrap();
    let [bridged, direct] = &spans[..] else { panic!("{spans:?}") };
    assert_eq!(bridged.instrumentation_scope.name(), "bridge");
    let (bridged, direct) = (shown(bridged), shown(direct));
    assert_eq!(direct, bridged);
    assert_eq!(direct.events.len(), 7);
    assert!(direct.status.starts_with("error("), "{direct:?}");
}

#[test]
fn events_in_a_tracing_span_and_in_unrecorded_contexts_are_left_alone() {
    let (exporter, provider) = telemetry();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bridge")))
        .with(ContextEventsLayer::new());
    let tracer = provider.tracer("direct");
    tracing::subscriber::with_default(subscriber, || {
        // A `tracing` span inside the direct one takes the event, once.
        tracer.in_span("outer", |_| tracing::info_span!("inner").in_scope(|| tracing::info!("once")));
        // No span at all: nothing to record on, nothing breaks.
        tracing::info!("nowhere");
        let _attached = opentelemetry::Context::new()
            .with_remote_span_context(opentelemetry::trace::SpanContext::empty_context())
            .attach();
        tracing::info!("unrecorded");
    });
    let spans = exporter.get_finished_spans().unwrap();
    let events: Vec<(&str, usize)> = spans.iter().map(|span| (&*span.name, span.events.len())).collect();
    assert_eq!(events, [("inner", 1), ("outer", 0)]);
}
