//! An unrecorded call, decided before any span is built, against the same
//! call as a bridged `tracing` span: the server's handler calls onward
//! through the client layer, and what it sends is read from the next
//! server, a public endpoint that links the caller's context. The client
//! layer decides up front too, with the server and alone. And a recorded
//! call, its server span built directly as an OpenTelemetry span, against
//! the same call's bridged span.

mod support;

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId};
use opentelemetry_sdk::trace::Sampler;
use support::{Service, Telemetry, request, serve};
use throughline_propagation::HeadSampler;
use throughline_testing::Capture;
use throughline_tonic::GrpcClientLayer;
use throughline_tower::server::{HeadSampling, TrustPolicy};
use tonic::Code;

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

    let channel = support::channel(front).await;
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

/// The client and server spans of one call with `code`, its client layer
/// called under a sampled caller, as exported: name, kind, parent (by
/// position), flags, attributes, events and status. Not compared: the
/// attributes the bridge takes from the `tracing` callsite (`target`,
/// `code.*`, `thread.*`, timings), which a span built directly has not, and
/// the port, new for each server.
async fn call_spans(direct: bool, code: Code) -> Vec<String> {
    let telemetry = Telemetry::from(Capture::with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn))));
    let (server, client) = if direct {
        let head = HeadSampling::Sampler(HeadSampler::ALWAYS_ON.parent_based());
        let provider = telemetry.capture.tracer_provider();
        (
            telemetry.server_layer().head_sampling(head).tracer_provider(provider),
            telemetry.client_layer().head_sampling(head).tracer_provider(provider),
        )
    } else {
        (
            telemetry.server_layer().head_sampling(HeadSampling::Off),
            telemetry.client_layer().head_sampling(HeadSampling::Off),
        )
    };
    let addr = serve(server, Service::default()).await;
    let mut client = support::client(addr, client).await;
    let caller = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        Default::default(),
    );
    let _attached = opentelemetry::Context::new().with_remote_span_context(caller).attach();
    let _ = client.unary(request("hi", 0, code)).await;

    let spans = telemetry.capture.spans();
    let not_compared = |key: &str| {
        ["target", "thread.id", "thread.name", "busy_ns", "idle_ns", "server.port"].contains(&key)
            || key.starts_with("code.")
    };
    let ids: Vec<String> = spans.all().iter().map(|span| span.span_context.span_id().to_string()).collect();
    let position = |id: String| ids.iter().position(|known| *known == id).map_or(id, |at| format!("#{at}"));
    spans
        .all()
        .iter()
        .map(|span| {
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
                position(span.parent_span_id.to_string()),
                span.span_context.trace_flags()
            )
        })
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn a_recorded_call_built_directly_exports_what_the_bridge_exports() {
    for code in [Code::Ok, Code::Internal, Code::NotFound] {
        let bridged = call_spans(false, code).await;
        assert_eq!(call_spans(true, code).await, bridged, "{code:?}");
        let [server, client] = &bridged[..] else { panic!("{bridged:?}") };
        assert!(server.starts_with("throughline.test.v1.Echo/Unary Server parent=#1"), "{server}");
        assert!(
            client.starts_with("throughline.test.v1.Echo/Unary Client parent=00f067aa0ba902b7"),
            "{client}"
        );
    }
}
