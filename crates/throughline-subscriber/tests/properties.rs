//! Properties over any value: JSON lines stay valid JSON, logfmt lines parse
//! back to what was logged, and a secret never survives redaction.

#[path = "support/lines.rs"]
mod lines;
#[path = "support/logfmt.rs"]
mod logfmt;

use std::fmt;

use proptest::prelude::*;
use throughline_subscriber::{ContextLayer, Json, Logfmt, Redaction};
use tracing_subscriber::prelude::*;

use self::lines::Lines;

/// A `Debug` whose output is exactly the given text, written in two pieces.
struct Odd(String);

impl fmt::Debug for Odd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let middle = self.0.char_indices().nth(self.0.chars().count() / 2).map_or(0, |(at, _)| at);
        f.write_str(&self.0[..middle])?;
        f.write_str(&self.0[middle..])
    }
}

/// Logs `text` as a message, a `Display` field, a `Debug` field and a span
/// field, with redaction as given.
fn log_everywhere(text: &str, format: &str, redaction: Redaction) -> Lines {
    let lines = Lines::default();
    let layer = match format {
        "json" => Json::default().with_redaction(redaction).layer().with_writer(lines.clone()).boxed(),
        _ => Logfmt::default().with_redaction(redaction).layer().with_writer(lines.clone()).boxed(),
    };
    let subscriber = tracing_subscriber::registry().with(ContextLayer::new()).with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("request", inherited = text).in_scope(|| {
            tracing::info!(shown = %text, debugged = ?Odd(text.to_owned()), "{}", text);
        });
    });
    lines
}

/// Text with everything that can break a line: quotes, backslashes,
/// controls, line separators, non-ASCII, `=` and spaces.
fn nasty_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('\n'),
                Just('\r'),
                Just('\t'),
                Just('\u{0}'),
                Just('\u{1b}'),
                Just('\u{7f}'),
                Just('\u{85}'),
                Just('\u{2028}'),
                Just('='),
                Just(' '),
                Just('é'),
                Just('☃'),
                Just('{'),
                any::<char>(),
            ],
            0..24
        )
        .prop_map(|chars| chars.into_iter().collect()),
    ]
}

fn valid_card() -> impl Strategy<Value = String> {
    (2u8..=6, proptest::collection::vec(0u8..10, 14)).prop_map(|(first, middle)| {
        let mut digits: Vec<u8> = std::iter::once(first).chain(middle).collect();
        // The check digit that makes the Luhn sum a multiple of ten.
        let sum: u32 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &d)| {
                let d = u32::from(d);
                if i % 2 == 0 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
            })
            .sum();
        digits.push(((10 - sum % 10) % 10) as u8);
        digits.iter().map(|d| char::from(b'0' + d)).collect()
    })
}

fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        valid_card(),
        valid_card().prop_map(|card| format!(
            "{} {} {} {}",
            &card[..4],
            &card[4..8],
            &card[8..12],
            &card[12..]
        )),
        "[a-z][a-z0-9._+-]{0,12}@[a-z][a-z0-9-]{0,8}\\.[a-z]{2,6}",
        "[A-Za-z0-9_~+/-]{8,40}={0,2}".prop_map(|token| format!("Bearer {token}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn json_lines_are_valid_json_holding_exactly_what_was_logged(text in nasty_text()) {
        let lines = log_everywhere(&text, "json", Redaction::none());
        let objects = lines.json();
        prop_assert_eq!(objects.len(), 1, "one line per event: {:?}", lines.text());
        let line = &objects[0];
        for key in ["message", "shown", "debugged", "inherited"] {
            prop_assert_eq!(line[key].as_str(), Some(text.as_str()), "{}", key);
        }
    }

    #[test]
    fn logfmt_lines_parse_back_to_exactly_what_was_logged(text in nasty_text()) {
        let lines = log_everywhere(&text, "logfmt", Redaction::none());
        let all = lines.lines();
        prop_assert_eq!(all.len(), 1, "one line per event: {:?}", lines.text());
        let pairs = logfmt::parse(&all[0]).map_err(TestCaseError::fail)?;
        for key in ["message", "shown", "debugged", "inherited"] {
            prop_assert_eq!(logfmt::get(&pairs, key), Some(text.as_str()), "{}", key);
        }
    }

    #[test]
    fn lines_stay_valid_with_redaction_on(text in nasty_text()) {
        let lines = log_everywhere(&text, "json", Redaction::default());
        prop_assert_eq!(lines.json().len(), 1);
        let lines = log_everywhere(&text, "logfmt", Redaction::default());
        prop_assert!(logfmt::parse(&lines.lines()[0]).is_ok(), "{}", lines.text());
    }

    #[test]
    fn a_secret_never_survives_whatever_surrounds_it(
        before in nasty_text(),
        secret in secret(),
        after in nasty_text(),
    ) {
        let text = format!("{before} {secret} {after}");
        let sensitive = secret.trim_start_matches("Bearer ");
        prop_assert!(!Redaction::default().redact_text(&text).contains(sensitive));
        for format in ["json", "logfmt"] {
            let lines = log_everywhere(&text, format, Redaction::default());
            // Read back, so that escaping cannot hide a leak.
            let values: Vec<String> = match format {
                "json" => lines.json()[0].values().map(|v| v.to_string()).collect(),
                _ => logfmt::parse(&lines.lines()[0]).map_err(TestCaseError::fail)?.into_iter().map(|(_, v)| v).collect(),
            };
            for value in values {
                prop_assert!(!value.contains(sensitive), "{} leaks {:?} in {:?}", format, sensitive, value);
            }
        }
    }
}
