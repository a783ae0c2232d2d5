//! A field value kept beyond the call that recorded it.

use std::fmt;
use std::sync::Arc;

use tracing_core::field::{Field, Visit};

/// A span field's value as [`ContextLayer`](crate::ContextLayer) keeps it:
/// numbers and booleans as they are, anything else as text (`Debug` values
/// formatted once, when recorded).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FieldValue {
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    I64(i64),
    /// An unsigned integer.
    U64(u64),
    /// A signed 128-bit integer.
    I128(i128),
    /// An unsigned 128-bit integer.
    U128(u128),
    /// A floating-point number.
    F64(f64),
    /// Text: a `&str`, a `Display` or `Debug` value, an error.
    Str(Arc<str>),
}

impl FieldValue {
    /// The text, when this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(text) => Some(text),
            _ => None,
        }
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(v) => fmt::Display::fmt(v, f),
            Self::I64(v) => fmt::Display::fmt(v, f),
            Self::U64(v) => fmt::Display::fmt(v, f),
            Self::I128(v) => fmt::Display::fmt(v, f),
            Self::U128(v) => fmt::Display::fmt(v, f),
            Self::F64(v) => fmt::Display::fmt(v, f),
            Self::Str(v) => f.write_str(v),
        }
    }
}

impl From<&str> for FieldValue {
    fn from(text: &str) -> Self {
        Self::Str(Arc::from(text))
    }
}

/// Collects the values of a span's `Attributes` or `Record`.
pub(crate) struct Collect<'a>(pub(crate) &'a mut Vec<(&'static str, FieldValue)>);

impl Collect<'_> {
    fn push(&mut self, field: &Field, value: FieldValue) {
        self.0.push((field.name(), value));
    }
}

impl Visit for Collect<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.push(field, FieldValue::I128(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.push(field, FieldValue::U128(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::F64(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, FieldValue::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, FieldValue::Str(Arc::from(value.to_string())));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, FieldValue::Str(Arc::from(format!("{value:?}"))));
    }
}
