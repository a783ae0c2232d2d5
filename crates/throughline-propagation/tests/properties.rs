//! Property tests: every encoding parses back to itself, and a mutated input is
//! rejected, never read as something else.

use proptest::prelude::*;
use throughline_propagation::{
    B3, Baggage, BaggageMember, SpanId, TraceFlags, TraceId, TraceParent, TraceState,
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

fn baggage() -> impl Strategy<Value = Baggage> {
    let member = (
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}",
        any::<String>(),
        proptest::option::of("[a-z]{1,5}(=[a-z0-9]{1,5})?"),
    )
        .prop_map(|(k, v, p)| {
            let member = BaggageMember::new(k, v).unwrap();
            match p {
                Some(p) => member.with_properties(&p).unwrap(),
                None => member,
            }
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
