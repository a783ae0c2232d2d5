//! Optional whitespace (`OWS`, RFC 9110 §5.6.3): spaces and horizontal tabs that
//! may surround header values and list members and are not part of them.

/// Whether `byte` is optional whitespace.
#[inline]
pub(crate) fn is_ows(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// `value` without leading and trailing optional whitespace.
#[inline]
pub(crate) fn trim_ows(value: &[u8]) -> &[u8] {
    let start = value.iter().position(|&b| !is_ows(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|&b| !is_ows(b)).map_or(start, |i| i + 1);
    &value[start..end]
}

#[cfg(test)]
mod tests {
    use super::trim_ows;

    #[test]
    fn trims_spaces_and_tabs_only() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b" \t "), b"");
        assert_eq!(trim_ows(b"\na\r"), b"\na\r");
    }
}
