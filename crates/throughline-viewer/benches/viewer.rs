//! The viewer's costs: spans ingested per second (as decoded OTLP requests
//! and from the protobuf bytes an exporter sends), the same into a full
//! store that evicts as it goes, and the server-side render of a
//! 10,000-span trace. The memory bound under a flood is checked by
//! `tests/memory.rs`, with a counting allocator.
//!
//! `cargo bench -p throughline-viewer --bench viewer`

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use prost::Message;
use throughline_viewer::{StoreConfig, TraceId, Viewer};

/// Spans in one export request, the SDK's default batch size.
const BATCH: u64 = 512;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.into(), key_strindex: 0, value: Some(AnyValue { value: Some(value) }) }
}

/// A server span as throughline's layer records one: eight attributes.
fn server_span(trace: u64, id: u64, parent: Option<u64>, start: u64) -> Span {
    use any_value::Value::{IntValue, StringValue};
    Span {
        trace_id: [[7u8; 8], trace.to_be_bytes()].concat(),
        span_id: (id + 1).to_be_bytes().to_vec(),
        parent_span_id: parent.map(|p| (p + 1).to_be_bytes().to_vec()).unwrap_or_default(),
        name: "GET /orders/{id}".into(),
        kind: if parent.is_some() { span::SpanKind::Client } else { span::SpanKind::Server } as i32,
        start_time_unix_nano: 1_700_000_000_000_000_000 + start * 1_000,
        end_time_unix_nano: 1_700_000_000_000_000_000 + start * 1_000 + 2_500_000,
        attributes: vec![
            kv("http.request.method", StringValue("GET".into())),
            kv("http.route", StringValue("/orders/{id}".into())),
            kv("url.path", StringValue(format!("/orders/{id}"))),
            kv("url.scheme", StringValue("http".into())),
            kv("http.response.status_code", IntValue(200)),
            kv("server.address", StringValue("orders.internal".into())),
            kv("user_agent.original", StringValue("curl/8.5.0".into())),
            kv("network.protocol.version", StringValue("1.1".into())),
        ],
        ..Default::default()
    }
}

fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", any_value::Value::StringValue("orders".into()))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
}

/// One batch of 512 traces of one span each, numbered from `first`.
fn batch(first: u64) -> ExportTraceServiceRequest {
    request((first..first + BATCH).map(|n| server_span(n, n, None, n)).collect())
}

fn ingest(c: &mut Criterion) {
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(BATCH));
    // Into a store with room: the insertion and the route statistics.
    let viewer = Viewer::new(StoreConfig::default().max_spans(usize::MAX).max_bytes(usize::MAX));
    let mut next = 0u64;
    group.bench_function("decoded request, 512 spans", |b| {
        b.iter_batched(
            || {
                next += BATCH;
                batch(next)
            },
            |request| viewer.ingest_traces(request),
            BatchSize::SmallInput,
        )
    });
    drop(viewer);
    // From the bytes on the wire: protobuf decoding included.
    let viewer = Viewer::new(StoreConfig::default().max_spans(usize::MAX).max_bytes(usize::MAX));
    let mut next = 0u64;
    group.bench_function("protobuf bytes, 512 spans", |b| {
        b.iter_batched(
            || {
                next += BATCH;
                batch(next).encode_to_vec()
            },
            |bytes| viewer.ingest_traces(ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap()),
            BatchSize::SmallInput,
        )
    });
    drop(viewer);
    // A full store (the default bounds) under a flood: every batch evicts.
    let viewer = Viewer::default();
    let mut next = 0u64;
    while viewer.stats().traces_evicted == 0 {
        next += BATCH;
        viewer.ingest_traces(batch(next));
    }
    group.bench_function("full store evicting, 512 spans", |b| {
        b.iter_batched(
            || {
                next += BATCH;
                batch(next)
            },
            |request| viewer.ingest_traces(request),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn render(c: &mut Criterion) {
    // One trace of 10,000 spans: 100 server spans each with 99 children.
    let viewer = Viewer::new(StoreConfig::default());
    let spans: Vec<Span> = (0..10_000u64)
        .map(|i| {
            let parent = if i % 100 == 0 { (i > 0).then_some(0) } else { Some(i - i % 100) };
            server_span(1, i, parent, i * 10)
        })
        .collect();
    viewer.ingest_traces(request(spans));
    let id = TraceId::from_bytes(&[[7u8; 8], 1u64.to_be_bytes()].concat()).unwrap();
    let html = viewer.render_trace(&id).unwrap();
    assert_eq!(html.matches("data-span-id=").count(), 10_000);
    let mut group = c.benchmark_group("render");
    group.sample_size(20);
    group.bench_function("trace page, 10,000 spans", |b| b.iter(|| black_box(viewer.render_trace(&id))));
    group.finish();
    println!("render: a 10,000-span page is {} bytes", html.len());
}

criterion_group!(benches, ingest, render);
criterion_main!(benches);
