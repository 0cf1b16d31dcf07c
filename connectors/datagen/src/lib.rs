//! Built-in connector `datagen`: rate-limited synthetic records (Confluent datagen's orders,
//! users and pageviews quickstarts as JSON, or fixed-size benchmark values).
//!
//! `shapes` writes values, `rng` draws their random fields, `pacing` decides how many are due,
//! `task` holds the settings and generates polls, packed in place through the SDK's
//! [`Polled::push_parts`]; this file declares the config, implements the SDK's traits and
//! exports the component.

pub mod pacing;
pub mod rng;
pub mod shapes;
pub mod task;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use weft_plugin_sdk::{
    log, Config, ConfigDef, ConfigIssue, ConfigType, Importance, Metadata, Plugin, PluginError,
    PluginKind, Polled, Result, SourceConnector, SourcePosition,
};

use task::{DatagenTask, Settings};

/// The connector.
#[derive(Default)]
pub struct Datagen {
    task: Option<Running>,
}

struct Running {
    task: DatagenTask,
    started: Instant,
    clock: bool,
}

/// The config keys, for `/connector-plugins/datagen/config` and validation.
pub fn config_defs() -> Vec<ConfigDef> {
    const WHAT: &str = "Generator";
    const PACE: &str = "Pacing";
    vec![
        ConfigDef::new(
            task::KAFKA_TOPIC,
            ConfigType::String,
            "The topic to write generated records to (`topic` is accepted too).",
        )
        .importance(Importance::High)
        .group(WHAT, 1)
        .display_name("Topic"),
        ConfigDef::new(
            task::QUICKSTART,
            ConfigType::String,
            "The value shape, as Confluent datagen's quickstarts: orders, users or pageviews. \
             Required unless `record.size` is set.",
        )
        .importance(Importance::High)
        .group(WHAT, 2)
        .display_name("Quickstart")
        .recommended(shapes::QUICKSTARTS),
        ConfigDef::new(
            task::RECORD_SIZE,
            ConfigType::Int,
            "Instead of a quickstart: fixed-size values {\"id\":..,\"pad\":\"..\"} of exactly \
             this many bytes, for benchmarks, with schema `bytes` (for ByteArrayConverter).",
        )
        .importance(Importance::Medium)
        .group(WHAT, 3)
        .display_name("Record size"),
        ConfigDef::new(
            task::ITERATIONS,
            ConfigType::Long,
            "How many records each task generates; -1 (or anything below 1) for no end.",
        )
        .default("-1")
        .importance(Importance::Medium)
        .group(WHAT, 4)
        .display_name("Iterations"),
        ConfigDef::new(
            task::BATCH_SIZE,
            ConfigType::Int,
            "The maximum number of records one poll returns.",
        )
        .default(task::DEFAULT_BATCH_SIZE.to_string())
        .importance(Importance::Low)
        .group(WHAT, 5)
        .display_name("Batch size"),
        ConfigDef::new(
            task::RECORDS_PER_SECOND,
            ConfigType::Long,
            "A steady rate for the whole connector, split over its tasks. Needs \
             `capability.clock=true`. Without it or `max.interval`, records come as fast as \
             the worker takes them.",
        )
        .importance(Importance::Medium)
        .group(PACE, 1)
        .display_name("Records per second"),
        ConfigDef::new(
            task::MAX_INTERVAL,
            ConfigType::Long,
            "Confluent's pacing: a random gap of 0 to this many milliseconds before each \
             record, per task. Needs `capability.clock=true`.",
        )
        .importance(Importance::Medium)
        .group(PACE, 2)
        .display_name("Maximum interval (ms)"),
    ]
}

impl Plugin for Datagen {
    fn metadata() -> Metadata {
        let mut m = Metadata::new(
            "datagen",
            env!("CARGO_PKG_VERSION"),
            PluginKind::SourceConnector,
            "Synthetic records (orders, users, pageviews or fixed-size) for demos and benchmarks",
        );
        m.config = config_defs();
        m
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        task::validate(config)
    }
}

impl SourceConnector for Datagen {
    fn task_configs(config: &Config, max_tasks: u32) -> Result<Vec<Config>> {
        task::task_configs(config, max_tasks)
    }

    fn open(&mut self, config: &Config, committed: Vec<SourcePosition>) -> Result<()> {
        let settings = Settings::from_config(config)?;
        let clock = settings.clock;
        let started = Instant::now();
        let committed = committed
            .iter()
            .map(|p| (p.partition.as_str(), p.position.as_str()));
        let task = DatagenTask::open(settings, committed, 0)?;
        if task.count() > 0 {
            log::info(&format!(
                "datagen task continuing after {} records",
                task.count()
            ));
        }
        self.task = Some(Running {
            task,
            started,
            clock,
        });
        Ok(())
    }

    fn poll(&mut self) -> Result<Polled> {
        let r = self.running()?;
        let (now, wall) = r.clocks();
        r.task.poll_batch(now, wall)
    }
}

impl Datagen {
    fn running(&mut self) -> Result<&mut Running> {
        self.task
            .as_mut()
            .ok_or_else(|| PluginError::fatal("poll before open"))
    }
}

impl Running {
    /// The monotonic time since open (ns) and, with a clock, the wall time (ms).
    fn clocks(&self) -> (u64, Option<i64>) {
        let now = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let wall = self
            .clock
            .then(|| SystemTime::now().duration_since(UNIX_EPOCH).ok())
            .flatten()
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        (now, wall)
    }
}

#[cfg(target_arch = "wasm32")]
weft_plugin_sdk::export_source_connector!(Datagen);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_sdk::schema;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .with_defaults(&Datagen::metadata().config)
    }

    #[test]
    fn poll_returns_keyed_records_schemas_and_one_position() {
        let mut d = Datagen::default();
        let c = config(&[
            ("kafka.topic", "users"),
            ("quickstart", "users"),
            ("batch.size", "50"),
        ]);
        assert!(Datagen::validate(&c).is_empty());
        d.open(&c, vec![]).unwrap();
        let p = d.poll().unwrap().finish().unwrap();
        let records = p.decode().unwrap();
        assert_eq!(records.len(), 50);
        assert_eq!(p.count, 50);
        assert_eq!(records[7].key.as_deref(), Some(&b"7"[..]));
        assert_eq!(records[7].topic, "users");
        assert!(p.schemas.value.as_deref().unwrap().contains("ksql.users"));
        assert_eq!(p.schemas.key.as_deref(), Some(schema::STRING));
        assert_eq!(p.positions.len(), 1);
        assert_eq!(p.positions[0].after_records, 50);
        assert_eq!(p.positions[0].position.partition, r#"{"datagen":0}"#);
        assert_eq!(p.positions[0].position.position, r#"{"count":50}"#);

        // Reopened at that position it continues with id 50.
        let mut again = Datagen::default();
        again
            .open(&c, vec![p.positions[0].position.clone()])
            .unwrap();
        let next = again.poll().unwrap().finish().unwrap().decode().unwrap();
        assert_eq!(next[0].key.as_deref(), Some(&b"50"[..]));
    }

    #[test]
    fn poll_before_open_fails() {
        assert!(Datagen::default()
            .poll()
            .err()
            .is_some_and(|e| e.message.contains("before open")));
    }
}
