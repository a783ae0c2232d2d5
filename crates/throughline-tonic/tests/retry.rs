//! gRPC retries (gRFC A6): a real tonic server that fails before committing,
//! and the retry rules on tokio's paused clock.
#![cfg(feature = "resilience")]

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use http::{Request, Response};
use opentelemetry::trace::SpanKind;
use support::{Service as Echo, Telemetry, request, serve_with};
use throughline_core::Deadline;
use throughline_resilience::{GrpcCode, RetryBudget};
use throughline_tonic::retry::{GrpcRetryPolicy, MethodRetry, PREVIOUS_RPC_ATTEMPTS};
use throughline_tonic_testproto::EchoClient;
use tokio::time::Instant;
use tonic::Code;
use tonic::body::Body;
use tower::{Layer, Service, ServiceExt};

const UNARY: &str = "throughline.test.v1.Echo/Unary";

/// Answers the first `failures` calls trailers-only with `code` (and a
/// pushback when given) before the service sees them, as an overloaded
/// proxy or a draining server would; remembers each call's
/// `grpc-previous-rpc-attempts`.
#[derive(Clone)]
struct FailFirst {
    failures: Arc<AtomicU32>,
    code: GrpcCode,
    pushback: Option<&'static str>,
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

impl FailFirst {
    fn new(failures: u32, code: GrpcCode) -> Self {
        let seen = Arc::default();
        Self { failures: Arc::new(AtomicU32::new(failures)), code, pushback: None, seen }
    }

    fn calls(&self) -> Vec<Option<String>> {
        self.seen.lock().unwrap().clone()
    }

    /// The trailers-only answer, if this call is one of the failures.
    fn answer(&self, request: &Request<Body>) -> Option<Response<Body>> {
        let previous = request.headers().get(PREVIOUS_RPC_ATTEMPTS).map(|v| v.to_str().unwrap().to_owned());
        self.seen.lock().unwrap().push(previous);
        let failing =
            self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        failing.then(|| trailers_only(self.code, self.pushback))
    }
}

fn trailers_only(code: GrpcCode, pushback: Option<&str>) -> Response<Body> {
    let mut response = Response::builder()
        .header("content-type", "application/grpc")
        .header("grpc-status", (code as i32).to_string());
    if let Some(ms) = pushback {
        response = response.header("grpc-retry-pushback-ms", ms);
    }
    response.body(Body::default()).unwrap()
}

impl<S> Layer<S> for FailFirst {
    type Service = FailFirstService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        FailFirstService { inner, faults: self.clone() }
    }
}

#[derive(Clone)]
struct FailFirstService<S> {
    inner: S,
    faults: FailFirst,
}

impl<S> Service<Request<Body>> for FailFirstService<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Send,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        match self.faults.answer(&request) {
            Some(response) => Box::pin(async move { Ok(response) }),
            None => Box::pin(self.inner.call(request)),
        }
    }
}

fn fast_retries() -> MethodRetry {
    MethodRetry::new()
        .max_attempts(4)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(2))
        .retryable_status_codes([GrpcCode::Unavailable])
}

#[tokio::test(flavor = "current_thread")]
async fn unavailable_twice_then_ok_is_three_attempts_each_a_client_span() {
    let telemetry = Telemetry::install();
    let faults = FailFirst::new(2, GrpcCode::Unavailable);
    let addr = serve_with(faults.clone(), telemetry.server_layer(), Echo::default()).await;
    let policy = GrpcRetryPolicy::builder("echo")
        .method(UNARY, fast_retries())
        .meter_provider(telemetry.capture.meter_provider())
        .build()
        .unwrap();
    let channel = support::channel(addr).await;
    let service =
        tower::ServiceBuilder::new().layer(policy.layer()).layer(telemetry.client_layer()).service(channel);
    let mut client = EchoClient::new(service);

    let reply = client.unary(request("hello", 0, Code::Ok)).await.unwrap();
    assert_eq!(reply.into_inner().message, "hello");
    assert_eq!(faults.calls(), [None, Some("1".into()), Some("2".into())], "gRFC A6's attempt metadata");

    let spans = telemetry.capture.wait_for_spans(6, Duration::from_secs(5)).await.unwrap();
    let mut clients = spans.of_kind(SpanKind::Client);
    clients.sort_by_key(|span| span.start_time);
    assert_eq!(clients.len(), 3, "one client span per attempt");
    clients[0].assert_no_attribute("previous-rpc-attempts").assert_error();
    clients[1].assert_attribute("previous-rpc-attempts", 1).assert_error();
    clients[2].assert_attribute("previous-rpc-attempts", 2).assert_not_error();
    let metrics = telemetry.capture.metrics();
    let attempts = metrics.total("resilience.retry.attempts", &[]);
    assert_eq!(attempts, 2.0, "two retries counted");
}

#[tokio::test(flavor = "current_thread")]
async fn a_code_not_listed_ends_the_call_and_unlisted_methods_pass_through() {
    let telemetry = Telemetry::install();
    let faults = FailFirst::new(2, GrpcCode::Internal);
    let addr = serve_with(faults.clone(), telemetry.server_layer(), Echo::default()).await;
    let policy = GrpcRetryPolicy::builder("echo").method(UNARY, fast_retries()).build().unwrap();
    let channel = support::channel(addr).await;
    let mut client = EchoClient::new(tower::ServiceBuilder::new().layer(policy.layer()).service(channel));

    let status = client.unary(request("hello", 0, Code::Ok)).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(faults.calls().len(), 1, "INTERNAL is not in retryable_status_codes");

    // A server-streaming call, not in the policy: never buffered, never retried.
    let faults_left = FailFirst::new(1, GrpcCode::Unavailable);
    let addr = serve_with(faults_left.clone(), telemetry.server_layer(), Echo::default()).await;
    let channel = support::channel(addr).await;
    let mut client = EchoClient::new(tower::ServiceBuilder::new().layer(policy.layer()).service(channel));
    let status = client.stream(request("s", 2, Code::Ok)).await.unwrap_err();
    assert_eq!((status.code(), faults_left.calls().len()), (Code::Unavailable, 1));
}

#[tokio::test(flavor = "current_thread")]
async fn a_status_in_the_trailers_is_committed_and_not_retried() {
    let telemetry = Telemetry::install();
    let addr = serve_with(FailFirst::new(0, GrpcCode::Ok), telemetry.server_layer(), Echo::default()).await;
    let policy =
        GrpcRetryPolicy::builder("echo").service("throughline.test.v1.Echo", fast_retries()).build().unwrap();
    let channel = support::channel(addr).await;
    let mut client = EchoClient::new(tower::ServiceBuilder::new().layer(policy.layer()).service(channel));
    // Two replies, then UNAVAILABLE in the trailers: the caller saw messages.
    let mut stream = client.stream(request("s", 2, Code::Unavailable)).await.unwrap().into_inner();
    let mut replies = 0;
    let status = loop {
        match stream.message().await {
            Ok(Some(_)) => replies += 1,
            Ok(None) => panic!("the stream ends with an error"),
            Err(status) => break status,
        }
    };
    assert_eq!((replies, status.code()), (2, Code::Unavailable));
}

/// When each attempt reached the channel stand-in.
type Arrivals = Arc<Mutex<Vec<Instant>>>;

/// A channel stand-in on the paused clock: answers each call with what
/// `answer` returns for its attempt number, and records when it came.
fn scripted(
    answer: impl Fn(u32) -> Response<Body> + Clone + Send + 'static,
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
        let response = answer(attempt);
        async move { Ok(response) }
    });
    (service, calls)
}

fn unary_request(deadline: Option<Deadline>) -> Request<Body> {
    let codec_message =
        Body::new(http_body_util::Full::new(bytes::Bytes::from_static(b"\0\0\0\0\x02\x0a\x00")));
    let mut request = Request::post(format!("http://inventory/{UNARY}")).body(codec_message).unwrap();
    if let Some(deadline) = deadline {
        request.extensions_mut().insert(deadline);
    }
    request
}

fn ok() -> Response<Body> {
    trailers_only(GrpcCode::Ok, None)
}

#[tokio::test(start_paused = true)]
async fn pushback_replaces_the_backoff_and_a_negative_one_forbids_the_retry() {
    let policy = GrpcRetryPolicy::builder("pushback")
        .method(
            UNARY,
            MethodRetry::new()
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(1)),
        )
        .build()
        .unwrap();
    let (channel, calls) = scripted(|attempt| match attempt {
        1 => trailers_only(GrpcCode::Unavailable, Some("250")),
        _ => ok(),
    });
    let mut client = policy.layer().layer(channel);
    let response = client.ready().await.unwrap().call(unary_request(None)).await.unwrap();
    assert_eq!(response.headers()["grpc-status"], "0");
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[1] - calls[0],
        Duration::from_millis(250),
        "the server's pushback, not the 1 ms backoff"
    );

    let (channel, calls) = scripted(|_| trailers_only(GrpcCode::Unavailable, Some("-1")));
    let mut client = policy.layer().layer(channel);
    let response = client.ready().await.unwrap().call(unary_request(None)).await.unwrap();
    assert_eq!((response.headers()["grpc-status"].to_str().unwrap(), calls.lock().unwrap().len()), ("14", 1));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_shorter_than_the_backoff_ends_the_call() {
    let slow_backoff =
        MethodRetry::new().initial_backoff(Duration::from_secs(2)).max_backoff(Duration::from_secs(2));
    let policy = GrpcRetryPolicy::builder("deadline").method(UNARY, slow_backoff).seed(7).build().unwrap();
    let (channel, calls) = scripted(|_| trailers_only(GrpcCode::Unavailable, Some("1500")));
    let mut client = policy.layer().layer(channel);
    let deadline = Deadline::after(Duration::from_secs(1));
    let response = client.ready().await.unwrap().call(unary_request(Some(deadline))).await.unwrap();
    assert_eq!(response.headers()["grpc-status"], "14");
    assert_eq!(calls.lock().unwrap().len(), 1, "a 1.5 s pushback does not fit a 1 s deadline");
}

#[tokio::test(start_paused = true)]
async fn a_storm_exhausts_the_shared_budget() {
    // 10 % of calls may be retried, with no floor: a storm of 100 failing
    // calls gets at most 10 retries across both methods.
    let budget = RetryBudget::new(0.1, 0).unwrap();
    let policy = GrpcRetryPolicy::builder("storm")
        .method(UNARY, MethodRetry::new().max_attempts(5))
        .budget(budget)
        .build()
        .unwrap();
    let (channel, calls) = scripted(|_| trailers_only(GrpcCode::Unavailable, None));
    let mut client = policy.layer().layer(channel);
    for _ in 0..100 {
        let response = client.ready().await.unwrap().call(unary_request(None)).await.unwrap();
        assert_eq!(response.headers()["grpc-status"], "14");
    }
    let attempts = calls.lock().unwrap().len();
    assert!((100..=110).contains(&attempts), "{attempts} attempts for 100 calls");
}

#[tokio::test(start_paused = true)]
async fn a_streaming_request_goes_out_unbuffered_and_is_not_retried() {
    let policy = GrpcRetryPolicy::builder("stream").method(UNARY, fast_retries()).build().unwrap();
    let (channel, calls) = scripted(|_| trailers_only(GrpcCode::Unavailable, None));
    let mut client = policy.layer().layer(channel);
    // A body that waits for the application: a client stream.
    let (sender, receiver) =
        tokio::sync::mpsc::channel::<Result<http_body::Frame<bytes::Bytes>, tonic::Status>>(1);
    let stream = http_body_util::StreamBody::new(tokio_stream_from(receiver));
    let request = Request::post(format!("http://inventory/{UNARY}")).body(Body::new(stream)).unwrap();
    let response = client.ready().await.unwrap().call(request).await.unwrap();
    drop(sender);
    assert_eq!((response.headers()["grpc-status"].to_str().unwrap(), calls.lock().unwrap().len()), ("14", 1));
}

/// A receiver as a stream, without tokio-stream.
fn tokio_stream_from<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}
