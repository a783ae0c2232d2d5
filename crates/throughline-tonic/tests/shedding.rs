//! Load shedding on a tonic server: throughline-resilience's limiter behind
//! `GrpcRejectionLayer` answers a refused call trailers-only, which the
//! server span records and a client's retry policy honours.
#![cfg(feature = "resilience")]

mod support;

use std::time::Duration;

use opentelemetry::trace::SpanKind;
use support::{Service as Echo, Telemetry, request, serve_with};
use throughline_resilience::grpc_rejection::GrpcRejectionLayer;
use throughline_resilience::limit::{ConcurrencyLimitLayer, LimitAlgorithm, LimiterConfig};
use throughline_resilience::{GrpcClassifier, GrpcCode};
use throughline_tonic::retry::{GrpcRetryPolicy, MethodRetry};
use throughline_tonic_testproto::EchoClient;
use tonic::Code;

#[tokio::test(flavor = "current_thread")]
async fn a_shed_call_is_resource_exhausted_with_pushback_on_the_server_span_and_in_the_metrics() {
    let telemetry = Telemetry::install();
    let limit = LimiterConfig::new("inventory", LimitAlgorithm::Fixed(1))
        .retry_after(Duration::from_millis(40))
        .meter_provider(telemetry.capture.meter_provider())
        .build()
        .unwrap();
    let shedding = tower::ServiceBuilder::new()
        .layer(GrpcRejectionLayer::new())
        .layer(ConcurrencyLimitLayer::new(limit.clone()).classifier(GrpcClassifier));
    let addr = serve_with(shedding, telemetry.server_layer(), Echo::default()).await;
    let mut client = support::client(addr, telemetry.client_layer()).await;

    let busy = limit.try_acquire(Default::default()).unwrap(); // the one slot is taken
    let status = client.unary(request("hello", 0, Code::Ok)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(status.metadata().get("grpc-retry-pushback-ms").unwrap(), "40");

    let spans = telemetry.capture.wait_for_spans(2, Duration::from_secs(5)).await.unwrap();
    // RESOURCE_EXHAUSTED is the caller's problem: not an error on the server's span.
    let server = spans.one_of_kind(SpanKind::Server);
    server.assert_attribute("rpc.response.status_code", "RESOURCE_EXHAUSTED").assert_not_error();
    server.assert_event("request shed");
    let shed = telemetry.capture.metrics().total("resilience.shed", &[]);
    assert_eq!(shed, 1.0, "counted under resilience.shed");

    // With the slot free again, the same call passes.
    drop(busy);
    let reply = client.unary(request("again", 0, Code::Ok)).await.unwrap();
    assert_eq!(reply.into_inner().message, "again");
}

#[tokio::test(flavor = "current_thread")]
async fn a_client_retries_a_shed_call_after_the_servers_pushback() {
    let telemetry = Telemetry::install();
    let limit = LimiterConfig::new("inventory", LimitAlgorithm::Fixed(1))
        .retry_after(Duration::from_millis(30))
        .build()
        .unwrap();
    let shedding = tower::ServiceBuilder::new()
        .layer(GrpcRejectionLayer::new())
        .layer(ConcurrencyLimitLayer::new(limit.clone()).classifier(GrpcClassifier));
    let addr = serve_with(shedding, telemetry.server_layer(), Echo::default()).await;
    let policy = GrpcRetryPolicy::builder("echo")
        .method(
            "throughline.test.v1.Echo/Unary",
            MethodRetry::new().retryable_status_codes([GrpcCode::ResourceExhausted, GrpcCode::Unavailable]),
        )
        .build()
        .unwrap();
    let channel = support::channel(addr).await;
    let service =
        tower::ServiceBuilder::new().layer(policy.layer()).layer(telemetry.client_layer()).service(channel);
    let mut client = EchoClient::new(service);

    // The slot frees itself 10 ms in: the first attempt is shed, the retry
    // after the 30 ms pushback passes.
    let busy = limit.try_acquire(Default::default()).unwrap();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(busy);
    });
    let reply = client.unary(request("later", 0, Code::Ok)).await.unwrap();
    assert_eq!(reply.into_inner().message, "later");
    let spans = telemetry.capture.wait_for_spans(4, Duration::from_secs(5)).await.unwrap();
    assert_eq!(spans.of_kind(SpanKind::Client).len(), 2, "the shed attempt and the retry");
}
