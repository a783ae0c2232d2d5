//! The store's byte count is what it really allocates, within its bound:
//! a counting allocator watches a sustained flood.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use throughline_viewer::{StoreConfig, Viewer};

fn string(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.into(),
        key_strindex: 0,
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value)) }),
    }
}

fn batch(first: u64) -> ExportTraceServiceRequest {
    let spans = (first..first + 100)
        .map(|n| Span {
            trace_id: [[0u8; 8], (n / 4).to_be_bytes()].concat(),
            span_id: (n + 1).to_be_bytes().to_vec(),
            name: "GET /orders/{id}".into(),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: n,
            end_time_unix_nano: n + 1_000_000,
            attributes: vec![
                string("http.request.method", "GET".into()),
                string("url.path", format!("/orders/{n}")),
                string("user_agent.original", "curl/8.5.0".into()),
            ],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string("service.name", "orders".into())],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
}

#[test]
fn allocated_bytes_stay_within_the_bound_under_a_flood() {
    const BOUND: usize = 8 << 20;
    let viewer = Viewer::new(StoreConfig::default().max_bytes(BOUND).max_spans(usize::MAX));
    // The batches are made inside the measurement, so that every byte the
    // store holds at the end was allocated (and counted) here.
    let ingest = || {
        for round in 0..2_000u64 {
            viewer.ingest_traces(batch(round * 100));
        }
    };
    let info = allocation_counter::measure(ingest);
    let stats = viewer.stats();
    assert!(stats.traces_evicted > 0, "the flood did not fill the store: {stats:?}");
    assert!(stats.bytes <= BOUND);
    eprintln!(
        "bound {BOUND}, counted {}, allocated and held {}, peak {}, spans held {}",
        stats.bytes, info.bytes_current, info.bytes_max, stats.spans
    );
    // What the store holds (maps and queues grow by doubling, hence a
    // margin), and the peak with one batch in flight.
    assert!(
        info.bytes_current as f64 <= BOUND as f64 * 1.15,
        "held {} bytes for a bound of {BOUND}",
        info.bytes_current
    );
    assert!(
        info.bytes_max as f64 <= BOUND as f64 * 1.25,
        "peaked at {} bytes for a bound of {BOUND}",
        info.bytes_max
    );
}
