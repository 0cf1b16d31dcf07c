//! `regex-router`: when the whole topic name matches `regex`, renames it to `replacement`
//! (`$1`... refer to capture groups), after Kafka Connect's `RegexRouter`.

use regex_lite::Regex;
use weft_plugin_sdk::*;

#[derive(Default)]
pub struct RegexRouter {
    regex: Option<Regex>,
    replacement: String,
}

impl Plugin for RegexRouter {
    fn metadata() -> Metadata {
        Metadata::new(
            "regex-router",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Rename topics that match a regex",
        )
        .config(
            ConfigDef::new(
                "regex",
                ConfigType::String,
                "Regex the whole topic name must match.",
            )
            .required(),
        )
        .config(
            ConfigDef::new(
                "replacement",
                ConfigType::String,
                "New topic name; $1.. are capture groups.",
            )
            .required(),
        )
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        let re = config.require("regex")?;
        // Anchored: Connect's RegexRouter uses Matcher.matches(), a whole-string match.
        self.regex = Some(
            Regex::new(&format!("^(?:{re})$"))
                .map_err(|e| PluginError::fatal(format!("bad regex: {e}")))?,
        );
        self.replacement = config.require("replacement")?.to_string();
        Ok(())
    }
}

impl Transform for RegexRouter {
    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        if let Some(re) = &self.regex {
            if re.is_match(&record.topic) {
                let renamed = re
                    .replace(&record.topic, self.replacement.as_str())
                    .into_owned();
                record.topic = renamed.into();
            }
        }
        Ok(Some(record))
    }
}
