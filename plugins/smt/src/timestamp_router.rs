//! `timestamp-router`: renames the topic from `topic.format` (default `${topic}-${timestamp}`)
//! with `${timestamp}` formatted by `timestamp.format` (default `yyyyMMdd`, in UTC), after Kafka
//! Connect's `TimestampRouter`. The format understands `yyyy`, `MM`, `dd`, `HH`, `mm`, `ss`;
//! other characters are copied. Records without a timestamp keep their topic.

use weft_plugin_sdk::*;

#[derive(Default)]
pub struct TimestampRouter {
    topic_format: String,
    timestamp_format: String,
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn format_ts(ms: i64, fmt: &str) -> String {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let (h, mi, s) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    let mut out = String::new();
    let mut rest = fmt;
    while !rest.is_empty() {
        let (piece, len) = if rest.starts_with("yyyy") {
            (format!("{y:04}"), 4)
        } else if rest.starts_with("MM") {
            (format!("{mo:02}"), 2)
        } else if rest.starts_with("dd") {
            (format!("{d:02}"), 2)
        } else if rest.starts_with("HH") {
            (format!("{h:02}"), 2)
        } else if rest.starts_with("mm") {
            (format!("{mi:02}"), 2)
        } else if rest.starts_with("ss") {
            (format!("{s:02}"), 2)
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            (c.to_string(), c.len_utf8())
        };
        out.push_str(&piece);
        rest = &rest[len..];
    }
    out
}

impl Plugin for TimestampRouter {
    fn metadata() -> Metadata {
        Metadata::new(
            "timestamp-router",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Route records to a topic named after their timestamp",
        )
        .config(
            ConfigDef::new(
                "topic.format",
                ConfigType::String,
                "New topic name; ${topic} and ${timestamp} are replaced.",
            )
            .default("${topic}-${timestamp}"),
        )
        .config(
            ConfigDef::new(
                "timestamp.format",
                ConfigType::String,
                "Timestamp format (yyyy MM dd HH mm ss), UTC.",
            )
            .default("yyyyMMdd"),
        )
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.topic_format = config
            .get("topic.format")
            .unwrap_or("${topic}-${timestamp}")
            .to_string();
        self.timestamp_format = config
            .get("timestamp.format")
            .unwrap_or("yyyyMMdd")
            .to_string();
        Ok(())
    }
}

impl Transform for TimestampRouter {
    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        if let Some(ts) = record.timestamp {
            let topic = self
                .topic_format
                .replace("${topic}", &record.topic)
                .replace("${timestamp}", &format_ts(ts, &self.timestamp_format));
            record.topic = topic.into();
        }
        Ok(Some(record))
    }
}
