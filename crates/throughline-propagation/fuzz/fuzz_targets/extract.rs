//! Any set of headers through every format: extraction never panics, and
//! injecting what it found writes headers that extract to the same context.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use throughline_propagation::Propagator;

const NAMES: [&str; 10] = [
    "traceparent", "tracestate", "baggage", "b3", "x-b3-traceid", "x-b3-spanid",
    "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags", "x-amzn-trace-id",
];

fuzz_target!(|data: &[u8]| {
    // Each line is one header: a name chosen by the first byte, then the value.
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some((&which, value)) = line.split_first() else { continue };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(HeaderName::from_static(NAMES[which as usize % NAMES.len()]), value);
        }
    }
    // Not `jaeger`: its `uberctx-*` copy of the baggage would merge with the
    // `baggage` header on the way back (the `jaeger` target checks it alone).
    let propagator: Propagator = "tracecontext,baggage,b3,b3multi,xray".parse().unwrap();
    let extracted = propagator.extract(&headers);
    let mut out = HeaderMap::new();
    propagator.inject(extracted.trace.as_ref(), &extracted.baggage, &mut out);
    let again = propagator.extract(&out);
    assert!(again.errors.is_empty(), "{:?}", again.errors);
    assert_eq!(again.trace.map(|t| t.traceparent.trace_id()), extracted.trace.map(|t| t.traceparent.trace_id()));
    assert_eq!(again.baggage, extracted.baggage);
});
