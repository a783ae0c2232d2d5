//! Deadlines across two hops over real sockets: client → A → B.
//! Real time, so the bounds are tolerant: only their order is asserted.

mod support;

use std::time::Duration;

use support::{Service, Telemetry, client, request, serve};
use tonic::Code;

#[tokio::test]
async fn a_handlers_call_carries_less_time_than_the_handler_was_given() {
    let telemetry = Telemetry::install();
    let b = serve(telemetry.server_layer(), Service::default()).await;
    // A's handler calls B with a client that has no timeout of its own.
    let downstream = client(b, telemetry.client_layer()).await;
    let a = serve(telemetry.server_layer(), Service { downstream: Some(downstream) }).await;
    let mut caller = client(a, telemetry.client_layer().timeout(Duration::from_millis(200))).await;

    let reply = caller.unary(request("hop", 0, Code::Ok)).await.unwrap().into_inner();

    let seen_by_a = reply.remaining_micros;
    let seen_by_b: u64 = reply.message.parse().unwrap();
    assert!(seen_by_a > 0 && seen_by_a <= 200_000, "A saw {seen_by_a} µs of a 200 ms deadline");
    assert!(seen_by_b > 0 && seen_by_b < seen_by_a, "B saw {seen_by_b} µs, A {seen_by_a} µs");
    assert_eq!(telemetry.capture.spans().len(), 4, "two calls, each seen from both sides");
}

#[tokio::test]
async fn a_malformed_grpc_timeout_does_not_break_the_call() {
    let telemetry = Telemetry::install();
    let addr = serve(telemetry.server_layer(), Service::default()).await;
    let mut caller = client(addr, telemetry.client_layer()).await;

    for value in ["123456789m", "5x", "soon"] {
        let mut call = tonic::Request::new(request("hi", 0, Code::Ok));
        call.metadata_mut().insert("grpc-timeout", value.parse().unwrap());
        let reply = caller.unary(call).await.unwrap().into_inner();
        assert_eq!(reply.message, "hi");
        assert_eq!(reply.remaining_micros, 0, "no deadline from {value:?}");
    }
}
