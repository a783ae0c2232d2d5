//! `OTEL_PROPAGATORS` parsing.

use throughline_propagation::{Format, Propagator, PropagatorConfigError};

#[test]
fn the_default_is_tracecontext_and_baggage() {
    assert_eq!(Propagator::default().to_string(), "tracecontext,baggage");
    assert_eq!("".parse::<Propagator>().unwrap(), Propagator::default());
    assert_eq!(" , ".parse::<Propagator>().unwrap(), Propagator::default());
}

#[test]
fn names_are_trimmed_case_insensitive_and_deduplicated() {
    let propagator: Propagator = " B3Multi , tracecontext,b3multi ".parse().unwrap();
    assert_eq!(propagator.formats().collect::<Vec<_>>(), [Format::B3Multi, Format::TraceContext]);
}

#[test]
fn none_means_no_propagation() {
    let propagator: Propagator = "none".parse().unwrap();
    assert_eq!(propagator.formats().count(), 0);
    assert_eq!(propagator.to_string(), "none");
    assert_eq!("none,b3".parse::<Propagator>(), Err(PropagatorConfigError::NoneWithOthers));
}

#[test]
fn unknown_and_unsupported_names_are_errors_that_name_the_variable() {
    let unknown = "tracecontext,zipkin".parse::<Propagator>().unwrap_err();
    assert_eq!(unknown, PropagatorConfigError::Unknown("zipkin".into()));
    assert!(unknown.to_string().starts_with("OTEL_PROPAGATORS: unknown propagator \"zipkin\""));
    let unsupported = "tracecontext,OTTrace".parse::<Propagator>().unwrap_err();
    assert_eq!(unsupported, PropagatorConfigError::Unsupported("OTTrace".into()));
    assert!(unsupported.to_string().starts_with("OTEL_PROPAGATORS: "), "{unsupported}");
    let typo = "jaegr".parse::<Propagator>().unwrap_err();
    assert_eq!(typo, PropagatorConfigError::Unknown("jaegr".into()));
    assert!(typo.to_string().contains("jaeger, xray"), "{typo}");
}

#[test]
fn jaeger_and_xray_are_formats() {
    let propagator: Propagator = "tracecontext, JAEGER ,XRay,baggage".parse().unwrap();
    assert_eq!(
        propagator.formats().collect::<Vec<_>>(),
        [Format::TraceContext, Format::Jaeger, Format::XRay, Format::Baggage]
    );
    assert_eq!(propagator.to_string(), "tracecontext,jaeger,xray,baggage");
    assert_eq!("jaeger".parse::<Format>(), Ok(Format::Jaeger));
    assert_eq!("xray".parse::<Format>(), Ok(Format::XRay));
}

#[test]
fn every_format_fits_in_one_propagator() {
    let all = "tracecontext,baggage,b3,b3multi,jaeger,xray";
    let propagator: Propagator = all.parse().unwrap();
    assert_eq!(propagator.formats().count(), 6);
    assert_eq!(propagator.to_string(), all);
    let fields: Vec<&str> = propagator.fields().map(|f| f.as_str()).collect();
    assert_eq!(fields[fields.len() - 2..], ["uber-trace-id", "x-amzn-trace-id"]);
}
