//! `TrustPolicy::trusted_peers` over a real socket: the server layer reads
//! the peer address tonic's transport server records.

#![cfg(feature = "connect-info")]

mod support;

use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::SpanData;
use support::{Service, Telemetry, client, request, serve};
use throughline_tower::server::TrustPolicy;
use tonic::Code;

/// The server and client spans of one call to a server trusting `trust`.
async fn call(trust: TrustPolicy) -> (SpanData, SpanData) {
    let telemetry = Telemetry::install();
    let addr = serve(telemetry.server_layer().trust(trust), Service::default()).await;
    let mut client = client(addr, telemetry.client_layer()).await;
    client.unary(request("hi", 0, Code::Ok)).await.unwrap();
    let spans = telemetry.capture.spans();
    let find = |kind: SpanKind| spans.all().iter().find(|s| s.span_kind == kind).cloned().unwrap();
    (find(SpanKind::Server), find(SpanKind::Client))
}

#[tokio::test]
async fn a_trusted_peer_continues_the_trace() {
    let (server, client) = call(TrustPolicy::trusted_peers(|ip| ip.is_loopback())).await;
    assert_eq!(server.span_context.trace_id(), client.span_context.trace_id());
    assert_eq!(server.parent_span_id, client.span_context.span_id());
}

#[tokio::test]
async fn a_peer_not_trusted_starts_a_trace_linked_to_the_callers() {
    let (server, client) = call(TrustPolicy::trusted_peers(|ip| !ip.is_loopback())).await;
    assert_ne!(server.span_context.trace_id(), client.span_context.trace_id());
    let links: Vec<_> = server.links.links.iter().map(|link| link.span_context.span_id()).collect();
    assert_eq!(links, [client.span_context.span_id()]);
}
