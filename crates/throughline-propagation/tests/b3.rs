//! B3 single and multi-header propagation, as Zipkin's b3-propagation
//! specification describes it.

use http::{HeaderMap, HeaderValue};
use throughline_propagation::{
    B3, B3Error, B3MultiHeaders, B3Sampling, ExtractError, Format, IdError, Propagator, SpanId, TraceContext,
    TraceParent,
};

const TRACE_ID: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const SPAN_ID: &str = "e457b5a2e4d86bd1";
const PARENT_SPAN_ID: &str = "05e3ac9a4f6e3b90";

fn headers(lines: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in lines {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

#[test]
fn single_header_with_every_field() {
    let b3 = B3::parse_single(format!("{TRACE_ID}-{SPAN_ID}-1-{PARENT_SPAN_ID}")).unwrap();
    let B3::Context { trace_id, span_id, sampling, parent_span_id } = b3 else { panic!("{b3:?}") };
    assert_eq!(trace_id.to_string(), TRACE_ID);
    assert_eq!(span_id.to_string(), SPAN_ID);
    assert_eq!(sampling, Some(B3Sampling::Accept));
    assert_eq!(parent_span_id.unwrap().to_string(), PARENT_SPAN_ID);
}

#[test]
fn single_header_sampling_states() {
    for (state, sampling, sampled) in
        [("0", B3Sampling::Deny, false), ("1", B3Sampling::Accept, true), ("d", B3Sampling::Debug, true)]
    {
        let b3 = B3::parse_single(format!("{TRACE_ID}-{SPAN_ID}-{state}")).unwrap();
        assert!(matches!(b3, B3::Context { sampling: Some(s), .. } if s == sampling));
        assert_eq!(b3.trace_parent().unwrap().flags().is_sampled(), sampled);
        assert_eq!(B3::parse_single(state).unwrap(), B3::SamplingOnly(sampling));
    }
}

#[test]
fn single_header_without_a_decision_is_deferred() {
    let b3 = B3::parse_single(format!("{TRACE_ID}-{SPAN_ID}")).unwrap();
    assert!(matches!(b3, B3::Context { sampling: None, parent_span_id: None, .. }));
}

#[test]
fn single_header_64_bit_trace_id_is_padded() {
    let b3 = B3::parse_single(format!("64fe8b2a57d3eff7-{SPAN_ID}-1")).unwrap();
    assert_eq!(b3.trace_parent().unwrap().trace_id().to_string(), "000000000000000064fe8b2a57d3eff7");
}

#[test]
fn single_header_rejects_malformed_values() {
    let cases: [(&str, B3Error); 9] = [
        ("", B3Error::Empty),
        ("x", B3Error::InvalidSampling),
        (
            "80f198ee56343ba864fe8b2a57d3eff-e457b5a2e4d86bd1",
            B3Error::TraceId(IdError::Length { expected: 32, found: 31 }),
        ),
        (
            "80F198EE56343BA864FE8B2A57D3EFF7-e457b5a2e4d86bd1",
            B3Error::TraceId(IdError::Character { position: 2 }),
        ),
        ("00000000000000000000000000000000-e457b5a2e4d86bd1", B3Error::TraceId(IdError::AllZero)),
        ("80f198ee56343ba864fe8b2a57d3eff7", B3Error::MissingSpanId),
        ("80f198ee56343ba864fe8b2a57d3eff7-0000000000000000", B3Error::SpanId(IdError::AllZero)),
        ("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-2", B3Error::InvalidSampling),
        ("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-x", B3Error::TrailingData),
    ];
    for (value, error) in cases {
        assert_eq!(B3::parse_single(value), Err(error), "{value:?}");
    }
}

#[test]
fn multi_header_with_every_field() {
    let b3 = B3::from_multi(B3MultiHeaders {
        trace_id: Some(TRACE_ID.as_bytes()),
        span_id: Some(SPAN_ID.as_bytes()),
        parent_span_id: Some(PARENT_SPAN_ID.as_bytes()),
        sampled: Some(b"1"),
        flags: None,
    })
    .unwrap()
    .unwrap();
    assert!(b3.trace_parent().unwrap().flags().is_sampled());
}

#[test]
fn multi_header_debug_flag_implies_sampled() {
    let b3 = B3::from_multi(B3MultiHeaders {
        trace_id: Some(TRACE_ID.as_bytes()),
        span_id: Some(SPAN_ID.as_bytes()),
        flags: Some(b"1"),
        ..Default::default()
    });
    assert!(matches!(b3, Ok(Some(B3::Context { sampling: Some(B3Sampling::Debug), .. }))));
}

#[test]
fn multi_header_accepts_legacy_true_and_false() {
    for (value, sampling) in [(&b"true"[..], B3Sampling::Accept), (b"false", B3Sampling::Deny)] {
        let b3 = B3::from_multi(B3MultiHeaders { sampled: Some(value), ..Default::default() });
        assert_eq!(b3, Ok(Some(B3::SamplingOnly(sampling))));
    }
}

#[test]
fn multi_header_needs_both_ids() {
    let only_trace = B3MultiHeaders { trace_id: Some(TRACE_ID.as_bytes()), ..Default::default() };
    assert_eq!(B3::from_multi(only_trace), Err(B3Error::MissingSpanId));
    let only_span = B3MultiHeaders { span_id: Some(SPAN_ID.as_bytes()), ..Default::default() };
    assert_eq!(B3::from_multi(only_span), Err(B3Error::MissingTraceId));
    assert_eq!(B3::from_multi(B3MultiHeaders::default()), Ok(None));
}

#[test]
fn propagator_extracts_single_and_injects_single() {
    let propagator = Propagator::new([Format::B3]);
    let incoming = headers(&[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90")]);
    let trace = propagator.extract(&incoming).trace.unwrap();
    let child = trace.child(SpanId::from_hex("00f067aa0ba902b7").unwrap());
    let mut outgoing = HeaderMap::new();
    propagator.inject(Some(&child), &Default::default(), &mut outgoing);
    assert_eq!(outgoing["b3"], "80f198ee56343ba864fe8b2a57d3eff7-00f067aa0ba902b7-1");
}

#[test]
fn propagator_extracts_multi_and_injects_multi() {
    let propagator = Propagator::new([Format::B3Multi]);
    let incoming = headers(&[
        ("x-b3-traceid", TRACE_ID),
        ("X-B3-SpanId", SPAN_ID),
        ("x-b3-parentspanid", PARENT_SPAN_ID),
        ("x-b3-sampled", "0"),
    ]);
    let trace = propagator.extract(&incoming).trace.unwrap();
    assert!(!trace.traceparent.flags().is_sampled());
    let mut outgoing = incoming.clone();
    propagator.inject(
        Some(&trace.child(SpanId::from_hex("00f067aa0ba902b7").unwrap())),
        &Default::default(),
        &mut outgoing,
    );
    assert_eq!(outgoing["x-b3-traceid"], TRACE_ID);
    assert_eq!(outgoing["x-b3-spanid"], "00f067aa0ba902b7");
    assert_eq!(outgoing["x-b3-sampled"], "0");
    assert!(outgoing.get("x-b3-parentspanid").is_none(), "the caller's parent is not forwarded");
}

#[test]
fn duplicate_b3_headers_are_rejected() {
    let incoming = headers(&[("b3", "1"), ("b3", "0")]);
    let extracted = Propagator::new([Format::B3]).extract(&incoming);
    assert!(extracted.trace.is_none());
    assert_eq!(extracted.errors, [ExtractError::B3(B3Error::Duplicate)]);
}

#[test]
fn later_formats_take_precedence() {
    let incoming = headers(&[
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
    ]);
    let w3c_last = Propagator::new([Format::B3, Format::TraceContext]).extract(&incoming);
    assert_eq!(
        w3c_last.trace.unwrap().traceparent.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    let b3_last = Propagator::new([Format::TraceContext, Format::B3]).extract(&incoming);
    assert_eq!(b3_last.trace.unwrap().traceparent.trace_id().to_string(), TRACE_ID);
}

#[test]
fn all_formats_are_written_together() {
    let trace = TraceContext::new(TraceParent::new_trace(true));
    let mut outgoing = HeaderMap::new();
    "tracecontext,baggage,b3,b3multi".parse::<Propagator>().unwrap().inject(
        Some(&trace),
        &Default::default(),
        &mut outgoing,
    );
    let names: Vec<&str> = outgoing.keys().map(|k| k.as_str()).collect();
    assert_eq!(names, ["traceparent", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled"]);
}
