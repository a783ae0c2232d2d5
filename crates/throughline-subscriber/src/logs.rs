//! Log export: tracing events as OpenTelemetry log records, redacted before
//! they are created.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use opentelemetry::logs::{AnyValue, LogRecord, Logger, LoggerProvider, Severity};
use opentelemetry::{InstrumentationScope, Key, StringValue};
use tracing_core::dispatcher::{Dispatch, WeakDispatch};
use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::context::SpanFields;
use crate::field_value::FieldValue;
use crate::redaction::{REDACTED, Redaction};
use crate::trace_ids::TraceIds;

/// Turns tracing events into OpenTelemetry log records through the
/// `opentelemetry` logs API: severity from the level, the message as body,
/// the event's fields and the fields inherited from enclosing spans (with a
/// [`ContextLayer`](crate::ContextLayer)) as attributes, and the trace
/// context of the span the event belongs to.
///
/// Every value passes through the [`Redaction`] policy first: an SDK log
/// record cannot be changed once emitted, so this is the one place to redact
/// exported logs.
///
/// ```
/// use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
/// use throughline_subscriber::{ContextLayer, LogsLayer};
/// use tracing_subscriber::prelude::*;
///
/// let exporter = InMemoryLogExporter::default();
/// let provider = SdkLoggerProvider::builder().with_simple_exporter(exporter.clone()).build();
/// let subscriber = tracing_subscriber::registry().with(ContextLayer::new()).with(LogsLayer::new(&provider));
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("login", user = "jane@example.com")
///         .in_scope(|| tracing::warn!(password = "hunter2", "bad password"));
/// });
/// let logs = exporter.get_emitted_logs().unwrap();
/// let attribute = |key: &str| logs[0].record.attributes_iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v.clone());
/// assert_eq!(attribute("password"), Some("[REDACTED]".into()));
/// assert_eq!(attribute("user"), Some("[REDACTED]".into()));
/// ```
pub struct LogsLayer<L> {
    logger: L,
    redaction: Redaction,
    /// The subscriber this layer is part of, to look up explicit parents.
    dispatch: OnceLock<WeakDispatch>,
}

impl<L> fmt::Debug for LogsLayer<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogsLayer").field("redaction", &self.redaction).finish_non_exhaustive()
    }
}

impl<L: Logger> LogsLayer<L> {
    /// Emits through a logger of `provider`, with the default redaction.
    pub fn new<P: LoggerProvider<Logger = L>>(provider: &P) -> Self {
        let scope = InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Self {
            logger: provider.logger_with_scope(scope),
            redaction: Redaction::default(),
            dispatch: OnceLock::new(),
        }
    }

    /// Redacts with `redaction` instead of the default policy.
    pub fn with_redaction(mut self, redaction: Redaction) -> Self {
        self.redaction = redaction;
        self
    }
}

impl<S, L> Layer<S> for LogsLayer<L>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Logger + Send + Sync + 'static,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let severity = severity(metadata.level());
        if !self.logger.event_enabled(severity, metadata.target(), None) {
            return;
        }
        let mut record = self.logger.create_log_record();
        record.set_target(metadata.target());
        record.set_severity_number(severity);
        record.set_severity_text(metadata.level().as_str());
        record.set_timestamp(SystemTime::now());
        event.record(&mut Attributes { record: &mut record, redaction: &self.redaction });

        if let Some(inherited) = ctx.event_span(event).as_ref().and_then(SpanFields::of) {
            inherited.for_each(|name, value| {
                if !event.fields().any(|field| field.name() == name) {
                    record.add_attribute(
                        Key::from_static_str(name),
                        inherited_value(&self.redaction, name, value),
                    );
                }
            });
        }
        // The SDK takes the trace context of a contextual event from the
        // active context itself; an explicit parent must be looked up.
        let dispatch = || self.dispatch.get().and_then(WeakDispatch::upgrade);
        if let Some(ids) = event.parent().and_then(|parent| TraceIds::of_span(parent, dispatch().as_ref())) {
            record.set_trace_context(ids.trace_id, ids.span_id, Some(ids.flags));
        }
        self.logger.emit(record);
    }
}

fn severity(level: &Level) -> Severity {
    match *level {
        Level::TRACE => Severity::Trace,
        Level::DEBUG => Severity::Debug,
        Level::INFO => Severity::Info,
        Level::WARN => Severity::Warn,
        Level::ERROR => Severity::Error,
    }
}

fn inherited_value(redaction: &Redaction, name: &str, value: &FieldValue) -> AnyValue {
    if redaction.is_sensitive_field(name) {
        return AnyValue::from(REDACTED);
    }
    match value {
        FieldValue::Bool(v) => AnyValue::Boolean(*v),
        FieldValue::I64(v) => integer(redaction, i128::from(*v)),
        FieldValue::U64(v) => integer(redaction, i128::from(*v)),
        FieldValue::I128(v) => integer(redaction, *v),
        FieldValue::U128(v) => match i128::try_from(*v) {
            Ok(v) => integer(redaction, v),
            Err(_) => text(redaction, Cow::Owned(v.to_string())),
        },
        FieldValue::F64(v) => AnyValue::Double(*v),
        FieldValue::Str(text) => match redaction.redact_text(text) {
            // Unchanged text is shared with the span, not copied.
            Cow::Borrowed(_) => AnyValue::String(StringValue::from(Arc::clone(text))),
            Cow::Owned(redacted) => AnyValue::from(redacted),
        },
    }
}

/// An integer as an attribute: `Int` when it fits, text otherwise.
fn integer(redaction: &Redaction, value: i128) -> AnyValue {
    if redaction.is_secret_integer(value) {
        AnyValue::from(REDACTED)
    } else {
        i64::try_from(value).map_or_else(|_| AnyValue::from(value.to_string()), AnyValue::Int)
    }
}

fn text(redaction: &Redaction, text: Cow<'_, str>) -> AnyValue {
    match redaction.redact_text(&text) {
        Cow::Borrowed(_) => AnyValue::from(text.into_owned()),
        Cow::Owned(redacted) => AnyValue::from(redacted),
    }
}

/// Writes an event's fields into a log record: the message as body, the rest
/// as attributes.
struct Attributes<'a, R> {
    record: &'a mut R,
    redaction: &'a Redaction,
}

impl<R: LogRecord> Attributes<'_, R> {
    /// Adds the attribute `field`, its value made only when its name is not
    /// sensitive.
    fn add(&mut self, field: &Field, value: impl FnOnce(&Redaction) -> AnyValue) {
        let value = if self.redaction.is_sensitive_field(field.name()) {
            AnyValue::from(REDACTED)
        } else {
            value(self.redaction)
        };
        self.record.add_attribute(Key::from_static_str(field.name()), value);
    }

    fn text(&mut self, field: &Field, value: impl FnOnce() -> String) {
        if field.name() == "message" {
            self.record.set_body(text(self.redaction, Cow::Owned(value())));
        } else {
            self.add(field, |redaction| text(redaction, Cow::Owned(value())));
        }
    }
}

impl<R: LogRecord> Visit for Attributes<'_, R> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.add(field, |_| AnyValue::Boolean(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.add(field, |redaction| integer(redaction, i128::from(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.add(field, |redaction| integer(redaction, i128::from(value)));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.add(field, |redaction| integer(redaction, value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.add(field, |redaction| match i128::try_from(value) {
            Ok(value) => integer(redaction, value),
            Err(_) => text(redaction, Cow::Owned(value.to_string())),
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.add(field, |_| AnyValue::Double(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record.set_body(text(self.redaction, Cow::Borrowed(value)));
        } else {
            self.add(field, |redaction| text(redaction, Cow::Borrowed(value)));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, || value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, || format!("{value:?}"));
    }
}
