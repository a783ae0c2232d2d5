//! An unrecorded call, decided before any span is built, against the same
//! call as a bridged `tracing` span: the server's handler calls onward
//! through the client layer, and what it sends is read from the next
//! server, a public endpoint that links the caller's context. The client
//! layer decides up front too, with the server and alone. And a recorded
//! call, its server span built directly as an OpenTelemetry span, against
//! the same call's bridged span.

mod support;

use opentelemetry::trace::{SpanKind, Status, TraceFlags};
use opentelemetry_sdk::trace::Sampler;
use support::{Service, Telemetry, request, serve};
use throughline_propagation::HeadSampler;
use throughline_testing::Capture;
use throughline_tonic::GrpcClientLayer;
use throughline_tower::server::{HeadSampling, TrustPolicy};
use tonic::Code;
use tonic::transport::Endpoint;

const UNSAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

/// The spans exported, and the context the last hop was sent, as its link
/// shows it: trace id and flags (the span id is new each time).
async fn relay(head: HeadSampling, client_head: HeadSampling) -> (usize, String, TraceFlags) {
    let telemetry = Telemetry::from(Capture::with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn))));
    // The last hop trusts nobody: the caller's context becomes a link of a new, recorded trace.
    let last = serve(telemetry.server_layer().trust(TrustPolicy::public()), Service::default()).await;
    let onward = support::client(last, GrpcClientLayer::new().head_sampling(client_head)).await;
    let front =
        serve(telemetry.server_layer().head_sampling(head), Service { downstream: Some(onward) }).await;

    let channel = Endpoint::try_from(format!("http://{front}")).unwrap().connect().await.unwrap();
    let caller = tower::ServiceBuilder::new()
        .map_request(|mut request: http::Request<tonic::body::Body>| {
            request.headers_mut().insert("traceparent", http::HeaderValue::from_static(UNSAMPLED));
            request
        })
        .service(channel);
    let mut caller = throughline_tonic_testproto::EchoClient::new(caller);
    caller.unary(request("hi", 0, Code::Ok)).await.unwrap();

    let spans = telemetry.capture.spans();
    let last_hop = spans.one_of_kind(SpanKind::Server);
    let link = &last_hop.data().links[0].span_context;
    (spans.len(), link.trace_id().to_string(), link.trace_flags())
}

#[tokio::test(flavor = "current_thread")]
async fn an_unrecorded_call_propagates_as_the_bridged_one_does() {
    let head = HeadSampling::Sampler(HeadSampler::ALWAYS_ON.parent_based());
    let bridged = relay(HeadSampling::Off, HeadSampling::Off).await;
    let decided = relay(head, head).await;
    assert_eq!(decided, bridged);
    assert_eq!(relay(HeadSampling::Off, head).await, bridged, "the client deciding alone");
    assert_eq!(decided, (1, "4bf92f3577b34da6a3ce929d0e0e4736".to_owned(), TraceFlags::default()));
}

const SAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The server span of one call with `code`, as exported: name, kind,
/// parent, flags, attributes, events and status. Not compared: the
/// attributes the bridge takes from the `tracing` callsite (`target`,
/// `code.*`, `thread.*`, timings), which a span built directly has not, and
/// the port, new for each server.
async fn server_span(direct: bool, code: Code) -> String {
    let telemetry = Telemetry::from(Capture::with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn))));
    let head = HeadSampling::Sampler(HeadSampler::ALWAYS_ON.parent_based());
    let mut layer = telemetry.server_layer();
    layer = if direct {
        layer.head_sampling(head).tracer_provider(telemetry.capture.tracer_provider())
    } else {
        layer.head_sampling(HeadSampling::Off)
    };
    let addr = serve(layer, Service::default()).await;
    let channel = Endpoint::try_from(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let caller = tower::ServiceBuilder::new()
        .map_request(|mut request: http::Request<tonic::body::Body>| {
            request.headers_mut().insert("traceparent", http::HeaderValue::from_static(SAMPLED));
            request
        })
        .service(channel);
    let _ = throughline_tonic_testproto::EchoClient::new(caller).unary(request("hi", 0, code)).await;

    let spans = telemetry.capture.spans();
    let span = spans.one_of_kind(SpanKind::Server).data().clone();
    let not_compared = |key: &str| {
        ["target", "thread.id", "thread.name", "busy_ns", "idle_ns", "server.port"].contains(&key)
            || key.starts_with("code.")
    };
    let mut attributes: Vec<String> = span
        .attributes
        .iter()
        .filter(|kv| !not_compared(kv.key.as_str()))
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    attributes.sort();
    let events: Vec<String> = span.events.iter().map(|event| event.name.to_string()).collect();
    let status = match &span.status {
        Status::Error { description } => format!("error({description})"),
        other => format!("{other:?}"),
    };
    format!(
        "{} {:?} parent={} flags={:?} {attributes:?} {events:?} {status}",
        span.name,
        span.span_kind,
        span.parent_span_id,
        span.span_context.trace_flags()
    )
}

#[tokio::test(flavor = "current_thread")]
async fn a_recorded_call_built_directly_exports_what_the_bridge_exports() {
    for code in [Code::Ok, Code::Internal, Code::NotFound] {
        let bridged = server_span(false, code).await;
        assert_eq!(server_span(true, code).await, bridged, "{code:?}");
        assert!(
            bridged.starts_with("throughline.test.v1.Echo/Unary Server parent=00f067aa0ba902b7"),
            "{bridged}"
        );
    }
}
