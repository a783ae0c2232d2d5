//! Percent-encoding of baggage values (RFC 3986 §2.1), both ways.

use std::borrow::Cow;

/// Bytes written as they are: RFC 3986's unreserved set. Everything else is
/// escaped, which always yields a valid `baggage-octet` string and matches
/// what the W3C reference implementation sends.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// The length of `value` once encoded.
pub(crate) fn encoded_len(value: &str) -> usize {
    value.bytes().map(|b| if is_unreserved(b) { 1 } else { 3 }).sum()
}

/// Appends `value`, percent-encoded, to `out`.
pub(crate) fn encode_into(value: &str, out: &mut String) {
    for byte in value.bytes() {
        if is_unreserved(byte) {
            out.push(byte as char);
        } else {
            // RFC 3986 recommends uppercase hex digits in escapes.
            const UPPER: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(UPPER[(byte >> 4) as usize] as char);
            out.push(UPPER[(byte & 0x0f) as usize] as char);
        }
    }
}

/// Decodes `%XX` escapes (either case); a `%` not followed by two hex digits
/// stays as it is. Invalid UTF-8 after decoding becomes U+FFFD.
pub(crate) fn decode(value: &[u8]) -> Cow<'_, str> {
    if !value.contains(&b'%') {
        return String::from_utf8_lossy(value);
    }
    let mut bytes = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let escape = match value.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex_value(*hi).zip(hex_value(*lo)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escape {
            Some(byte) => {
                bytes.push(byte);
                i += 3;
            }
            None => {
                bytes.push(value[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())
}

fn hex_value(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_byte_class() {
        let value = "\t \"';=asdf!@#$%^&*()é";
        let mut out = String::new();
        encode_into(value, &mut out);
        assert_eq!(out, "%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29%C3%A9");
        assert_eq!(out.len(), encoded_len(value));
        assert_eq!(decode(out.as_bytes()), value);
    }

    #[test]
    fn lowercase_escapes_and_stray_percent() {
        assert_eq!(decode(b"a%2cb"), "a,b");
        assert_eq!(decode(b"100%"), "100%");
        assert_eq!(decode(b"%zz"), "%zz");
    }

    #[test]
    fn invalid_utf8_becomes_replacement_character() {
        assert_eq!(decode(b"a%FFb"), "a\u{FFFD}b");
    }
}
