//! MM2's regex-list filters: `topics`/`topics.exclude`, `groups`/`groups.exclude` and
//! `config.properties.exclude`. A list is Kafka's LIST type (comma-separated, blanks trimmed),
//! its items joined with `|` and matched against the whole name (Java's `Matcher.matches`); an
//! empty list matches nothing.

use regex_lite::Regex;

/// One compiled list; `None` when the list is empty.
#[derive(Debug, Clone)]
pub struct PatternList(Option<Regex>);

impl PatternList {
    /// Compiles a comma-separated list; the error says which item is wrong and why.
    pub fn parse(list: &str) -> Result<PatternList, String> {
        let items: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if items.is_empty() {
            return Ok(PatternList(None));
        }
        for item in &items {
            if let Err(e) = Regex::new(item) {
                return Err(format!("`{item}` is not a valid regular expression: {e}"));
            }
        }
        let joined = format!("^(?:{})$", items.join("|"));
        Regex::new(&joined)
            .map(|r| PatternList(Some(r)))
            .map_err(|e| format!("is not a valid list of regular expressions: {e}"))
    }

    /// The whole of `name` matches one of the patterns.
    pub fn matches(&self, name: &str) -> bool {
        self.0.as_ref().is_some_and(|r| r.is_match(name))
    }
}

/// An include list and an exclude list (DefaultTopicFilter, DefaultGroupFilter).
#[derive(Debug, Clone)]
pub struct IncludeExclude {
    include: PatternList,
    exclude: PatternList,
}

impl IncludeExclude {
    /// A filter from its two lists.
    pub fn new(include: PatternList, exclude: PatternList) -> Self {
        IncludeExclude { include, exclude }
    }

    /// Included and not excluded.
    pub fn accepts(&self, name: &str) -> bool {
        self.include.matches(name) && !self.exclude.matches(name)
    }
}

/// `topics.exclude`'s default (DefaultTopicFilter).
pub const TOPICS_EXCLUDE_DEFAULT: &str = ".*[\\-\\.]internal, .*\\.replica, __.*";
/// `groups.exclude`'s default (DefaultGroupFilter).
pub const GROUPS_EXCLUDE_DEFAULT: &str = "console-consumer-.*, connect-.*, __.*";
/// `config.properties.exclude`'s default (DefaultConfigPropertyFilter).
pub const CONFIG_PROPERTIES_EXCLUDE_DEFAULT: &str =
    "follower\\.replication\\.throttled\\.replicas, \
     leader\\.replication\\.throttled\\.replicas, message\\.timestamp\\.difference\\.max\\.ms, \
     message\\.timestamp\\.type, unclean\\.leader\\.election\\.enable, min\\.insync\\.replicas";

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> PatternList {
        PatternList::parse(s).unwrap()
    }

    #[test]
    fn default_topic_filter_excludes_internal_topics() {
        let f = IncludeExclude::new(list(".*"), list(TOPICS_EXCLUDE_DEFAULT));
        assert!(f.accepts("orders"));
        for t in [
            "x.internal",
            "x-internal",
            "t.replica",
            "__consumer_offsets",
        ] {
            assert!(!f.accepts(t), "{t}");
        }
    }

    #[test]
    fn patterns_match_whole_names_and_empty_matches_nothing() {
        let l = list("orders, pay.*");
        assert!(l.matches("orders"));
        assert!(l.matches("payments"));
        assert!(!l.matches("orders2"));
        assert!(!l.matches("xorders"));
        assert!(!list("").matches("anything"));
        assert!(!list(" , ").matches(""));
        let g = IncludeExclude::new(list(".*"), list(GROUPS_EXCLUDE_DEFAULT));
        assert!(g.accepts("billing"));
        assert!(!g.accepts("console-consumer-1234"));
        assert!(!g.accepts("connect-sink"));
        let c = list(CONFIG_PROPERTIES_EXCLUDE_DEFAULT);
        assert!(c.matches("min.insync.replicas"));
        assert!(!c.matches("retention.ms"));
    }

    #[test]
    fn a_bad_pattern_is_named() {
        let e = PatternList::parse("ok, (unclosed").unwrap_err();
        assert!(e.contains("`(unclosed`"), "{e}");
    }
}
