//! The OpenTelemetry ids an event or span belongs to, as tracing-opentelemetry
//! keeps them.

use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceFlags, TraceId};
use tracing_core::dispatcher::Dispatch;
use tracing_core::span::Id;

/// The trace and span an event was emitted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TraceIds {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) flags: TraceFlags,
}

impl TraceIds {
    /// The ids of the active OpenTelemetry context. tracing-opentelemetry
    /// activates a span's context when the span is entered, so for an event
    /// in the current span this is one thread-local read.
    pub(crate) fn current() -> Option<Self> {
        opentelemetry::Context::map_current(|cx| {
            let span = cx.span();
            let span_context = span.span_context();
            span_context.is_valid().then(|| Self {
                trace_id: span_context.trace_id(),
                span_id: span_context.span_id(),
                flags: span_context.trace_flags(),
            })
        })
    }

    /// The ids of the span `id`, through the OpenTelemetry layer of
    /// `dispatch`, or else of the current dispatcher (which is none while an
    /// event is being dispatched, unless it is the global one). This starts
    /// the OpenTelemetry span if it was not yet, so it is not for spans being
    /// created (their parent may still be set). The caller must not hold the
    /// span's extensions.
    pub(crate) fn of_span(id: &Id, dispatch: Option<&Dispatch>) -> Option<Self> {
        let cx = match dispatch {
            Some(dispatch) => tracing_opentelemetry::get_otel_context(id, dispatch),
            None => tracing::dispatcher::get_default(|dispatch| {
                tracing_opentelemetry::get_otel_context(id, dispatch)
            }),
        }?;
        let span = cx.span();
        let span_context = span.span_context();
        span_context.is_valid().then(|| Self {
            trace_id: span_context.trace_id(),
            span_id: span_context.span_id(),
            flags: span_context.trace_flags(),
        })
    }

    /// The ids of an event: the active context for an event in the current
    /// span, its parent's (through the dispatcher `dispatch` finds) for an
    /// event with an explicit parent, none for a root event.
    pub(crate) fn of_event(
        event: &tracing_core::Event<'_>,
        dispatch: impl FnOnce() -> Option<Dispatch>,
    ) -> Option<Self> {
        if event.is_contextual() {
            Self::current()
        } else {
            event.parent().and_then(|parent| Self::of_span(parent, dispatch().as_ref()))
        }
    }
}

/// Lowercase hex digits of `bytes`, written into `out` (twice as long).
pub(crate) fn hex<const N: usize, const M: usize>(bytes: [u8; N], out: &mut [u8; M]) -> &str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
    // Only ASCII hex digits were written.
    std::str::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_as_lowercase_hex_of_their_full_width() {
        let mut trace = [0u8; 32];
        assert_eq!(
            hex(TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736).to_bytes(), &mut trace),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let mut span = [0u8; 16];
        assert_eq!(hex(SpanId::from(0xab).to_bytes(), &mut span), "00000000000000ab");
    }
}
