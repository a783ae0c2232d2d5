//! The workload every benchmark runs, so that timings and allocation counts
//! describe the same work.
//!
//! One tonic server on 127.0.0.1 answers the Echo service's `Unary` method
//! without any instrumentation of its own; each case sends one unary call
//! through a client built over the same connection, on one current-thread
//! tokio runtime. Every instrumented case exports through an SDK pipeline
//! of its sampling: a simple span processor into an exporter that drops
//! the batch, with `AlwaysOn` (sampled) or `AlwaysOff` (sampled out)
//! sampling, and an SDK meter provider whose reader never exports during
//! the run. throughline's layers are told the sampler and the tracer
//! provider, as `throughline::init()` publishes them.

#![allow(dead_code)] // each benchmark binary uses a different part

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};
use throughline_propagation::HeadSampler;
use throughline_subscriber::ContextEventsLayer;
use throughline_tonic::GrpcClientLayer;
use throughline_tonic_testproto::{Echo, EchoClient, EchoReply, EchoRequest, EchoServer};
use throughline_tower::server::HeadSampling;
use tokio::runtime::Runtime;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use tracing::Dispatch;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;

/// Drops every span, counting them so the tables can show equal output.
#[derive(Debug, Default)]
struct NoopExporter(Arc<AtomicUsize>);

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len(), Ordering::Relaxed);
        Ok(())
    }
}

struct Plain;

#[tonic::async_trait]
impl Echo for Plain {
    type StreamStream = std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<EchoReply, Status>> + Send>>;

    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        Ok(Response::new(EchoReply { message: request.into_inner().message, remaining_micros: 0 }))
    }

    async fn stream(&self, _: Request<EchoRequest>) -> Result<Response<Self::StreamStream>, Status> {
        Err(Status::unimplemented("unary only"))
    }
}

pub(crate) const BARE: &str = "bare channel";
pub(crate) const BARE_TRACEPARENT: &str = "bare channel sending a new traceparent (the transport's share)";
pub(crate) const THROUGHLINE: &str = "throughline GrpcClientLayer (span + propagation + metrics)";
pub(crate) const THROUGHLINE_TRACES: &str = "throughline GrpcClientLayer (span + propagation)";
pub(crate) const PEER: &str = "tonic-tracing-opentelemetry OtelGrpcLayer (span + propagation)";
pub(crate) const RETRY: &str = "throughline GrpcRetryLayer, the method retried, success path (no span layer)";
pub(crate) const HEDGE: &str = "throughline GrpcHedgeLayer, the method hedged, never fires (no span layer)";

/// One way of calling, ready to run.
pub(crate) struct Case {
    pub(crate) implementation: &'static str,
    pub(crate) sampling: &'static str,
    pub(crate) run: Box<dyn FnMut()>,
}

/// The pipeline, the server and every case, on one runtime.
pub(crate) struct Bench {
    pub(crate) runtime: Rc<Runtime>,
    pub(crate) exported: Arc<AtomicUsize>,
    pub(crate) cases: Vec<Case>,
    _tracer_providers: Vec<SdkTracerProvider>,
    _meter_provider: SdkMeterProvider,
}

fn call<S>(runtime: &Rc<Runtime>, dispatch: &Dispatch, client: EchoClient<S>) -> Box<dyn FnMut()>
where
    S: tonic::client::GrpcService<tonic::body::Body> + Clone + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <S::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    // `Runtime::block_on`: on a current-thread runtime only it drives the
    // I/O and the server's task.
    let (runtime, dispatch) = (runtime.clone(), dispatch.clone());
    Box::new(move || {
        let mut client = client.clone();
        let reply = tracing::dispatcher::with_default(&dispatch, || {
            runtime.block_on(async move {
                client.unary(EchoRequest { message: "hi".into(), count: 0, code: 0 }).await
            })
        });
        assert_eq!(std::hint::black_box(reply.unwrap().into_inner().message), "hi");
    })
}

impl Bench {
    pub(crate) fn new() -> Self {
        let runtime = Rc::new(tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap());
        let exported = Arc::new(AtomicUsize::new(0));
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
            .build();
        // Each its own propagator, as `init()` would set them.
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        throughline_propagation::Propagator::default().set_global();
        let channel = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr: SocketAddr = listener.local_addr().unwrap();
            tokio::spawn(
                tonic::transport::Server::builder()
                    .add_service(EchoServer::new(Plain))
                    .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
            );
            Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap()
        });
        let service =
            |layer: GrpcClientLayer| tower::ServiceBuilder::new().layer(layer).service(channel.clone());
        let noop_meters = opentelemetry::metrics::noop::NoopMeterProvider::new();
        // What carrying the context costs the transport alone: a
        // `traceparent` with a new span id in each call's headers, encoded by
        // HTTP/2 (as throughline marks it, never indexed) and decoded by the
        // server.
        let with_traceparent = tower::ServiceBuilder::new()
            .map_request(|mut request: http::Request<tonic::body::Body>| {
                let span_id = throughline_propagation::SpanId::random();
                let value = format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{span_id}-01");
                let mut value = http::HeaderValue::from_str(&value).unwrap();
                value.set_sensitive(true);
                request.headers_mut().insert("traceparent", value);
                request
            })
            .service(channel.clone());
        let mut cases = vec![
            Case {
                implementation: BARE,
                sampling: "-",
                run: call(&runtime, &Dispatch::none(), EchoClient::new(channel.clone())),
            },
            Case {
                implementation: BARE_TRACEPARENT,
                sampling: "-",
                run: call(&runtime, &Dispatch::none(), EchoClient::new(with_traceparent)),
            },
        ];
        let mut tracer_providers = Vec::new();
        let mut sampled = None;
        for (sampler, head, sampling) in [
            (Sampler::AlwaysOn, HeadSampler::ALWAYS_ON, "sampled"),
            (Sampler::AlwaysOff, HeadSampler::ALWAYS_OFF, "sampled out"),
        ] {
            let tracer_provider = SdkTracerProvider::builder()
                .with_sampler(sampler)
                .with_simple_exporter(NoopExporter(exported.clone()))
                .build();
            // The instrumentations' spans only: the transport's own (h2,
            // hyper, tower's buffer) would be the same in every case, and
            // dominate.
            let instrumentations = || {
                filter_fn(|meta| {
                    meta.target().starts_with("throughline_tonic") || meta.target() == "otel::tracing"
                })
            };
            let dispatch = Dispatch::new(
                tracing_subscriber::registry()
                    .with(
                        tracing_opentelemetry::layer()
                            .with_tracer(tracer_provider.tracer("bench"))
                            .with_filter(instrumentations()),
                    )
                    .with(ContextEventsLayer::new().with_filter(instrumentations())),
            );
            let throughline = || {
                GrpcClientLayer::new()
                    .head_sampling(HeadSampling::Sampler(head))
                    .tracer_provider(&tracer_provider)
            };
            cases.extend([
                Case {
                    implementation: THROUGHLINE,
                    sampling,
                    run: call(
                        &runtime,
                        &dispatch,
                        EchoClient::new(service(throughline().meter_provider(&meter_provider))),
                    ),
                },
                Case {
                    implementation: THROUGHLINE_TRACES,
                    sampling,
                    run: call(
                        &runtime,
                        &dispatch,
                        EchoClient::new(service(throughline().meter_provider(&noop_meters))),
                    ),
                },
                Case {
                    implementation: PEER,
                    sampling,
                    run: call(
                        &runtime,
                        &dispatch,
                        EchoClient::new(
                            tower::ServiceBuilder::new()
                                .layer(tonic_tracing_opentelemetry::middleware::client::OtelGrpcLayer)
                                .service(channel.clone()),
                        ),
                    ),
                },
            ]);
            sampled.get_or_insert(dispatch);
            tracer_providers.push(tracer_provider);
        }
        #[cfg_attr(not(feature = "resilience"), allow(unused_variables))]
        let sampled = sampled.expect("a sampled pipeline");
        // What a retry policy costs a call that succeeds: the request read
        // whole and replayable, the retry future, its attempt span (filtered
        // out here, as the peer's are not set up).
        #[cfg(feature = "resilience")]
        cases.push(Case {
            implementation: RETRY,
            sampling: "sampled",
            run: call(&runtime, &sampled, {
                use throughline_tonic::retry::{GrpcRetryPolicy, MethodRetry};
                let policy = GrpcRetryPolicy::builder("bench")
                    .method("throughline.test.v1.Echo/Unary", MethodRetry::new())
                    .meter_provider(&noop_meters)
                    .build()
                    .unwrap();
                EchoClient::new(tower::ServiceBuilder::new().layer(policy.layer()).service(channel.clone()))
            }),
        });
        // A hedging policy whose delay (10 s) never comes: the copy kept, the
        // race future, the timer armed when the first poll finds it pending.
        #[cfg(feature = "resilience")]
        cases.push(Case {
            implementation: HEDGE,
            sampling: "sampled",
            run: call(&runtime, &sampled, {
                use throughline_resilience::hedge::{HedgeConfig, SafeMethods};
                use throughline_tonic::hedge::GrpcHedgeLayer;
                let policy = HedgeConfig::new("bench")
                    .delay(std::time::Duration::from_secs(10))
                    .classifier(throughline_resilience::GrpcClassifier)
                    .meter_provider(&noop_meters)
                    .build()
                    .unwrap();
                let hedging =
                    GrpcHedgeLayer::new(policy, SafeMethods::new(["/throughline.test.v1.Echo/Unary"]));
                EchoClient::new(tower::ServiceBuilder::new().layer(hedging).service(channel.clone()))
            }),
        });
        Self {
            runtime,
            exported,
            cases,
            _tracer_providers: tracer_providers,
            _meter_provider: meter_provider,
        }
    }
}
