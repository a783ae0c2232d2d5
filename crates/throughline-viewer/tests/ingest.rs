//! The viewer ingests OTLP as the real exporters send it: gRPC and HTTP,
//! protobuf and JSON, gzip or not, and refuses what is too large.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{
    Compression, Protocol, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use throughline_viewer::{Addresses, Listeners, TraceQuery, Viewer};

fn span(name: &'static str, trace_id: u128) -> SpanData {
    let now = SystemTime::now();
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(trace_id),
            SpanId::from(7u64),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Server,
        name: name.into(),
        start_time: now - Duration::from_millis(25),
        end_time: now,
        attributes: vec![KeyValue::new("http.response.status_code", 500)],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::error("boom"),
        instrumentation_scope: InstrumentationScope::builder("ingest-test").build(),
    }
}

struct Running {
    viewer: Viewer,
    addresses: Addresses,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Running {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listeners = Listeners::bind(Addresses { grpc: any, http: any, ui: any }).await.unwrap();
    let addresses = listeners.addresses().unwrap();
    let viewer = Viewer::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(viewer.clone().serve(listeners, async move {
        let _ = stopped.await;
    }));
    Running { viewer, addresses, _stop: stop }
}

fn exporter(running: &Running, protocol: Protocol, compression: Option<Compression>) -> SpanExporter {
    let builder = SpanExporter::builder();
    let mut exporter = match protocol {
        Protocol::Grpc => {
            let mut b = builder.with_tonic().with_endpoint(format!("http://{}", running.addresses.grpc));
            if let Some(c) = compression {
                b = b.with_compression(c);
            }
            b.build().unwrap()
        }
        _ => {
            let mut b = builder
                .with_http()
                .with_protocol(protocol)
                .with_http_client(reqwest::Client::new())
                .with_endpoint(format!("http://{}/v1/traces", running.addresses.http));
            if let Some(c) = compression {
                b = b.with_compression(c);
            }
            b.build().unwrap()
        }
    };
    exporter.set_resource(&Resource::builder_empty().with_service_name("orders").build());
    exporter
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protocol_and_encoding_arrives() {
    let running = start().await;
    let cases = [
        (Protocol::Grpc, None, 1u128),
        (Protocol::Grpc, Some(Compression::Gzip), 2),
        (Protocol::HttpBinary, None, 3),
        (Protocol::HttpBinary, Some(Compression::Gzip), 4),
        (Protocol::HttpJson, None, 0x4bf92f3577b34da6a3ce929d0e0e4736),
    ];
    for (protocol, compression, trace) in cases {
        exporter(&running, protocol, compression).export(vec![span("GET /orders", trace)]).await.unwrap();
        // The answer comes after the spans are stored: no waiting needed.
        let id = format!("{trace:032x}");
        let found =
            running.viewer.traces(&TraceQuery { trace_id: Some(id.clone()), ..TraceQuery::default() });
        assert_eq!(found.len(), 1, "{protocol:?} {compression:?}");
        assert_eq!((found[0].root_service.as_str(), found[0].errors), ("orders", 1));
    }
    assert_eq!(running.viewer.stats().spans, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_metrics_arrive_too() {
    let running = start().await;
    let client = reqwest::Client::new();
    let logs = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"orders"}}]},
        "scopeLogs":[{"logRecords":[{"timeUnixNano":"1","severityText":"WARN","body":{"stringValue":"payment retried"},
        "traceId":"0000000000000000000000000000002a","spanId":"0000000000000007"}]}]}]}"#;
    let answer = client
        .post(format!("http://{}/v1/logs", running.addresses.http))
        .header("content-type", "application/json")
        .body(logs)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/json");
    let metrics = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"dataPoints":[{"asInt":"1"},{"asInt":"2"}]}}]}]}]}"#;
    let answer = client
        .post(format!("http://{}/v1/metrics", running.addresses.http))
        .header("content-type", "application/json")
        .body(metrics)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let stats = running.viewer.stats();
    assert_eq!((stats.logs, stats.metric_points_received), (1, 2));
    let id = "0000000000000000000000000000002a".parse().unwrap();
    let (_, logs) = running.viewer.trace(&id).unwrap();
    assert_eq!(logs[0].record.severity_text, "WARN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_malformed_bodies_are_refused() {
    let running = start().await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/traces", running.addresses.http);
    // Larger than the body limit as sent.
    let huge = vec![0u8; throughline_viewer::MAX_HTTP_BODY_BYTES + 1];
    let answer = client.post(&url).body(huge).send().await.unwrap();
    assert_eq!(answer.status(), 413);
    // A gzip bomb: small as sent, past the limit once inflated.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![0u8; 40 << 20]).unwrap();
    let bomb = encoder.finish().unwrap();
    let answer = client.post(&url).header("content-encoding", "gzip").body(bomb).send().await.unwrap();
    assert_eq!(answer.status(), 413);
    let answer = client.post(&url).body(&b"\xff\xff\xff\xff"[..]).send().await.unwrap();
    assert_eq!(answer.status(), 400);
    assert_eq!(running.viewer.stats().spans, 0);
}

#[test]
fn the_sdk_processors_feed_the_viewer_in_process() {
    let viewer = Viewer::default();
    let resource = Resource::builder_empty().with_service_name("checkout").build();
    let tracer_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_span_processor(viewer.span_processor())
        .build();
    let logger_provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
        .with_resource(resource)
        .with_log_processor(viewer.log_processor())
        .build();
    let tracer = tracer_provider.tracer("shop");
    let logger = logger_provider.logger("shop");
    let trace_id = tracer.in_span("POST /checkout", |cx| {
        use opentelemetry::trace::TraceContextExt;
        let mut record = logger.create_log_record();
        record.set_body("charged".into());
        let span_context = cx.span().span_context().clone();
        record.set_trace_context(
            span_context.trace_id(),
            span_context.span_id(),
            Some(span_context.trace_flags()),
        );
        logger.emit(record);
        tracer.in_span("charge", |_| {});
        span_context.trace_id()
    });
    let id = trace_id.to_string().parse().unwrap();
    let (spans, logs) = viewer.trace(&id).unwrap();
    assert_eq!(spans.len(), 2);
    assert!(spans.iter().all(|s| s.service() == "checkout"));
    assert_eq!(logs.len(), 1);
    assert_eq!(viewer.traces(&TraceQuery::default())[0].root_name, "POST /checkout");
}
