//! The MQTT topic template of mqtt-sink: literal text with `${topic}` (the Kafka topic),
//! `${key}` (the record key as text), `${header.NAME}` (a header's value as text) and
//! `${field.NAME}` (a top-level field of a JSON object value).

use serde_json::Value;
use weft_plugin_sdk::template::{pieces, Piece};
use weft_plugin_sdk::Record;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Topic,
    Key,
    Header(String),
    Field(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; an unknown or unclosed `${...}` is an error naming it.
    pub fn parse(text: &str) -> Result<Template, String> {
        let parts = pieces(text)?
            .into_iter()
            .map(|piece| {
                let name = match piece {
                    Piece::Text(t) => return Ok(Part::Text(t.to_string())),
                    Piece::Placeholder(name) => name,
                };
                Ok(match name {
                    "topic" => Part::Topic,
                    "key" => Part::Key,
                    _ => {
                        if let Some(h) = name.strip_prefix("header.").filter(|h| !h.is_empty()) {
                            Part::Header(h.to_string())
                        } else if let Some(f) =
                            name.strip_prefix("field.").filter(|f| !f.is_empty())
                        {
                            Part::Field(f.to_string())
                        } else {
                            return Err(format!(
                                "unknown `${{{name}}}` in template `{text}` (use ${{topic}}, \
                                 ${{key}}, ${{header.NAME}} or ${{field.NAME}})"
                            ));
                        }
                    }
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Template { parts })
    }

    /// Whether the template reads the value (it is then parsed as JSON once per record).
    pub fn needs_value(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Field(_)))
    }

    /// The MQTT topic for one record, or why there is none.
    pub fn render(&self, r: &Record<'_>) -> Result<String, String> {
        let value: Option<Value> = if self.needs_value() {
            r.value().and_then(|v| serde_json::from_slice(v).ok())
        } else {
            None
        };
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Topic => out.push_str(&r.topic),
                Part::Key => out.push_str(
                    r.key_str()
                        .ok_or("the record has no UTF-8 key for ${key}")?,
                ),
                Part::Header(h) => {
                    let v = r
                        .headers
                        .get(h)
                        .flatten()
                        .ok_or_else(|| format!("the record has no header `{h}`"))?;
                    out.push_str(
                        std::str::from_utf8(v).map_err(|_| format!("header `{h}` is not UTF-8"))?,
                    );
                }
                Part::Field(f) => match value.as_ref().and_then(|v| v.get(f)) {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(Value::Number(n)) => out.push_str(&n.to_string()),
                    Some(Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
                    _ => return Err(format!("the value has no text or number field `{f}`")),
                },
            }
        }
        if out.is_empty() || out.contains(['+', '#', '\0']) {
            return Err(format!("`{out}` is not an MQTT topic one can publish to"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_from_topic_key_header_and_field() {
        let t = Template::parse("devices/${key}/${header.kind}/${field.cmd}/${topic}").unwrap();
        let mut r = Record::new("commands", br#"{"cmd":"reboot","n":1}"#.to_vec());
        r.set_key(b"dev-1".to_vec());
        r.headers.push("kind", Some(b"valve".to_vec()));
        assert_eq!(t.render(&r).unwrap(), "devices/dev-1/valve/reboot/commands");
        let mut bare = Record::new("commands", b"not json".to_vec());
        bare.set_key(b"k".to_vec());
        assert!(t.render(&bare).unwrap_err().contains("kind"));
        assert!(Template::parse("${nope}").is_err());
        let plus = Template::parse("${key}").unwrap();
        let mut r = Record::new("t", b"x".to_vec());
        r.set_key(b"a+b".to_vec());
        assert!(plus.render(&r).is_err());
    }
}
