//! `filter`: drops the records that match a predicate (keeps them all but those), after Kafka
//! Connect's `Filter` with its predicates: `topic-matches` (`pattern`, whole-name regex),
//! `has-header` (`header`), `is-tombstone`. `negate=true` drops the records that do not match.

use regex_lite::Regex;
use weft_plugin_sdk::*;

#[derive(Default)]
enum Predicate {
    #[default]
    IsTombstone,
    TopicMatches(Regex),
    HasHeader(String),
}

#[derive(Default)]
pub struct Filter {
    predicate: Predicate,
    negate: bool,
}

impl Plugin for Filter {
    fn metadata() -> Metadata {
        Metadata::new(
            "filter",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Drop records matching a predicate",
        )
        .config(
            ConfigDef::new(
                "predicate",
                ConfigType::String,
                "topic-matches, has-header or is-tombstone.",
            )
            .required(),
        )
        .config(ConfigDef::new(
            "pattern",
            ConfigType::String,
            "Regex for topic-matches.",
        ))
        .config(ConfigDef::new(
            "header",
            ConfigType::String,
            "Header name for has-header.",
        ))
        .config(
            ConfigDef::new(
                "negate",
                ConfigType::Boolean,
                "Drop the records that do not match instead.",
            )
            .default("false"),
        )
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.negate = config.bool("negate", false)?;
        self.predicate = match config.require("predicate")? {
            "is-tombstone" => Predicate::IsTombstone,
            "has-header" => Predicate::HasHeader(config.require("header")?.to_string()),
            "topic-matches" => {
                let p = config.require("pattern")?;
                Predicate::TopicMatches(
                    Regex::new(&format!("^(?:{p})$"))
                        .map_err(|e| PluginError::fatal(format!("bad pattern: {e}")))?,
                )
            }
            other => {
                return Err(PluginError::fatal(format!(
                    "unknown predicate `{other}` (topic-matches, has-header, is-tombstone)"
                )))
            }
        };
        Ok(())
    }
}

impl Transform for Filter {
    fn apply<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        let matches = match &self.predicate {
            Predicate::IsTombstone => record.is_tombstone(),
            Predicate::HasHeader(h) => record.headers.contains(h),
            Predicate::TopicMatches(re) => re.is_match(&record.topic),
        };
        Ok(if matches != self.negate {
            None
        } else {
            Some(record)
        })
    }
}
