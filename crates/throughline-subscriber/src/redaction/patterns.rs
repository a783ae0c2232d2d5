//! Value patterns: scanners that find a secret inside a string.
//!
//! They are hand-written rather than regular expressions: each is one pass
//! over the bytes looking for a cheap anchor (a `b`, a digit, an `@`), so a
//! value with no secret costs a few instructions per byte.

use std::ops::Range;

/// Finds secrets inside field values, so that only the secret is replaced and
/// the rest of the value stays readable.
///
/// Implement it for a rule of your own, or pass a closure:
///
/// ```
/// use throughline_subscriber::Redaction;
///
/// // Internal customer numbers look like `CUST-` and eight digits.
/// let policy = Redaction::default().pattern(|text: &str| {
///     let start = text.find("CUST-")?;
///     let end = start + 5 + text[start + 5..].bytes().take_while(u8::is_ascii_digit).count();
///     Some(start..end)
/// });
/// assert_eq!(policy.redact_text("refund for CUST-00421337"), "refund for [REDACTED]");
/// ```
pub trait Pattern: Send + Sync + 'static {
    /// The byte range of the first secret in `text`, if any.
    ///
    /// A value is scanned by calling this on the whole value, then on what
    /// follows each secret found (never again on text already passed), so
    /// a pattern that reads only as far as its first secret keeps the scan
    /// linear in the length of the value.
    ///
    /// A range that is empty, out of bounds or not on character boundaries is
    /// treated as covering the rest of the text: a broken rule redacts too
    /// much rather than too little.
    fn find(&self, text: &str) -> Option<Range<usize>>;
}

impl<F> Pattern for F
where
    F: Fn(&str) -> Option<Range<usize>> + Send + Sync + 'static,
{
    fn find(&self, text: &str) -> Option<Range<usize>> {
        self(text)
    }
}

/// The credentials of an `Authorization: Bearer` scheme: `Bearer` (any case)
/// as a word, blanks, then at least 8 characters of RFC 6750's `b64token`.
/// Only the token is redacted: `Bearer [REDACTED]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct BearerToken;

impl Pattern for BearerToken {
    fn find(&self, text: &str) -> Option<Range<usize>> {
        const MIN_TOKEN: usize = 8;
        if text.len() < "Bearer ".len() + MIN_TOKEN {
            return None;
        }
        let bytes = text.as_bytes();
        let mut from = 0;
        while let Some(offset) = bytes[from..].iter().position(|b| b | 0x20 == b'b') {
            let at = from + offset;
            from = at + 1;
            let word = bytes.get(at..at + 6).is_some_and(|w| w.eq_ignore_ascii_case(b"bearer"));
            if !word || (at > 0 && bytes[at - 1].is_ascii_alphanumeric()) {
                continue;
            }
            let blanks = bytes[at + 6..].iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
            if blanks == 0 {
                continue;
            }
            let start = at + 6 + blanks;
            let token = bytes[start..].iter().take_while(|b| is_b64token(**b)).count();
            let padding = bytes[start + token..].iter().take_while(|b| **b == b'=').count();
            if token >= MIN_TOKEN {
                return Some(start..start + token + padding);
            }
        }
        None
    }
}

fn is_b64token(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// Payment card numbers: 13 to 19 digits, optionally grouped by single spaces
/// or dashes, starting with 2 to 6 (the issuer ranges of the card networks),
/// standing alone (no letter or digit either side) and passing the Luhn
/// check. The check is what keeps order numbers and timestamps readable.
///
/// Within a longer run of grouped digits (`qty 2 4111 1111 1111 1111`), any
/// sequence of whole groups is a candidate, so a neighbouring number does
/// not hide a card.
#[derive(Clone, Copy, Debug, Default)]
pub struct CardNumber;

impl Pattern for CardNumber {
    fn find(&self, text: &str) -> Option<Range<usize>> {
        let bytes = text.as_bytes();
        // Counting digits is one tight loop; most values stop here. It stops
        // at the 13th digit, before any card could end, so that a value full
        // of cards is not counted again for each.
        if bytes.len() < 13 || bytes.iter().filter(|b| b.is_ascii_digit()).take(13).count() < 13 {
            return None;
        }
        let mut at = 0;
        while at < bytes.len() {
            if !bytes[at].is_ascii_digit() || (at > 0 && bytes[at - 1].is_ascii_alphanumeric()) {
                at += 1;
                continue;
            }
            if let Some(end) = card_from(bytes, at) {
                return Some(at..end);
            }
            // Try the next group of this run, or whatever follows it.
            at = next_group(bytes, at);
        }
        None
    }
}

/// The end of the longest card number starting at `start` and ending at a
/// group boundary.
fn card_from(bytes: &[u8], start: usize) -> Option<usize> {
    if !(b'2'..=b'6').contains(&bytes[start]) {
        return None;
    }
    // The Luhn check doubles every second digit from the right; not knowing
    // the length yet, keep both possible sums and pick one at each end.
    let (mut sum_if_even_len, mut sum_if_odd_len) = (0u32, 0u32);
    let (mut digits, mut at, mut card) = (0usize, start, None);
    while at < bytes.len() && digits < 19 {
        let d = u32::from(bytes[at] - b'0');
        let doubled = if d * 2 > 9 { d * 2 - 9 } else { d * 2 };
        if digits % 2 == 0 {
            sum_if_even_len += doubled;
            sum_if_odd_len += d;
        } else {
            sum_if_even_len += d;
            sum_if_odd_len += doubled;
        }
        digits += 1;
        at += 1;
        let next = bytes.get(at).copied();
        let grouped = matches!(next, Some(b' ' | b'-')) && bytes.get(at + 1).is_some_and(u8::is_ascii_digit);
        let group_ends = grouped || next.is_none_or(|b| !b.is_ascii_alphanumeric());
        if group_ends && digits >= 13 {
            let sum = if digits % 2 == 0 { sum_if_even_len } else { sum_if_odd_len };
            if sum % 10 == 0 {
                card = Some(at);
            }
        }
        match next {
            Some(b'0'..=b'9') => {}
            _ if grouped => at += 1,
            _ => break,
        }
    }
    card
}

/// Where the next group of the digit run containing `at` starts, or the end
/// of the run.
fn next_group(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && bytes[at].is_ascii_digit() {
        at += 1;
    }
    let grouped =
        matches!(bytes.get(at), Some(b' ' | b'-')) && bytes.get(at + 1).is_some_and(u8::is_ascii_digit);
    if grouped { at + 1 } else { at }
}

/// E-mail addresses: a local part, `@`, and a domain of at least two labels
/// whose last is two or more letters.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmailAddress;

impl Pattern for EmailAddress {
    fn find(&self, text: &str) -> Option<Range<usize>> {
        if text.len() < "a@b.cd".len() {
            return None;
        }
        let bytes = text.as_bytes();
        let mut from = 0;
        while let Some(offset) = bytes[from..].iter().position(|b| *b == b'@') {
            let at = from + offset;
            from = at + 1;
            let local = bytes[..at].iter().rev().take_while(|b| is_local_part(**b)).count();
            if local == 0 {
                continue;
            }
            if let Some(end) = domain_end(bytes, at + 1) {
                return Some(at - local..end);
            }
        }
        None
    }
}

fn is_local_part(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// Where a domain starting at `start` ends, if it is one: labels of letters,
/// digits and dashes separated by dots, the last one alphabetic.
fn domain_end(bytes: &[u8], start: usize) -> Option<usize> {
    let (mut at, mut labels, mut last_label) = (start, 0, start..start);
    loop {
        let len = bytes[at..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'-').count();
        if len == 0 {
            break;
        }
        last_label = at..at + len;
        labels += 1;
        at += len;
        if bytes.get(at) == Some(&b'.') && bytes.get(at + 1).is_some_and(u8::is_ascii_alphanumeric) {
            at += 1;
        } else {
            break;
        }
    }
    let tld = &bytes[last_label.clone()];
    (labels >= 2 && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic)).then_some(last_label.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found<'t>(pattern: &impl Pattern, text: &'t str) -> Option<&'t str> {
        pattern.find(text).map(|r| &text[r])
    }

    #[test]
    fn bearer_tokens_are_found_after_the_scheme_in_any_case() {
        assert_eq!(found(&BearerToken, "Authorization: Bearer abc.DEF-123_~+/=="), Some("abc.DEF-123_~+/=="));
        assert_eq!(found(&BearerToken, "bearer\teyJhbGciOiJIUzI1NiJ9"), Some("eyJhbGciOiJIUzI1NiJ9"));
        assert_eq!(found(&BearerToken, "BEARER  0123456789"), Some("0123456789"));
    }

    #[test]
    fn bearer_as_an_ordinary_word_is_left_alone() {
        assert_eq!(found(&BearerToken, "the bearer of bad news"), None);
        assert_eq!(found(&BearerToken, "cardbearer 0123456789abc"), None);
        assert_eq!(found(&BearerToken, "Bearer"), None);
        assert_eq!(found(&BearerToken, "Bearer short"), None);
    }

    #[test]
    fn card_numbers_pass_luhn_and_may_be_grouped() {
        assert_eq!(found(&CardNumber, "card 4111111111111111 declined"), Some("4111111111111111"));
        assert_eq!(found(&CardNumber, "4111 1111 1111 1111"), Some("4111 1111 1111 1111"));
        assert_eq!(found(&CardNumber, "amex 3782-822463-10005."), Some("3782-822463-10005"));
        assert_eq!(found(&CardNumber, "5555555555554444"), Some("5555555555554444"));
    }

    #[test]
    fn numbers_that_are_not_cards_are_left_alone() {
        assert_eq!(found(&CardNumber, "4111111111111112"), None, "Luhn fails");
        assert_eq!(found(&CardNumber, "1700000000000003"), None, "no card starts with 1");
        assert_eq!(found(&CardNumber, "order 411111111111"), None, "12 digits");
        assert_eq!(found(&CardNumber, "id-x4111111111111111"), None, "part of a word");
        assert_eq!(found(&CardNumber, "4111111111111111abc"), None, "part of a word");
        assert_eq!(found(&CardNumber, "41111111111111111111111"), None, "too long");
        assert_eq!(found(&CardNumber, "4111  1111 1111 1111"), None, "a double space ends the run");
        assert_eq!(
            found(&CardNumber, "4111111111111111-"),
            Some("4111111111111111"),
            "a dash after is no group"
        );
    }

    #[test]
    fn a_card_after_a_rejected_run_is_still_found() {
        assert_eq!(found(&CardNumber, "order 12345, card 4111111111111111"), Some("4111111111111111"));
    }

    #[test]
    fn a_neighbouring_number_does_not_hide_a_card() {
        assert_eq!(found(&CardNumber, "qty 2 4111 1111 1111 1111"), Some("4111 1111 1111 1111"));
        assert_eq!(found(&CardNumber, "4111 1111 1111 1111 5"), Some("4111 1111 1111 1111"));
        assert_eq!(found(&CardNumber, "ref 12-4111111111111111"), Some("4111111111111111"));
    }

    #[test]
    fn email_addresses_need_a_dotted_domain() {
        assert_eq!(
            found(&EmailAddress, "sent to jane.doe+shop@example.co.uk."),
            Some("jane.doe+shop@example.co.uk")
        );
        assert_eq!(found(&EmailAddress, "<a@b.io>"), Some("a@b.io"));
        assert_eq!(found(&EmailAddress, "user@localhost"), None);
        assert_eq!(found(&EmailAddress, "@example.com"), None);
        assert_eq!(found(&EmailAddress, "pin@1.2"), None, "the last label is not alphabetic");
        assert_eq!(found(&EmailAddress, "x@@y a@b.cd"), Some("a@b.cd"));
    }
}
