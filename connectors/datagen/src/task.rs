//! The datagen connector's settings, how they are split over tasks, and one task's polls.

use std::time::{SystemTime, UNIX_EPOCH};

use weft_plugin_sdk::{
    schema, Config, ConfigIssue, PluginError, Polled, RecordParts, Result, Schemas, SourcePosition,
};

use crate::pacing::{Pacer, Rate};
use crate::rng::Draw;
use crate::shapes::{Shape, ValueWriter, MAX_FIXED_SIZE, MIN_FIXED_SIZE};

/// Config keys: Confluent datagen's where they apply, plus Weft's pacing and sizing keys.
pub const KAFKA_TOPIC: &str = "kafka.topic";
pub const TOPIC: &str = "topic";
pub const QUICKSTART: &str = "quickstart";
pub const MAX_INTERVAL: &str = "max.interval";
pub const ITERATIONS: &str = "iterations";
pub const RECORDS_PER_SECOND: &str = "records.per.second";
pub const RECORD_SIZE: &str = "record.size";
pub const BATCH_SIZE: &str = "batch.size";
/// The runtime's clock grant. The host keeps `capability.*` keys to itself, so the guest
/// cannot read it: it probes the clock instead ([`clock_granted`]).
pub const CAPABILITY_CLOCK: &str = "capability.clock";
/// Task keys written by `task-configs`.
pub const TASK_ID: &str = "datagen.task.id";
pub const TASK_COUNT: &str = "datagen.task.count";

/// Default and bound of `batch.size`.
pub const DEFAULT_BATCH_SIZE: i64 = 4096;
pub const MAX_BATCH_SIZE: i64 = 100_000;
/// Bound of `max.interval` (a day) and `records.per.second`.
pub const MAX_MAX_INTERVAL: i64 = 86_400_000;
pub const MAX_RECORDS_PER_SECOND: i64 = 1_000_000_000;
/// Bound of `tasks.max` honoured by `task-configs`.
pub const MAX_TASKS: u32 = 1024;

/// Milliseconds since the epoch used for timestamp fields when the guest has no clock:
/// 2023-11-14T22:13:20Z plus the record id, so values are still plausible and deterministic.
const SYNTHETIC_EPOCH_MS: i64 = 1_700_000_000_000;

/// Settings read from a connector or task config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub topic: String,
    pub shape: Shape,
    pub rate: Rate,
    /// Records per task; `None` = forever (`iterations` below 1).
    pub iterations: Option<u64>,
    pub batch_size: usize,
    /// Real clocks were granted.
    pub clock: bool,
    pub task_id: u64,
    pub task_count: u64,
}

/// Whether this guest has a real clock: without the `capability.clock` grant the runtime gives
/// it one frozen at zero (1970), so any reading after 2001 means the grant is there.
pub fn clock_granted() -> bool {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .is_ok_and(|d| d.as_secs() > 1_000_000_000)
}

/// Checks a config, one issue per bad key, for a guest with or without a clock.
pub fn validate(c: &Config) -> Vec<ConfigIssue> {
    validate_with(c, clock_granted())
}

/// [`validate`] for a guest that has a real clock or not.
pub fn validate_with(c: &Config, clock: bool) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    let mut issue = |key: &str, message: String| {
        issues.push(ConfigIssue {
            key: key.into(),
            message,
        })
    };
    if topic(c).is_none() {
        issue(
            KAFKA_TOPIC,
            "is required (or `topic`): the topic to write generated records to".into(),
        );
    }
    let quickstart = c.get(QUICKSTART).map(str::trim).filter(|q| !q.is_empty());
    let size = c.get(RECORD_SIZE).map(str::trim).filter(|s| !s.is_empty());
    match (quickstart, size) {
        (None, None) => issue(
            QUICKSTART,
            "is required unless `record.size` is set: one of orders, users, pageviews".into(),
        ),
        (Some(_), Some(_)) => issue(
            RECORD_SIZE,
            "cannot be combined with `quickstart`: it selects the fixed-size benchmark shape"
                .into(),
        ),
        (Some(q), None) if Shape::quickstart(q).is_none() => issue(
            QUICKSTART,
            format!("`{q}` is not one of orders, users, pageviews"),
        ),
        _ => {}
    }
    let mut int = |key: &str, min: i64, max: i64| -> Option<i64> {
        match c.get(key).map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Some(n),
                Ok(n) => {
                    issue(key, format!("{n} is out of range [{min}, {max}]"));
                    None
                }
                Err(_) => {
                    issue(key, format!("`{v}` is not an integer"));
                    None
                }
            },
        }
    };
    int(RECORD_SIZE, MIN_FIXED_SIZE as i64, MAX_FIXED_SIZE as i64);
    int(ITERATIONS, i64::MIN, i64::MAX);
    int(BATCH_SIZE, 1, MAX_BATCH_SIZE);
    let rps = int(RECORDS_PER_SECOND, 1, MAX_RECORDS_PER_SECOND);
    let interval = int(MAX_INTERVAL, 0, MAX_MAX_INTERVAL);
    if rps.is_some() && interval.is_some() {
        issue(
            RECORDS_PER_SECOND,
            "cannot be combined with `max.interval`: set one pacing rule".into(),
        );
    }
    if !clock {
        for (key, set) in [(RECORDS_PER_SECOND, rps), (MAX_INTERVAL, interval)] {
            if set.is_some() {
                issue(
                    key,
                    "paces records by the clock, and this sandbox has none: add \
                     `capability.clock=true` to the connector config"
                        .into(),
                );
            }
        }
    }
    issues
}

fn topic(c: &Config) -> Option<&str> {
    [KAFKA_TOPIC, TOPIC]
        .iter()
        .filter_map(|k| c.get(k).map(str::trim))
        .find(|t| !t.is_empty())
}

fn int_or(c: &Config, key: &str, default: i64) -> Result<i64> {
    match c.get(key).map(str::trim) {
        None | Some("") => Ok(default),
        Some(_) => c.i64(key, default),
    }
}

impl Settings {
    /// Reads a config, or a fatal error listing every bad key.
    pub fn from_config(c: &Config) -> Result<Settings> {
        Self::from_config_with(c, clock_granted())
    }

    /// [`Settings::from_config`] for a guest that has a real clock or not.
    pub fn from_config_with(c: &Config, clock: bool) -> Result<Settings> {
        let issues = validate_with(c, clock);
        if !issues.is_empty() {
            let all: Vec<String> = issues
                .iter()
                .map(|i| format!("`{}` {}", i.key, i.message))
                .collect();
            return Err(PluginError::fatal(format!(
                "invalid datagen config: {}",
                all.join("; ")
            )));
        }
        let shape = match c.get(QUICKSTART).map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) => Shape::quickstart(q)
                .ok_or_else(|| PluginError::fatal(format!("unknown quickstart `{q}`")))?,
            None => Shape::Fixed(int_or(c, RECORD_SIZE, 0)? as usize),
        };
        let rate = match (
            c.get(RECORDS_PER_SECOND).filter(|v| !v.trim().is_empty()),
            c.get(MAX_INTERVAL).filter(|v| !v.trim().is_empty()),
        ) {
            (Some(_), _) => Rate::PerSecond(int_or(c, RECORDS_PER_SECOND, 0)? as u64),
            (None, Some(_)) => Rate::MaxInterval(int_or(c, MAX_INTERVAL, 0)? as u64),
            (None, None) => Rate::Unlimited,
        };
        let iterations = int_or(c, ITERATIONS, -1)?;
        let task_count = int_or(c, TASK_COUNT, 1)?.max(1) as u64;
        let task_id = int_or(c, TASK_ID, 0)?;
        if task_id < 0 || task_id as u64 >= task_count {
            return Err(PluginError::fatal(format!(
                "`{TASK_ID}` = {task_id} is not below `{TASK_COUNT}` = {task_count}"
            )));
        }
        Ok(Settings {
            topic: topic(c).unwrap_or_default().to_string(),
            shape,
            rate,
            // As in Confluent's datagen, anything below 1 means no end.
            iterations: u64::try_from(iterations).ok().filter(|&n| n > 0),
            batch_size: int_or(c, BATCH_SIZE, DEFAULT_BATCH_SIZE)? as usize,
            clock,
            task_id: task_id as u64,
            task_count,
        })
    }
}

/// Splits a connector config over up to `max_tasks` tasks: each gets its own id range (task `i`
/// of `n` generates ids `i`, `i + n`, `i + 2n`, ...) and its share of `records.per.second`.
/// `iterations` stays per task, as in Confluent's datagen.
pub fn task_configs(c: &Config, max_tasks: u32) -> Result<Vec<Config>> {
    let settings = Settings::from_config(c)?;
    let mut n = max_tasks.clamp(1, MAX_TASKS) as u64;
    if let Rate::PerSecond(rate) = settings.rate {
        // No task paced at zero records per second.
        n = n.min(rate);
    }
    Ok((0..n)
        .map(|i| {
            let mut entries: Vec<(String, String)> = c
                .entries()
                .iter()
                .filter(|(k, _)| k != TASK_ID && k != TASK_COUNT && k != RECORDS_PER_SECOND)
                .cloned()
                .collect();
            entries.push((TASK_ID.into(), i.to_string()));
            entries.push((TASK_COUNT.into(), n.to_string()));
            if let Rate::PerSecond(rate) = settings.rate {
                let share = rate / n + u64::from(i < rate % n);
                entries.push((RECORDS_PER_SECOND.into(), share.to_string()));
            }
            Config::new(entries)
        })
        .collect())
}

/// The source partition of task `id`: `{"datagen":<id>}`.
pub fn partition(task_id: u64) -> String {
    format!("{{\"datagen\":{task_id}}}")
}

/// The position after `count` records: `{"count":<count>}`.
pub fn position(count: u64) -> String {
    format!("{{\"count\":{count}}}")
}

/// The record count in a stored position.
pub fn parse_count(position: &str) -> Result<u64> {
    let v: serde_json::Value = serde_json::from_str(position).map_err(|e| {
        PluginError::fatal(format!("stored position `{position}` is not JSON: {e}"))
    })?;
    v.get("count").and_then(|c| c.as_u64()).ok_or_else(|| {
        PluginError::fatal(format!(
            "stored position `{position}` has no non-negative integer `count`"
        ))
    })
}

/// A running datagen task.
#[derive(Debug)]
pub struct DatagenTask {
    settings: Settings,
    values: ValueWriter,
    pacer: Pacer,
    seed: u64,
    partition: String,
    /// Records this task generated so far (restored from its stored position).
    count: u64,
    value: Vec<u8>,
}

impl DatagenTask {
    /// Starts task `settings.task_id` after the count stored for its partition, if any;
    /// `now` is the monotonic clock in ns (pacing starts there).
    pub fn open<'a>(
        settings: Settings,
        committed: impl IntoIterator<Item = (&'a str, &'a str)>,
        now: u64,
    ) -> Result<DatagenTask> {
        let partition = partition(settings.task_id);
        let mut count = 0;
        for (p, pos) in committed {
            let same = serde_json::from_str::<serde_json::Value>(p)
                .ok()
                .and_then(|v| v.get("datagen").and_then(|t| t.as_u64()))
                == Some(settings.task_id);
            if same {
                count = parse_count(pos)?;
            }
        }
        let seed = crate::rng::mix(0xda7a_6e40, settings.task_id);
        Ok(DatagenTask {
            values: ValueWriter::new(settings.shape.clone()),
            pacer: Pacer::new(settings.rate, seed, now),
            seed,
            partition,
            count,
            value: Vec::with_capacity(1024),
            settings,
        })
    }

    /// The source partition string of this task.
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// Records generated so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value schema of this task's records.
    pub fn value_schema(&self) -> &'static str {
        self.settings.shape.value_schema()
    }

    /// Generates the records due at monotonic time `now` (ns), at most `batch.size`, through
    /// `emit(key, value)`; timestamp fields get `wall_ms` when the guest has a clock, else a
    /// synthetic time from the id. Returns how many, and the position after them.
    pub fn generate(
        &mut self,
        now: u64,
        wall_ms: Option<i64>,
        mut emit: impl FnMut(&[u8], &[u8]) -> Result<()>,
    ) -> Result<(u32, Option<String>)> {
        let left = match self.settings.iterations {
            Some(total) => total.saturating_sub(self.count),
            None => u64::MAX,
        };
        let max = (self.settings.batch_size as u64).min(left);
        let n = if max == 0 {
            0
        } else {
            self.pacer.take(now, max)
        };
        let mut key = itoa::Buffer::new();
        for i in 0..n {
            let seq = self.count + i;
            let id = self.settings.task_id + seq * self.settings.task_count;
            let ts = match wall_ms {
                Some(ms) if self.settings.clock => ms,
                _ => SYNTHETIC_EPOCH_MS + id as i64,
            };
            self.value.clear();
            let mut d = Draw::new(self.seed, seq);
            self.values.write(id, ts, &mut d, &mut self.value);
            emit(key.format(id).as_bytes(), &self.value)?;
        }
        self.count += n;
        Ok((n as u32, (n > 0).then(|| position(self.count))))
    }

    /// [`DatagenTask::generate`] packed straight into a poll's batch (no allocation per
    /// record), with the position after the records and the batch's schemas.
    pub fn poll_batch(&mut self, now: u64, wall_ms: Option<i64>) -> Result<Polled> {
        let per_record = match self.settings.shape {
            Shape::Fixed(size) => size + 64,
            _ => 200,
        };
        let batch = (self.settings.batch_size).min(MAX_BATCH_SIZE as usize);
        let mut polled = Polled::with_capacity(batch * per_record + 256).with_schemas(Schemas {
            key: Some(schema::STRING.to_string()),
            value: Some(self.value_schema().to_string()),
        });
        let topic = self.settings.topic.clone();
        let (_, position) = self.generate(now, wall_ms, |key, value| {
            polled.push_parts(RecordParts::new(&topic).key(key).value(value));
            Ok(())
        })?;
        if let Some(position) = position {
            polled.reached(SourcePosition {
                partition: self.partition.clone(),
                position,
            });
        }
        Ok(polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_batch::decode;

    /// One poll, finished as the export hands it to the host.
    fn poll(t: &mut DatagenTask, now: u64, wall_ms: Option<i64>) -> weft_plugin_sdk::PackedPoll {
        t.poll_batch(now, wall_ms).unwrap().finish().unwrap()
    }

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn validate_names_bad_keys() {
        let keys = |pairs: &[(&str, &str)]| -> Vec<String> {
            validate(&config(pairs))
                .into_iter()
                .map(|i| i.key)
                .collect()
        };
        assert_eq!(keys(&[]), vec!["kafka.topic", "quickstart"]);
        assert!(keys(&[("topic", "t"), ("quickstart", "users")]).is_empty());
        assert_eq!(
            keys(&[("kafka.topic", "t"), ("quickstart", "clicks")]),
            vec!["quickstart"]
        );
        assert_eq!(
            keys(&[
                ("kafka.topic", "t"),
                ("quickstart", "users"),
                ("record.size", "100")
            ]),
            vec!["record.size"]
        );
        assert_eq!(
            keys(&[("kafka.topic", "t"), ("record.size", "10")]),
            vec!["record.size"]
        );
        assert_eq!(
            keys(&[
                ("kafka.topic", "t"),
                ("record.size", "100"),
                ("batch.size", "0")
            ]),
            vec!["batch.size"]
        );
        let paced = config(&[
            ("kafka.topic", "t"),
            ("quickstart", "orders"),
            ("records.per.second", "10"),
        ]);
        let issues = validate_with(&paced, false);
        assert_eq!(issues.len(), 1);
        assert!(issues[0].message.contains("capability.clock=true"));
        assert!(validate_with(&paced, true).is_empty());
        let err = Settings::from_config_with(&paced, false).unwrap_err();
        assert!(
            err.message.contains("`records.per.second`"),
            "{}",
            err.message
        );
        // The guest running these tests natively has a real clock.
        assert!(clock_granted());
        assert_eq!(
            keys(&[
                ("kafka.topic", "t"),
                ("quickstart", "orders"),
                ("max.interval", "x"),
            ]),
            vec!["max.interval"]
        );
    }

    #[test]
    fn task_configs_split_ids_and_rate() {
        let c = config(&[
            ("kafka.topic", "t"),
            ("quickstart", "users"),
            ("records.per.second", "10"),
            ("capability.clock", "true"),
        ]);
        let tasks = task_configs(&c, 3).unwrap();
        assert_eq!(tasks.len(), 3);
        let rates: Vec<&str> = tasks
            .iter()
            .map(|t| t.get(RECORDS_PER_SECOND).unwrap())
            .collect();
        assert_eq!(rates, vec!["4", "3", "3"]);
        let s: Vec<Settings> = tasks
            .iter()
            .map(|t| Settings::from_config(t).unwrap())
            .collect();
        assert_eq!(
            s.iter()
                .map(|s| (s.task_id, s.task_count))
                .collect::<Vec<_>>(),
            vec![(0, 3), (1, 3), (2, 3)]
        );
        // Never more tasks than records per second.
        let c = config(&[
            ("kafka.topic", "t"),
            ("quickstart", "users"),
            ("records.per.second", "2"),
            ("capability.clock", "true"),
        ]);
        assert_eq!(task_configs(&c, 8).unwrap().len(), 2);
        assert!(task_configs(&config(&[]), 1).is_err());
    }

    fn fixed(task: u64, tasks: u64, iterations: Option<u64>, batch: usize) -> Settings {
        Settings {
            topic: "bench".into(),
            shape: Shape::Fixed(100),
            rate: Rate::Unlimited,
            iterations,
            batch_size: batch,
            clock: false,
            task_id: task,
            task_count: tasks,
        }
    }

    #[test]
    fn tasks_generate_distinct_ids_with_string_keys() {
        let mut keys = Vec::new();
        for task in 0..3 {
            let mut t = DatagenTask::open(fixed(task, 3, None, 5), [], 0).unwrap();
            let p = poll(&mut t, 0, None);
            assert_eq!(p.count, 5);
            for r in decode(&p.batch).unwrap() {
                assert_eq!(r.topic, "bench");
                assert_eq!(r.value.as_ref().unwrap().len(), 100);
                keys.push(String::from_utf8(r.key.unwrap()).unwrap());
            }
        }
        let mut ids: Vec<u64> = keys.iter().map(|k| k.parse().unwrap()).collect();
        ids.sort();
        assert_eq!(ids, (0..15).collect::<Vec<_>>());
    }

    #[test]
    fn a_restart_continues_the_same_sequence() {
        let mut once = DatagenTask::open(fixed(1, 2, None, 10), [], 0).unwrap();
        let all = decode(&poll(&mut once, 0, None).batch).unwrap();

        let mut first = DatagenTask::open(fixed(1, 2, None, 4), [], 0).unwrap();
        let p = poll(&mut first, 0, None);
        assert_eq!(p.positions.len(), 1);
        assert_eq!(p.positions[0].after_records, 4);
        assert_eq!(p.positions[0].position.position, r#"{"count":4}"#);
        assert_eq!(p.positions[0].position.partition, r#"{"datagen":1}"#);
        assert_eq!(first.partition(), r#"{"datagen":1}"#);
        let pos = p.positions[0].position.position.clone();
        let mut again = DatagenTask::open(
            fixed(1, 2, None, 6),
            [
                (r#"{"datagen":0}"#, r#"{"count":99}"#),
                (r#"{"datagen":1}"#, pos.as_str()),
            ],
            0,
        )
        .unwrap();
        assert_eq!(again.count(), 4);
        let rest = decode(&poll(&mut again, 0, None).batch).unwrap();
        assert_eq!(rest, all[4..].to_vec());
    }

    #[test]
    fn iterations_below_one_mean_no_end() {
        for v in ["-1", "0", "-7"] {
            let c = config(&[
                ("kafka.topic", "t"),
                ("quickstart", "users"),
                ("iterations", v),
            ]);
            assert_eq!(Settings::from_config(&c).unwrap().iterations, None, "{v}");
        }
        let c = config(&[
            ("kafka.topic", "t"),
            ("quickstart", "users"),
            ("iterations", "3"),
        ]);
        assert_eq!(Settings::from_config(&c).unwrap().iterations, Some(3));
    }

    #[test]
    fn iterations_end_the_sequence() {
        let mut t = DatagenTask::open(fixed(0, 1, Some(7), 5), [], 0).unwrap();
        assert_eq!(poll(&mut t, 0, None).count, 5);
        assert_eq!(poll(&mut t, 0, None).count, 2);
        let p = poll(&mut t, 0, None);
        assert_eq!(p.count, 0);
        assert!(p.positions.is_empty());
        assert!(decode(&p.batch).unwrap().is_empty());
    }

    #[test]
    fn pacing_limits_what_a_poll_returns() {
        let mut s = fixed(0, 1, None, 10_000);
        s.rate = Rate::PerSecond(1000);
        s.clock = true;
        let mut t = DatagenTask::open(s, [], 0).unwrap();
        assert_eq!(poll(&mut t, 0, Some(5)).count, 0);
        assert_eq!(poll(&mut t, 250_000_000, Some(5)).count, 250);
    }

    #[test]
    fn quickstart_records_use_the_wall_clock_when_granted() {
        let mut s = fixed(0, 1, None, 2);
        s.shape = Shape::Pageviews;
        s.clock = true;
        let mut t = DatagenTask::open(s, [], 0).unwrap();
        assert!(t.value_schema().contains("ksql.pageviews"));
        let recs = decode(&poll(&mut t, 0, Some(1234)).batch).unwrap();
        let v: serde_json::Value = serde_json::from_slice(recs[1].value.as_ref().unwrap()).unwrap();
        assert_eq!(v["viewtime"], 1234);
    }

    #[test]
    fn malformed_positions_are_fatal() {
        let err =
            DatagenTask::open(fixed(0, 1, None, 1), [(r#"{"datagen":0}"#, "{}")], 0).unwrap_err();
        assert!(err.message.contains("count"), "{}", err.message);
    }
}
