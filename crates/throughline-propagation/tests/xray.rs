//! AWS X-Ray propagation: the `X-Amzn-Trace-Id` header as the X-Ray
//! documentation ("Tracing header") and OpenTelemetry's X-Ray propagators
//! describe it.

use http::{HeaderMap, HeaderValue};
use throughline_propagation::{
    Baggage, ExtractError, Format, IdError, Propagator, SpanId, TraceContext, TraceParent, XRay, XRayError,
    XRaySampling,
};

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const TRACE_ID: &str = "5759e988bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";

fn headers(lines: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in lines {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

fn xray() -> Propagator {
    Propagator::new([Format::XRay])
}

#[test]
fn valid_headers() {
    let cases: [(&str, &str, Option<&str>, Option<XRaySampling>); 9] = [
        (
            "documented example",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            Some(PARENT),
            Some(XRaySampling::Accept),
        ),
        ("root only", "Root=1-5759e988-bd862e3fe1be46a994272793", None, None),
        (
            "root and decision",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0",
            None,
            Some(XRaySampling::Deny),
        ),
        (
            "decision requested",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?",
            Some(PARENT),
            Some(XRaySampling::Requested),
        ),
        (
            "any order",
            "Sampled=1;Parent=53995c3f42cd8ad8;Root=1-5759e988-bd862e3fe1be46a994272793",
            Some(PARENT),
            Some(XRaySampling::Accept),
        ),
        (
            "load balancer's Self",
            "Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793",
            None,
            None,
        ),
        (
            "Lineage ignored",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5",
            Some(PARENT),
            Some(XRaySampling::Accept),
        ),
        (
            "whitespace around fields",
            " Root=1-5759e988-bd862e3fe1be46a994272793 ; Parent=53995c3f42cd8ad8\t;Sampled=1 ",
            Some(PARENT),
            Some(XRaySampling::Accept),
        ),
        (
            "one trailing separator",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;",
            Some(PARENT),
            None,
        ),
    ];
    for (name, value, parent, sampling) in cases {
        let parsed = XRay::parse(value).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed.trace_id.to_string(), TRACE_ID, "{name}");
        assert_eq!(parsed.parent_id.map(|id| id.to_string()).as_deref(), parent, "{name}");
        assert_eq!(parsed.sampling, sampling, "{name}");
    }
}

#[test]
fn malformed_headers_are_typed_errors() {
    let cases: [(&str, &str, XRayError); 16] = [
        ("empty", "", XRayError::Empty),
        ("only a separator", " ; ", XRayError::Empty),
        ("no root", "Parent=53995c3f42cd8ad8;Sampled=1", XRayError::MissingRoot),
        ("root key in another case", "root=1-5759e988-bd862e3fe1be46a994272793", XRayError::MissingRoot),
        ("a field without =", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled", XRayError::MalformedField),
        ("an empty field", "Root=1-5759e988-bd862e3fe1be46a994272793;;Sampled=1", XRayError::MalformedField),
        ("an empty key", "Root=1-5759e988-bd862e3fe1be46a994272793;=1", XRayError::MalformedField),
        (
            "two roots",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Root=1-5759e988-bd862e3fe1be46a994272794",
            XRayError::DuplicateField,
        ),
        (
            "two decisions",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Sampled=0",
            XRayError::DuplicateField,
        ),
        ("version 2", "Root=2-5759e988-bd862e3fe1be46a994272793", XRayError::RootVersion),
        ("short epoch", "Root=1-759e988-bd862e3fe1be46a994272793", XRayError::RootFormat),
        ("no dashes", "Root=15759e988bd862e3fe1be46a994272793", XRayError::RootFormat),
        (
            "uppercase root",
            "Root=1-5759E988-bd862e3fe1be46a994272793",
            XRayError::TraceId(IdError::Character { position: 6 }),
        ),
        ("zero root", "Root=1-00000000-000000000000000000000000", XRayError::TraceId(IdError::AllZero)),
        (
            "short parent",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad",
            XRayError::ParentId(IdError::Length { expected: 16, found: 15 }),
        ),
        ("sampled yes", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=yes", XRayError::InvalidSampling),
    ];
    for (name, value, error) in cases {
        assert_eq!(XRay::parse(value), Err(error), "{name}: {value:?}");
    }
}

#[test]
fn only_an_accepted_decision_samples_and_no_parent_means_no_position() {
    let sampled =
        |header: String| XRay::parse(header).unwrap().trace_parent().map(|p| p.flags().is_sampled());
    assert_eq!(sampled(format!("Root={ROOT};Parent={PARENT};Sampled=1")), Some(true));
    assert_eq!(sampled(format!("Root={ROOT};Parent={PARENT};Sampled=0")), Some(false));
    assert_eq!(sampled(format!("Root={ROOT};Parent={PARENT};Sampled=?")), Some(false));
    assert_eq!(sampled(format!("Root={ROOT};Parent={PARENT}")), Some(false));
    assert_eq!(sampled(format!("Root={ROOT};Sampled=1")), None);
}

#[test]
fn propagator_continues_the_trace_and_sends_its_own_span() {
    let incoming = headers(&[(
        "X-Amzn-Trace-Id",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1",
    )]);
    let extracted = xray().extract(&incoming);
    assert!(extracted.errors.is_empty(), "{:?}", extracted.errors);
    let trace = extracted.trace.unwrap();
    assert_eq!(trace.traceparent.trace_id().to_string(), TRACE_ID);
    assert_eq!(trace.traceparent.parent_id().to_string(), PARENT);
    assert!(trace.traceparent.flags().is_sampled());
    let child = trace.child(SpanId::from_hex("00f067aa0ba902b7").unwrap());
    let mut outgoing = HeaderMap::new();
    xray().inject(Some(&child), &Baggage::new(), &mut outgoing);
    assert_eq!(
        outgoing["x-amzn-trace-id"],
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=00f067aa0ba902b7;Sampled=1"
    );
}

#[test]
fn a_root_without_parent_is_not_an_error_and_starts_a_new_trace() {
    let extracted =
        xray().extract(&headers(&[("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793")]));
    assert!(extracted.trace.is_none());
    assert!(extracted.errors.is_empty());
}

#[test]
fn a_malformed_header_starts_a_new_trace_and_says_why() {
    let extracted = xray()
        .extract(&headers(&[("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=2")]));
    assert!(extracted.trace.is_none());
    assert_eq!(extracted.errors, [ExtractError::XRay(XRayError::InvalidSampling)]);
    assert!(extracted.errors[0].to_string().starts_with("invalid X-Amzn-Trace-Id: "));
}

#[test]
fn two_headers_start_a_new_trace() {
    let value = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let extracted = xray().extract(&headers(&[("x-amzn-trace-id", value), ("x-amzn-trace-id", value)]));
    assert!(extracted.trace.is_none());
    assert_eq!(extracted.errors, [ExtractError::XRay(XRayError::Duplicate)]);
}

#[test]
fn any_trace_id_round_trips_and_nothing_is_written_without_a_trace() {
    for flags in ["00", "01", "02", "03"] {
        let parent: TraceParent =
            format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}").parse().unwrap();
        let mut carrier = HeaderMap::new();
        xray().inject(Some(&TraceContext::new(parent)), &Baggage::new(), &mut carrier);
        assert!(
            carrier["x-amzn-trace-id"]
                .to_str()
                .unwrap()
                .starts_with("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;")
        );
        let back = xray().extract(&carrier).trace.unwrap().traceparent;
        assert_eq!((back.trace_id(), back.parent_id()), (parent.trace_id(), parent.parent_id()));
        assert_eq!(back.flags().is_sampled(), parent.flags().is_sampled(), "{flags}");
    }
    let mut carrier = HeaderMap::new();
    xray().inject(None, &"k=v".parse().unwrap(), &mut carrier);
    assert!(carrier.is_empty(), "xray carries no baggage");
}
