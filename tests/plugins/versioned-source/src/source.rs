// The source shared by the versioned-source builds; `VERSION` is defined by the including crate.
//
// Each task counts upward in its own source partition (its shard) and writes records
// `<VERSION> <shard> start=<first n after open> n=<n>`, one every `interval.ms` (the worker grants
// the clock), so a test can tell which build wrote a record and whether its task was opened
// again. With `shards.dir` (a directory inside the granted one), the task configs are one task
// per `shard-*` file there, and a task whose listing no longer matches asks the worker for a
// reconfiguration on every poll until it is reconfigured. With `reconfigure.always=true` it asks
// on every poll whatever the listing (its task configs never change, so nothing must restart).
// With `fail.file` (a path inside the granted directory), a poll fails the task while that file
// exists, so a test can make a task FAILED and let it recover.

use weft_plugin_sdk::*;

#[derive(Default)]
struct VersionedSource {
    topic: String,
    shard: String,
    start: u64,
    next: u64,
    interval_ms: u64,
    last_ms: u64,
    shards_dir: Option<String>,
    seen: String,
    always: bool,
    fail_file: Option<String>,
}

/// The `shard-*` names in `dir`, sorted and comma-joined.
fn shard_listing(dir: &str) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("shard-"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.join(",")
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Plugin for VersionedSource {
    fn metadata() -> Metadata {
        let version = if VERSION == "v1" { "1.0.0" } else { "2.0.0" };
        Metadata::new(
            "versioned-source",
            version,
            PluginKind::SourceConnector,
            "Counts upward, marking records with its build",
        )
        .config(ConfigDef::new("topic", ConfigType::String, "Target topic.").required())
        .config(
            ConfigDef::new("interval.ms", ConfigType::Long, "Milliseconds between records.")
                .default("20"),
        )
        .config(ConfigDef::new(
            "shards.dir",
            ConfigType::String,
            "A directory whose shard-* files are the tasks.",
        ))
    }
}

impl SourceConnector for VersionedSource {
    fn task_configs(config: &Config, max_tasks: u32) -> Result<Vec<Config>> {
        let with = |shard: &str, seen: &str| {
            let mut entries = config.entries().to_vec();
            entries.push(("shard".into(), shard.to_string()));
            entries.push(("shards.seen".into(), seen.to_string()));
            Config::new(entries)
        };
        let Some(dir) = config.get("shards.dir") else {
            return Ok(vec![with("main", "")]);
        };
        let listing = shard_listing(dir);
        Ok(listing
            .split(',')
            .filter(|s| !s.is_empty())
            .take(max_tasks as usize)
            .map(|shard| with(shard, &listing))
            .collect())
    }

    fn open(&mut self, config: &Config, committed: Vec<SourcePosition>) -> Result<()> {
        self.topic = config.require("topic")?.to_string();
        self.shard = config.require("shard")?.to_string();
        self.interval_ms = config.i64("interval.ms", 20)?.max(0) as u64;
        self.shards_dir = config.get("shards.dir").map(str::to_string);
        self.seen = config.get("shards.seen").unwrap_or_default().to_string();
        self.always = config.get("reconfigure.always") == Some("true");
        self.fail_file = config.get("fail.file").map(str::to_string);
        self.next = committed
            .iter()
            .find(|p| p.partition == self.shard)
            .and_then(|p| p.position.parse::<u64>().ok())
            .map_or(0, |n| n + 1);
        self.start = self.next;
        Ok(())
    }

    fn poll(&mut self) -> Result<Polled> {
        if let Some(f) = &self.fail_file {
            if std::path::Path::new(f).exists() {
                return Err(PluginError::fatal(format!("{f} exists: failing as asked")));
            }
        }
        if self.always {
            task::request_reconfiguration();
        } else if let Some(dir) = &self.shards_dir {
            if shard_listing(dir) != self.seen {
                // Asked on every poll: the worker must coalesce and rate-limit it.
                task::request_reconfiguration();
            }
        }
        let now = now_ms();
        if now.saturating_sub(self.last_ms) < self.interval_ms {
            return Ok(Polled::new());
        }
        self.last_ms = now;
        let value = format!(
            "{VERSION} {} start={} n={}",
            self.shard, self.start, self.next
        );
        let mut out = Polled::new().with_schemas(Schemas {
            key: None,
            value: Some(schema::STRING.into()),
        });
        out.push_at(
            Record::new(self.topic.clone(), value.into_bytes()),
            SourcePosition {
                partition: self.shard.clone(),
                position: self.next.to_string(),
            },
        );
        self.next += 1;
        Ok(out)
    }
}

export_source_connector!(VersionedSource);
