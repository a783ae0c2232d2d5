//! Events that no `tracing` span encloses, recorded on OpenTelemetry's
//! current span: the span a layer built directly, without `tracing`.
//!
//! tracing-opentelemetry records an event on the `tracing` span it happens
//! in, and drops one that happens in none. throughline's server layers build
//! a recorded request's span as an OpenTelemetry span and attach its context
//! while the handler runs (no `tracing` span stands for it), so an event
//! written straight in the handler is in no `tracing` span. This layer
//! records it on the attached span, converted as tracing-opentelemetry
//! converts events with its defaults: the message as the name, `level`,
//! `target`, the fields, the code location; an `error` field as an
//! `exception` event and an error status; an ERROR event as an error status.

use std::borrow::Cow;
use std::fmt;

use opentelemetry::trace::{Status, TraceContextExt as _};
use opentelemetry::{Context, KeyValue, StringValue, Value};
use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::layer::{self, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Records an event that no `tracing` span encloses on OpenTelemetry's
/// current span, when that span records. Put it beside
/// tracing-opentelemetry's layer, under the same filter;
/// `throughline::init()` does.
///
/// ```
/// use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
/// use throughline_subscriber::ContextEventsLayer;
/// use tracing_subscriber::prelude::*;
///
/// let exporter = InMemorySpanExporter::default();
/// let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
/// let tracer = provider.tracer("orders");
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_opentelemetry::layer().with_tracer(tracer.clone()))
///     .with(ContextEventsLayer::new());
/// tracing::subscriber::with_default(subscriber, || {
///     tracer.in_span("GET /orders/{id}", |_| tracing::info!(order.id = 7, "loaded"));
/// });
/// let spans = exporter.get_finished_spans().unwrap();
/// assert_eq!(spans[0].events[0].name, "loaded");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ContextEventsLayer {
    _private: (),
}

impl ContextEventsLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for ContextEventsLayer {
    fn on_event(&self, event: &Event<'_>, ctx: layer::Context<'_, S>) {
        // An event in a `tracing` span is tracing-opentelemetry's.
        if !event.is_contextual() || ctx.lookup_current().is_some() {
            return;
        }
        Context::map_current(|cx| {
            let span = cx.span();
            if span.is_recording() {
                record(event, &span);
            }
        });
    }
}

fn record(event: &Event<'_>, span: &opentelemetry::trace::SpanRef<'_>) {
    let meta = event.metadata();
    let mut visitor = EventVisitor {
        name: Cow::Borrowed(""),
        attributes: vec![
            KeyValue::new("level", meta.level().as_str()),
            KeyValue::new("target", Value::String(meta.target().into())),
        ],
        status: None,
        span_attributes: Vec::new(),
    };
    event.record(&mut visitor);
    let name = if visitor.name.is_empty() { Cow::Borrowed(meta.name()) } else { visitor.name };
    if let Some(file) = meta.file() {
        visitor.attributes.push(KeyValue::new("code.file.path", file));
    }
    if let Some(module) = meta.module_path() {
        visitor.attributes.push(KeyValue::new("code.module.name", module));
    }
    if let Some(line) = meta.line() {
        visitor.attributes.push(KeyValue::new("code.line.number", i64::from(line)));
    }
    if *meta.level() == Level::ERROR {
        span.set_status(Status::error(""));
    }
    if let Some(status) = visitor.status {
        span.set_status(status);
    }
    if !visitor.span_attributes.is_empty() {
        span.set_attributes(visitor.span_attributes);
    }
    span.add_event(name, visitor.attributes);
}

/// What an event's fields make: its name, its attributes, and what they
/// change on the span.
struct EventVisitor {
    name: Cow<'static, str>,
    attributes: Vec<KeyValue>,
    status: Option<Status>,
    span_attributes: Vec<KeyValue>,
}

impl EventVisitor {
    fn push(&mut self, field: &Field, value: impl Into<Value>) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    /// An `error` field before any message: the event is an exception, and
    /// the span's status an error with its text.
    fn error(&mut self, text: String) {
        self.status = Some(Status::error(text.clone()));
        self.name = Cow::Borrowed("exception");
        self.attributes.push(KeyValue::new("exception.message", text));
    }
}

impl Visit for EventVisitor {
    fn record_bool(&mut self, field: &Field, value: bool) {
        match field.name() {
            "message" => self.name = value.to_string().into(),
            _ => self.push(field, value),
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        match field.name() {
            "message" => self.name = value.to_string().into(),
            _ => self.push(field, value),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        match field.name() {
            "message" => self.name = value.to_string().into(),
            _ => self.push(field, value),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.name = value.to_owned().into(),
            "error" if self.name.is_empty() => self.error(format!("{value:?}")),
            _ => self.push(field, value.to_owned()),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.name = format!("{value:?}").into(),
            "error" if self.name.is_empty() => self.error(format!("{value:?}")),
            _ => self.push(field, format!("{value:?}")),
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut chain: Vec<StringValue> = Vec::new();
        let mut next = value.source();
        while let Some(error) = next {
            chain.push(error.to_string().into());
            next = error.source();
        }
        let message = value.to_string();
        for attributes in [&mut self.attributes, &mut self.span_attributes] {
            attributes.push(KeyValue::new("exception.message", message.clone()));
            attributes.push(KeyValue::new("exception.stacktrace", Value::Array(chain.clone().into())));
        }
        self.attributes.push(KeyValue::new(field.name(), message));
        self.attributes.push(KeyValue::new(format!("{}.chain", field.name()), Value::Array(chain.into())));
    }
}
