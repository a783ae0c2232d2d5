//! JSON lines: one object per event, keys flat.

use std::fmt;
use std::ops::Range;

use tracing_subscriber::fmt::format::Writer;

use super::line::Syntax;
use crate::redaction::REDACTED;

pub(crate) struct JsonSyntax;

impl Syntax for JsonSyntax {
    const START: &'static str = "{";
    const END: &'static str = "}\n";

    fn key(out: &mut Writer<'_>, first: bool, prefix: &str, key: &str) -> fmt::Result {
        out.write_str(if first { "\"" } else { ",\"" })?;
        if !prefix.is_empty() {
            out.write_str(prefix)?;
        }
        escape(out, key)?;
        out.write_str("\":")
    }

    fn string(out: &mut Writer<'_>, text: &str, secrets: &[Range<usize>]) -> fmt::Result {
        out.write_char('"')?;
        let mut written = 0;
        for secret in secrets.iter().cloned() {
            escape(out, &text[written..secret.start])?;
            out.write_str(REDACTED)?;
            written = secret.end;
        }
        escape(out, &text[written..])?;
        out.write_char('"')
    }

    fn plain_string(out: &mut Writer<'_>, text: &str) -> fmt::Result {
        out.write_char('"')?;
        out.write_str(text)?;
        out.write_char('"')
    }

    fn float(out: &mut Writer<'_>, value: f64) -> fmt::Result {
        if value.is_finite() {
            write!(out, "{value}")
        } else {
            // JSON has no NaN or infinity: they travel as strings.
            write!(out, "\"{value}\"")
        }
    }
}

/// Writes `text` as the inside of a JSON string (RFC 8259 section 7): quote,
/// backslash and control characters escaped, everything else as is, in runs.
fn escape(out: &mut Writer<'_>, text: &str) -> fmt::Result {
    let bytes = text.as_bytes();
    let mut run = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if byte >= 0x20 && byte != b'"' && byte != b'\\' {
            continue;
        }
        // `byte` is ASCII, so `at` is a character boundary.
        out.write_str(&text[run..at])?;
        match byte {
            b'"' => out.write_str("\\\"")?,
            b'\\' => out.write_str("\\\\")?,
            b'\n' => out.write_str("\\n")?,
            b'\r' => out.write_str("\\r")?,
            b'\t' => out.write_str("\\t")?,
            control => write!(out, "\\u{control:04x}")?,
        }
        run = at + 1;
    }
    out.write_str(&text[run..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        escape(&mut Writer::new(&mut out), text).unwrap();
        out
    }

    #[test]
    fn quotes_backslashes_and_controls_are_escaped() {
        assert_eq!(escaped(r#"say "hi"\now"#), r#"say \"hi\"\\now"#);
        assert_eq!(escaped("a\nb\r\tc\u{0}\u{1f}"), "a\\nb\\r\\tc\\u0000\\u001f");
        assert_eq!(escaped("naïve ☃ \u{7f}"), "naïve ☃ \u{7f}");
    }

    #[test]
    fn non_finite_floats_are_strings() {
        let mut out = String::new();
        JsonSyntax::float(&mut Writer::new(&mut out), f64::NAN).unwrap();
        JsonSyntax::float(&mut Writer::new(&mut out), 0.25).unwrap();
        assert_eq!(out, "\"NaN\"0.25");
    }
}
