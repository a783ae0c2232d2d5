//! The head decision and the directly built server span against
//! tracing-opentelemetry: one corpus of requests runs through the server
//! layer deciding up front (`HeadSampling::Sampler`: an unrecorded request
//! builds no span, a recorded one is built directly as an OpenTelemetry
//! span, with throughline-subscriber's `ContextEventsLayer` taking the
//! handler's own events), and with every request a bridged `tracing` span
//! (`HeadSampling::Off`). What leaves the process must be the same: the
//! exported spans (names, kinds, parents, flags, attributes, events, links,
//! status), the context sent downstream, the ids log records carry, the
//! response. The handler's work covers nested spans, events, an error
//! event, a field recorded late, follows-from, and a call onward retried
//! once (its first attempt answered 503). The corpus also runs deciding up front with recorded spans
//! bridged, and with the client layer deciding alone under a bridged
//! server span.
//!
//! Intended differences, not compared:
//! - span ids and new trace ids are random (they are compared by position);
//! - a server or client span built directly has no `tracing` callsite, so
//!   it lacks the attributes the bridge takes from one: `target`,
//!   `code.file.path`, `code.module.name`, `code.line.number` (they name
//!   throughline's own source), with `thread.*`, `busy_ns` and `idle_ns`;
//!   its instrumentation scope is throughline-tower's, not the bridge's
//!   tracer's;
//! - a request without a bridged span (unrecorded, or built directly) has
//!   no `tracing` span, so `tracing::Span::current()` in its handler is none
//!   (`current_trace_id()` and the client layers read the attached context
//!   instead, and are compared).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use http::{HeaderMap, Request, Response};
use http_body_util::BodyExt;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags as OtelFlags, TraceId,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{
    IdGenerator, InMemorySpanExporter, RandomIdGenerator, Sampler, SdkTracerProvider,
};
use throughline_propagation::HeadSampler;
use throughline_resilience::retry::{RetryConfig, RetryLayer};
use throughline_resilience::{Backoff, HttpClassifier};
use throughline_subscriber::ContextEventsLayer;
use throughline_tower::client::HttpClientLayer;
use throughline_tower::server::{HeadSampling, HttpServerLayer, Record, TrustPolicy, current_trace_id};
use tower::{Layer as _, ServiceExt, service_fn};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;

/// The SDK's ids, but a trace the head decision started takes the id it
/// was decided on, as throughline-pipeline's id generator does.
#[derive(Debug, Default)]
struct HeadDecidedIds(RandomIdGenerator);

impl IdGenerator for HeadDecidedIds {
    fn new_trace_id(&self) -> TraceId {
        HeadSampler::take_new_trace_id().map_or_else(|| self.0.new_trace_id(), Into::into)
    }

    fn new_span_id(&self) -> SpanId {
        self.0.new_span_id()
    }
}

/// Records the ids of the active OpenTelemetry context at each event, the
/// rule throughline-subscriber's log lines follow.
#[derive(Clone, Default)]
struct LogIds(Arc<Mutex<Vec<(TraceId, SpanId, OtelFlags)>>>);

impl<S: tracing::Subscriber> Layer<S> for LogIds {
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let ids = Context::map_current(|cx| {
            let span = cx.span();
            let span = span.span_context();
            (span.trace_id(), span.span_id(), span.trace_flags())
        });
        self.0.lock().unwrap().push(ids);
    }
}

/// One request of the corpus.
#[derive(Clone, Copy, Debug)]
struct Scenario {
    /// What the scenario is about, for the failure message.
    #[allow(dead_code)]
    name: &'static str,
    sampler: fn() -> Sampler,
    head: HeadSampler,
    traceparent: Option<&'static str>,
    trusted: bool,
    path: &'static str,
}

const SAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const UNSAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
const RANDOM_UNSAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02";

fn parent_based_on() -> Sampler {
    Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
}

fn parent_based_off() -> Sampler {
    Sampler::ParentBased(Box::new(Sampler::AlwaysOff))
}

fn always_off() -> Sampler {
    Sampler::AlwaysOff
}

fn corpus() -> Vec<Scenario> {
    let on = HeadSampler::ALWAYS_ON.parent_based();
    let off = HeadSampler::ALWAYS_OFF.parent_based();
    let mut corpus = Vec::new();
    for path in ["/orders/7", "/fail", "/panic"] {
        let scenario = |name, sampler, head, traceparent, trusted| Scenario {
            name,
            sampler,
            head,
            traceparent,
            trusted,
            path,
        };
        corpus.extend([
            scenario("sampled parent", parent_based_on as fn() -> Sampler, on, Some(SAMPLED), true),
            scenario("unsampled parent", parent_based_on, on, Some(UNSAMPLED), true),
            scenario("unsampled parent, random flag", parent_based_on, on, Some(RANDOM_UNSAMPLED), true),
            scenario("new trace, not recorded", parent_based_off, off, None, true),
            scenario("sampled parent, sampler off", always_off, HeadSampler::ALWAYS_OFF, Some(SAMPLED), true),
            scenario("public caller, new trace recorded", parent_based_on, on, Some(UNSAMPLED), false),
            scenario("public caller, not recorded", parent_based_off, off, Some(SAMPLED), false),
        ]);
    }
    corpus
}

/// Everything that leaves the process for one request.
#[derive(Debug, PartialEq)]
struct Observed {
    status: u16,
    server_timing: Option<String>,
    /// Exported spans, with ids replaced by their order of appearance.
    spans: Vec<String>,
    /// `traceparent`, `tracestate` and `baggage` sent downstream.
    sent: Vec<String>,
    /// The ids of every event, and what `current_trace_id()` said.
    logs: Vec<String>,
    trace_id_in_handler: Vec<String>,
}

/// Names ids by their order of appearance, so that two runs with
/// different random ids compare equal when they have the same shape.
#[derive(Default)]
struct Positions(HashMap<String, usize>);

impl Positions {
    fn of(&mut self, id: impl ToString) -> String {
        let id = id.to_string();
        if id.chars().all(|c| c == '0') {
            return "invalid".to_owned();
        }
        if ["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"].contains(&id.as_str()) {
            return id; // the caller's ids stay themselves
        }
        let next = self.0.len();
        format!("#{}", self.0.entry(id).or_insert(next))
    }

    /// A `traceparent`, its two ids by position.
    fn traceparent(&mut self, value: &str) -> String {
        let fields: Vec<&str> = value.split('-').collect();
        format!("{}-{}-{}-{}", fields[0], self.of(fields[1]), self.of(fields[2]), fields[3])
    }
}

/// How the layers of one run decide and build their spans.
#[derive(Clone, Copy)]
struct Mode {
    /// The server layer's head sampling.
    server: HeadSampling,
    /// The head sampling of the client layer the handler calls onward with.
    client: HeadSampling,
    /// Whether the layers build a recorded span directly.
    direct: bool,
}

impl Mode {
    const BRIDGED: Self = Self { server: HeadSampling::Off, client: HeadSampling::Off, direct: false };

    fn decided(head: HeadSampler) -> Self {
        let head = HeadSampling::Sampler(head);
        Self { server: head, client: head, direct: true }
    }
}

/// What one run shows besides its output: the trace id the response named,
/// as sent, and which spans the layers built directly.
struct Run {
    named_trace: Option<String>,
    /// The names of the spans of throughline-tower's own scope.
    direct: Vec<String>,
}

/// Runs `scenario` with the layers as `mode` says; returns what left the
/// process, and what else the run shows.
async fn observe(scenario: Scenario, mode: Mode) -> (Observed, Run) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler((scenario.sampler)())
        .with_id_generator(HeadDecidedIds::default())
        .with_simple_exporter(exporter.clone())
        .build();
    let logs = LogIds::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("differential")))
        .with(ContextEventsLayer::new())
        .with(logs.clone());
    let _default = tracing::subscriber::set_default(subscriber);

    let sent = Arc::new(Mutex::new(Vec::new()));
    let in_handler = Arc::new(Mutex::new(Vec::new()));
    // The handler's call onward goes through a retry: its first attempt is
    // answered 503, its second 200.
    let downstream = {
        let sent = sent.clone();
        let attempts = Arc::new(AtomicUsize::new(0));
        let client = HttpClientLayer::new().head_sampling(mode.client);
        let client = if mode.direct { client.tracer_provider(&provider) } else { client };
        let retry = RetryConfig::new("inventory")
            .backoff(Backoff::constant(Duration::ZERO))
            .classifier(HttpClassifier::default())
            .build()
            .unwrap();
        RetryLayer::new(retry).layer(client.layer(service_fn(move |request: Request<String>| {
            // What the client does on the call's behalf is in the call.
            tracing::info_span!("connect").in_scope(|| tracing::info!("connecting"));
            let headers: &HeaderMap = request.headers();
            for name in ["traceparent", "tracestate", "baggage"] {
                if let Some(value) = headers.get(name) {
                    sent.lock().unwrap().push(format!("{name}: {}", value.to_str().unwrap()));
                }
            }
            let status = if attempts.fetch_add(1, Ordering::Relaxed) == 0 { 503 } else { 200 };
            let response = Response::builder().status(status).body(Body::empty()).unwrap();
            async { Ok::<_, std::convert::Infallible>(response) }
        })))
    };
    let handler = {
        let in_handler = in_handler.clone();
        move |Path(id): Path<u64>| async move {
            tracing::info!("received");
            in_handler.lock().unwrap().push(current_trace_id());
            let load = tracing::info_span!("load", order.id = id, rows = tracing::field::Empty);
            async {
                tracing::debug!(table = "orders", "querying");
                tracing::Span::current().record("rows", 3);
            }
            .instrument_in(&load)
            .await;
            let batch = tracing::info_span!("batch");
            batch.follows_from(&load);
            batch.in_scope(|| tracing::error!(error = "timeout", "retrying later"));
            let request = Request::get("http://inventory.internal/items/7").body(String::new()).unwrap();
            let response = downstream.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 200, "retried");
            id.to_string()
        }
    };
    let mut layer = HttpServerLayer::new()
        .head_sampling(mode.server)
        .trust(if scenario.trusted { TrustPolicy::trusted() } else { TrustPolicy::public() })
        .filter(|_| Record::TRACE_ONLY)
        .catch_panic(true)
        .trace_response_header(true);
    if mode.direct {
        layer = layer.tracer_provider(&provider);
    }
    let app = Router::new()
        .route("/orders/{id}", get(handler))
        .route("/fail", get(|| async { (http::StatusCode::SERVICE_UNAVAILABLE, "down") }))
        .route("/panic", get(panics))
        .layer(layer);
    let mut request = Request::get(scenario.path).header("baggage", "user=alice");
    if let Some(traceparent) = scenario.traceparent {
        request = request.header("traceparent", traceparent).header("tracestate", "vendor=1");
    }
    let response = app.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let server_timing = response.headers().get("server-timing").map(|v| v.to_str().unwrap().to_owned());
    response.into_body().collect().await.unwrap();
    provider.force_flush().unwrap();

    let mut positions = Positions::default();
    let server_timing = server_timing
        .map(|value| value.trim_start_matches("traceparent;desc=\"").trim_end_matches('"').to_owned());
    let named_trace = server_timing.as_ref().map(|traceparent| traceparent[3..35].to_owned());
    let server_timing = server_timing.map(|traceparent| positions.traceparent(&traceparent));
    let exported = exporter.get_finished_spans().unwrap();
    let direct = exported
        .iter()
        .filter(|span| span.instrumentation_scope.name() == "throughline-tower")
        .map(|span| span.name.to_string())
        .collect();
    let spans = exported
        .into_iter()
        .map(|span| {
            let mut attributes: Vec<String> = span
                .attributes
                .iter()
                // Timings and the thread differ from run to run; a server
                // span built directly has no `tracing` callsite, whose
                // target and code location the bridge records.
                .filter(|kv| !["busy_ns", "idle_ns", "thread.id", "thread.name"].contains(&kv.key.as_str()))
                .filter(|kv| {
                    ![SpanKind::Server, SpanKind::Client].contains(&span.span_kind)
                        || !(kv.key.as_str() == "target" || kv.key.as_str().starts_with("code."))
                })
                .map(|KeyValue { key, value, .. }| format!("{key}={value}"))
                .collect();
            attributes.sort();
            let events: Vec<String> = span
                .events
                .iter()
                .map(|event| {
                    let mut attributes: Vec<String> = event
                        .attributes
                        .iter()
                        .map(|kv| format!("{}={}", kv.key, kv.value))
                        .collect();
                    attributes.sort();
                    format!("{}{attributes:?}", event.name)
                })
                .collect();
            let links: Vec<String> = span
                .links
                .iter()
                .map(|link| {
                    format!(
                        "{}/{}/{:?}",
                        positions.of(link.span_context.trace_id()),
                        positions.of(link.span_context.span_id()),
                        link.span_context.trace_flags()
                    )
                })
                .collect();
            let status = match &span.status {
                Status::Error { description } => format!("error({description})"),
                other => format!("{other:?}"),
            };
            format!(
                "{} {:?} trace={} id={} parent={} flags={:?} remote_parent={} attributes={attributes:?} events={events:?} links={links:?} status={status}",
                span.name,
                span.span_kind,
                positions.of(span.span_context.trace_id()),
                positions.of(span.span_context.span_id()),
                positions.of(span.parent_span_id),
                span.span_context.trace_flags(),
                span.parent_span_is_remote,
            )
        })
        .collect();
    let sent = std::mem::take(&mut *sent.lock().unwrap())
        .into_iter()
        .map(|header| match header.strip_prefix("traceparent: ") {
            Some(value) => format!("traceparent: {}", positions.traceparent(value)),
            None => header,
        })
        .collect();
    let logs = std::mem::take(&mut *logs.0.lock().unwrap())
        .into_iter()
        .map(|(trace, span, flags)| format!("{}/{}/{flags:?}", positions.of(trace), positions.of(span)))
        .collect();
    let trace_id_in_handler = std::mem::take(&mut *in_handler.lock().unwrap())
        .into_iter()
        .map(|id| id.map_or("none".to_owned(), |id| positions.of(id)))
        .collect();
    (Observed { status, server_timing, spans, sent, logs, trace_id_in_handler }, Run { named_trace, direct })
}

async fn panics() -> &'static str {
    panic!("the handler broke")
}

trait InstrumentIn: std::future::Future + Sized {
    fn instrument_in(self, span: &tracing::Span) -> tracing::instrument::Instrumented<Self> {
        tracing::Instrument::instrument(self, span.clone())
    }
}

impl<F: std::future::Future> InstrumentIn for F {}

#[tokio::test(flavor = "current_thread")]
async fn deciding_up_front_changes_nothing_that_leaves_the_process() {
    let mut unrecorded = 0;
    for scenario in corpus() {
        let (bridged, _) = observe(scenario, Mode::BRIDGED).await;
        let decided = Mode::decided(scenario.head);
        let (direct, run) = observe(scenario, decided).await;
        assert_eq!(direct, bridged, "{scenario:?}");
        // The spans compared were built directly.
        if !bridged.spans.is_empty() && scenario.path == "/orders/7" {
            // Both attempts' client spans, and the server span.
            assert_eq!(run.direct, ["GET", "GET", "GET /orders/{id}"], "{scenario:?}");
        }
        // A recorded request as a bridged span after all.
        let (decided_bridged, _) = observe(scenario, Mode { direct: false, ..decided }).await;
        assert_eq!(decided_bridged, bridged, "{scenario:?}, recorded spans bridged");
        // The client deciding alone, under a bridged server span that may
        // not record: its call is the same too.
        let (client_decided, _) = observe(scenario, Mode { client: decided.client, ..Mode::BRIDGED }).await;
        assert_eq!(client_decided, bridged, "{scenario:?}, the client deciding alone");
        let decided = decided_bridged;
        // The corpus must hold both kinds, and say something about each.
        if bridged.spans.is_empty() {
            unrecorded += 1;
        }
        if scenario.path != "/panic" {
            assert!(decided.server_timing.is_some(), "{scenario:?}: every response names its trace");
        }
        if scenario.path == "/orders/7" {
            assert!(!decided.sent.is_empty() && !decided.logs.is_empty(), "{scenario:?}");
        }
    }
    assert!(unrecorded >= 9, "{unrecorded} unrecorded scenarios");
}

/// A ratio sampler on new traces: the decision is made on the id the trace
/// then carries, so a recorded trace's id passes the ratio and an unrecorded
/// one's does not, and about the ratio is kept.
#[tokio::test(flavor = "current_thread")]
async fn a_new_trace_is_recorded_by_the_id_it_was_decided_on() {
    let head = HeadSampler::trace_id_ratio(0.5);
    let scenario = Scenario {
        name: "new trace, ratio",
        sampler: || Sampler::TraceIdRatioBased(0.5),
        head,
        traceparent: None,
        trusted: true,
        path: "/fail",
    };
    let mut recorded = 0;
    for _ in 0..200 {
        let (observed, Run { named_trace: trace_id, .. }) = observe(scenario, Mode::decided(head)).await;
        let traceparent = observed.server_timing.expect("every response names its trace");
        let sampled = traceparent.ends_with("-03");
        assert!(sampled || traceparent.ends_with("-02"), "{traceparent}: the random flag is set");
        assert_eq!(sampled, !observed.spans.is_empty());
        let trace_id: throughline_propagation::TraceId = trace_id.unwrap().parse().unwrap();
        assert_eq!(head.samples(trace_id, None), sampled, "{trace_id}: decided on the id it carries");
        recorded += usize::from(sampled);
    }
    assert!((60..=140).contains(&recorded), "{recorded} of 200 recorded at a ratio of one half");
}

/// A call made outside any request starts a trace: the client layer draws
/// its id, decides on it, and a recorded call carries that id.
#[tokio::test(flavor = "current_thread")]
async fn a_call_that_starts_a_trace_is_recorded_by_the_id_it_was_decided_on() {
    let head = HeadSampler::trace_id_ratio(0.5);
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::TraceIdRatioBased(0.5))
        .with_id_generator(HeadDecidedIds::default())
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("client")));
    let _default = tracing::subscriber::set_default(subscriber);
    let sent = Arc::new(Mutex::new(String::new()));
    let client = {
        let sent = sent.clone();
        HttpClientLayer::new().head_sampling(HeadSampling::Sampler(head)).layer(service_fn(
            move |request: Request<Body>| {
                *sent.lock().unwrap() = request.headers()["traceparent"].to_str().unwrap().to_owned();
                async { Ok::<_, std::convert::Infallible>(Response::new(Body::empty())) }
            },
        ))
    };
    let mut recorded = 0;
    for _ in 0..200 {
        let request = Request::get("http://inventory.internal/items/7").body(Body::empty()).unwrap();
        client.clone().oneshot(request).await.unwrap().into_body().collect().await.unwrap();
        let traceparent = sent.lock().unwrap().clone();
        let sampled = traceparent.ends_with("-03");
        assert!(sampled || traceparent.ends_with("-02"), "{traceparent}: the random flag is set");
        let trace_id: throughline_propagation::TraceId = traceparent[3..35].parse().unwrap();
        assert_eq!(head.samples(trace_id, None), sampled, "{trace_id}: decided on the id it carries");
        let spans = exporter.get_finished_spans().unwrap();
        exporter.reset();
        assert_eq!(spans.len(), usize::from(sampled), "{traceparent}");
        if let Some(span) = spans.first() {
            assert_eq!(span.span_context.trace_id().to_string(), &traceparent[3..35]);
            assert_eq!(span.span_context.span_id().to_string(), &traceparent[36..52]);
        }
        recorded += usize::from(sampled);
    }
    assert!((60..=140).contains(&recorded), "{recorded} of 200 recorded at a ratio of one half");
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context as TaskContext, Poll, Waker};
    let mut future = std::pin::pin!(future);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// The allocations of one call of `service` with `request()`, its response
/// body read to the end.
fn allocations<S, B>(service: &mut S, request: fn() -> Request<String>) -> u64
where
    S: tower::Service<Request<String>, Response = Response<B>, Error = std::convert::Infallible>,
    B: http_body::Body,
{
    let mut once = || {
        let request = request();
        allocation_counter::measure(|| {
            let response = block_on(service.call(request)).unwrap();
            let _ = block_on(response.into_body().collect());
        })
        .count_total
    };
    once(); // thread-local state is set up once, not per request
    once()
}

fn tracing_with(sampler: Sampler) -> tracing::subscriber::DefaultGuard {
    let provider = SdkTracerProvider::builder().with_sampler(sampler).build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("allocations")));
    tracing::subscriber::set_default(subscriber)
}

/// What an unrecorded request costs in allocations, over the same service
/// without the layer: the caller's context and the request's own, nothing
/// more (no span, no attribute, no route string, no body wrapper state).
#[test]
fn an_unrecorded_request_allocates_two_contexts_and_nothing_else() {
    fn request() -> Request<String> {
        Request::get("/orders/7").header("traceparent", UNSAMPLED).body(String::new()).unwrap()
    }
    let _default = tracing_with(parent_based_on());
    let inner = || service_fn(|_: Request<String>| async { Ok(Response::new(String::from("7"))) });
    let bare = allocations(&mut inner(), request);
    let layer = HttpServerLayer::new()
        .head_sampling(HeadSampling::Sampler(HeadSampler::ALWAYS_ON.parent_based()))
        .filter(|_| Record::TRACE_ONLY);
    let traced = allocations(&mut layer.layer(inner()), request);
    assert_eq!(traced - bare, 2, "{bare} allocations bare, {traced} traced");
}

/// What an unrecorded call costs in allocations, over the same client
/// without the layer: its context and the `traceparent` it sends, nothing
/// more (no span, no attribute).
#[test]
fn an_unrecorded_call_allocates_its_context_and_its_header() {
    fn request() -> Request<String> {
        // A header already there, as in any real request: the map has room.
        Request::get("http://inventory.internal/items/7")
            .header("accept", "application/json")
            .body(String::new())
            .unwrap()
    }
    let _default = tracing_with(parent_based_on());
    let caller = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        OtelFlags::default(),
        true,
        Default::default(),
    );
    let _attached = Context::new().with_remote_span_context(caller).attach();
    let inner = || service_fn(|_: Request<String>| async { Ok(Response::new(String::new())) });
    let bare = allocations(&mut inner(), request);
    let layer = HttpClientLayer::new()
        .head_sampling(HeadSampling::Sampler(HeadSampler::ALWAYS_ON.parent_based()))
        .without_metrics();
    let traced = allocations(&mut layer.layer(inner()), request);
    assert_eq!(traced - bare, 2, "{bare} allocations bare, {traced} traced");
}
