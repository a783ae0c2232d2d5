//! The codecs that promise not to allocate, checked with a counting global
//! allocator (`allocation-counter`, counting per thread): parsing a valid
//! header, and encoding one, costs no heap allocation.

use std::hint::black_box;

use throughline_propagation::{B3, Jaeger, TraceParent, XRay, encode_b3_single, encode_jaeger, encode_xray};

fn allocations(run: impl FnOnce()) -> u64 {
    allocation_counter::measure(run).count_total
}

#[test]
fn the_counter_counts() {
    // Without this, a counter that never counts would pass every test below.
    assert_eq!(allocations(|| drop(black_box(String::from("x")))), 1);
}

#[test]
fn parsing_a_valid_uber_trace_id_does_not_allocate() {
    for value in ["4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:01", "4d%3A17c29%3A0%3A1"] {
        let value = black_box(value);
        let count = allocations(|| {
            black_box(Jaeger::parse(value).expect("valid"));
        });
        assert_eq!(count, 0, "{value}");
    }
}

#[test]
fn parsing_a_valid_x_amzn_trace_id_does_not_allocate() {
    let value = black_box(
        "Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    );
    let count = allocations(|| {
        black_box(XRay::parse(value).expect("valid"));
    });
    assert_eq!(count, 0);
}

#[test]
fn parsing_a_malformed_header_does_not_allocate_either() {
    let count = allocations(|| {
        black_box(Jaeger::parse(black_box("4d:17c29:0")).unwrap_err());
        black_box(XRay::parse(black_box("Root=2-5759e988-bd862e3fe1be46a994272793")).unwrap_err());
    });
    assert_eq!(count, 0);
}

#[test]
fn encoding_does_not_allocate() {
    let parent = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    let count = allocations(|| {
        black_box(encode_jaeger(black_box(&parent)));
        black_box(encode_xray(black_box(&parent)));
        black_box(encode_b3_single(black_box(&parent)));
    });
    assert_eq!(count, 0);
}

#[test]
fn the_other_allocation_free_codecs_stay_so() {
    let count = allocations(|| {
        black_box(
            TraceParent::parse(black_box("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).unwrap(),
        );
        black_box(
            B3::parse_single(black_box("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")).unwrap(),
        );
    });
    assert_eq!(count, 0);
}
