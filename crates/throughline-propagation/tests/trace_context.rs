//! W3C Trace Context (Level 2): every example and every MUST/SHOULD of the
//! `traceparent` and `tracestate` sections, as named cases.

use http::{HeaderMap, HeaderValue};
use throughline_propagation::{
    ExtractError, Field, Format, Propagator, SpanId, TraceContext, TraceFlags, TraceParent, TraceParentError,
    TraceParentField, TraceState, TraceStateError,
};

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn parse(value: &str) -> Result<TraceParent, TraceParentError> {
    TraceParent::parse(value)
}

fn headers(lines: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in lines {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn trace_context() -> Propagator {
    Propagator::new([Format::TraceContext])
}

// --- traceparent: examples -------------------------------------------------

#[test]
fn example_sampled() {
    let parent = parse(VALID).unwrap();
    assert_eq!(parent.version(), 0);
    assert_eq!(parent.trace_id().to_string(), TRACE_ID);
    assert_eq!(parent.parent_id().to_string(), "00f067aa0ba902b7");
    assert!(parent.flags().is_sampled());
    assert_eq!(parent.to_string(), VALID);
}

#[test]
fn example_not_sampled() {
    let parent = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
    assert!(!parent.flags().is_sampled());
}

// --- traceparent: version ----------------------------------------------------

#[test]
fn version_ff_is_invalid() {
    assert_eq!(
        parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        Err(TraceParentError::ForbiddenVersion)
    );
}

#[test]
fn version_must_be_two_lowercase_hex_digits_followed_by_a_dash() {
    for value in [
        ".0-12345678901234567890123456789012-1234567890123456-01",
        "0.-12345678901234567890123456789012-1234567890123456-01",
        "0-12345678901234567890123456789012-1234567890123456-01",
        "000-12345678901234567890123456789012-1234567890123456-01",
        "0000-12345678901234567890123456789012-1234567890123456-01",
        "AA-12345678901234567890123456789012-1234567890123456-01",
    ] {
        assert_eq!(parse(value), Err(TraceParentError::InvalidVersion), "{value}");
    }
}

#[test]
fn version_00_allows_nothing_after_the_flags() {
    assert_eq!(
        parse("00-12345678901234567890123456789012-1234567890123456-01.").unwrap_err(),
        TraceParentError::FieldLength { field: TraceParentField::TraceFlags, expected: 2, found: 3 }
    );
    assert_eq!(
        parse("00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like"),
        Err(TraceParentError::TrailingData { version: 0 })
    );
}

#[test]
fn higher_version_is_parsed_by_the_version_00_prefix() {
    let parent = parse("cc-12345678901234567890123456789012-1234567890123456-01").unwrap();
    assert_eq!(parent.version(), 0xcc);
    assert_eq!(parent.trace_id().to_string(), "12345678901234567890123456789012");
    let parent =
        parse("cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like")
            .unwrap();
    assert!(parent.flags().is_sampled());
}

#[test]
fn higher_version_flags_must_be_followed_by_a_dash_or_the_end() {
    assert!(
        parse("cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like")
            .is_err()
    );
}

#[test]
fn higher_version_shorter_than_55_characters_restarts_the_trace() {
    assert!(parse("cc-12345678901234567890123456789012-1234567890123456-1").is_err());
}

#[test]
fn a_higher_version_is_downgraded_to_00_when_sent() {
    let parent = parse("cc-12345678901234567890123456789012-1234567890123456-01-future").unwrap();
    assert_eq!(parent.encode().as_str(), "00-12345678901234567890123456789012-1234567890123456-01");
}

// --- traceparent: trace-id, parent-id, flags -----------------------------------

#[test]
fn trace_id_all_zeros_is_invalid() {
    assert_eq!(
        parse("00-00000000000000000000000000000000-1234567890123456-01"),
        Err(TraceParentError::ZeroTraceId)
    );
}

#[test]
fn parent_id_all_zeros_is_invalid() {
    assert_eq!(
        parse("00-12345678901234567890123456789012-0000000000000000-01"),
        Err(TraceParentError::ZeroParentId)
    );
}

#[test]
fn fields_must_be_lowercase_hex() {
    let cases = [
        ("00-.2345678901234567890123456789012-1234567890123456-01", TraceParentField::TraceId, 3),
        ("00-1234567890123456789012345678901.-1234567890123456-01", TraceParentField::TraceId, 34),
        ("00-1234567890ABCDEF7890123456789012-1234567890123456-01", TraceParentField::TraceId, 13),
        ("00-12345678901234567890123456789012-.234567890123456-01", TraceParentField::ParentId, 36),
        ("00-12345678901234567890123456789012-123456789012345.-01", TraceParentField::ParentId, 51),
        ("00-12345678901234567890123456789012-1234567890ABCDEF-01", TraceParentField::ParentId, 46),
        ("00-12345678901234567890123456789012-1234567890123456-.0", TraceParentField::TraceFlags, 53),
        ("00-12345678901234567890123456789012-1234567890123456-0.", TraceParentField::TraceFlags, 54),
        ("00-12345678901234567890123456789012-1234567890123456-0A", TraceParentField::TraceFlags, 54),
    ];
    for (value, field, position) in cases {
        assert_eq!(parse(value), Err(TraceParentError::InvalidCharacter { field, position }), "{value}");
    }
}

#[test]
fn fields_must_have_exact_lengths() {
    let cases = [
        ("00-123456789012345678901234567890123-1234567890123456-01", TraceParentField::TraceId, 32, 33),
        ("00-1234567890123456789012345678901-1234567890123456-01", TraceParentField::TraceId, 32, 31),
        ("00-12345678901234567890123456789012-12345678901234567-01", TraceParentField::ParentId, 16, 17),
        ("00-12345678901234567890123456789012-123456789012345-01", TraceParentField::ParentId, 16, 15),
        ("00-12345678901234567890123456789012-1234567890123456-001", TraceParentField::TraceFlags, 2, 3),
        ("00-12345678901234567890123456789012-1234567890123456-1", TraceParentField::TraceFlags, 2, 1),
    ];
    for (value, field, expected, found) in cases {
        assert_eq!(parse(value), Err(TraceParentError::FieldLength { field, expected, found }), "{value}");
    }
}

#[test]
fn a_31_digit_trace_id_is_never_padded() {
    let extracted = trace_context()
        .extract(&headers(&[("traceparent", "00-1234567890123456789012345678901-1234567890123456-01")]));
    assert!(extracted.trace.is_none());
}

#[test]
fn sampled_flag_is_read_with_a_mask() {
    let parent = parse("00-12345678901234567890123456789012-1234567890123456-09").unwrap();
    assert!(parent.flags().is_sampled());
    assert!(!parent.flags().is_random());
}

#[test]
fn random_flag_is_kept() {
    let parent = parse("00-12345678901234567890123456789012-1234567890123456-02").unwrap();
    assert!(parent.flags().is_random());
    assert!(parent.encode().ends_with("-02"));
}

#[test]
fn reserved_flags_are_accepted_but_never_sent() {
    let parent = parse("00-12345678901234567890123456789012-1234567890123456-ff").unwrap();
    assert_eq!(parent.flags().bits(), 0xff);
    assert!(parent.encode().ends_with("-03"));
}

#[test]
fn a_new_trace_sets_the_random_flag() {
    let parent = TraceParent::new_trace(false);
    assert!(parent.flags().is_random());
    assert!(!parent.flags().is_sampled());
    assert_ne!(parent.trace_id(), TraceParent::new_trace(false).trace_id());
}

#[test]
fn the_sampled_flag_can_change_with_the_parent_id() {
    let parent = parse(VALID).unwrap();
    let child = parent.with_parent_id(SpanId::random()).with_flags(TraceFlags::NONE);
    assert!(!child.flags().is_sampled());
    assert_eq!(child.trace_id(), parent.trace_id());
}

// --- traceparent: header handling ----------------------------------------------

#[test]
fn leading_and_trailing_ows_is_ignored() {
    for value in [
        " 00-12345678901234567890123456789012-1234567890123456-01",
        "\t00-12345678901234567890123456789012-1234567890123456-01",
        "00-12345678901234567890123456789012-1234567890123456-01 ",
        "00-12345678901234567890123456789012-1234567890123456-01\t",
        "\t 00-12345678901234567890123456789012-1234567890123456-01 \t",
    ] {
        assert_eq!(parse(value).unwrap().trace_id().to_string(), "12345678901234567890123456789012");
    }
}

#[test]
fn whitespace_inside_the_value_is_invalid() {
    assert!(parse("00- 12345678901234567890123456789012-1234567890123456-01").is_err());
    assert!(parse("00-12345678901234567890123456789012 -1234567890123456-01").is_err());
}

#[test]
fn empty_value_is_invalid() {
    assert_eq!(parse(""), Err(TraceParentError::Empty));
    assert_eq!(parse(" \t "), Err(TraceParentError::Empty));
}

#[test]
fn non_ascii_input_is_rejected_without_panicking() {
    assert!(parse("00-é2345678901234567890123456789012-1234567890123456-01").is_err());
    assert!(TraceParent::parse([0xffu8; 55]).is_err());
    assert!(TraceParent::parse([b'-'; 200]).is_err());
}

#[test]
fn two_traceparent_headers_restart_the_trace() {
    let extracted = trace_context().extract(&headers(&[
        ("traceparent", "00-12345678901234567890123456789011-1234567890123456-01"),
        ("traceparent", "00-12345678901234567890123456789012-1234567890123456-01"),
    ]));
    assert!(extracted.trace.is_none());
    assert_eq!(extracted.errors, [ExtractError::TraceParent(TraceParentError::Duplicate)]);
}

#[test]
fn header_names_are_case_insensitive() {
    let mut map = std::collections::HashMap::new();
    map.insert("TrAcEpArEnT".to_owned(), VALID.to_owned());
    map.insert("TRACESTATE".to_owned(), "foo=1".to_owned());
    let trace = trace_context().extract(&map).trace.unwrap();
    assert_eq!(trace.traceparent.trace_id().to_string(), TRACE_ID);
    assert_eq!(trace.tracestate.get("foo"), Some("1"));
}

#[test]
fn misspelled_header_names_are_not_read() {
    let extracted = trace_context().extract(&headers(&[("trace-parent", VALID), ("trace.parent", VALID)]));
    assert!(extracted.trace.is_none());
    assert!(extracted.errors.is_empty());
}

#[test]
fn header_names_are_sent_lowercase() {
    let mut map = std::collections::HashMap::new();
    let trace = TraceContext::new(parse(VALID).unwrap());
    trace_context().inject(Some(&trace), &Default::default(), &mut map);
    assert_eq!(map.keys().collect::<Vec<_>>(), ["traceparent"]);
}

// --- tracestate ------------------------------------------------------------------

fn state(lines: &[&str]) -> Result<TraceState, TraceStateError> {
    TraceState::from_lines(lines.iter().map(|l| l.as_bytes()))
}

#[test]
fn tracestate_examples() {
    assert_eq!(state(&["rojo=00f067aa0ba902b7"]).unwrap().get("rojo"), Some("00f067aa0ba902b7"));
    let multi = state(&["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"]).unwrap();
    assert_eq!(multi.iter().collect::<Vec<_>>(), [("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE")]);
}

#[test]
fn multiple_tracestate_headers_are_combined_in_order() {
    let combined = state(&["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]).unwrap();
    assert_eq!(combined.as_str(), "foo=1,bar=2,rojo=1,congo=2,baz=3");
}

#[test]
fn empty_headers_and_empty_members_are_accepted() {
    assert!(state(&[""]).unwrap().is_empty());
    assert_eq!(state(&["foo=1", ""]).unwrap().as_str(), "foo=1");
    assert_eq!(state(&["", "foo=1"]).unwrap().as_str(), "foo=1");
    assert_eq!(state(&["a=1,,b=2, ,\t,"]).unwrap().as_str(), "a=1,b=2");
}

#[test]
fn ows_around_members_is_ignored() {
    for line in ["foo=1 \t , \t bar=2, \t baz=3", "foo=1\t \t,\t \tbar=2,\t \tbaz=3"] {
        assert_eq!(state(&[line]).unwrap().as_str(), "foo=1,bar=2,baz=3");
    }
    for line in [" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t"] {
        assert_eq!(state(&[line]).unwrap().get("foo"), Some("1"));
    }
}

#[test]
fn thirty_two_members_are_kept_and_thirty_three_are_invalid() {
    let members: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
    assert_eq!(state(&[&members[..32].join(",")]).unwrap().len(), 32);
    assert_eq!(state(&[&members.join(",")]), Err(TraceStateError::TooManyMembers));
    // Empty members do not count.
    assert_eq!(state(&[&format!("{},,,", members[..32].join(","))]).unwrap().len(), 32);
}

#[test]
fn every_allowed_key_and_value_character_is_accepted() {
    let key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
    let vendor_key = format!("{key}@a-z0-9_-*/");
    let value: String = (0x20u8..=0x7e).filter(|&b| b != b',' && b != b'=').map(char::from).collect();
    for key in [key, &vendor_key] {
        let parsed = state(&[&format!("{key}={value}")]).unwrap();
        assert_eq!(parsed.get(key), Some(value.as_str()), "leading space kept in value");
    }
}

#[test]
fn keys_with_illegal_characters_invalidate_the_tracestate() {
    for line in ["foo =1", "FOO=1", "foo.bar=1", "=1", "_foo=1", "@foo=1"] {
        assert!(matches!(state(&[line]), Err(TraceStateError::InvalidKey { .. })), "{line}");
    }
}

#[test]
fn keys_may_hold_at_signs_anywhere_but_first() {
    for key in ["foo@", "foo@@bar", "foo@bar@baz", "foo@1ab", "0a@b"] {
        let parsed = state(&[&format!("{key}=1,bar=2")]).unwrap();
        assert_eq!((parsed.get(key), parsed.get("bar")), (Some("1"), Some("2")), "{key}");
    }
    assert_eq!(state(&["@foo=1,bar=2"]), Err(TraceStateError::InvalidKey { index: 0 }));
}

#[test]
fn key_length_limits() {
    assert!(state(&["foo=1", &format!("{}=1", "z".repeat(256))]).is_ok());
    assert!(state(&["foo=1", &format!("{}=1", "z".repeat(257))]).is_err());
    // What was once a tenant and a system id is one key of up to 256 characters.
    assert!(state(&["foo=1", &format!("{}@{}=1", "t".repeat(241), "v".repeat(14))]).is_ok());
    assert!(state(&["foo=1", &format!("{}@v=1", "t".repeat(242))]).is_ok());
    assert!(state(&["foo=1", &format!("t@{}=1", "v".repeat(15))]).is_ok());
    assert!(state(&["foo=1", &format!("{}@v=1", "t".repeat(255))]).is_err());
}

#[test]
fn values_with_illegal_characters_invalidate_the_tracestate() {
    assert_eq!(state(&["foo=bar=baz"]), Err(TraceStateError::InvalidValue { index: 0 }));
    assert_eq!(state(&["foo=,bar=3"]), Err(TraceStateError::InvalidValue { index: 0 }));
    assert_eq!(state(&["foo=a\u{7f}b"]), Err(TraceStateError::InvalidValue { index: 0 }));
    assert_eq!(state(&["foo=a\tb"]), Err(TraceStateError::InvalidValue { index: 0 }));
    assert_eq!(state(&["foo"]), Err(TraceStateError::MissingEquals { index: 0 }));
}

#[test]
fn value_length_limit() {
    assert!(state(&[&format!("foo={}", "v".repeat(256))]).is_ok());
    assert!(state(&[&format!("foo={}", "v".repeat(257))]).is_err());
}

#[test]
fn a_duplicated_key_keeps_its_first_occurrence() {
    for lines in [&["foo=1,foo=1"][..], &["foo=1,foo=2"], &["foo=1", "foo=1"], &["foo=1", "foo=2"]] {
        assert_eq!(state(lines).unwrap().as_str(), "foo=1", "{lines:?}");
    }
    assert_eq!(state(&["a=1,b=2,a=3,c=4"]).unwrap().as_str(), "a=1,b=2,c=4");
}

#[test]
fn duplicates_count_towards_the_member_limit() {
    let members: Vec<String> = (0..32).map(|i| format!("k{i}=1")).collect();
    assert_eq!(state(&[&members.join(","), "k0=2"]), Err(TraceStateError::TooManyMembers));
}

#[test]
fn an_invalid_tracestate_is_dropped_and_the_traceparent_kept() {
    let extracted =
        trace_context().extract(&headers(&[("traceparent", VALID), ("tracestate", "foo=1,Bar=2")]));
    let trace = extracted.trace.unwrap();
    assert_eq!(trace.traceparent.trace_id().to_string(), TRACE_ID);
    assert!(trace.tracestate.is_empty());
    assert_eq!(extracted.errors, [ExtractError::TraceState(TraceStateError::InvalidKey { index: 1 })]);
}

#[test]
fn a_tracestate_without_a_traceparent_is_not_read() {
    let extracted = trace_context().extract(&headers(&[("tracestate", "foo=1,foo=2")]));
    assert!(extracted.trace.is_none());
    assert!(extracted.errors.is_empty(), "tracestate must not even be parsed");
}

#[test]
fn a_tracestate_is_not_read_when_the_traceparent_is_invalid() {
    let extracted = trace_context().extract(&headers(&[
        ("traceparent", "00-00000000000000000000000000000000-1234567890123456-01"),
        ("tracestate", "foo=1"),
    ]));
    assert!(extracted.trace.is_none());
    assert_eq!(extracted.errors, [ExtractError::TraceParent(TraceParentError::ZeroTraceId)]);
}

// --- tracestate mutation -------------------------------------------------------

#[test]
fn updating_a_key_moves_it_to_the_front() {
    let mut state = state(&["congo=congosFirstPosition,rojo=rojosFirstPosition"]).unwrap();
    state.insert("congo", "congosSecondPosition").unwrap();
    assert_eq!(state.as_str(), "congo=congosSecondPosition,rojo=rojosFirstPosition");
}

#[test]
fn adding_a_key_puts_it_first() {
    let mut state = state(&["congo=t61rcWkgMzE"]).unwrap();
    state.insert("rojo", "00f067aa0ba902b7").unwrap();
    assert_eq!(state.as_str(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
}

#[test]
fn adding_a_33rd_key_drops_the_last_one() {
    let line: Vec<String> = (1..=32).map(|i| format!("k{i}=v")).collect();
    let mut state = state(&[&line.join(",")]).unwrap();
    state.insert("new", "v").unwrap();
    assert_eq!(state.len(), 32);
    assert_eq!(state.iter().next(), Some(("new", "v")));
    assert_eq!(state.get("k32"), None);
}

#[test]
fn deleting_a_key_keeps_the_order_of_the_others() {
    let mut state = state(&["a=1,b=2,c=3"]).unwrap();
    assert!(state.remove("b"));
    assert!(!state.remove("b"));
    assert_eq!(state.as_str(), "a=1,c=3");
}

#[test]
fn inserting_an_invalid_member_is_refused() {
    let mut state = TraceState::new();
    assert_eq!(state.insert("Bad", "1"), Err(TraceStateError::InvalidKey { index: 0 }));
    assert_eq!(state.insert("ok", "a,b"), Err(TraceStateError::InvalidValue { index: 0 }));
    assert!(state.is_empty());
}

// --- sending -------------------------------------------------------------------

#[test]
fn an_empty_tracestate_is_never_sent() {
    let mut outgoing = headers(&[("tracestate", "stale=1")]);
    let trace = TraceContext::new(parse(VALID).unwrap());
    trace_context().inject(Some(&trace), &Default::default(), &mut outgoing);
    assert!(outgoing.get("tracestate").is_none(), "the stale tracestate is removed too");
    assert_eq!(outgoing["traceparent"], VALID);
}

#[test]
fn an_unchanged_tracestate_is_sent_as_received() {
    let incoming =
        headers(&[("traceparent", VALID), ("tracestate", "foo=1 , bar=2"), ("tracestate", "baz=3")]);
    let extracted = trace_context().extract(&incoming);
    let mut outgoing = HeaderMap::new();
    let child = extracted.trace.unwrap().child(SpanId::random());
    trace_context().inject(Some(&child), &Default::default(), &mut outgoing);
    assert_eq!(outgoing.get_all("tracestate").iter().count(), 1, "sent as one field");
    assert_eq!(outgoing["tracestate"], "foo=1,bar=2,baz=3");
}

#[test]
fn a_new_parent_id_is_sent_downstream() {
    let extracted = trace_context().extract(&headers(&[("traceparent", VALID)]));
    let child = extracted.trace.unwrap().child(SpanId::random());
    let mut outgoing = HeaderMap::new();
    trace_context().inject(Some(&child), &Default::default(), &mut outgoing);
    let sent = parse(outgoing["traceparent"].to_str().unwrap()).unwrap();
    assert_eq!(sent.trace_id().to_string(), TRACE_ID);
    assert_ne!(sent.parent_id().to_string(), "00f067aa0ba902b7");
}

#[test]
fn without_a_trace_nothing_is_injected() {
    let mut outgoing = HeaderMap::new();
    Propagator::default().inject(None, &Default::default(), &mut outgoing);
    assert!(outgoing.is_empty());
}

#[test]
fn field_names() {
    let names: Vec<&str> = Propagator::default().fields().map(Field::as_str).collect();
    assert_eq!(names, ["traceparent", "tracestate", "baggage"]);
}
