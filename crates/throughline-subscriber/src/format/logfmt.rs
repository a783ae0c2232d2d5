//! logfmt lines: `key=value` pairs separated by spaces.
//!
//! A value is quoted when it is empty or holds a space, `=`, `"` or a control
//! or whitespace character; inside quotes, `"` and `\` are escaped with a
//! backslash, newline, carriage return and tab as `\n`, `\r`, `\t`, and any
//! other control or line-separator character as `\uXXXX`. A key holding
//! such characters has them replaced by `_`, since keys cannot be quoted.

use std::fmt;
use std::ops::Range;

use tracing_subscriber::fmt::format::Writer;

use super::line::Syntax;
use crate::redaction::REDACTED;

pub(crate) struct LogfmtSyntax;

impl Syntax for LogfmtSyntax {
    const START: &'static str = "";
    const END: &'static str = "\n";

    fn key(out: &mut Writer<'_>, first: bool, prefix: &str, key: &str) -> fmt::Result {
        if !first {
            out.write_char(' ')?;
        }
        if !prefix.is_empty() {
            out.write_str(prefix)?;
        }
        if key.is_empty() {
            out.write_char('_')?;
        } else if !key.bytes().all(is_plain) && key.chars().any(breaks_key) {
            for c in key.chars() {
                out.write_char(if breaks_key(c) { '_' } else { c })?;
            }
        } else {
            out.write_str(key)?;
        }
        out.write_char('=')
    }

    fn string(out: &mut Writer<'_>, text: &str, secrets: &[Range<usize>]) -> fmt::Result {
        // What is shown decides: a secret with a space in it, once replaced,
        // needs no quotes.
        let quoted = text.is_empty() || outside(text, secrets).any(breaks_value);
        if quoted {
            out.write_char('"')?;
        }
        let mut written = 0;
        for secret in secrets.iter().cloned() {
            write_part(out, &text[written..secret.start], quoted)?;
            out.write_str(REDACTED)?;
            written = secret.end;
        }
        write_part(out, &text[written..], quoted)?;
        if quoted {
            out.write_char('"')?;
        }
        Ok(())
    }

    fn plain_string(out: &mut Writer<'_>, text: &str) -> fmt::Result {
        out.write_str(text)
    }

    fn float(out: &mut Writer<'_>, value: f64) -> fmt::Result {
        write!(out, "{value}")
    }
}

/// The parts of `text` outside `secrets`.
fn outside<'t>(text: &'t str, secrets: &'t [Range<usize>]) -> impl Iterator<Item = &'t str> {
    let starts = std::iter::once(0).chain(secrets.iter().map(|s| s.end));
    let ends = secrets.iter().map(|s| s.start).chain(std::iter::once(text.len()));
    starts.zip(ends).map(|(start, end)| &text[start..end])
}

fn write_part(out: &mut Writer<'_>, text: &str, quoted: bool) -> fmt::Result {
    if quoted { escape(out, text) } else { out.write_str(text) }
}

/// An ASCII byte a bare key or value may hold.
fn is_plain(byte: u8) -> bool {
    byte > b' ' && byte < 0x7f && byte != b'=' && byte != b'"'
}

/// Whether `text` holds what a bare value cannot.
fn breaks_value(text: &str) -> bool {
    !text.bytes().all(|b| is_plain(b) || b >= 0x80)
        || (!text.is_ascii() && text.chars().any(|c| c.is_whitespace() || needs_unicode_escape(c)))
}

/// Characters a key cannot hold: they would end it or the line.
fn breaks_key(c: char) -> bool {
    c <= ' ' || c == '=' || c == '"' || c.is_whitespace() || needs_unicode_escape(c)
}

/// Controls, and the characters some tools take for line breaks.
fn needs_unicode_escape(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

fn escape(out: &mut Writer<'_>, text: &str) -> fmt::Result {
    let bytes = text.as_bytes();
    let (mut run, mut at) = (0, 0);
    while at < bytes.len() {
        // Bytewise: a C1 control is 0xC2 then 0x80..=0x9F in UTF-8, and the
        // line and paragraph separators are 0xE2 0x80 0xA8 and 0xA9.
        let (escaped, width) = match bytes[at] {
            b'"' => ("\\\"", 1),
            b'\\' => ("\\\\", 1),
            b'\n' => ("\\n", 1),
            b'\r' => ("\\r", 1),
            b'\t' => ("\\t", 1),
            0..=0x1f | 0x7f => ("", 1),
            0xc2 if matches!(bytes.get(at + 1), Some(0x80..=0x9f)) => ("", 2),
            0xe2 if bytes.get(at + 1) == Some(&0x80) && matches!(bytes.get(at + 2), Some(0xa8 | 0xa9)) => {
                ("", 3)
            }
            _ => {
                at += 1;
                continue;
            }
        };
        out.write_str(&text[run..at])?;
        if escaped.is_empty() {
            let code = text[at..].chars().next().map_or(0, u32::from);
            write!(out, "\\u{code:04x}")?;
        } else {
            out.write_str(escaped)?;
        }
        at += width;
        run = at;
    }
    out.write_str(&text[run..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> String {
        redacted(text, &[])
    }

    fn redacted(text: &str, secrets: &[Range<usize>]) -> String {
        let mut out = String::new();
        LogfmtSyntax::string(&mut Writer::new(&mut out), text, secrets).unwrap();
        out
    }

    fn key(key: &str) -> String {
        let mut out = String::new();
        LogfmtSyntax::key(&mut Writer::new(&mut out), true, "", key).unwrap();
        out
    }

    #[test]
    fn simple_values_are_bare() {
        assert_eq!(value("orders"), "orders");
        assert_eq!(value("a\\b"), "a\\b");
        assert_eq!(value("naïve"), "naïve");
    }

    #[test]
    fn values_that_would_break_the_line_are_quoted_and_escaped() {
        assert_eq!(value(""), "\"\"");
        assert_eq!(value("card declined"), "\"card declined\"");
        assert_eq!(value("a=b"), "\"a=b\"");
        assert_eq!(value(r#"say "hi"\"#), r#""say \"hi\"\\""#);
        assert_eq!(value("a\nb\tc\u{1}"), "\"a\\nb\\tc\\u0001\"");
        assert_eq!(value("nbsp\u{a0}x"), "\"nbsp\u{a0}x\"");
        assert_eq!(value("ls\u{2028}"), "\"ls\\u2028\"");
    }

    #[test]
    fn quotes_depend_on_what_is_shown_once_secrets_are_replaced() {
        let whole = Range { start: 0, end: 19 };
        assert_eq!(redacted("4111 1111 1111 1111", std::slice::from_ref(&whole)), "[REDACTED]");
        let tail = Range { start: 5, end: 24 };
        assert_eq!(redacted("card 4111 1111 1111 1111", std::slice::from_ref(&tail)), "\"card [REDACTED]\"");
    }

    #[test]
    fn c1_controls_and_separators_are_escaped_and_other_characters_kept() {
        assert_eq!(
            value("a b\u{85}\u{9f}\u{a0}\u{2028}\u{2029}\u{2027}é"),
            "\"a b\\u0085\\u009f\u{a0}\\u2028\\u2029\u{2027}é\""
        );
    }

    #[test]
    fn keys_lose_what_they_cannot_hold() {
        assert_eq!(key("order.id"), "order.id=");
        assert_eq!(key("my key=\"x\""), "my_key__x_=");
        assert_eq!(key(""), "_=");
    }
}
