//! A logfmt parser, strict about the grammar the formatter promises, to read
//! lines back in tests.

/// The pairs of one line, in order; `Err` says where the line is malformed.
pub(crate) fn parse(line: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = line.char_indices().peekable();
    loop {
        let Some(&(start, _)) = chars.peek() else { return Ok(pairs) };
        if !pairs.is_empty() {
            match chars.next() {
                Some((_, ' ')) => {}
                other => return Err(format!("expected a space at {start}, found {other:?}")),
            }
        }
        let mut key = String::new();
        loop {
            match chars.next() {
                Some((_, '=')) => break,
                Some((at, c)) if c <= ' ' || c == '"' => {
                    return Err(format!("invalid key character {c:?} at {at}"));
                }
                Some((_, c)) => key.push(c),
                None => return Err(format!("key {key:?} without a value")),
            }
        }
        if key.is_empty() {
            return Err(format!("empty key at {start}"));
        }
        let mut value = String::new();
        if chars.peek().is_some_and(|(_, c)| *c == '"') {
            chars.next();
            loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '"')) => value.push('"'),
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, 'r')) => value.push('\r'),
                        Some((_, 't')) => value.push('\t'),
                        Some((_, 'u')) => {
                            let hex: String = (0..4).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
                            let code = u32::from_str_radix(&hex, 16).map_err(|e| format!("\\u{hex}: {e}"))?;
                            value.push(char::from_u32(code).ok_or(format!("\\u{hex} is not a character"))?);
                        }
                        other => return Err(format!("unknown escape {other:?}")),
                    },
                    Some((at, c)) if c.is_control() => return Err(format!("raw control {c:?} at {at}")),
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated quoted value".into()),
                }
            }
        } else {
            while let Some(&(at, c)) = chars.peek() {
                if c == ' ' {
                    break;
                }
                if c < ' ' || c == '"' || c == '=' || c.is_control() {
                    return Err(format!("{c:?} in a bare value at {at}"));
                }
                value.push(c);
                chars.next();
            }
            if value.is_empty() {
                return Err(format!("empty bare value for {key:?}"));
            }
        }
        pairs.push((key, value));
    }
}

/// The value of `key` in parsed pairs.
#[allow(dead_code)]
pub(crate) fn get<'p>(pairs: &'p [(String, String)], key: &str) -> Option<&'p str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}
