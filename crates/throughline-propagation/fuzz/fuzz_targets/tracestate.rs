//! Any header lines: parsing never panics, whatever parses is canonical and
//! parses back to itself with unique keys, and mutations keep it valid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use throughline_propagation::TraceState;

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if let Ok(mut state) = TraceState::from_lines(lines.iter().copied()) {
        assert!(state.len() <= TraceState::MAX_MEMBERS);
        // A repeated key keeps only its first occurrence.
        let keys: Vec<&str> = state.iter().map(|(key, _)| key).collect();
        assert!(keys.iter().enumerate().all(|(i, key)| !keys[..i].contains(key)));
        assert_eq!(TraceState::parse(state.as_str()).as_ref(), Ok(&state));
        if state.insert("fuzz", "value").is_ok() {
            assert_eq!(state.get("fuzz"), Some("value"));
            assert!(TraceState::parse(state.as_str()).is_ok());
        }
        state.truncate(64);
        assert!(state.as_str().len() <= 64);
    }
});
