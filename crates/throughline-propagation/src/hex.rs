//! Lowercase hexadecimal: the only case W3C Trace Context and B3 allow.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Marks a byte that is not a lowercase hex digit in [`VALUE`].
const INVALID: u8 = 0xff;

/// The value of every byte read as a lowercase hex digit.
static VALUE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 16 {
        table[DIGITS[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Whether `byte` is a lowercase hex digit.
#[inline]
pub(crate) fn is_digit(byte: u8) -> bool {
    VALUE[byte as usize] != INVALID
}

/// The offset of the first byte that is not a lowercase hex digit. Only called
/// once decoding has failed, to say where.
pub(crate) fn first_invalid(digits: &[u8]) -> usize {
    digits.iter().position(|&b| !is_digit(b)).unwrap_or(0)
}

/// Decodes two lowercase hex digits.
#[inline]
pub(crate) fn decode_byte(digits: &[u8; 2]) -> Option<u8> {
    let (hi, lo) = (VALUE[digits[0] as usize], VALUE[digits[1] as usize]);
    ((hi | lo) & 0xf0 == 0).then_some((hi << 4) | lo)
}

/// Decodes sixteen lowercase hex digits (a span id) into an integer.
#[inline]
pub(crate) fn decode_u64(digits: &[u8; 16]) -> Option<u64> {
    let (chunks, _) = digits.as_chunks::<8>();
    let (hi, hi_invalid) = decode8(chunks[0]);
    let (lo, lo_invalid) = decode8(chunks[1]);
    (hi_invalid | lo_invalid == 0).then_some(u64::from(hi) << 32 | u64::from(lo))
}

/// Decodes thirty-two lowercase hex digits (a trace id) into an integer.
#[inline]
pub(crate) fn decode_u128(digits: &[u8; 32]) -> Option<u128> {
    let (halves, _) = digits.as_chunks::<16>();
    Some(u128::from(decode_u64(&halves[0])?) << 64 | u128::from(decode_u64(&halves[1])?))
}

/// Decodes eight lowercase hex digits with SWAR arithmetic on one `u64`, a
/// fraction of the cost of a table lookup per digit, in safe code.
///
/// Returns the value and a mask that is non-zero when any byte is not a
/// lowercase hex digit, so callers can check once for several chunks.
#[inline]
fn decode8(digits: [u8; 8]) -> (u32, u64) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = u64::from_le_bytes(digits);
    // With every byte below 0x80, adding `0x80 - bound` sets a byte's high bit
    // exactly when the byte is at least `bound`, and never carries into the
    // next byte. A byte of 0x80 or more is invalid anyway and flagged below.
    let at_least = |bound: u8| (x.wrapping_add(u64::from(0x80 - bound) * ONES)) & HIGH;
    let digit = at_least(b'0') & !at_least(b'9' + 1);
    let letter = at_least(b'a') & !at_least(b'f' + 1);
    let invalid = (x & HIGH) | (!(digit | letter) & HIGH);
    // '0'..'9' keep their value in the low nibble; 'a'..'f' have 1..6 there.
    let nibbles = (x & (0x0f * ONES)) + (letter >> 7) * 9;
    // Each pair of bytes (high digit first) becomes one byte, then the four
    // bytes are gathered into the low half, first digit in the lowest byte.
    let pairs = ((nibbles & 0x0f00_0f00_0f00_0f00) >> 8) | ((nibbles & 0x000f_000f_000f_000f) << 4);
    let halves = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
    let le = (halves | (halves >> 16)) as u32;
    (le.swap_bytes(), invalid)
}

/// Writes `src` as `2 * src.len()` lowercase hex digits into the front of `dst`.
#[inline]
pub(crate) fn encode(src: &[u8], dst: &mut [u8]) {
    for (i, byte) in src.iter().enumerate() {
        dst[2 * i] = DIGITS[(byte >> 4) as usize];
        dst[2 * i + 1] = DIGITS[(byte & 0x0f) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_lowercase_only() {
        assert_eq!(decode_byte(b"0a"), Some(0x0a));
        assert_eq!(decode_byte(b"Ff"), None);
        assert_eq!(decode_byte(b"-1"), None);
        assert_eq!(first_invalid(b"0aFf"), 2);
    }

    #[test]
    fn decodes_integers_eight_digits_at_a_time() {
        assert_eq!(decode_u64(b"0123456789abcdef"), Some(0x0123_4567_89ab_cdef));
        assert_eq!(
            decode_u128(b"4bf92f3577b34da6a3ce929d0e0e4736"),
            Some(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736)
        );
        assert_eq!(decode_u64(b"ffffffffffffffff"), Some(u64::MAX));
    }

    #[test]
    fn every_byte_decodes_like_the_table() {
        for byte in 0..=255u8 {
            for at in 0..16 {
                let mut digits = *b"0000000000000000";
                digits[at] = byte;
                let expected = match VALUE[byte as usize] {
                    INVALID => None,
                    value => Some(u64::from(value) << (4 * (15 - at))),
                };
                assert_eq!(decode_u64(&digits), expected, "byte {byte:#x} at {at}");
            }
        }
    }

    #[test]
    fn encodes_lowercase() {
        let mut out = [0u8; 4];
        encode(&[0xab, 0x01], &mut out);
        assert_eq!(&out, b"ab01");
    }
}
