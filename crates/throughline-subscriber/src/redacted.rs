//! Redaction for tracing-subscriber's own formats (pretty, compact, full):
//! a wrapper around their event or field formatters.

use std::fmt;

use tracing_core::field::{Field, Value, Visit};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::redaction::{REDACTED, Redaction};

/// One of tracing-subscriber's formatters, with every value passed through a
/// [`Redaction`] policy before the formatter sees it.
///
/// Wrap the field formatter (span fields, and event fields of the compact and
/// full formats), and for the pretty format the event formatter too, since
/// it writes event fields itself. (An event with more than 64 fields is
/// passed to a wrapped event formatter with its first 64.)
///
/// ```
/// use throughline_subscriber::{Redacted, Redaction};
/// use tracing_subscriber::fmt::format::PrettyFields;
/// use tracing_subscriber::prelude::*;
///
/// let policy = Redaction::default();
/// let layer = tracing_subscriber::fmt::layer()
///     .event_format(Redacted::new(tracing_subscriber::fmt::format().pretty(), policy.clone()))
///     .fmt_fields(Redacted::new(PrettyFields::new(), policy));
/// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
///     tracing::info!(password = "hunter2", "signed in"); // password: [REDACTED]
/// });
/// ```
#[derive(Clone, Debug)]
pub struct Redacted<T> {
    inner: T,
    redaction: Redaction,
}

impl<T> Redacted<T> {
    /// `inner`, redacting with `redaction`.
    pub fn new(inner: T, redaction: Redaction) -> Self {
        Self { inner, redaction }
    }
}

impl<T, M: MakeVisitor<T>> MakeVisitor<T> for Redacted<M> {
    type Visitor = RedactingVisitor<M::Visitor>;

    fn make_visitor(&self, target: T) -> Self::Visitor {
        RedactingVisitor { inner: self.inner.make_visitor(target), redaction: self.redaction.clone() }
    }
}

/// The most fields an event may have for [`Redacted`] to pass it to an event
/// formatter; the rest are left out.
const MAX_FIELDS: usize = 64;

impl<S, N, E> FormatEvent<S, N> for Redacted<E>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    E: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut values = Vec::with_capacity(event.fields().count());
        event.record(&mut RedactingVisitor { inner: Owned(&mut values), redaction: self.redaction.clone() });
        let Some(first) = values.first().map(|(field, _)| field.clone()) else {
            return self.inner.format_event(ctx, writer, event);
        };
        // The same event, holding the redacted values. A value set is built
        // from an array; slots past the event's fields hold no value.
        let slots: [(&Field, Option<&dyn Value>); MAX_FIELDS] =
            std::array::from_fn(|i| match values.get(i) {
                Some((field, value)) => (field, Some(value.as_value())),
                None => (&first, None),
            });
        let metadata = event.metadata();
        let value_set = metadata.fields().value_set(&slots);
        let redacted = if event.is_contextual() {
            Event::new(metadata, &value_set)
        } else {
            Event::new_child_of(event.parent().cloned(), metadata, &value_set)
        };
        self.inner.format_event(ctx, writer, &redacted)
    }
}

/// Passes each value on to `inner`, redacted: [`REDACTED`] for a sensitive
/// field name or a secret integer, secrets cut out of text.
#[derive(Debug)]
pub struct RedactingVisitor<V> {
    inner: V,
    redaction: Redaction,
}

impl<V: Visit> RedactingVisitor<V> {
    /// Writes [`REDACTED`] bare, as formatters show a `Debug` value.
    fn redacted(&mut self, field: &Field) {
        self.inner.record_debug(field, &format_args!("{REDACTED}"));
    }

    fn hidden(&mut self, field: &Field) -> bool {
        let hidden = field.name() != "message" && self.redaction.is_sensitive_field(field.name());
        if hidden {
            self.redacted(field);
        }
        hidden
    }

    fn integer(&mut self, field: &Field, value: i128, record: impl FnOnce(&mut V)) {
        if self.redaction.is_secret_integer(value) {
            self.redacted(field);
        } else {
            record(&mut self.inner);
        }
    }
}

impl<V: Visit> Visit for RedactingVisitor<V> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        if !self.hidden(field) {
            self.inner.record_bool(field, value);
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if !self.hidden(field) {
            self.inner.record_f64(field, value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if !self.hidden(field) {
            self.integer(field, i128::from(value), |inner| inner.record_i64(field, value));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if !self.hidden(field) {
            self.integer(field, i128::from(value), |inner| inner.record_u64(field, value));
        }
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        if !self.hidden(field) {
            self.integer(field, value, |inner| inner.record_i128(field, value));
        }
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        if !self.hidden(field) {
            let checked = i128::try_from(value).unwrap_or(0);
            self.integer(field, checked, |inner| inner.record_u128(field, value));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.hidden(field) {
            let redacted = self.redaction.redact_text(value);
            self.inner.record_str(field, &redacted);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if !self.hidden(field) {
            let text = value.to_string();
            match self.redaction.redact_text(&text) {
                std::borrow::Cow::Borrowed(_) => self.inner.record_error(field, value),
                redacted => self.inner.record_debug(field, &format_args!("{redacted}")),
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.hidden(field) {
            let text = format!("{value:?}");
            match self.redaction.redact_text(&text) {
                std::borrow::Cow::Borrowed(_) => self.inner.record_debug(field, value),
                redacted => self.inner.record_debug(field, &format_args!("{redacted}")),
            }
        }
    }
}

impl<V: VisitOutput<fmt::Result>> VisitOutput<fmt::Result> for RedactingVisitor<V> {
    fn finish(self) -> fmt::Result {
        self.inner.finish()
    }
}

impl<V: VisitFmt> VisitFmt for RedactingVisitor<V> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        self.inner.writer()
    }
}

/// A value kept to build the redacted event, as a type `tracing` can record.
enum OwnedValue {
    Bool(bool),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Str(String),
    /// Text that came from `Debug`, `Display` or an error: recorded as
    /// `Debug` again, so the formatter shows it unquoted as before.
    Shown(tracing::field::DisplayValue<String>),
}

impl OwnedValue {
    fn as_value(&self) -> &dyn Value {
        match self {
            Self::Bool(v) => v,
            Self::I64(v) => v,
            Self::U64(v) => v,
            Self::I128(v) => v,
            Self::U128(v) => v,
            Self::F64(v) => v,
            Self::Str(v) => v,
            Self::Shown(v) => v,
        }
    }
}

/// Keeps every value it is given.
struct Owned<'a>(&'a mut Vec<(Field, OwnedValue)>);

impl Visit for Owned<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.push((field.clone(), OwnedValue::Bool(value)));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.push((field.clone(), OwnedValue::F64(value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.push((field.clone(), OwnedValue::I64(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.push((field.clone(), OwnedValue::U64(value)));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.0.push((field.clone(), OwnedValue::I128(value)));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.0.push((field.clone(), OwnedValue::U128(value)));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.clone(), OwnedValue::Str(value.to_owned())));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let shown = tracing::field::display(format!("{value:?}"));
        self.0.push((field.clone(), OwnedValue::Shown(shown)));
    }
}
