//! "A log line does not allocate" (docs/ARCHITECTURE.md), checked with a
//! counting global allocator (`allocation-counter`, counting per thread): an
//! event inside two spans, with inherited fields and OpenTelemetry ids,
//! formatted by `Logfmt` and by `Json`, costs no heap allocation, whether its
//! values are plain, `Debug`-formatted or redacted.
//!
//! The subscriber is the `subscriber` benchmark's: `ContextLayer`, the
//! formatter's fmt layer writing to `std::io::sink()`, and
//! tracing-opentelemetry's layer for spans only (span events would measure
//! the SDK, not the formatter). Each event is written once before it is
//! measured, so fmt's per-thread buffers are grown already.

use std::hint::black_box;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use throughline_subscriber::{ContextLayer, Json, Logfmt};
use tracing::Dispatch;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

#[derive(Debug)]
#[allow(dead_code)] // read through `Debug` only
struct Order {
    id: u64,
    items: [&'static str; 2],
}

/// Keeps the last line written, in a buffer allocated once, so that the
/// tests can see what was measured without the writer allocating.
#[derive(Clone)]
struct LastLine(Arc<Mutex<Vec<u8>>>);

impl LastLine {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(Vec::with_capacity(64 * 1024))))
    }

    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for LastLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut line = self.0.lock().unwrap();
        if line.ends_with(b"\n") {
            line.clear();
        }
        assert!(line.len() + bytes.len() <= line.capacity(), "the buffer would grow");
        line.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LastLine {
    type Writer = LastLine;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn logfmt(provider: &SdkTracerProvider, out: &LastLine) -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry()
            .with(ContextLayer::new())
            .with(Logfmt::default().layer().with_writer(out.clone()))
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(provider.tracer("allocations"))
                    .with_filter(filter_fn(|metadata| metadata.is_span())),
            ),
    )
}

fn json(provider: &SdkTracerProvider, out: &LastLine) -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry()
            .with(ContextLayer::new())
            .with(Json::default().layer().with_writer(out.clone()))
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(provider.tracer("allocations"))
                    .with_filter(filter_fn(|metadata| metadata.is_span())),
            ),
    )
}

/// Allocations of 100 runs of `event`, inside a request and a handler span,
/// after one unmeasured run.
fn allocations(dispatch: &Dispatch, event: impl Fn()) -> u64 {
    tracing::dispatcher::with_default(dispatch, || {
        let request = tracing::info_span!("request", request_id = "9b0f4c1e", user_id = 1001_u64);
        let _request = request.enter();
        let _handler = tracing::info_span!("checkout", route = "/orders/{id}").entered();
        event();
        allocation_counter::measure(|| {
            for _ in 0..100 {
                event();
            }
        })
        .count_total
    })
}

fn plain() {
    tracing::info!(
        order_id = black_box(42_u64),
        amount_cents = black_box(1999_u64),
        status = black_box("declined"),
        "card declined by issuer"
    );
}

fn debug_value() {
    let order = Order { id: black_box(42), items: ["book", "pen"] };
    tracing::warn!(order = ?order, retry_in = ?black_box(std::time::Duration::from_millis(250)), "order held");
}

fn redacted() {
    tracing::info!(
        card = black_box("4111 1111 1111 1111"),
        authorization = black_box("Bearer abc.def.ghi"),
        "charged"
    );
}

/// What each event's line must show, so that a line not written, or written
/// without its ids, inherited fields or redaction, cannot pass as free.
type Event = (&'static str, fn(), &'static [&'static str]);

const EVENTS: [Event; 3] = [
    ("plain", plain, &["card declined by issuer", "order_id", "1999"]),
    ("debug", debug_value, &["order held", "items", "250ms"]),
    ("redacted", redacted, &["charged", "[REDACTED]"]),
];

fn check(dispatch: &Dispatch, out: &LastLine) {
    for (name, event, shows) in EVENTS {
        assert_eq!(allocations(dispatch, event), 0, "{name} event");
        let line = out.text();
        for text in shows.iter().chain(&["trace_id", "span_id", "request_id", "9b0f4c1e", "/orders/{id}"]) {
            assert!(line.contains(text), "{name}: {text:?} missing from {line}");
        }
        for secret in ["4111", "abc.def"] {
            assert!(!line.contains(secret), "{name}: {line}");
        }
    }
}

#[test]
fn the_counter_counts_inside_a_subscriber() {
    // Without this, a counter that never counts would pass every test below.
    let provider = SdkTracerProvider::builder().build();
    let count = allocations(&logfmt(&provider, &LastLine::new()), || drop(black_box(String::from("x"))));
    assert_eq!(count, 100);
}

#[test]
fn a_logfmt_line_does_not_allocate() {
    let (provider, out) = (SdkTracerProvider::builder().build(), LastLine::new());
    check(&logfmt(&provider, &out), &out);
}

#[test]
fn a_json_line_does_not_allocate() {
    let (provider, out) = (SdkTracerProvider::builder().build(), LastLine::new());
    check(&json(&provider, &out), &out);
}
