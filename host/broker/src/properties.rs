//! Reads Kafka's `server.properties` (Java properties) format and feeds it to figment as nested keys.

use std::path::{Path, PathBuf};

use figment::value::{Dict, Map, Value};
use figment::{Error as FigmentError, Metadata, Profile, Provider};

/// Parses Java-properties text into `(key, value)` pairs in file order.
///
/// Supports `#`/`!` comments, `=`, `:` or whitespace separators, backslash line continuations and the
/// usual escapes (`\t \n \r \f \\ \uXXXX`, escaped separators), which is what server.properties files use.
pub fn parse(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut continuing = false;
    for raw in text.lines() {
        let line = if continuing {
            raw.trim_start()
        } else {
            let t = raw.trim_start();
            if t.is_empty() || t.starts_with('#') || t.starts_with('!') {
                continue;
            }
            t
        };
        // A line continues when it ends in an odd number of backslashes.
        let trailing = line.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continuing = true;
            continue;
        }
        logical.push_str(line);
        continuing = false;
        out.push(split_entry(&logical));
        logical.clear();
    }
    if !logical.is_empty() {
        out.push(split_entry(&logical));
    }
    out
}

fn split_entry(line: &str) -> (String, String) {
    let mut key = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    key.push(unescape_char(n, &mut chars));
                }
            }
            '=' | ':' => break,
            c if c.is_whitespace() => {
                // Whitespace ends the key; an `=`/`:` may still follow it.
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() {
                        chars.next();
                    } else {
                        break;
                    }
                }
                if let Some(&n) = chars.peek() {
                    if n == '=' || n == ':' {
                        chars.next();
                    }
                }
                break;
            }
            c => key.push(c),
        }
    }
    while let Some(&n) = chars.peek() {
        if n.is_whitespace() {
            chars.next();
        } else {
            break;
        }
    }
    let mut value = String::new();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                value.push(unescape_char(n, &mut chars));
            }
        } else {
            value.push(c);
        }
    }
    (key, value.trim_end().to_string())
}

fn unescape_char(c: char, rest: &mut std::iter::Peekable<std::str::Chars<'_>>) -> char {
    match c {
        't' => '\t',
        'n' => '\n',
        'r' => '\r',
        'f' => '\u{c}',
        'u' => {
            let hex: String = (0..4).filter_map(|_| rest.next()).collect();
            u32::from_str_radix(&hex, 16)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}')
        }
        other => other,
    }
}

/// Nests a dotted key (`log.retention.ms`) into dictionaries, the shape figment uses for key paths.
pub fn nest(key: &str, value: Value) -> Dict {
    let mut parts: Vec<&str> = key.split('.').collect();
    let mut current = value;
    while parts.len() > 1 {
        let last = parts.pop().unwrap_or_default();
        let mut d = Dict::new();
        d.insert(last.to_string(), current);
        current = Value::from(d);
    }
    let mut top = Dict::new();
    top.insert(
        parts.first().copied().unwrap_or_default().to_string(),
        current,
    );
    top
}

/// Deep-merges `src` into `dst`, later values winning.
pub fn merge_into(dst: &mut Dict, src: Dict) {
    for (k, v) in src {
        match (dst.get_mut(&k), v) {
            (Some(Value::Dict(_, existing)), Value::Dict(_, incoming)) => {
                merge_into(existing, incoming)
            }
            (_, v) => {
                dst.insert(k, v);
            }
        }
    }
}

/// A figment provider for a `.properties` file.
pub struct PropertiesFile {
    path: PathBuf,
}

impl PropertiesFile {
    pub fn new(path: &Path) -> Self {
        PropertiesFile {
            path: path.to_path_buf(),
        }
    }
}

impl Provider for PropertiesFile {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("properties file {}", self.path.display()))
            .source(self.path.display().to_string())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, FigmentError> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| FigmentError::from(format!("cannot read {}: {e}", self.path.display())))?;
        let mut dict = Dict::new();
        for (k, v) in parse(&text) {
            merge_into(&mut dict, nest(&k, Value::from(v)));
        }
        let mut map = Map::new();
        map.insert(Profile::Default, dict);
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_properties_forms() {
        let text =
            "# comment\n! also comment\nlog.dirs=/tmp/kafka-logs\nlisteners = PLAINTEXT://:9092\n\
                    num.partitions: 3\nkey\\=with\\:seps value x\nlong=a,\\\n    b\nempty=\n";
        let entries = parse(text);
        assert_eq!(
            entries,
            vec![
                ("log.dirs".into(), "/tmp/kafka-logs".into()),
                ("listeners".into(), "PLAINTEXT://:9092".into()),
                ("num.partitions".into(), "3".into()),
                ("key=with:seps".into(), "value x".into()),
                ("long".into(), "a,b".into()),
                ("empty".into(), "".into()),
            ]
        );
    }

    #[test]
    fn unicode_escape() {
        assert_eq!(parse("a=\\u0041b")[0].1, "Ab");
    }
}
