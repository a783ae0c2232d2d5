//! A request's lines carry its trace and its fields wherever its work runs:
//! across await points, in spawned tasks that were instrumented, on other
//! threads, and interleaved with other requests.

#[path = "support/lines.rs"]
mod lines;

use std::collections::{HashMap, HashSet};

use opentelemetry::trace::TraceContextExt as _;
use serde_json::{Map, Value};
use throughline_subscriber::{ContextLayer, Json};
use throughline_testing::Capture;
use tracing::instrument::WithSubscriber as _;
use tracing::{Dispatch, Instrument as _};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::prelude::*;

use self::lines::Lines;

fn dispatch(lines: &Lines, capture: &Capture) -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry()
            .with(ContextLayer::new())
            .with(Json::default().layer().with_writer(lines.clone()))
            .with(capture.layer()),
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn ids(span: &tracing::Span) -> (String, String) {
    let cx = span.context();
    let span = cx.span();
    (span.span_context().trace_id().to_string(), span.span_context().span_id().to_string())
}

fn line<'l>(lines: &'l [Map<String, Value>], message: &str) -> &'l Map<String, Value> {
    lines
        .iter()
        .find(|l| l["message"] == message)
        .unwrap_or_else(|| panic!("no line {message:?} in {lines:?}"))
}

#[test]
fn a_request_carries_its_trace_and_fields_across_awaits_spawned_tasks_and_threads() {
    let (lines, capture) = (Lines::default(), Capture::new());
    let dispatch = dispatch(&lines, &capture);
    let request =
        tracing::dispatcher::with_default(&dispatch, || tracing::info_span!("request", request_id = "r-7"));
    let (trace_id, request_span_id) = ids(&request);

    let background_ids = runtime().block_on(
        async {
            tracing::info!("before an await");
            tokio::task::yield_now().await;
            tracing::info!("after an await");

            let background = tracing::info_span!("background", job = 1);
            let background_ids = ids(&background);
            tokio::spawn(
                async { tracing::info!("in a spawned task") }
                    .instrument(background)
                    .with_current_subscriber(),
            )
            .await
            .unwrap();

            let (current, dispatch) =
                (tracing::Span::current(), tracing::dispatcher::get_default(Clone::clone));
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    current.in_scope(|| tracing::info!("on a thread"))
                })
            })
            .join()
            .unwrap();
            background_ids
        }
        .instrument(request)
        .with_subscriber(dispatch),
    );

    let lines = lines.json();
    for message in ["before an await", "after an await", "on a thread"] {
        let line = line(&lines, message);
        assert_eq!(line["request_id"], "r-7", "{message}");
        assert_eq!(line["trace_id"], trace_id.as_str(), "{message}");
        assert_eq!(line["span_id"], request_span_id.as_str(), "{message}");
    }
    let spawned = line(&lines, "in a spawned task");
    assert_eq!((spawned["request_id"].as_str(), spawned["job"].as_i64()), (Some("r-7"), Some(1)));
    assert_eq!(spawned["trace_id"], trace_id.as_str());
    assert_eq!(spawned["span_id"], background_ids.1.as_str());
}

#[test]
fn interleaved_requests_never_lend_each_other_their_trace_or_fields() {
    let (lines, capture) = (Lines::default(), Capture::new());
    let dispatch = dispatch(&lines, &capture);
    runtime().block_on(async {
        let requests = (0..16).map(|n| {
            let span = tracing::dispatcher::with_default(&dispatch, || {
                tracing::info_span!("request", request_id = n)
            });
            let task = async move {
                for step in 0..4 {
                    tracing::info!(step, "working");
                    tokio::task::yield_now().await;
                }
            };
            tokio::spawn(task.instrument(span).with_subscriber(dispatch.clone()))
        });
        for request in requests.collect::<Vec<_>>() {
            request.await.unwrap();
        }
    });

    let mut traces: HashMap<i64, HashSet<String>> = HashMap::new();
    let lines = lines.json();
    assert_eq!(lines.len(), 16 * 4);
    for line in &lines {
        traces
            .entry(line["request_id"].as_i64().unwrap())
            .or_default()
            .insert(line["trace_id"].as_str().unwrap().into());
    }
    assert_eq!(traces.len(), 16);
    assert!(traces.values().all(|ids| ids.len() == 1), "each request has one trace: {traces:?}");
    let distinct: HashSet<&String> = traces.values().flatten().collect();
    assert_eq!(distinct.len(), 16, "and no two requests share one");
}
