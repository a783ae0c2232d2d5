//! The workloads every benchmark runs, so that timings, allocation counts
//! and instruction counts describe the same work.
//!
//! Each case sends `GET /users/{id}` with a `traceparent` through
//! `tower::ServiceExt::oneshot` to an axum `Router`, in process, and reads
//! the response body to its end (the server span ends with the body). Every
//! instrumented case exports through the same SDK pipeline: a simple span
//! processor into an exporter that drops the batch, and a meter provider
//! whose reader never exports during the run.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use http::{HeaderValue, Request};
use http_body_util::BodyExt;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};
use throughline_propagation::HeadSampler;
use throughline_tower::server::{HeadSampling, HttpServerLayer, Record};
use tower::ServiceExt;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

/// Drops every span, counting them so the tables can show equal output:
/// the export pipeline runs, the I/O does not.
#[derive(Debug, Default)]
struct NoopExporter(Arc<AtomicUsize>);

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len(), Ordering::Relaxed);
        Ok(())
    }
}

/// How much of the traffic the sampler keeps.
#[derive(Clone, Copy)]
pub(crate) enum Sampling {
    /// Every span (`AlwaysOn`).
    All,
    /// One in ten, by trace id (`TraceIdRatioBased(0.1)`, the incoming flag not obeyed).
    Tenth,
    /// None (`AlwaysOff`): what a sampled-out request costs.
    Off,
}

impl Sampling {
    pub(crate) const ALL: [Sampling; 3] = [Sampling::All, Sampling::Tenth, Sampling::Off];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::All => "sampled",
            Self::Tenth => "10% sampled",
            Self::Off => "sampled out",
        }
    }

    /// The same sampler described for throughline's layers, as
    /// `throughline::init()` publishes it.
    fn head(self) -> HeadSampler {
        match self {
            Self::All => HeadSampler::ALWAYS_ON,
            Self::Tenth => HeadSampler::trace_id_ratio(0.1),
            Self::Off => HeadSampler::ALWAYS_OFF,
        }
    }

    fn sampler(self) -> Sampler {
        match self {
            Self::All => Sampler::AlwaysOn,
            Self::Tenth => Sampler::TraceIdRatioBased(0.1),
            Self::Off => Sampler::AlwaysOff,
        }
    }
}

pub(crate) const BARE: &str = "bare router";
pub(crate) const THROUGHLINE: &str = "throughline (span + propagation + metrics)";
pub(crate) const THROUGHLINE_TRACES: &str = "throughline (span + propagation)";
pub(crate) const TOWER_HTTP: &str = "tower-http TraceLayer + tracing-opentelemetry";
pub(crate) const OTEL_AXUM: &str = "axum-tracing-opentelemetry OtelAxumLayer";
pub(crate) const OTEL_TOWER: &str = "opentelemetry-instrumentation-tower (spans + metrics)";

/// A benchmark case: who, at which sampling, and one request.
pub(crate) struct Case {
    pub implementation: &'static str,
    pub sampling: &'static str,
    pub run: Box<dyn FnMut()>,
    /// Spans exported so far; only the allocations table reads it.
    #[allow(dead_code)]
    pub exported: Arc<AtomicUsize>,
}

fn users() -> Router {
    Router::new().route("/users/{id}", get(|Path(id): Path<u64>| async move { id.to_string() }))
}

/// `traceparent`s with varied trace ids, so that ratio sampling keeps about
/// one in ten; the same list for every case.
fn traceparents() -> Vec<HeaderValue> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..1024)
        .map(|_| {
            let value = format!("00-{:016x}{:016x}-00f067aa0ba902b7-01", next(), next());
            HeaderValue::from_str(&value).unwrap()
        })
        .collect()
}

/// Polls `future` to completion; every future here is ready without I/O,
/// so no runtime is involved in what is measured.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

struct Pipeline {
    dispatch: Dispatch,
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    exported: Arc<AtomicUsize>,
}

fn pipeline(sampling: Sampling) -> Pipeline {
    let exporter = NoopExporter::default();
    let exported = exporter.0.clone();
    let tracer_provider =
        SdkTracerProvider::builder().with_sampler(sampling.sampler()).with_simple_exporter(exporter).build();
    let reader = PeriodicReader::builder(InMemoryMetricExporter::default())
        .with_interval(Duration::from_secs(3600))
        .build();
    let meter_provider = SdkMeterProvider::builder().with_reader(reader).build();
    // opentelemetry-instrumentation-tower reads the globals when its layer is built.
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    opentelemetry::global::set_meter_provider(meter_provider.clone());
    // As `throughline::init()` installs them.
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("bench")))
        .with(throughline_subscriber::ContextEventsLayer::new());
    Pipeline { dispatch: Dispatch::new(subscriber), tracer_provider, meter_provider, exported }
}

fn case(implementation: &'static str, sampling: &'static str, pipeline: &Pipeline, app: Router) -> Case {
    let dispatch = pipeline.dispatch.clone();
    let traceparents = traceparents();
    let mut i = 0;
    let run = move || {
        let request = Request::get("/users/42")
            .header("traceparent", traceparents[i % traceparents.len()].clone())
            .body(Body::empty())
            .unwrap();
        i += 1;
        tracing::dispatcher::with_default(&dispatch, || {
            block_on(async {
                let response = app.clone().oneshot(request).await.unwrap();
                black_box(response.into_body().collect().await.unwrap());
            })
        });
    };
    Case { implementation, sampling, run: Box::new(run), exported: pipeline.exported.clone() }
}

/// Every case, each owning its pipeline.
pub(crate) fn cases() -> Vec<Case> {
    // Each its own propagator, as `init()` would set them: throughline's
    // layers throughline's, the peers the SDK's through the global API.
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    throughline_propagation::Propagator::default().set_global();
    let mut cases = vec![case(BARE, "-", &pipeline(Sampling::All), users())];
    for sampling in Sampling::ALL {
        let label = sampling.label();
        let p = pipeline(sampling);
        // What `throughline::init()` publishes: the sampler, and the tracer
        // provider it describes, with which a recorded span is built directly.
        let throughline = || {
            HttpServerLayer::new()
                .head_sampling(HeadSampling::Sampler(sampling.head()))
                .tracer_provider(&p.tracer_provider)
        };
        cases.push(case(
            THROUGHLINE,
            label,
            &p,
            users().layer(throughline().meter_provider(&p.meter_provider)),
        ));
        cases.push(case(
            THROUGHLINE_TRACES,
            label,
            &p,
            users().layer(throughline().filter(|_| Record::TRACE_ONLY)),
        ));
        let tower_http = tower_http::trace::TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            let span = tracing::info_span!("request", method = %request.method(), uri = %request.uri(), version = ?request.version());
            let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
                propagator.extract(&opentelemetry_http::HeaderExtractor(request.headers()))
            });
            let _ = span.set_parent(parent);
            span
        });
        cases.push(case(TOWER_HTTP, label, &p, users().layer(tower_http)));
        cases.push(case(
            OTEL_AXUM,
            label,
            &p,
            users().layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default()),
        ));
        let otel_tower =
            opentelemetry_instrumentation_tower::http::server::LayerBuilder::builder().build().unwrap();
        cases.push(case(OTEL_TOWER, label, &p, users().layer(otel_tower)));
    }
    cases
}
