//! logfmt and JSON lines for tracing-subscriber's fmt layer: every line names
//! its trace and carries the fields of the request it belongs to.

mod json;
mod line;
mod logfmt;
mod timestamp;

use std::fmt;

use tracing_core::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{FmtSpan, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use self::json::JsonSyntax;
use self::line::{EventFields, Line, Syntax};
use self::logfmt::LogfmtSyntax;
pub use self::timestamp::Rfc3339;
use crate::context::{self, SpanFields};
use crate::redaction::Redaction;
use crate::trace_ids::{TraceIds, hex};

/// One JSON object per line:
///
/// ```text
/// {"timestamp":"2025-05-01T09:30:00.000000Z","level":"INFO","target":"orders","span":"checkout","message":"charged","amount":3,"request_id":"r-42","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}
/// ```
///
/// Keys, in order: `timestamp`, `level`, `target`, `span` (the nearest
/// span's name), `message`, the event's fields, the fields inherited from
/// enclosing spans (with a [`ContextLayer`](crate::ContextLayer)), and
/// `trace_id` and `span_id` of the OpenTelemetry span the event belongs to
/// (with tracing-opentelemetry's layer), sampled or not. Span close lines
/// (fmt's `FmtSpan::CLOSE`) add `latency_ms`. A field named like one of these
/// keys is written as `field.<name>`. Every value passes through the
/// [`Redaction`] policy.
///
/// ```
/// use throughline_subscriber::{ContextLayer, Json};
/// use tracing_subscriber::prelude::*;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(ContextLayer::new())
///     .with(Json::default().layer().with_writer(std::io::stdout));
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("checkout", request_id = "r-42").in_scope(|| {
///         tracing::info!(amount = 3, card = "4111 1111 1111 1111", "charged");
///         // {"timestamp":"…","level":"INFO","target":"rust_out","span":"checkout","message":"charged",
///         //  "amount":3,"card":"[REDACTED]","request_id":"r-42"}
///     });
/// });
/// ```
#[derive(Clone, Debug)]
pub struct Json<T = Rfc3339> {
    options: Options<T>,
}

/// One logfmt line per event, with the same keys as [`Json`]:
///
/// ```text
/// timestamp=2025-05-01T09:30:00.000000Z level=INFO target=orders span=checkout message=charged amount=3 request_id=r-42 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7
/// ```
///
/// Values are quoted only when they must be (a space, `=`, `"`, a control
/// character); see the crate documentation for the exact escaping.
///
/// ```
/// use throughline_subscriber::{ContextLayer, Logfmt};
/// use tracing_subscriber::prelude::*;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(ContextLayer::new())
///     .with(Logfmt::default().layer().with_writer(std::io::stdout));
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("checkout", request_id = "r-42").in_scope(|| {
///         tracing::warn!(reason = "insufficient funds", "card declined");
///         // timestamp=… level=WARN target=rust_out span=checkout message="card declined"
///         //   reason="insufficient funds" request_id=r-42
///     });
/// });
/// ```
#[derive(Clone, Debug)]
pub struct Logfmt<T = Rfc3339> {
    options: Options<T>,
}

#[derive(Clone, Debug)]
struct Options<T> {
    timer: T,
    redaction: Redaction,
    span_events: FmtSpan,
}

macro_rules! format_type {
    ($format:ident, $syntax:ty) => {
        impl Default for $format {
            fn default() -> Self {
                Self {
                    options: Options {
                        timer: Rfc3339,
                        redaction: Redaction::default(),
                        span_events: FmtSpan::NONE,
                    },
                }
            }
        }

        impl<T> $format<T> {
            /// Timestamps from `timer` instead of [`Rfc3339`] (`()` leaves
            /// the `timestamp` key out).
            pub fn with_timer<T2: FormatTime>(self, timer: T2) -> $format<T2> {
                let Options { redaction, span_events, .. } = self.options;
                $format { options: Options { timer, redaction, span_events } }
            }

            /// Redacts with `redaction` instead of the default policy.
            pub fn with_redaction(mut self, redaction: Redaction) -> Self {
                self.options.redaction = redaction;
                self
            }

            /// Also writes lines when spans open or close (see fmt's
            /// [`FmtSpan`]): a close line carries `latency_ms`.
            pub fn with_span_events(mut self, kind: FmtSpan) -> Self {
                self.options.span_events = kind;
                self
            }

            /// The fmt layer writing this format, with [`FieldsFromContext`]
            /// so that span fields are not formatted twice.
            pub fn layer<S>(self) -> tracing_subscriber::fmt::Layer<S, FieldsFromContext, Self>
            where
                S: Subscriber + for<'a> LookupSpan<'a>,
                T: FormatTime + 'static,
            {
                let span_events = self.options.span_events.clone();
                let mut layer =
                    tracing_subscriber::fmt::layer().fmt_fields(FieldsFromContext).event_format(self);
                layer.set_span_events(span_events);
                layer
            }
        }

        impl<S, N, T> FormatEvent<S, N> for $format<T>
        where
            S: Subscriber + for<'a> LookupSpan<'a>,
            N: for<'w> FormatFields<'w> + 'static,
            T: FormatTime,
        {
            fn format_event(
                &self,
                ctx: &FmtContext<'_, S, N>,
                writer: Writer<'_>,
                event: &Event<'_>,
            ) -> fmt::Result {
                write_event::<$syntax, S, N, T>(&self.options, ctx, writer, event)
            }
        }
    };
}

format_type!(Json, JsonSyntax);
format_type!(Logfmt, LogfmtSyntax);

fn write_event<F, S, N, T>(
    options: &Options<T>,
    ctx: &FmtContext<'_, S, N>,
    writer: Writer<'_>,
    event: &Event<'_>,
) -> fmt::Result
where
    F: Syntax,
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    T: FormatTime,
{
    let metadata = event.metadata();
    // fmt's span open/close lines are events carrying the span's metadata.
    let span_line = metadata.is_span();
    let span = ctx.parent_span();

    let mut line = Line::<F>::start(writer, &options.redaction);
    line.builtin_formatted("timestamp", |w| options.timer.format_time(w));
    line.builtin_plain("level", metadata.level().as_str());
    line.builtin_text("target", metadata.target());
    if let Some(span) = &span {
        line.builtin_text("span", span.name());
    }
    let mut fields = EventFields { line: &mut line, span_line, closes_span: false };
    event.record(&mut fields);
    let closes_span = fields.closes_span;

    if let Some(inherited) = span.as_ref().and_then(SpanFields::of) {
        inherited.for_each(|name, value| {
            // The event's own field of the same name was written already.
            if !event.fields().any(|field| field.name() == name) {
                line.inherited(name, value);
            }
        });
    }
    if closes_span && let Some(opened) = span.as_ref().and_then(context::opened) {
        line.builtin_float("latency_ms", (opened.elapsed().as_secs_f64() * 1e6).round() / 1e3);
    }
    // A span's open line comes before OpenTelemetry starts the span (its
    // parent may still be set), so it has no ids yet; its close line has.
    let ids = match (span_line, closes_span, &span) {
        (false, _, _) => TraceIds::of_event(event, || span.as_ref().and_then(context::dispatch)),
        (true, true, Some(span)) => TraceIds::of_span(&span.id(), context::dispatch(span).as_ref()),
        (true, _, _) => None,
    };
    if let Some(ids) = ids {
        let (mut trace, mut span) = ([0u8; 32], [0u8; 16]);
        line.builtin_plain("trace_id", hex(ids.trace_id.to_bytes(), &mut trace));
        line.builtin_plain("span_id", hex(ids.span_id.to_bytes(), &mut span));
    }
    line.finish()
}

/// A field formatter that formats nothing, for a fmt layer whose event
/// format is [`Json`] or [`Logfmt`]: they read span fields from the
/// [`ContextLayer`](crate::ContextLayer), so the fmt layer need not keep a
/// formatted copy of every span's fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct FieldsFromContext;

impl<'w> FormatFields<'w> for FieldsFromContext {
    fn format_fields<R: RecordFields>(&self, _writer: Writer<'w>, _fields: R) -> fmt::Result {
        Ok(())
    }
}
