//! Any bytes: the `X-Amzn-Trace-Id` parser never panics, and a parsed
//! context survives an encode and parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use throughline_propagation::{XRay, encode_xray};

fuzz_target!(|data: &[u8]| {
    if let Ok(xray) = XRay::parse(data) {
        if let Some(parent) = xray.trace_parent() {
            let again = XRay::parse(encode_xray(&parent)).expect("an encoded X-Amzn-Trace-Id parses");
            assert_eq!(again.trace_parent(), Some(parent));
            assert_eq!(again.trace_id, xray.trace_id);
        }
    }
});
