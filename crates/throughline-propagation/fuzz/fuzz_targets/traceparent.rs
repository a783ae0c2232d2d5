//! Any bytes: parsing never panics, and whatever parses encodes to a value
//! that parses back to the same trace position.
#![no_main]

use libfuzzer_sys::fuzz_target;
use throughline_propagation::TraceParent;

fuzz_target!(|data: &[u8]| {
    if let Ok(parent) = TraceParent::parse(data) {
        let encoded = parent.encode();
        let again = TraceParent::parse(encoded.as_bytes()).expect("an encoded traceparent parses");
        assert_eq!(again.trace_id(), parent.trace_id());
        assert_eq!(again.parent_id(), parent.parent_id());
        assert_eq!(again.flags(), parent.flags().known());
    }
});
