//! The tracing scenarios people ask about, each a function that a binary in
//! `src/bin/` runs under [`throughline::init()`] and a test in
//! `tests/scenarios.rs` checks against captured spans.
//!
//! | scenario | function | binary |
//! |---|---|---|
//! | a synchronous span tree | [`sync_tree`] | `sync-tree` |
//! | async work with `Instrument` | [`async_instrument`] | `async-instrument` |
//! | a spawned task that `follows_from` its cause | [`follows_from`] | `follows-from` |
//! | a span handed to another thread over a channel | [`across_threads`] | `across-threads` |
//! | manual inject and extract with a plain map | [`manual_propagation`] | `manual-propagation` |
//! | an error recorded on a span | [`record_error`] | `record-error` |
//!
//! `compose-layers` is the one program without `init()`: it assembles the
//! subscriber by hand from throughline-subscriber's layers and the
//! pipeline's providers; `tests/compose_layers.rs` runs it and reads its output.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::trace::TraceContextExt;
use tracing::{Instrument, Span, error, info, info_span, instrument};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Runs a scenario with telemetry from the environment; spans go to the
/// console unless `OTEL_TRACES_EXPORTER` says otherwise.
pub async fn run<F: Future<Output = ()>>(service: &str, scenario: impl FnOnce() -> F) {
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    for (name, default) in [
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "none"),
    ] {
        vars.entry(name.to_owned()).or_insert_with(|| default.to_owned());
    }
    let telemetry = throughline::Init::from_vars(&vars)
        .and_then(|init| init.service_name(service).install())
        .unwrap_or_else(|error| panic!("telemetry: {error}"));
    scenario().await;
    if let Err(error) = telemetry.shutdown(Duration::from_secs(5)).await {
        eprintln!("flushing telemetry: {error}");
    }
}

/// A synchronous span tree: `checkout` with two children, entered in turn.
pub fn sync_tree() {
    let checkout = info_span!("checkout", order.id = 42);
    let _entered = checkout.enter();
    info_span!("price").in_scope(|| info!(total_cents = 1999, "priced"));
    info_span!("charge").in_scope(|| info!("charged"));
}

/// Async work: `#[instrument]` on a function and `.instrument(span)` on a
/// future keep the span current across every `.await`, whichever thread
/// polls it.
pub async fn async_instrument() {
    load_user(7).instrument(info_span!("request", http.route = "/users/{id}")).await;
}

#[instrument]
async fn load_user(id: u64) {
    tokio::time::sleep(Duration::from_millis(5)).await;
    info!(id, "loaded");
}

/// A background task started by a request but outliving it: its span is a
/// new root that `follows_from` the request's span, so the request's trace
/// does not wait for it.
pub async fn follows_from() {
    let request = info_span!("request");
    let task = request.in_scope(|| {
        let cleanup = info_span!(parent: None, "cleanup");
        cleanup.follows_from(&request);
        tokio::spawn(async { info!("cleaned up") }.instrument(cleanup))
    });
    drop(request);
    task.await.expect("the cleanup task panicked");
}

/// A span handed to a worker thread over a channel: the thread enters it,
/// so its work is a child of the sender's span.
pub fn across_threads() {
    let (jobs, queue) = std::sync::mpsc::channel::<(Span, i64)>();
    // The worker uses this thread's subscriber, global or scoped.
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    let worker = std::thread::spawn(move || {
        tracing::dispatcher::with_default(&dispatch, || {
            for (parent, job) in queue {
                info_span!(parent: &parent, "work", job).in_scope(|| info!("done"));
            }
        })
    });
    info_span!("enqueue").in_scope(|| {
        jobs.send((Span::current(), 1)).expect("the worker is running");
    });
    drop(jobs);
    worker.join().expect("the worker panicked");
}

/// Manual propagation through a plain map, as for a message queue: the
/// producer injects its span's context with the global propagator (set by
/// `init()`), the consumer extracts it and parents its span on it. Returns
/// the map that travelled.
pub fn manual_propagation() -> HashMap<String, String> {
    let mut message = HashMap::new();
    info_span!("publish").in_scope(|| {
        let context = Span::current().context();
        opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&context, &mut message));
    });

    let remote = opentelemetry::global::get_text_map_propagator(|p| p.extract(&message));
    let consume = info_span!("consume");
    if remote.span().span_context().is_valid() {
        let _ = consume.set_parent(remote);
    }
    consume.in_scope(|| info!("consumed"));
    message
}

/// An error recorded on a span: the `error` field and an error-level event
/// mark the span failed (OpenTelemetry status error, with an exception event).
pub fn record_error() {
    let span = info_span!("charge", error = tracing::field::Empty, otel.status_code = tracing::field::Empty);
    let _entered = span.enter();
    let failure =
        std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "payments refused the connection");
    span.record("error", tracing::field::display(&failure));
    span.record("otel.status_code", "ERROR");
    error!(error = %failure, "charge failed");
}
