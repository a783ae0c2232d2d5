//! Jaeger propagation, as the Jaeger client libraries' "Propagation Format"
//! describes it: `uber-trace-id` and `uberctx-{key}` baggage.

use std::collections::{BTreeMap, HashMap};

use http::{HeaderMap, HeaderValue};
use throughline_propagation::{
    Baggage, BaggageError, ExtractError, Format, Jaeger, JaegerError, JaegerFlags, JaegerIdError, Propagator,
    SpanId, TraceContext, TraceParent,
};

const TRACE_ID: &str = "000000000000004d0000000000000016";
const SPAN_ID: &str = "0000000000017c29";

fn headers(lines: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in lines {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

fn jaeger() -> Propagator {
    Propagator::new([Format::Jaeger])
}

#[test]
fn valid_headers() {
    let cases: [(&str, &str, &str, Option<&str>, u8); 9] = [
        ("full ids", "000000000000004d0000000000000016:0000000000017c29:0:1", TRACE_ID, None, 1),
        ("64-bit trace id", "0000004d0000000000000016:0000000000017c29:0:1", TRACE_ID, None, 1),
        ("short ids are left-padded", "4d0000000000000016:17c29:0:1", TRACE_ID, None, 1),
        ("two-digit flags", "4d0000000000000016:17c29:0:01", TRACE_ID, None, 1),
        ("not sampled", "4d0000000000000016:17c29:0:0", TRACE_ID, None, 0),
        ("debug and sampled", "4d0000000000000016:17c29:0:3", TRACE_ID, None, 3),
        (
            "a parent span id",
            "4d0000000000000016:17c29:5c44cd976d8f8cd9:1",
            TRACE_ID,
            Some("5c44cd976d8f8cd9"),
            1,
        ),
        ("uppercase hex", "4D0000000000000016:17C29:0:0A", TRACE_ID, None, 0x0a),
        ("encoded separators", "4d0000000000000016%3A17c29%3a0%3A1", TRACE_ID, None, 1),
    ];
    for (name, value, trace_id, parent_span_id, flags) in cases {
        let parsed = Jaeger::parse(value).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed.trace_id.to_string(), trace_id, "{name}");
        assert_eq!(parsed.span_id.to_string(), SPAN_ID, "{name}");
        assert_eq!(parsed.parent_span_id.map(|id| id.to_string()).as_deref(), parent_span_id, "{name}");
        assert_eq!(parsed.flags, JaegerFlags::new(flags), "{name}");
    }
}

#[test]
fn optional_whitespace_around_the_value_is_ignored() {
    assert_eq!(Jaeger::parse(" \t4d:17c29:0:1 "), Jaeger::parse("4d:17c29:0:1"));
}

#[test]
fn malformed_headers_are_typed_errors() {
    use JaegerIdError::{AllZero, Character, Length};
    let cases: [(&str, &str, JaegerError); 16] = [
        ("empty", "", JaegerError::Empty),
        ("whitespace", "  ", JaegerError::Empty),
        ("three fields", "4d:17c29:1", JaegerError::FieldCount { found: 3 }),
        ("five fields", "4d:17c29:0:1:0", JaegerError::FieldCount { found: 5 }),
        ("a trailing colon", "4d:17c29:0:1:", JaegerError::FieldCount { found: 5 }),
        ("mixed separators", "4d%3A17c29:0:1", JaegerError::FieldCount { found: 3 }),
        ("empty trace id", ":17c29:0:1", JaegerError::TraceId(Length { max: 32, found: 0 })),
        (
            "33-digit trace id",
            "1000000000000004d0000000000000016:17c29:0:1",
            JaegerError::TraceId(Length { max: 32, found: 33 }),
        ),
        ("zero trace id", "0000:17c29:0:1", JaegerError::TraceId(AllZero)),
        ("not hex", "4x:17c29:0:1", JaegerError::TraceId(Character { position: 1 })),
        ("17-digit span id", "4d:10000000000017c29:0:1", JaegerError::SpanId(Length { max: 16, found: 17 })),
        ("zero span id", "4d:0:0:1", JaegerError::SpanId(AllZero)),
        ("malformed parent", "4d:17c29:x:1", JaegerError::ParentSpanId(Character { position: 0 })),
        ("empty parent", "4d:17c29::1", JaegerError::ParentSpanId(Length { max: 16, found: 0 })),
        ("three-digit flags", "4d:17c29:0:001", JaegerError::InvalidFlags),
        ("0x flags", "4d:17c29:0:0x1", JaegerError::InvalidFlags),
    ];
    for (name, value, error) in cases {
        assert_eq!(Jaeger::parse(value), Err(error), "{name}: {value:?}");
    }
}

#[test]
fn only_the_sampled_bit_samples() {
    for (flags, sampled) in [("0", false), ("1", true), ("2", false), ("3", true), ("8", false), ("9", true)]
    {
        let parent = Jaeger::parse(format!("4d:17c29:0:{flags}")).unwrap().trace_parent();
        assert_eq!(parent.flags().is_sampled(), sampled, "flags {flags}");
        assert!(!parent.flags().is_random(), "Jaeger has no W3C random flag");
    }
}

#[test]
fn propagator_continues_the_trace_and_sends_its_own_span() {
    let incoming = headers(&[("uber-trace-id", "4d0000000000000016:17c29:0:1")]);
    let extracted = jaeger().extract(&incoming);
    assert!(extracted.errors.is_empty(), "{:?}", extracted.errors);
    let trace = extracted.trace.unwrap();
    assert_eq!(trace.traceparent.trace_id().to_string(), TRACE_ID);
    assert_eq!(trace.traceparent.parent_id().to_string(), SPAN_ID);
    let child = trace.child(SpanId::from_hex("00f067aa0ba902b7").unwrap());
    let mut outgoing = HeaderMap::new();
    jaeger().inject(Some(&child), &Baggage::new(), &mut outgoing);
    assert_eq!(outgoing["uber-trace-id"], "000000000000004d0000000000000016:00f067aa0ba902b7:0:01");
    assert_eq!(outgoing.len(), 1);
}

#[test]
fn a_malformed_header_starts_a_new_trace_and_says_why() {
    let extracted = jaeger().extract(&headers(&[("uber-trace-id", "4d:17c29:0")]));
    assert!(extracted.trace.is_none());
    assert_eq!(extracted.errors, [ExtractError::Jaeger(JaegerError::FieldCount { found: 3 })]);
    assert!(extracted.errors[0].to_string().starts_with("invalid uber-trace-id: "));
}

#[test]
fn two_headers_start_a_new_trace() {
    let incoming = headers(&[("uber-trace-id", "4d:17c29:0:1"), ("uber-trace-id", "4e:17c29:0:1")]);
    let extracted = jaeger().extract(&incoming);
    assert!(extracted.trace.is_none());
    assert_eq!(extracted.errors, [ExtractError::Jaeger(JaegerError::Duplicate)]);
}

#[test]
fn baggage_is_read_from_uberctx_headers_and_percent_decoded() {
    let incoming = headers(&[
        ("uber-trace-id", "4d:17c29:0:1"),
        ("uberctx-key1", "value1"),
        ("Uberctx-Key2", "value%201%20%2F%20blah"),
        ("uberctx-city", "Z%C3%BCrich"),
        ("x-other", "ignored"),
    ]);
    let extracted = jaeger().extract(&incoming);
    assert!(extracted.errors.is_empty(), "{:?}", extracted.errors);
    assert_eq!(extracted.baggage.get("key1"), Some("value1"));
    assert_eq!(extracted.baggage.get("key2"), Some("value 1 / blah"));
    assert_eq!(extracted.baggage.get("city"), Some("Zürich"));
    assert_eq!(extracted.baggage.len(), 3);
}

#[test]
fn baggage_travels_without_a_trace_header() {
    let extracted = jaeger().extract(&headers(&[("uberctx-user", "alice")]));
    assert!(extracted.trace.is_none());
    assert_eq!(extracted.baggage.get("user"), Some("alice"));
}

#[test]
fn baggage_is_read_from_maps_in_any_case() {
    // A `BTreeMap`, for a known order: `UBERCTX-user` sorts first.
    let mut carrier = BTreeMap::new();
    carrier.insert("UBERCTX-user".to_owned(), "alice".to_owned());
    carrier.insert("uberctx-".to_owned(), "no key".to_owned());
    let extracted = jaeger().extract(&carrier);
    assert_eq!(extracted.baggage.get("user"), Some("alice"));
    assert_eq!(extracted.errors, [ExtractError::Baggage(BaggageError::InvalidKey { index: 1 })]);
}

#[test]
fn a_baggage_value_with_a_control_character_is_dropped() {
    let mut carrier = HashMap::new();
    carrier.insert("uberctx-bad".to_owned(), "a\nb".to_owned());
    let extracted = jaeger().extract(&carrier);
    assert!(extracted.baggage.is_empty());
    assert_eq!(extracted.errors, [ExtractError::Baggage(BaggageError::InvalidValue { index: 0 })]);
}

#[test]
fn baggage_is_written_as_uberctx_headers_percent_encoded() {
    let mut baggage = Baggage::new();
    baggage.insert("key1", "value 1 / blah").unwrap();
    baggage.insert("user", "alice").unwrap();
    let mut outgoing = HeaderMap::new();
    jaeger().inject(None, &baggage, &mut outgoing);
    assert_eq!(outgoing["uberctx-key1"], "value%201%20%2F%20blah");
    assert_eq!(outgoing["uberctx-user"], "alice");
    assert!(outgoing.get("uber-trace-id").is_none(), "no trace, no trace header");
    assert_eq!(jaeger().extract(&outgoing).baggage, baggage);
}

#[test]
fn baggage_properties_are_not_sent_as_jaeger_has_no_place_for_them() {
    let baggage: Baggage = "k=v;p=1".parse().unwrap();
    let mut outgoing = HashMap::new();
    jaeger().inject(None, &baggage, &mut outgoing);
    assert_eq!(outgoing, HashMap::from([("uberctx-k".to_owned(), "v".to_owned())]));
}

#[test]
fn jaeger_baggage_adds_to_w3c_baggage_whatever_the_order() {
    let incoming = headers(&[("baggage", "a=w3c,b=w3c"), ("uberctx-b", "jaeger"), ("uberctx-c", "jaeger")]);
    let jaeger_last: Propagator = "baggage,jaeger".parse().unwrap();
    let baggage = jaeger_last.extract(&incoming).baggage;
    assert_eq!(baggage.to_string(), "a=w3c,b=jaeger,c=jaeger");
    let w3c_last: Propagator = "jaeger,baggage".parse().unwrap();
    let baggage = w3c_last.extract(&incoming).baggage;
    assert_eq!(
        (baggage.get("a"), baggage.get("b"), baggage.get("c")),
        (Some("w3c"), Some("w3c"), Some("jaeger"))
    );
}

#[test]
fn later_formats_take_precedence() {
    let incoming = headers(&[
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("uber-trace-id", "4d:17c29:0:1"),
    ]);
    let jaeger_last: Propagator = "tracecontext,jaeger".parse().unwrap();
    assert_eq!(
        jaeger_last.extract(&incoming).trace.unwrap().traceparent.trace_id().to_string(),
        "0000000000000000000000000000004d"
    );
    let w3c_last: Propagator = "jaeger,tracecontext".parse().unwrap();
    assert_eq!(
        w3c_last.extract(&incoming).trace.unwrap().traceparent.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
}

#[test]
fn the_sampled_flag_survives_a_round_trip_and_the_random_flag_is_not_sent() {
    for flags in ["00", "01", "02", "03"] {
        let parent: TraceParent =
            format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}").parse().unwrap();
        let mut carrier = HeaderMap::new();
        jaeger().inject(Some(&TraceContext::new(parent)), &Baggage::new(), &mut carrier);
        let back = jaeger().extract(&carrier).trace.unwrap().traceparent;
        assert_eq!((back.trace_id(), back.parent_id()), (parent.trace_id(), parent.parent_id()));
        assert_eq!(back.flags().is_sampled(), parent.flags().is_sampled(), "{flags}");
        assert!(!carrier["uber-trace-id"].to_str().unwrap().ends_with(":02"), "random is not Jaeger's debug");
    }
}
