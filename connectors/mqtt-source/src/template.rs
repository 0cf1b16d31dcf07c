//! Kafka topic and key templates over the MQTT topic: `${topic}` (the whole MQTT topic, `/`
//! written as `.`) and `${level.N}` (level N, counted from 0), between literal text.

use weft_plugin_sdk::template::{pieces, Piece};

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Topic,
    Level(usize),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; an unknown `${...}` or an unclosed one is an error naming it.
    pub fn parse(text: &str) -> Result<Template, String> {
        let parts = pieces(text)?
            .into_iter()
            .map(|piece| match piece {
                Piece::Text(t) => Ok(Part::Text(t.to_string())),
                Piece::Placeholder("topic") => Ok(Part::Topic),
                Piece::Placeholder(name) => {
                    match name.strip_prefix("level.").map(str::parse::<usize>) {
                        Some(Ok(n)) => Ok(Part::Level(n)),
                        _ => Err(format!(
                            "unknown `${{{name}}}` in template `{text}` (use ${{topic}} or \
                             ${{level.N}})"
                        )),
                    }
                }
            })
            .collect::<Result<_, String>>()?;
        Ok(Template { parts })
    }

    /// Whether the template is literal text only.
    pub fn is_fixed(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// Renders the template for one MQTT topic into `out` (cleared first). A level the topic
    /// does not have renders as nothing.
    pub fn render_into(&self, mqtt_topic: &str, out: &mut String) {
        out.clear();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Topic => {
                    out.extend(mqtt_topic.chars().map(|c| if c == '/' { '.' } else { c }))
                }
                Part::Level(n) => out.push_str(mqtt_topic.split('/').nth(*n).unwrap_or("")),
            }
        }
    }
}

/// Makes `name` a legal Kafka topic name: characters other than `[a-zA-Z0-9._-]` become `_`,
/// and it is cut at 249 bytes (Kafka's limit); an empty name becomes `_`.
pub fn kafka_topic_name(name: &mut String) {
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        *name = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
    }
    name.truncate(249);
    if name.is_empty() || name == "." || name == ".." {
        name.push('_');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str, topic: &str) -> String {
        let mut s = String::new();
        Template::parse(t).unwrap().render_into(topic, &mut s);
        s
    }

    #[test]
    fn templates_render_levels_and_the_topic() {
        assert_eq!(render("${level.2}", "sensors/dev-7/temp"), "temp");
        assert_eq!(render("${level.1}", "sensors/dev-7/temp"), "dev-7");
        assert_eq!(render("mqtt.${topic}", "a/b"), "mqtt.a.b");
        assert_eq!(render("x-${level.9}", "a/b"), "x-");
        assert!(Template::parse("fixed").unwrap().is_fixed());
        assert!(Template::parse("${nope}").unwrap_err().contains("unknown"));
        assert!(Template::parse("${topic").unwrap_err().contains("unclosed"));
    }

    #[test]
    fn topic_names_are_made_legal() {
        let mut s = "a b/ü".to_string();
        kafka_topic_name(&mut s);
        assert_eq!(s, "a_b__");
        let mut e = String::new();
        kafka_topic_name(&mut e);
        assert_eq!(e, "_");
    }
}
