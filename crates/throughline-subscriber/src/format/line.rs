//! One log line under construction: keys and values written straight into
//! the fmt layer's buffer, escaped for the format, secrets redacted.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::ops::Range;

use tracing_core::field::{Field, Visit};
use tracing_subscriber::fmt::format::Writer;

use crate::decimal;
use crate::field_value::FieldValue;
use crate::redaction::{REDACTED, Redaction};

/// How a line format spells keys and values.
pub(crate) trait Syntax {
    /// What opens and closes a line.
    const START: &'static str;
    const END: &'static str;

    /// Writes the separator before a key (unless it is the first), the key,
    /// and what separates it from its value.
    fn key(out: &mut Writer<'_>, first: bool, prefix: &str, key: &str) -> fmt::Result;

    /// Writes `text` as a string value, each of the `secrets` (byte ranges, in
    /// order, without overlap) replaced by [`REDACTED`].
    fn string(out: &mut Writer<'_>, text: &str, secrets: &[Range<usize>]) -> fmt::Result;

    /// Writes text known to need no escaping or quoting (hex ids, levels).
    fn plain_string(out: &mut Writer<'_>, text: &str) -> fmt::Result;

    /// Writes a floating-point number.
    fn float(out: &mut Writer<'_>, value: f64) -> fmt::Result;
}

/// The keys a line writes itself; a field of the same name is written as
/// `field.<name>` so that no key appears twice.
const BUILTIN_KEYS: &[&str] =
    &["timestamp", "level", "target", "span", "message", "latency_ms", "trace_id", "span_id"];

fn prefix_for(name: &str) -> &'static str {
    if BUILTIN_KEYS.contains(&name) { "field." } else { "" }
}

/// A line being written in the syntax `F`. Errors are kept and returned by
/// [`finish`](Self::finish), since `Visit` methods cannot return them.
pub(crate) struct Line<'w, 'r, F> {
    out: Writer<'w>,
    redaction: &'r Redaction,
    first: bool,
    result: fmt::Result,
    _syntax: std::marker::PhantomData<F>,
}

impl<'w, 'r, F: Syntax> Line<'w, 'r, F> {
    pub(crate) fn start(mut out: Writer<'w>, redaction: &'r Redaction) -> Self {
        let result = out.write_str(F::START);
        Self { out, redaction, first: true, result, _syntax: std::marker::PhantomData }
    }

    pub(crate) fn finish(mut self) -> fmt::Result {
        self.result?;
        self.out.write_str(F::END)
    }

    fn key(&mut self, prefix: &str, key: &str) {
        if self.result.is_ok() {
            self.result = F::key(&mut self.out, self.first, prefix, key);
            self.first = false;
        }
    }

    fn then(&mut self, write: impl FnOnce(&mut Writer<'w>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = write(&mut self.out);
        }
    }

    /// A key the line owns, with text that needs no escaping.
    pub(crate) fn builtin_plain(&mut self, key: &str, text: &str) {
        self.key("", key);
        self.then(|out| F::plain_string(out, text));
    }

    /// A key the line owns, with any text (not redacted: names and targets).
    pub(crate) fn builtin_text(&mut self, key: &str, text: &str) {
        self.key("", key);
        self.then(|out| F::string(out, text, &[]));
    }

    /// A key the line owns, with a number.
    pub(crate) fn builtin_float(&mut self, key: &str, value: f64) {
        self.key("", key);
        self.then(|out| F::float(out, value));
    }

    /// A key the line owns with the text `format` writes, unless it writes
    /// nothing (a timer that is turned off).
    pub(crate) fn builtin_formatted(
        &mut self,
        key: &str,
        format: impl FnOnce(&mut Writer<'_>) -> fmt::Result,
    ) {
        with_scratch(|scratch| {
            if format(&mut Writer::new(scratch)).is_ok() && !scratch.is_empty() {
                self.key("", key);
                self.then(|out| F::string(out, scratch, &[]));
            }
        });
    }

    /// A field inherited from an enclosing span.
    pub(crate) fn inherited(&mut self, name: &str, value: &FieldValue) {
        match value {
            FieldValue::Bool(v) => self.boolean(name, *v),
            FieldValue::I64(v) => self.integer(name, i128::from(*v)),
            FieldValue::U64(v) => self.integer(name, i128::from(*v)),
            FieldValue::I128(v) => self.integer(name, *v),
            FieldValue::U128(v) => self.unsigned(name, *v),
            FieldValue::F64(v) => self.float(name, *v),
            FieldValue::Str(text) => self.text(name, text),
        }
    }

    fn sensitive(&mut self, name: &str) -> bool {
        if !self.redaction.is_sensitive_field(name) {
            return false;
        }
        self.key(prefix_for(name), name);
        self.then(|out| F::plain_string(out, REDACTED));
        true
    }

    fn text(&mut self, name: &str, text: &str) {
        if self.sensitive(name) {
            return;
        }
        self.key(prefix_for(name), name);
        let redaction = self.redaction;
        self.then(|out| F::string(out, text, &SecretRanges::of(redaction, text)));
    }

    fn integer(&mut self, name: &str, value: i128) {
        if self.sensitive(name) {
            return;
        }
        self.key(prefix_for(name), name);
        if self.redaction.is_secret_integer(value) {
            self.then(|out| F::plain_string(out, REDACTED));
        } else {
            let mut digits = [0u8; decimal::MAX_LEN];
            self.then(|out| out.write_str(decimal::decimal(value, &mut digits)));
        }
    }

    /// A `u128` past `i128::MAX`: too long to be any secret.
    fn unsigned(&mut self, name: &str, value: u128) {
        match i128::try_from(value) {
            Ok(value) => self.integer(name, value),
            Err(_) if !self.sensitive(name) => {
                self.key(prefix_for(name), name);
                let mut digits = [0u8; decimal::MAX_LEN];
                self.then(|out| out.write_str(decimal::unsigned(value, &mut digits)));
            }
            Err(_) => {}
        }
    }

    fn float(&mut self, name: &str, value: f64) {
        if !self.sensitive(name) {
            self.key(prefix_for(name), name);
            self.then(|out| F::float(out, value));
        }
    }

    fn boolean(&mut self, name: &str, value: bool) {
        if !self.sensitive(name) {
            self.key(prefix_for(name), name);
            self.then(|out| out.write_str(if value { "true" } else { "false" }));
        }
    }

    /// Text produced by a `Debug` or `Display` implementation: formatted into
    /// a reused buffer first, since a secret may straddle two of its writes.
    fn formatted(&mut self, name: &str, value: fmt::Arguments<'_>) {
        if self.sensitive(name) {
            return;
        }
        with_scratch(|scratch| {
            // A `Debug` that fails still shows what it wrote.
            let _ = scratch.write_fmt(value);
            self.text(name, scratch);
        });
    }
}

/// The event's fields, into a [`Line`]. The message is written under
/// `message`; on span lines, fmt's `time.busy` and `time.idle` are left out
/// in favour of `latency_ms`.
pub(crate) struct EventFields<'l, 'w, 'r, F> {
    pub(crate) line: &'l mut Line<'w, 'r, F>,
    pub(crate) span_line: bool,
    /// Set when the event is fmt's `close` line of a span.
    pub(crate) closes_span: bool,
}

impl<F: Syntax> Visit for EventFields<'_, '_, '_, F> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.line.boolean(field.name(), value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.line.integer(field.name(), i128::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.line.integer(field.name(), i128::from(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.line.integer(field.name(), value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.line.unsigned(field.name(), value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.line.float(field.name(), value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() != "message" {
            self.line.text(field.name(), value);
            return;
        }
        self.closes_span = self.span_line && value == "close";
        self.line.message_text(value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.line.formatted(field.name(), format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.line.message(format_args!("{value:?}")),
            "time.busy" | "time.idle" if self.span_line => {}
            name => self.line.formatted(name, format_args!("{value:?}")),
        }
    }
}

impl<F: Syntax> Line<'_, '_, F> {
    /// The message: its own key, never hidden by name, secrets cut out.
    fn message(&mut self, value: fmt::Arguments<'_>) {
        with_scratch(|scratch| {
            let _ = scratch.write_fmt(value);
            self.message_text(scratch);
        });
    }

    fn message_text(&mut self, text: &str) {
        self.key("", "message");
        let redaction = self.redaction;
        self.then(|out| F::string(out, text, &SecretRanges::of(redaction, text)));
    }
}

/// The secrets of a value, kept on the stack: a value rarely holds more than
/// a few. Past [`SecretRanges::INLINE`], the last range grows to cover the
/// rest, redacting the text between them too.
struct SecretRanges {
    ranges: [Range<usize>; Self::INLINE],
    len: usize,
}

impl SecretRanges {
    const INLINE: usize = 8;

    fn of(redaction: &Redaction, text: &str) -> Self {
        let mut ranges = Self { ranges: std::array::from_fn(|_| 0..0), len: 0 };
        for secret in redaction.secrets(text) {
            if ranges.len < Self::INLINE {
                ranges.ranges[ranges.len] = secret;
                ranges.len += 1;
            } else {
                ranges.ranges[Self::INLINE - 1].end = secret.end;
            }
        }
        ranges
    }
}

impl std::ops::Deref for SecretRanges {
    type Target = [Range<usize>];

    fn deref(&self) -> &[Range<usize>] {
        &self.ranges[..self.len]
    }
}

/// Runs `f` with an empty `String` reused across calls on this thread (a
/// fresh one when a `Debug` impl that logs re-enters).
fn with_scratch<R>(f: impl FnOnce(&mut String) -> R) -> R {
    const KEEP_AT_MOST: usize = 64 * 1024;
    thread_local! {
        static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
    }
    // Taken out rather than borrowed, so that re-entering cannot panic.
    let mut scratch = SCRATCH.try_with(|cell| cell.take()).unwrap_or_default();
    scratch.clear();
    let result = f(&mut scratch);
    if scratch.capacity() <= KEEP_AT_MOST {
        let _ = SCRATCH.try_with(|cell| cell.replace(scratch));
    }
    result
}
