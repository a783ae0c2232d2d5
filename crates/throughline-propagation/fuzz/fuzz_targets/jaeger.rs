//! Any bytes: the `uber-trace-id` parser never panics and a parsed context
//! survives an encode and parse; and any set of `uber-trace-id` and
//! `uberctx-*` headers goes through the `jaeger` propagator and back to the
//! same trace and baggage.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use throughline_propagation::{Format, Jaeger, Propagator, encode_jaeger};

fuzz_target!(|data: &[u8]| {
    // The first line is the `uber-trace-id`; each further line `key=value` is
    // an `uberctx-{key}` header.
    let mut lines = data.split(|&b| b == b'\n');
    let trace_line = lines.next().unwrap_or_default();
    if let Ok(jaeger) = Jaeger::parse(trace_line) {
        let parent = jaeger.trace_parent();
        let again = Jaeger::parse(encode_jaeger(&parent)).expect("an encoded uber-trace-id parses");
        assert_eq!(again.trace_parent(), parent);
    }

    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(trace_line) {
        headers.append("uber-trace-id", value);
    }
    for line in lines {
        let Some(eq) = line.iter().position(|&b| b == b'=') else { continue };
        let name = HeaderName::from_bytes(&[b"uberctx-", &line[..eq]].concat());
        if let (Ok(name), Ok(value)) = (name, HeaderValue::from_bytes(&line[eq + 1..])) {
            headers.append(name, value);
        }
    }
    let propagator = Propagator::new([Format::Jaeger]);
    let extracted = propagator.extract(&headers);
    let mut out = HeaderMap::new();
    propagator.inject(extracted.trace.as_ref(), &extracted.baggage, &mut out);
    let again = propagator.extract(&out);
    assert!(again.errors.is_empty(), "{:?}", again.errors);
    assert_eq!(again.trace.map(|t| t.traceparent), extracted.trace.map(|t| t.traceparent));
    assert_eq!(again.baggage.len(), extracted.baggage.len());
    for member in &extracted.baggage {
        assert_eq!(again.baggage.get(member.key()), Some(member.value()));
    }
});
