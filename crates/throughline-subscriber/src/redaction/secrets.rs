//! The scan that finds the secrets of every pattern in one value, in time
//! linear in its length.
//!
//! After each secret, the patterns' next secrets are looked for in the rest
//! of the value. Asking every pattern again made a value with many secrets
//! cost a pass over the rest per secret (seconds for a few hundred
//! kilobytes); instead each pattern's next secret is remembered, and a
//! pattern scans again (from the end of the secret just taken) only once
//! that secret has passed the start of the one it remembered.

use std::ops::Range;
use std::sync::Arc;

use super::Pattern;

/// The secrets of one text, from [`Redaction::secrets`](crate::Redaction::secrets):
/// in order, without overlap, each as a byte range on character boundaries.
///
/// The earliest secret any pattern finds wins (the longest on a tie); then
/// the patterns look again in what follows it, as if the value started
/// there, except that a pattern whose next secret lies wholly after it
/// keeps that one (judged with what precedes it in the value).
///
/// ```
/// use throughline_subscriber::Redaction;
///
/// let text = "mail a@b.io, card 4111 1111 1111 1111";
/// let found: Vec<&str> = Redaction::default().secrets(text).map(|r| &text[r]).collect();
/// assert_eq!(found, ["a@b.io", "4111 1111 1111 1111"]);
/// ```
pub struct Secrets<'a> {
    patterns: &'a [Arc<dyn Pattern>],
    text: &'a str,
    /// Where the previous secret ended.
    at: usize,
    next: NextSecrets,
}

impl std::fmt::Debug for Secrets<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").field("patterns", &self.patterns.len()).finish_non_exhaustive()
    }
}

/// What is known of a pattern's next secret.
#[derive(Clone, Copy)]
enum Next {
    /// Not looked for yet: the pattern scans from here.
    ScanFrom(usize),
    Found {
        start: usize,
        end: usize,
    },
    /// The pattern has no more secrets in this text.
    Exhausted,
}

/// One [`Next`] per pattern, on the stack for the usual handful of patterns
/// (a log line does not allocate), on the heap beyond.
enum NextSecrets {
    Inline([Next; INLINE]),
    Heap(Vec<Next>),
}

const INLINE: usize = 8;

impl<'a> Secrets<'a> {
    pub(super) fn new(patterns: &'a [Arc<dyn Pattern>], text: &'a str) -> Self {
        let next = if patterns.len() <= INLINE {
            NextSecrets::Inline([Next::ScanFrom(0); INLINE])
        } else {
            NextSecrets::Heap(vec![Next::ScanFrom(0); patterns.len()])
        };
        Self { patterns, text, at: 0, next }
    }
}

impl Iterator for Secrets<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let (text, at) = (self.text, self.at);
        let next = match &mut self.next {
            NextSecrets::Inline(next) => &mut next[..self.patterns.len()],
            NextSecrets::Heap(next) => &mut next[..],
        };
        // The earliest secret wins; on a tie, the longest.
        let secret = self
            .patterns
            .iter()
            .zip(next)
            .filter_map(|(pattern, next)| next_after(pattern.as_ref(), text, next, at))
            .min_by_key(|secret| (secret.start, usize::MAX - secret.end))?;
        self.at = secret.end;
        Some(secret)
    }
}

/// The pattern's next secret starting at `at` or later: the remembered
/// one, or (when there is none yet, or the secret taken last passed its
/// start) the first in the text from `at`.
fn next_after(pattern: &dyn Pattern, text: &str, next: &mut Next, at: usize) -> Option<Range<usize>> {
    if let Next::Found { start, .. } = *next
        && start < at
    {
        *next = Next::ScanFrom(at);
    }
    if let Next::ScanFrom(from) = *next {
        *next = match text
            .get(from..)
            .filter(|rest| !rest.is_empty())
            .and_then(|rest| pattern.find(rest).map(|found| checked(rest, found)))
        {
            Some(found) => Next::Found { start: from + found.start, end: from + found.end },
            None => Next::Exhausted,
        };
    }
    match *next {
        Next::Found { start, end } => Some(start..end),
        Next::ScanFrom(_) | Next::Exhausted => None,
    }
}

/// A range a pattern returned or, when it is unusable, the text from its
/// start (at least one character) to the end. `text` is not empty.
fn checked(text: &str, range: Range<usize>) -> Range<usize> {
    if range.start < range.end && text.get(range.clone()).is_some() {
        return range;
    }
    let last_char = text.char_indices().next_back().map_or(0, |(at, _)| at);
    let start = (0..=range.start.min(last_char)).rev().find(|at| text.is_char_boundary(*at)).unwrap_or(0);
    start..text.len()
}

#[cfg(test)]
mod tests {
    use crate::{REDACTED, Redaction};

    #[test]
    fn a_pattern_passed_by_another_secret_looks_again_after_it() {
        // `example` starts inside the e-mail address, so the rule looks again
        // after the address and finds the next one.
        let policy = Redaction::default().pattern(|text: &str| text.find("example").map(|at| at..at + 7));
        assert_eq!(policy.redact_text("jane@example.com, example"), "[REDACTED], [REDACTED]");
    }

    #[test]
    fn more_patterns_than_fit_on_the_stack_all_count() {
        let policy = (0..12).fold(Redaction::none(), |policy, digit| {
            let needle = format!("<{digit}>");
            policy.pattern(move |text: &str| text.find(&needle).map(|at| at..at + needle.len()))
        });
        assert_eq!(policy.redact_text("<11> <0> <5> <3>"), "[REDACTED] [REDACTED] [REDACTED] [REDACTED]");
    }

    #[test]
    fn each_pattern_is_asked_once_per_secret_it_finds() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let policy = Redaction::default().pattern(move |text: &str| {
            counted.fetch_add(1, Ordering::Relaxed);
            text.find("zz").map(|at| at..at + 2)
        });
        let text = "a@b.cd ".repeat(1000) + "zz";
        let redacted = policy.redact_text(&text);
        assert_eq!(redacted.matches(REDACTED).count(), 1001);
        // Once, to find `zz` (nothing is left after it): not once per e-mail address.
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }
}
