//! Integers as decimal text, written into a stack buffer rather than through
//! the fmt machinery.

/// Room for any `i128`, sign included.
pub(crate) const MAX_LEN: usize = 40;

/// `value` in decimal, written at the end of `buffer`.
pub(crate) fn decimal(value: i128, buffer: &mut [u8; MAX_LEN]) -> &str {
    let mut at = unsigned_at(value.unsigned_abs(), buffer);
    if value < 0 {
        at -= 1;
        buffer[at] = b'-';
    }
    // Only ASCII digits and '-' were written.
    std::str::from_utf8(&buffer[at..]).unwrap_or_default()
}

/// `value` in decimal, written at the end of `buffer`.
pub(crate) fn unsigned(value: u128, buffer: &mut [u8; MAX_LEN]) -> &str {
    let at = unsigned_at(value, buffer);
    std::str::from_utf8(&buffer[at..]).unwrap_or_default()
}

fn unsigned_at(mut value: u128, buffer: &mut [u8; MAX_LEN]) -> usize {
    let mut at = buffer.len();
    // Most values fit in a u64, whose division is much cheaper.
    if let Ok(mut small) = u64::try_from(value) {
        loop {
            at -= 1;
            buffer[at] = b'0' + (small % 10) as u8;
            small /= 10;
            if small == 0 {
                return at;
            }
        }
    }
    loop {
        at -= 1;
        buffer[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return at;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_print_as_display_does() {
        let mut buffer = [0u8; MAX_LEN];
        for value in [0, 7, -7, 1_000, i128::from(i64::MIN), i128::MIN, i128::MAX] {
            assert_eq!(decimal(value, &mut buffer), value.to_string());
        }
        assert_eq!(unsigned(u128::MAX, &mut buffer), u128::MAX.to_string());
    }
}
