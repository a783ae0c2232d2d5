//! The cases both benchmark binaries run: one GET through reqwest-middleware
//! to a local axum server, with no middleware, with throughline's
//! `TracingMiddleware` and with reqwest-tracing's, each behind its own
//! subscriber and SDK, every span sampled and handed to a no-op exporter.
//!
//! The server runs on threads of its own; the client on a current-thread
//! runtime on the benchmark's thread, so the client's whole cost (the
//! middleware, reqwest, hyper's connection task) is on that thread.

#![allow(dead_code)] // each binary uses a different part

use std::net::SocketAddr;
use std::rc::Rc;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_032::trace::TracerProvider as _;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use throughline_reqwest::{ClientInstrumentation, TracingMiddleware};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

/// One way of sending the request.
pub(crate) struct Case {
    pub name: &'static str,
    pub run: Box<dyn FnMut()>,
}

/// An axum server answering `ok`, on a runtime of its own.
fn serve() -> SocketAddr {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        runtime.block_on(async move {
            let app = axum::Router::new().route("/items/{id}", axum::routing::get(|| async { "ok" }));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            sender.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    receiver.recv().unwrap()
}

/// Whether the call is recorded: every call, or none.
#[derive(Clone, Copy)]
enum Sampling {
    Sampled,
    SampledOut,
}

/// throughline's pipeline as `init()` sets it up: the tracing bridge with
/// `ContextEventsLayer` beside it, and the instrumentation told the sampler
/// (a `HeadSampler`) and the tracer provider it describes.
fn throughline(sampling: Sampling, instrumentation: ClientInstrumentation) -> (TracingMiddleware, Dispatch) {
    use opentelemetry_sdk::testing::trace::NoopSpanExporter;
    use opentelemetry_sdk::trace::Sampler;
    use throughline_propagation::HeadSampler;
    let (sampler, head) = match sampling {
        Sampling::Sampled => (Sampler::AlwaysOn, HeadSampler::ALWAYS_ON),
        Sampling::SampledOut => (Sampler::AlwaysOff, HeadSampler::ALWAYS_OFF),
    };
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_simple_exporter(NoopSpanExporter::new())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"));
    let dispatch = Dispatch::new(
        tracing_subscriber::registry().with(layer).with(throughline_subscriber::ContextEventsLayer::new()),
    );
    let instrumentation = instrumentation
        .head_sampling(throughline_tower::client::HeadSampling::Sampler(head))
        .tracer_provider(&provider);
    (TracingMiddleware::with_instrumentation(instrumentation), dispatch)
}

/// reqwest-tracing's side: opentelemetry 0.32 and tracing-opentelemetry 0.33,
/// with the W3C propagator installed, since it injects with the global one.
fn reqwest_tracing_dispatch(sampling: Sampling) -> Dispatch {
    // throughline's side injects with the process-wide propagator, as `init()` sets it.
    throughline_propagation::Propagator::default().set_global();
    use opentelemetry_sdk_032::testing::trace::NoopSpanExporter;
    opentelemetry_032::global::set_text_map_propagator(
        opentelemetry_sdk_032::propagation::TraceContextPropagator::new(),
    );
    let sampler = match sampling {
        Sampling::Sampled => opentelemetry_sdk_032::trace::Sampler::AlwaysOn,
        Sampling::SampledOut => opentelemetry_sdk_032::trace::Sampler::AlwaysOff,
    };
    let provider = opentelemetry_sdk_032::trace::SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_simple_exporter(NoopSpanExporter::new())
        .build();
    let layer = tracing_opentelemetry_033::layer().with_tracer(provider.tracer("bench"));
    Dispatch::new(tracing_subscriber::registry().with(layer))
}

fn case(
    name: &'static str,
    runtime: &Rc<tokio::runtime::Runtime>,
    url: &str,
    client: ClientWithMiddleware,
    dispatch: Dispatch,
) -> Case {
    let (runtime, url) = (runtime.clone(), url.to_owned());
    let run = move || {
        tracing::dispatcher::with_default(&dispatch, || {
            runtime.block_on(async {
                let response = client.get(&url).send().await.unwrap();
                assert!(response.status().is_success());
                response.bytes().await.unwrap();
            })
        })
    };
    Case { name, run: Box::new(run) }
}

pub(crate) fn cases() -> Vec<Case> {
    let addr = serve();
    let url = format!("http://{addr}/items/7");
    let runtime = Rc::new(tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap());
    let reqwest = || reqwest::Client::builder().build().unwrap();
    let meter_provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(
            opentelemetry_sdk::metrics::PeriodicReader::builder(
                opentelemetry_sdk::metrics::InMemoryMetricExporter::default(),
            )
            .build(),
        )
        .build();
    let mut cases = vec![case(
        "bare reqwest-middleware",
        &runtime,
        &url,
        ClientBuilder::new(reqwest()).build(),
        Dispatch::none(),
    )];
    for (sampling, label) in [(Sampling::Sampled, "sampled"), (Sampling::SampledOut, "sampled out")] {
        let name = |implementation: &str| -> &'static str { format!("{implementation}, {label}").leak() };
        let (middleware, dispatch) = throughline(sampling, ClientInstrumentation::new().without_metrics());
        cases.push(case(
            name("throughline TracingMiddleware (spans)"),
            &runtime,
            &url,
            ClientBuilder::new(reqwest()).with(middleware).build(),
            dispatch,
        ));
        let (middleware, dispatch) =
            throughline(sampling, ClientInstrumentation::new().meter_provider(&meter_provider));
        cases.push(case(
            name("throughline TracingMiddleware (spans + metrics)"),
            &runtime,
            &url,
            ClientBuilder::new(reqwest()).with(middleware).build(),
            dispatch,
        ));
        cases.push(case(
            name("reqwest-tracing TracingMiddleware (spans)"),
            &runtime,
            &url,
            ClientBuilder::new(reqwest()).with(reqwest_tracing::TracingMiddleware::default()).build(),
            reqwest_tracing_dispatch(sampling),
        ));
    }
    cases
}
