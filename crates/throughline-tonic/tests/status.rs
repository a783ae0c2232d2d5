//! A unary call whose status comes in the trailers, after the headers: the
//! breaker counts it when `UnaryStatusLayer` reads the response whole, and
//! misses it without.
#![cfg(feature = "resilience")]

mod support;

use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use http::{HeaderMap, Request, Response};
use support::{Service as Echo, Telemetry, request, serve_with};
use throughline_resilience::circuit_breaker::{BreakerConfig, CircuitBreakerLayer, SlidingWindow};
use throughline_resilience::{Breaker, CircuitState, GrpcClassifier};
use throughline_tonic::status::UnaryStatusLayer;
use throughline_tonic_testproto::EchoClient;
use tonic::Code;
use tonic::body::Body;
use tower::{Layer, Service};

/// Moves a trailers-only status into trailers after empty response headers,
/// as a server that sent its initial metadata before failing does.
#[derive(Clone)]
struct StatusInTrailers;

impl<S> Layer<S> for StatusInTrailers {
    type Service = StatusInTrailersService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        StatusInTrailersService(inner)
    }
}

#[derive(Clone)]
struct StatusInTrailersService<S>(S);

impl<S> Service<Request<Body>> for StatusInTrailersService<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Send,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let call = self.0.call(request);
        Box::pin(async move {
            let mut response = call.await?;
            let mut trailers = HeaderMap::new();
            for name in ["grpc-status", "grpc-message"] {
                if let Some(value) = response.headers_mut().remove(name) {
                    trailers.insert(name, value);
                }
            }
            if trailers.is_empty() {
                return Ok(response);
            }
            let frames =
                futures_util::stream::iter([Ok::<_, tonic::Status>(http_body::Frame::trailers(trailers))]);
            Ok(response.map(|_| Body::new(http_body_util::StreamBody::new(frames))))
        })
    }
}

fn breaker() -> Breaker {
    BreakerConfig::new("echo").window(SlidingWindow::Count(2)).min_calls(2).failure_rate(0.5).build().unwrap()
}

async fn two_failures(breaker: &Breaker, read_trailers: bool) -> Code {
    let telemetry = Telemetry::install();
    let addr = serve_with(StatusInTrailers, telemetry.server_layer(), Echo::default()).await;
    let channel = support::channel(addr).await;
    let reading = read_trailers.then(|| UnaryStatusLayer::new(["/throughline.test.v1.Echo/Unary"]));
    let service = tower::ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker.clone(), GrpcClassifier))
        .option_layer(reading)
        .service(channel);
    let mut client = EchoClient::new(service);
    for _ in 0..2 {
        let status = client.unary(request("x", 0, Code::Unavailable)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "the caller sees the status either way");
    }
    client.unary(request("third", 0, Code::Ok)).await.map_or_else(|status| status.code(), |_| Code::Ok)
}

#[tokio::test(flavor = "current_thread")]
async fn the_breaker_counts_a_status_from_the_trailers() {
    let breaker = breaker();
    let third = two_failures(&breaker, true).await;
    assert_eq!(breaker.state(), CircuitState::Open, "two UNAVAILABLE in two calls");
    assert_eq!(third, Code::Unknown, "refused by the open breaker, not sent");
}

#[tokio::test(flavor = "current_thread")]
async fn without_the_layer_the_breaker_misses_it() {
    let breaker = breaker();
    let third = two_failures(&breaker, false).await;
    assert_eq!(breaker.state(), CircuitState::Closed, "the headers said nothing");
    assert_eq!(third, Code::Ok);
}

#[tokio::test(flavor = "current_thread")]
async fn the_message_and_trailers_go_on_unchanged() {
    let telemetry = Telemetry::install();
    let addr = serve_with(StatusInTrailers, telemetry.server_layer(), Echo::default()).await;
    let channel = support::channel(addr).await;
    let mut client = EchoClient::new(UnaryStatusLayer::new(["/throughline.test.v1.Echo/"]).layer(channel));
    let reply = client.unary(request("kept", 0, Code::Ok)).await.unwrap();
    assert_eq!(reply.into_inner().message, "kept", "the message read whole, then passed on");
    // A stream's method is named too (by its service): its replies and
    // its trailers' status still arrive, read before the first is seen.
    let mut stream = client.stream(request("s", 2, Code::Ok)).await.unwrap().into_inner();
    let mut replies = 0;
    while let Some(reply) = stream.message().await.unwrap() {
        assert!(reply.message.starts_with("s "));
        replies += 1;
    }
    assert_eq!(replies, 2);
}
