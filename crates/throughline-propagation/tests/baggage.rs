//! W3C Baggage: the grammar, percent-encoding both ways, limits, and the
//! examples of the specification and its reference tests.

use http::{HeaderMap, HeaderValue};
use throughline_propagation::{Baggage, BaggageError, BaggageMember, ExtractError, Format, Propagator};

fn lines(lines: &[&str]) -> (Baggage, Vec<BaggageError>) {
    Baggage::from_lines(lines.iter().map(|l| l.as_bytes()))
}

/// The properties with their decoded values, owned, for comparisons.
fn properties(member: &BaggageMember) -> Vec<(&str, Option<String>)> {
    member.properties().map(|(k, v)| (k, v.map(|v| v.into_owned()))).collect()
}

#[test]
fn spec_example_single_header() {
    let baggage = Baggage::parse("userId=alice,serverNode=DF%2028,isProduction=false").unwrap();
    assert_eq!(baggage.get("userId"), Some("alice"));
    assert_eq!(baggage.get("serverNode"), Some("DF 28"));
    assert_eq!(baggage.get("isProduction"), Some("false"));
}

#[test]
fn spec_example_split_into_multiple_headers() {
    let (baggage, errors) = lines(&["userId=alice", "serverNode=DF%2028,isProduction=false"]);
    assert!(errors.is_empty());
    assert_eq!(baggage.len(), 3);
    assert_eq!(baggage.to_string(), "userId=alice,serverNode=DF%2028,isProduction=false");
}

#[test]
fn spec_example_spaces_around_keys_and_values() {
    let (baggage, errors) = lines(&["userId =   alice", "serverNode = DF%2028, isProduction = false"]);
    assert!(errors.is_empty());
    assert_eq!(baggage.get("userId"), Some("alice"));
    assert_eq!(baggage.get("serverNode"), Some("DF 28"));
}

#[test]
fn spec_example_with_properties() {
    let baggage = Baggage::parse(
        "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue",
    )
    .unwrap();
    let members: Vec<&BaggageMember> = baggage.iter().collect();
    assert_eq!(properties(members[0]), [("property1", None), ("property2", None)]);
    assert_eq!(members[1].value(), "value2");
    assert_eq!(properties(members[2]), [("propertyKey", Some("propertyValue".to_owned()))]);
    assert_eq!(
        baggage.to_string(),
        "key1=value1;property1;property2,key2=value2,key3=value3;propertyKey=propertyValue"
    );
}

#[test]
fn ows_is_trimmed_around_keys_values_and_properties() {
    let baggage = Baggage::parse(
        "SomeKey \t = \t SomeValue \t ; \t SomePropKey \t = \t SomePropValue \t , \t SomeKey2 \t = \t SomeValue2 \t ; \t SomeProp2",
    )
    .unwrap();
    let members: Vec<&BaggageMember> = baggage.iter().collect();
    assert_eq!((members[0].key(), members[0].value()), ("SomeKey", "SomeValue"));
    assert_eq!(members[0].properties_str(), "SomePropKey=SomePropValue");
    assert_eq!((members[1].key(), members[1].value()), ("SomeKey2", "SomeValue2"));
    assert_eq!(members[1].properties_str(), "SomeProp2");
}

#[test]
fn values_may_contain_equal_signs() {
    assert_eq!(Baggage::parse("SomeKey=SomeValue=equals").unwrap().get("SomeKey"), Some("SomeValue=equals"));
}

#[test]
fn values_are_percent_decoded_and_encoded() {
    let value = "\t \"';=asdf!@#$%^&*()";
    let mut baggage = Baggage::new();
    baggage.insert("SomeKey", value).unwrap();
    let header = baggage.to_string();
    assert_eq!(header, "SomeKey=%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29");
    assert_eq!(Baggage::parse(&header).unwrap().get("SomeKey"), Some(value));
}

#[test]
fn utf8_values_round_trip() {
    let mut baggage = Baggage::new();
    baggage.insert("city", "Zürich 東京").unwrap();
    assert_eq!(Baggage::parse(baggage.to_string()).unwrap().get("city"), Some("Zürich 東京"));
}

#[test]
fn invalid_utf8_after_decoding_becomes_the_replacement_character() {
    assert_eq!(Baggage::parse("k=a%C3%28b").unwrap().get("k"), Some("a\u{FFFD}(b"));
    assert_eq!(Baggage::parse("k=%FF").unwrap().get("k"), Some("\u{FFFD}"));
}

#[test]
fn empty_values_are_allowed() {
    assert_eq!(Baggage::parse("k=").unwrap().get("k"), Some(""));
}

#[test]
fn keys_must_be_tokens() {
    assert_eq!(Baggage::parse("a b=1"), Err(BaggageError::InvalidKey { index: 0 }));
    assert_eq!(Baggage::parse("=1"), Err(BaggageError::InvalidKey { index: 0 }));
    assert_eq!(Baggage::parse("ok=1,k\"=1"), Err(BaggageError::InvalidKey { index: 1 }));
    assert_eq!(Baggage::parse("k(=1"), Err(BaggageError::InvalidKey { index: 0 }));
    assert!(Baggage::new().insert("bad key", "v").is_err());
}

#[test]
fn values_must_be_baggage_octets() {
    for header in ["k=a b", "k=a\"b", "k=a\\b", "k=é"] {
        assert_eq!(Baggage::parse(header), Err(BaggageError::InvalidValue { index: 0 }), "{header}");
    }
}

#[test]
fn members_need_an_equals_sign() {
    assert_eq!(Baggage::parse("k"), Err(BaggageError::MissingEquals { index: 0 }));
}

// The W3C reference tests of 2025 (w3c/baggage, test/test_baggage.py):
// property values are percent-coded like member values.

#[test]
fn property_values_are_percent_decoded_and_encoded() {
    let value = "\t \"';=asdf!@#$%^&*()";
    let encoded = "%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29";
    let baggage = Baggage::parse(format!("SomeKey=SomeValue;SomePropKey={encoded}")).unwrap();
    let member = baggage.iter().next().unwrap();
    assert_eq!(member.value(), "SomeValue");
    assert_eq!(properties(member), [("SomePropKey", Some(value.to_owned()))]);
    assert_eq!(baggage.to_string(), format!("SomeKey=SomeValue;SomePropKey={encoded}"));
}

#[test]
fn a_percent_encoded_equals_sign_does_not_make_a_key_value_property() {
    let header = "SomeKey=SomeValue;ValueProp%20%09%20%3D%20%09%20PropVal";
    let baggage = Baggage::parse(header).unwrap();
    let member = baggage.iter().next().unwrap();
    assert_eq!(properties(member), [("ValueProp%20%09%20%3D%20%09%20PropVal", None)]);
    assert_eq!(baggage.to_string(), header, "a key is never decoded nor encoded");
}

#[test]
fn properties_with_identical_keys_are_all_kept_in_order() {
    let baggage = Baggage::parse("k=v;p=1;p;p=2%203").unwrap();
    let member = baggage.iter().next().unwrap();
    assert_eq!(properties(member), [("p", Some("1".to_owned())), ("p", None), ("p", Some("2 3".to_owned()))]);
}

#[test]
fn property_values_are_canonically_encoded_on_the_wire() {
    // A stray `%` is a literal percent sign, which must travel encoded;
    // lowercase escapes are read and written in uppercase.
    let baggage = Baggage::parse("k=v;p=100%;q=%c3%a9").unwrap();
    let member = baggage.iter().next().unwrap();
    assert_eq!(properties(member), [("p", Some("100%".to_owned())), ("q", Some("é".to_owned()))]);
    assert_eq!(member.properties_str(), "p=100%25;q=%C3%A9");
}

#[test]
fn invalid_utf8_in_a_property_value_becomes_the_replacement_character() {
    let baggage = Baggage::parse("k=v;p=a%C3%28b").unwrap();
    let member = baggage.iter().next().unwrap();
    assert_eq!(properties(member), [("p", Some("a\u{FFFD}(b".to_owned()))]);
}

#[test]
fn properties_are_given_decoded_and_sent_encoded() {
    let member = BaggageMember::new("serverNode", "DF 28")
        .unwrap()
        .with_property("region", Some("eu-west 1; \"a\""))
        .unwrap()
        .with_property("flag", None)
        .unwrap();
    assert_eq!(member.properties_str(), "region=eu-west%201%3B%20%22a%22;flag");
    let mut baggage = Baggage::new();
    baggage.insert_member(member.clone()).unwrap();
    let received = Baggage::parse(baggage.to_string()).unwrap();
    assert_eq!(received.iter().next(), Some(&member));
    assert_eq!(properties(&member)[0].1.as_deref(), Some("eu-west 1; \"a\""));
    assert_eq!(
        BaggageMember::new("k", "v").unwrap().with_property("bad key", None),
        Err(BaggageError::InvalidProperty { index: 0 })
    );
}

#[test]
fn the_limit_counts_encoded_property_values() {
    let mut baggage = Baggage::new();
    // 3000 spaces encode to 9000 bytes.
    let member = BaggageMember::new("k", "v").unwrap().with_property("p", Some(&" ".repeat(3000))).unwrap();
    assert_eq!(baggage.insert_member(member), Err(BaggageError::TooLarge { index: 0 }));
    let (kept, errors) = lines(&[&format!("a=1;p={},b=2", "%20".repeat(2800))]);
    assert_eq!(kept.to_string(), "b=2");
    assert_eq!(errors, [BaggageError::TooLarge { index: 0 }]);
}

#[test]
fn malformed_properties_are_invalid() {
    assert_eq!(Baggage::parse("k=v;"), Err(BaggageError::InvalidProperty { index: 0 }));
    assert_eq!(Baggage::parse("k=v;=x"), Err(BaggageError::InvalidProperty { index: 0 }));
    assert_eq!(Baggage::parse("k=v;p=a b"), Err(BaggageError::InvalidProperty { index: 0 }));
}

#[test]
fn an_invalid_member_is_dropped_and_the_others_kept() {
    let (baggage, errors) = lines(&["a=1,bad key=2,c=3"]);
    assert_eq!(baggage.to_string(), "a=1,c=3");
    assert_eq!(errors, [BaggageError::InvalidKey { index: 1 }]);
}

#[test]
fn duplicate_keys_are_kept_in_order_and_the_last_wins() {
    let baggage = Baggage::parse("k=1,other=x,k=2").unwrap();
    assert_eq!(baggage.len(), 3);
    assert_eq!(baggage.get("k"), Some("2"));
    assert_eq!(baggage.to_string(), "k=1,other=x,k=2");
}

#[test]
fn insert_replaces_every_member_of_the_key() {
    let mut baggage = Baggage::parse("k=1,other=x,k=2").unwrap();
    baggage.insert("k", "3").unwrap();
    assert_eq!(baggage.to_string(), "other=x,k=3");
    assert!(baggage.remove("other"));
    assert_eq!(baggage.to_string(), "k=3");
}

#[test]
fn at_most_64_members_are_kept() {
    let header: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
    let (baggage, errors) = lines(&[&header.join(",")]);
    assert_eq!(baggage.len(), Baggage::MAX_MEMBERS);
    assert_eq!(baggage.iter().last().unwrap().key(), "k63", "kept in order");
    assert_eq!(errors.len(), 6);
    assert_eq!(errors[0], BaggageError::TooManyMembers { index: 64 });
}

#[test]
fn at_most_8192_bytes_are_kept_and_members_are_never_truncated() {
    let value = "v".repeat(1000);
    let header: Vec<String> = (0..10).map(|i| format!("k{i}={value}")).collect();
    let (baggage, errors) = lines(&[&header.join(",")]);
    assert_eq!(baggage.len(), 8, "8 members of 1003 bytes fit in 8192");
    assert!(baggage.encoded_len() <= Baggage::MAX_BYTES);
    assert!(baggage.iter().all(|m| m.value().len() == 1000));
    assert_eq!(errors, [BaggageError::TooLarge { index: 8 }, BaggageError::TooLarge { index: 9 }]);
}

#[test]
fn insert_refuses_a_member_past_the_limits_and_changes_nothing() {
    let mut baggage = Baggage::new();
    for i in 0..64 {
        baggage.insert(format!("k{i}"), "v").unwrap();
    }
    assert_eq!(baggage.insert("one-more", "v"), Err(BaggageError::TooManyMembers { index: 64 }));
    assert_eq!(baggage.len(), 64);
    baggage.insert("k0", "replacing is fine").unwrap();

    let mut big = Baggage::new();
    assert_eq!(big.insert("k", "x".repeat(9000)), Err(BaggageError::TooLarge { index: 0 }));
    assert!(big.is_empty());
}

#[test]
fn the_limit_counts_the_encoded_size() {
    let mut baggage = Baggage::new();
    // 3000 spaces encode to 9000 bytes.
    assert!(baggage.insert("k", " ".repeat(3000)).is_err());
}

#[test]
fn propagator_reads_every_line_and_reports_dropped_members() {
    let mut headers = HeaderMap::new();
    headers.append("baggage", HeaderValue::from_static("a=1"));
    headers.append("baggage", HeaderValue::from_static("b=2,bad key=3"));
    let extracted = Propagator::new([Format::Baggage]).extract(&headers);
    assert_eq!(extracted.baggage.to_string(), "a=1,b=2");
    assert_eq!(extracted.errors, [ExtractError::Baggage(BaggageError::InvalidKey { index: 2 })]);
}

#[test]
fn empty_baggage_is_not_sent() {
    let mut headers = HeaderMap::new();
    Propagator::new([Format::Baggage]).inject(None, &Baggage::new(), &mut headers);
    assert!(headers.is_empty());
}

#[test]
fn baggage_travels_without_a_trace() {
    let mut headers = HeaderMap::new();
    let baggage = Baggage::parse("k=v").unwrap();
    Propagator::default().inject(None, &baggage, &mut headers);
    assert_eq!(headers["baggage"], "k=v");
}
