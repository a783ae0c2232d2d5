//! Property tests: every encoding parses back to itself, and a mutated input is
//! rejected, never read as something else.

use proptest::prelude::*;
use throughline_propagation::{
    B3, Baggage, BaggageMember, Format, Jaeger, Propagator, SpanId, TraceContext, TraceFlags, TraceId,
    TraceParent, TraceState, XRay, XRaySampling, encode_jaeger, encode_xray,
};

fn trace_id() -> impl Strategy<Value = TraceId> {
    any::<u128>().prop_filter_map("non-zero", TraceId::from_int)
}

fn span_id() -> impl Strategy<Value = SpanId> {
    any::<u64>().prop_filter_map("non-zero", SpanId::from_int)
}

fn traceparent() -> impl Strategy<Value = TraceParent> {
    (trace_id(), span_id(), 0u8..4).prop_map(|(t, s, f)| TraceParent::new(t, s, TraceFlags::new(f)))
}

fn tracestate() -> impl Strategy<Value = TraceState> {
    let key = prop_oneof!["[a-z0-9][a-z0-9_*/@-]{0,20}", "[a-z0-9][a-z0-9_*/@-]{200,255}"];
    let value = "[ -+--<>-~]{0,20}[!-+--<>-~]";
    proptest::collection::vec((key, value), 0..40).prop_map(|members| {
        let mut state = TraceState::new();
        for (k, v) in members.iter().rev() {
            state.insert(k, v).unwrap();
        }
        state
    })
}

const TOKEN: &str = "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}";

fn baggage() -> impl Strategy<Value = Baggage> {
    // Properties given decoded (any string as a value, or none), or in the
    // header form.
    let decoded = proptest::collection::vec((TOKEN, proptest::option::of(any::<String>())), 0..4);
    let member = (TOKEN, any::<String>(), decoded, proptest::option::of("[a-z]{1,5}(=[a-z0-9%]{1,5})?"))
        .prop_map(|(k, v, decoded, header_form)| {
            let mut member = BaggageMember::new(k, v).unwrap();
            if let Some(p) = header_form {
                member = member.with_properties(&p).unwrap();
            }
            for (key, value) in decoded {
                member = member.with_property(&key, value.as_deref()).unwrap();
            }
            member
        });
    proptest::collection::vec(member, 0..10).prop_map(|members| {
        let mut baggage = Baggage::new();
        for m in members {
            let _ = baggage.insert_member(m);
        }
        baggage
    })
}

proptest! {
    #[test]
    fn traceparent_round_trips(parent in traceparent()) {
        prop_assert_eq!(TraceParent::parse(parent.encode().as_str()), Ok(parent));
        prop_assert_eq!(parent.to_string().parse::<TraceParent>(), Ok(parent));
    }

    #[test]
    fn traceparent_with_a_byte_removed_is_rejected(parent in traceparent(), at in 0usize..55) {
        let mut bytes = parent.encode().as_bytes().to_vec();
        bytes.remove(at);
        prop_assert!(TraceParent::parse(&bytes).is_err());
    }

    #[test]
    fn traceparent_with_a_byte_inserted_is_rejected(parent in traceparent(), at in 3usize..55, byte in any::<u8>()) {
        let mut bytes = parent.encode().as_bytes().to_vec();
        bytes.insert(at, byte);
        prop_assert!(TraceParent::parse(&bytes).is_err());
    }

    #[test]
    fn traceparent_with_a_byte_replaced_is_rejected_or_differs(parent in traceparent(), at in 0usize..55, byte in any::<u8>()) {
        let mut bytes = parent.encode().as_bytes().to_vec();
        let original = bytes[at];
        bytes[at] = byte;
        match TraceParent::parse(&bytes) {
            // A replaced hex digit can still be valid, but then it must be read exactly.
            Ok(parsed) => {
                prop_assert_eq!(parsed == parent, original == byte);
                if (3..53).contains(&at) {
                    prop_assert_eq!(parsed.encode().as_bytes()[at], byte);
                }
            }
            Err(_) => prop_assert!(original != byte),
        }
    }

    #[test]
    fn traceparent_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = TraceParent::parse(&bytes);
    }

    #[test]
    fn tracestate_round_trips(state in tracestate()) {
        prop_assert!(state.len() <= TraceState::MAX_MEMBERS);
        prop_assert_eq!(TraceState::parse(state.as_str()), Ok(state.clone()));
    }

    #[test]
    fn tracestate_split_across_lines_is_the_same(state in tracestate(), split in any::<prop::sample::Index>()) {
        let header = state.as_str();
        let commas: Vec<usize> = header.match_indices(',').map(|(i, _)| i).collect();
        prop_assume!(!commas.is_empty());
        let at = commas[split.index(commas.len())];
        let lines = [&header.as_bytes()[..at], &header.as_bytes()[at + 1..]];
        prop_assert_eq!(TraceState::from_lines(lines), Ok(state.clone()));
    }

    #[test]
    fn tracestate_keeps_the_first_of_repeated_keys(
        members in proptest::collection::vec(("[a-c]", "[0-9]"), 1..=TraceState::MAX_MEMBERS),
    ) {
        let header: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut expected: Vec<&(String, String)> = Vec::new();
        for member in &members {
            if expected.iter().all(|(k, _)| *k != member.0) {
                expected.push(member);
            }
        }
        let expected: Vec<String> = expected.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let parsed = TraceState::parse(header.join(",")).unwrap();
        prop_assert_eq!(parsed.as_str(), expected.join(","));
    }

    #[test]
    fn tracestate_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(state) = TraceState::parse(&bytes) {
            prop_assert_eq!(TraceState::parse(state.as_str()), Ok(state.clone()));
        }
    }

    #[test]
    fn baggage_round_trips(baggage in baggage()) {
        prop_assert!(baggage.encoded_len() <= Baggage::MAX_BYTES);
        prop_assert_eq!(Baggage::parse(baggage.to_string()), Ok(baggage.clone()));
    }

    #[test]
    fn baggage_property_values_round_trip_decoded(
        key in TOKEN,
        properties in proptest::collection::vec((TOKEN, proptest::option::of(any::<String>())), 1..6),
    ) {
        let mut member = BaggageMember::new(key, "v").unwrap();
        for (k, v) in &properties {
            member = member.with_property(k, v.as_deref()).unwrap();
        }
        let mut baggage = Baggage::new();
        prop_assume!(baggage.insert_member(member).is_ok());
        let received = Baggage::parse(baggage.to_string()).unwrap();
        let read: Vec<(String, Option<String>)> = received
            .iter()
            .next()
            .unwrap()
            .properties()
            .map(|(k, v)| (k.to_owned(), v.map(|v| v.into_owned())))
            .collect();
        prop_assert_eq!(read, properties);
    }

    #[test]
    fn baggage_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (baggage, _) = Baggage::from_lines([bytes.as_slice()]);
        prop_assert_eq!(Baggage::parse(baggage.to_string()), Ok(baggage.clone()));
    }

    #[test]
    fn b3_single_round_trips(parent in traceparent()) {
        let header = throughline_propagation::encode_b3_single(&parent);
        let read = B3::parse_single(header).unwrap().trace_parent().unwrap();
        prop_assert_eq!(read.trace_id(), parent.trace_id());
        prop_assert_eq!(read.parent_id(), parent.parent_id());
        prop_assert_eq!(read.flags().is_sampled(), parent.flags().is_sampled());
    }

    #[test]
    fn b3_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let _ = B3::parse_single(&bytes);
    }

    #[test]
    fn jaeger_round_trips(parent in traceparent()) {
        let header = encode_jaeger(&parent);
        let read = Jaeger::parse(header).unwrap();
        prop_assert_eq!(read.trace_parent().trace_id(), parent.trace_id());
        prop_assert_eq!(read.trace_parent().parent_id(), parent.parent_id());
        prop_assert_eq!(read.trace_parent().flags(), TraceFlags::NONE.with_sampled(parent.flags().is_sampled()));
        prop_assert_eq!(read.parent_span_id, None);
    }

    #[test]
    fn jaeger_reads_ids_of_any_length_and_case(
        trace in trace_id(),
        span in span_id(),
        parent in any::<u64>(),
        flags in any::<u8>(),
        upper in any::<bool>(),
        encoded in any::<bool>(),
    ) {
        // The shortest form: no leading zeros, as Jaeger clients may send.
        let mut header = format!("{:x}:{:x}:{:x}:{:x}", trace.to_int(), span.to_int(), parent, flags);
        if upper {
            header = header.to_ascii_uppercase();
        }
        if encoded {
            header = header.replace(':', "%3A");
        }
        let read = Jaeger::parse(&header).unwrap();
        prop_assert_eq!(read.trace_id, trace);
        prop_assert_eq!(read.span_id, span);
        prop_assert_eq!(read.parent_span_id.map(SpanId::to_int), Some(parent).filter(|p| *p != 0));
        prop_assert_eq!(read.flags.bits(), flags);
    }

    #[test]
    fn jaeger_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(read) = Jaeger::parse(&bytes) {
            let again = Jaeger::parse(encode_jaeger(&read.trace_parent())).unwrap();
            prop_assert_eq!(again.trace_parent(), read.trace_parent());
        }
    }

    #[test]
    fn jaeger_parse_of_near_valid_headers_never_panics(
        parent in traceparent(),
        at in 0usize..54,
        byte in prop::sample::select(b":%3Aa0-".to_vec()),
    ) {
        let mut bytes = encode_jaeger(&parent).to_vec();
        bytes[at] = byte;
        let _ = Jaeger::parse(&bytes);
    }

    #[test]
    fn jaeger_baggage_round_trips_through_headers(
        members in proptest::collection::btree_map("[a-z0-9_-]{1,10}", any::<String>(), 0..10),
    ) {
        let mut baggage = Baggage::new();
        for (k, v) in &members {
            let _ = baggage.insert(k.clone(), v.clone());
        }
        let propagator = Propagator::new([Format::Jaeger]);
        let mut headers = http::HeaderMap::new();
        propagator.inject(None, &baggage, &mut headers);
        let extracted = propagator.extract(&headers);
        prop_assert!(extracted.errors.is_empty(), "{:?}", extracted.errors);
        for member in &baggage {
            prop_assert_eq!(extracted.baggage.get(member.key()), Some(member.value()));
        }
        prop_assert_eq!(extracted.baggage.len(), baggage.len());
    }

    #[test]
    fn xray_round_trips(parent in traceparent()) {
        let header = encode_xray(&parent);
        let read = XRay::parse(header).unwrap();
        prop_assert_eq!(read.trace_id, parent.trace_id());
        prop_assert_eq!(read.parent_id, Some(parent.parent_id()));
        let sampling = if parent.flags().is_sampled() { XRaySampling::Accept } else { XRaySampling::Deny };
        prop_assert_eq!(read.sampling, Some(sampling));
        let continued = read.trace_parent().unwrap();
        prop_assert_eq!(continued.flags(), TraceFlags::NONE.with_sampled(parent.flags().is_sampled()));
    }

    #[test]
    fn xray_fields_may_come_in_any_order_with_others(
        parent in traceparent(),
        order in Just(vec![0usize, 1, 2, 3]).prop_shuffle(),
        other in "[A-Za-z]{1,8}=[!-:<-~]{0,20}",
    ) {
        prop_assume!(!["Root", "Parent", "Sampled"].iter().any(|k| other.starts_with(&format!("{k}="))));
        let header = String::from_utf8(encode_xray(&parent).to_vec()).unwrap();
        let mut fields: Vec<&str> = header.split(';').collect();
        fields.push(&other);
        let shuffled: Vec<&str> = order.iter().map(|&i| fields[i]).collect();
        let read = XRay::parse(shuffled.join(";")).unwrap();
        prop_assert_eq!(read, XRay::parse(&header).unwrap());
    }

    #[test]
    fn xray_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        if let Ok(read) = XRay::parse(&bytes)
            && let Some(parent) = read.trace_parent()
        {
            prop_assert_eq!(XRay::parse(encode_xray(&parent)).unwrap().trace_parent(), Some(parent));
        }
    }

    #[test]
    fn xray_with_a_byte_replaced_is_rejected_or_read_exactly(parent in traceparent(), at in 0usize..74, byte in any::<u8>()) {
        // Layout: `Root=1-` 0..7, epoch 7..15, `-`, unique 16..40, `;Parent=` 40..48, id 48..64, `;Sampled=` 64..73, flag 73.
        let mut bytes = encode_xray(&parent).to_vec();
        bytes[at] = byte;
        if let Ok(read) = XRay::parse(&bytes) {
            // The ids are what the bytes say: a replaced digit is read as that digit.
            let root: Vec<u8> = [&bytes[7..15], &bytes[16..40]].concat();
            let trace_id = read.trace_id.to_string();
            prop_assert_eq!(trace_id.as_bytes(), &root[..]);
            let id = read.parent_id.map(|id| id.to_string());
            if (40..48).contains(&at) {
                // A renamed `Parent` key is an ignored field.
                prop_assert!(id.is_none() || id == Some(parent.parent_id().to_string()), "{:?}", id);
            } else {
                prop_assert_eq!(id.as_deref().map(str::as_bytes), Some(&bytes[48..64]));
            }
        }
    }

    #[test]
    fn every_format_round_trips_through_one_propagator(parent in traceparent(), format in prop::sample::select(vec![
        Format::TraceContext, Format::B3, Format::B3Multi, Format::Jaeger, Format::XRay,
    ])) {
        let propagator = Propagator::new([format]);
        let mut headers = http::HeaderMap::new();
        propagator.inject(Some(&TraceContext::new(parent)), &Baggage::new(), &mut headers);
        let back = propagator.extract(&headers).trace.unwrap().traceparent;
        prop_assert_eq!((back.trace_id(), back.parent_id()), (parent.trace_id(), parent.parent_id()));
        prop_assert_eq!(back.flags().is_sampled(), parent.flags().is_sampled());
    }

    #[test]
    fn ids_round_trip(t in trace_id(), s in span_id()) {
        prop_assert_eq!(TraceId::from_hex(t.to_string()), Ok(t));
        prop_assert_eq!(SpanId::from_hex(s.to_string()), Ok(s));
    }
}

#[test]
fn a_31_digit_trace_id_is_not_padded() {
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let shortened = parent.replacen("4bf9", "4bf", 1);
    assert!(TraceParent::parse(shortened).is_err());
}
