//! The workloads every benchmark runs, so that timings, allocation counts and
//! instruction counts describe the same work.
//!
//! Events: one `info!` with three fields and a message, inside two entered
//! spans carrying three fields between them, with tracing-opentelemetry's
//! layer active (so there are trace ids to write), written to
//! `std::io::sink()`. throughline's logfmt and JSON formatters (with the
//! default redaction) against tracing-subscriber's own JSON formatter.
//!
//! Spans: one span with `metric_name` and two labels, created, entered, left
//! and closed, with and without [`SpanMetricsLayer`] recording into an SDK
//! meter provider.

use std::hint::black_box;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use throughline_subscriber::{ContextLayer, Json, Logfmt, SpanMetricsLayer};
use throughline_testing::Capture;
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

pub(crate) const LOGFMT: &str = "throughline Logfmt";
pub(crate) const JSON: &str = "throughline Json";
pub(crate) const TRACING_SUBSCRIBER_JSON: &str = "tracing-subscriber json()";
pub(crate) const REGISTRY_ONLY: &str = "registry only (baseline)";
pub(crate) const SPAN_METRICS: &str = "registry + SpanMetricsLayer";

const EVENT: &str = "event in 2 spans (3 span fields, 3 event fields, trace ids)";
const METRIC_SPAN: &str = "span with metric_name and 2 labels";

/// Calls the measurement it is given with one run of the operation, inside
/// the case's subscriber (and spans) set up once for all runs.
pub(crate) type Within = Box<dyn Fn(&mut dyn FnMut(&mut dyn FnMut()))>;

/// A benchmark case: the operation, who does it, and a way to run it.
pub(crate) struct Case {
    pub operation: &'static str,
    pub implementation: &'static str,
    pub within: Within,
}

/// Every case.
pub(crate) fn cases() -> Vec<Case> {
    let tracer_provider = SdkTracerProvider::builder().build();
    let logfmt = Dispatch::new(
        tracing_subscriber::registry()
            .with(ContextLayer::new())
            .with(Logfmt::default().layer().with_writer(std::io::sink))
            .with(otel(&tracer_provider)),
    );
    let json = Dispatch::new(
        tracing_subscriber::registry()
            .with(ContextLayer::new())
            .with(Json::default().layer().with_writer(std::io::sink))
            .with(otel(&tracer_provider)),
    );
    let peer = Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().json().with_writer(std::io::sink))
            .with(otel(&tracer_provider)),
    );

    let capture = Capture::new();
    let plain = Dispatch::new(tracing_subscriber::registry());
    let metrics =
        Dispatch::new(tracing_subscriber::registry().with(SpanMetricsLayer::new(capture.meter_provider())));

    vec![
        Case { operation: EVENT, implementation: LOGFMT, within: in_request(logfmt) },
        Case { operation: EVENT, implementation: JSON, within: in_request(json) },
        Case { operation: EVENT, implementation: TRACING_SUBSCRIBER_JSON, within: in_request(peer) },
        Case { operation: METRIC_SPAN, implementation: REGISTRY_ONLY, within: metric_span(plain, None) },
        Case {
            operation: METRIC_SPAN,
            implementation: SPAN_METRICS,
            within: metric_span(metrics, Some(capture)),
        },
    ]
}

/// tracing-opentelemetry's layer, for spans only: span events would pile up
/// in the never-ending spans of the loop and measure the SDK, not the
/// formatter.
fn otel<S>(provider: &SdkTracerProvider) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("bench"))
        .with_filter(filter_fn(|metadata| metadata.is_span()))
}

/// Runs the event inside a request span and a handler span, entered once.
fn in_request(dispatch: Dispatch) -> Within {
    Box::new(move |measure| {
        tracing::dispatcher::with_default(&dispatch, || {
            let request = tracing::info_span!(
                "request",
                request_id = "9b0f4c1e-5d6a-4f7e-8a3b-2c1d0e9f8a7b",
                user_id = 1001_u64
            );
            let _request = request.enter();
            let _handler = tracing::info_span!("checkout", route = "/orders/{id}").entered();
            measure(&mut || {
                tracing::info!(
                    order_id = black_box(42_u64),
                    amount_cents = black_box(1999_u64),
                    status = black_box("declined"),
                    "card declined by issuer"
                );
            });
        });
    })
}

/// Runs one span naming a metric, from creation to close. `meters` is kept
/// alive with the case: a dropped meter provider would record nothing.
fn metric_span(dispatch: Dispatch, meters: Option<Capture>) -> Within {
    Box::new(move |measure| {
        let _meters = &meters;
        tracing::dispatcher::with_default(&dispatch, || {
            measure(&mut || {
                tracing::info_span!(
                    "handle",
                    metric_name = "http_request",
                    metric_label_route = black_box("/orders/{id}"),
                    metric_label_method = "GET"
                )
                .in_scope(|| {});
            });
        });
    })
}
