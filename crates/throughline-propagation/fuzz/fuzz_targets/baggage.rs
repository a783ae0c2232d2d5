//! Any header lines: reading never panics, stays within the limits, and what
//! is kept encodes to a header that reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use throughline_propagation::Baggage;

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let (baggage, _) = Baggage::from_lines(lines.iter().copied());
    assert!(baggage.len() <= Baggage::MAX_MEMBERS);
    assert!(baggage.encoded_len() <= Baggage::MAX_BYTES);
    let header = baggage.to_header_value();
    assert_eq!(header.len(), baggage.encoded_len());
    assert_eq!(Baggage::parse(&header), Ok(baggage));
});
