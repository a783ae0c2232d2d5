//! Hedged gRPC calls: a slow first attempt is overtaken by its copy, on a
//! real tonic server and on the paused clock.
#![cfg(feature = "resilience")]

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use http::{Request, Response};
use opentelemetry::trace::SpanKind;
use support::{Service as Echo, Telemetry, request, serve_with};
use throughline_resilience::GrpcClassifier;
use throughline_resilience::hedge::{HedgeConfig, SafeMethods};
use throughline_tonic::hedge::GrpcHedgeLayer;
use throughline_tonic_testproto::EchoClient;
use tokio::time::Instant;
use tonic::Code;
use tonic::body::Body;
use tower::{Layer, Service, ServiceExt};

const UNARY: &str = "/throughline.test.v1.Echo/Unary";

/// Holds the first call `first` long before the service sees it, as a slow
/// replica would; the later ones pass at once.
#[derive(Clone)]
struct SlowFirst {
    calls: Arc<AtomicU32>,
    first: Duration,
}

impl<S> Layer<S> for SlowFirst {
    type Service = SlowFirstService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        SlowFirstService { inner, slow: self.clone() }
    }
}

#[derive(Clone)]
struct SlowFirstService<S> {
    inner: S,
    slow: SlowFirst,
}

impl<S> Service<Request<Body>> for SlowFirstService<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let first = self.slow.calls.fetch_add(1, Ordering::SeqCst) == 0;
        let delay = if first { self.slow.first } else { Duration::ZERO };
        let call = self.inner.call(request);
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            call.await
        })
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_slow_first_attempt_is_overtaken_by_its_hedge() {
    let telemetry = Telemetry::install();
    let slow = SlowFirst { calls: Arc::default(), first: Duration::from_secs(5) };
    let addr = serve_with(slow.clone(), telemetry.server_layer(), Echo::default()).await;
    let policy = HedgeConfig::new("echo")
        .delay(Duration::from_millis(20))
        .classifier(GrpcClassifier)
        .meter_provider(telemetry.capture.meter_provider())
        .build()
        .unwrap();
    let channel = support::channel(addr).await;
    let service = tower::ServiceBuilder::new()
        .layer(GrpcHedgeLayer::new(policy, SafeMethods::new([UNARY])))
        .layer(telemetry.client_layer())
        .service(channel);
    let mut client = EchoClient::new(service);

    let started = std::time::Instant::now();
    let reply = client.unary(request("hedged", 0, Code::Ok)).await.unwrap();
    assert_eq!(reply.into_inner().message, "hedged");
    assert!(started.elapsed() < Duration::from_secs(2), "the hedge answered, not the 5 s attempt");
    assert_eq!(slow.calls.load(Ordering::SeqCst), 2, "the call and one hedge");

    let spans = telemetry.capture.wait_for_spans(3, Duration::from_secs(5)).await.unwrap();
    let clients = spans.of_kind(SpanKind::Client);
    assert_eq!(clients.len(), 2, "each attempt a client span");
    let metrics = telemetry.capture.metrics();
    assert_eq!(metrics.total("resilience.hedge.sent", &[]), 1.0);
    assert_eq!(metrics.total("resilience.hedge.won", &[]), 1.0);
}

/// When each attempt reached the channel stand-in.
type Arrivals = Arc<Mutex<Vec<Instant>>>;

/// A channel stand-in on the paused clock: attempt `n` answers after `latency(n)`.
fn replicas(
    latency: impl Fn(u32) -> Duration + Clone + Send + 'static,
) -> (
    impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send> + Clone,
    Arrivals,
) {
    let calls = Arrivals::default();
    let record = calls.clone();
    let service = tower::service_fn(move |_request: Request<Body>| {
        let attempt = {
            let mut calls = record.lock().unwrap();
            calls.push(Instant::now());
            calls.len() as u32
        };
        let latency = latency(attempt);
        async move {
            tokio::time::sleep(latency).await;
            let mut response = Response::new(Body::default());
            response.headers_mut().insert("grpc-status", attempt.into());
            Ok(response)
        }
    });
    (service, calls)
}

fn call(path: &str) -> Request<Body> {
    let message = Body::new(http_body_util::Full::new(bytes::Bytes::from_static(b"\0\0\0\0\x00")));
    Request::post(format!("http://inventory{path}")).body(message).unwrap()
}

#[tokio::test(start_paused = true)]
async fn only_the_methods_marked_safe_are_hedged() {
    let policy =
        HedgeConfig::new("paused").delay(Duration::from_millis(50)).without_budget().build().unwrap();
    let layer = GrpcHedgeLayer::new(policy, SafeMethods::new([UNARY]));
    let (channel, calls) = replicas(|attempt| Duration::from_millis(if attempt == 1 { 1000 } else { 10 }));
    let mut client = layer.layer(channel);

    let started = Instant::now();
    let response = client.ready().await.unwrap().call(call(UNARY)).await.unwrap();
    // The status header carries the attempt number here: the hedge won.
    assert_eq!(response.headers()["grpc-status"], "2");
    assert_eq!(started.elapsed(), Duration::from_millis(60));

    calls.lock().unwrap().clear();
    let started = Instant::now();
    let response =
        client.ready().await.unwrap().call(call("/throughline.test.v1.Echo/Stream")).await.unwrap();
    assert_eq!(response.headers()["grpc-status"], "1");
    assert_eq!(
        (started.elapsed(), calls.lock().unwrap().len()),
        (Duration::from_millis(1000), 1),
        "not hedged"
    );
}
