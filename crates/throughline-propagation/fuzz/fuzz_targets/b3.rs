//! Any bytes: the single B3 header parser never panics, and a parsed context
//! survives an encode and parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use throughline_propagation::{B3, encode_b3_single};

fuzz_target!(|data: &[u8]| {
    if let Ok(b3) = B3::parse_single(data) {
        if let Some(parent) = b3.trace_parent() {
            let again = B3::parse_single(encode_b3_single(&parent)).expect("an encoded b3 parses");
            let again = again.trace_parent().expect("an encoded b3 has a context");
            assert_eq!(again.trace_id(), parent.trace_id());
            assert_eq!(again.parent_id(), parent.parent_id());
        }
    }
});
