//! A `.properties` reader with `java.util.Properties.load` rules, so Kafka's own files read
//! exactly as Kafka reads them: `=`, `:` or whitespace between key and value, `#`/`!` comment
//! lines, `\` line continuations, `\t \n \r \f \uXXXX` escapes (any other escaped character
//! stands for itself), leading whitespace dropped, trailing whitespace kept, last key wins.

use crate::model::ConfigMap;

/// A malformed line, with its 1-based number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct PropertiesError {
    pub line: usize,
    pub message: String,
}

/// Decodes a file's bytes as `Properties.load(InputStream)` would: UTF-8 when they are valid
/// UTF-8 (what people write today), else ISO-8859-1 (what Java assumes).
pub fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\u{c}'
}

/// Whether a natural line ends in an odd number of backslashes (a continuation).
fn continues(line: &str) -> bool {
    line.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Parses the text of a `.properties` file.
pub fn parse(text: &str) -> Result<ConfigMap, PropertiesError> {
    let mut out = ConfigMap::new();
    // Natural lines end at \n, \r or \r\n.
    let normalised = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines = normalised.split('\n').enumerate().peekable();
    while let Some((idx, natural)) = lines.next() {
        let start_line = idx + 1;
        let trimmed = natural.trim_start_matches(is_ws);
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        let mut logical = String::new();
        let mut current = trimmed;
        loop {
            if continues(current) {
                logical.push_str(&current[..current.len() - 1]);
                match lines.next() {
                    Some((_, next)) => current = next.trim_start_matches(is_ws),
                    None => break,
                }
            } else {
                logical.push_str(current);
                break;
            }
        }
        let (key, value) = split_key_value(&logical);
        let key = unescape(key).map_err(|message| PropertiesError {
            line: start_line,
            message,
        })?;
        let value = unescape(value).map_err(|message| PropertiesError {
            line: start_line,
            message,
        })?;
        out.insert(key, value);
    }
    Ok(out)
}

/// Splits a logical line into its raw (still escaped) key and value.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    let mut sep: Option<char> = None;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || is_ws(c) {
            key_end = i;
            sep = Some(c);
            break;
        }
    }
    let key = &line[..key_end];
    let mut rest = &line[key_end..];
    if let Some(c) = sep {
        rest = &rest[c.len_utf8()..];
        if is_ws(c) {
            // Whitespace, then at most one `=` or `:`, then whitespace.
            rest = rest.trim_start_matches(is_ws);
            if let Some(r) = rest.strip_prefix('=').or_else(|| rest.strip_prefix(':')) {
                rest = r;
            }
        }
        rest = rest.trim_start_matches(is_ws);
    }
    (key, rest)
}

fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // A lone backslash at the very end (the file ended mid-continuation) is dropped.
            None => {}
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| format!("malformed \\uxxxx escape `\\u{hex}`"))?;
                // Java strings are UTF-16: a surrogate pair arrives as two escapes.
                if (0xD800..0xDC00).contains(&code) {
                    let rest = chars.as_str();
                    let low = rest
                        .strip_prefix("\\u")
                        .and_then(|r| r.get(..4))
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .filter(|l| (0xDC00..0xE000).contains(l));
                    match low {
                        Some(l) => {
                            let cp = 0x10000 + ((code - 0xD800) << 10) + (l - 0xDC00);
                            out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                            chars.nth(5);
                        }
                        None => out.push('\u{FFFD}'),
                    }
                } else {
                    out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                }
            }
            Some(other) => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(m: &ConfigMap, k: &str) -> Option<String> {
        m.get(k).cloned()
    }

    #[test]
    fn separators_comments_and_whitespace() {
        let m = parse(
            "# comment\n! also a comment\n  \na=1\nb : 2\nc 3\nd\t=\t4  \ne=\nf\n g = x = y\nh:i:j\n",
        )
        .unwrap();
        assert_eq!(get(&m, "a").as_deref(), Some("1"));
        assert_eq!(get(&m, "b").as_deref(), Some("2"));
        assert_eq!(get(&m, "c").as_deref(), Some("3"));
        // Trailing whitespace is part of the value, as in Java.
        assert_eq!(get(&m, "d").as_deref(), Some("4  "));
        assert_eq!(get(&m, "e").as_deref(), Some(""));
        assert_eq!(get(&m, "f").as_deref(), Some(""));
        assert_eq!(get(&m, "g").as_deref(), Some("x = y"));
        assert_eq!(get(&m, "h").as_deref(), Some("i:j"));
        assert_eq!(m.len(), 8);
    }

    #[test]
    fn continuations_and_escapes() {
        let m = parse(
            "list=a,\\\n    b,\\\r\n\tc\nkey\\ with\\=sep=v\\tw\\nx\\\\y\nu=\\u00e9\\u20AC\\z\n\
             pair=\\ud83d\\ude00\n# not a \\\ncontinuation=yes\n",
        )
        .unwrap();
        assert_eq!(get(&m, "list").as_deref(), Some("a,b,c"));
        assert_eq!(get(&m, "key with=sep").as_deref(), Some("v\tw\nx\\y"));
        assert_eq!(get(&m, "u").as_deref(), Some("é€z"));
        assert_eq!(get(&m, "pair").as_deref(), Some("😀"));
        assert_eq!(get(&m, "continuation").as_deref(), Some("yes"));
    }

    #[test]
    fn last_key_wins_and_even_backslashes_do_not_continue() {
        let m = parse("a=1\na=2\nb=x\\\\\nc=3").unwrap();
        assert_eq!(get(&m, "a").as_deref(), Some("2"));
        assert_eq!(get(&m, "b").as_deref(), Some("x\\"));
        assert_eq!(get(&m, "c").as_deref(), Some("3"));
    }

    #[test]
    fn malformed_unicode_escape_names_the_line() {
        let e = parse("ok=1\n\nbad=\\u12G4\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("\\u"), "{e}");
        assert!(parse("bad=\\u12").is_err());
    }

    #[test]
    fn latin1_fallback() {
        assert_eq!(decode(b"a=caf\xe9"), "a=café");
        assert_eq!(decode("a=café".as_bytes()), "a=café");
    }
}
