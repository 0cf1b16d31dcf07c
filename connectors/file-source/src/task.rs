//! The file-source task: its settings, where it starts, and one poll: the new lines as records
//! with one source position per record.

use std::borrow::Cow;

use weft_plugin_sdk::{
    Config, ConfigIssue, PluginError, Polled, RecordParts, Result, Schemas, SourcePosition,
};

use crate::position;
use crate::tail::{Event, FileTail};

/// Config keys (Kafka FileStreamSource's, plus a line-length bound).
pub const FILE: &str = "file";
/// Set by the worker when it rewrote `file` onto the granted directory: the file as configured.
pub const FILE_AS_CONFIGURED: &str = "weft.file.as.configured";
pub const TOPIC: &str = "topic";
pub const BATCH_SIZE: &str = "batch.size";
pub const MAX_LINE_BYTES: &str = "max.line.bytes";

/// Kafka's default `batch.size`.
pub const DEFAULT_BATCH_SIZE: i64 = 2000;
/// Upper bound of `batch.size`: one poll's positions and batch stay a few megabytes.
pub const MAX_BATCH_SIZE: i64 = 100_000;
/// Default `max.line.bytes`.
pub const DEFAULT_MAX_LINE_BYTES: i64 = 4 * 1024 * 1024;
/// Upper bound of `max.line.bytes` (a record's length is an i32 in the batch layout, and the
/// guest's memory is limited).
pub const MAX_MAX_LINE_BYTES: i64 = 256 * 1024 * 1024;

/// The value schema of every record (a line of text), as JsonConverter writes it.
pub const VALUE_SCHEMA: &str = r#"{"type":"string","optional":false}"#;

/// Settings read from a task config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The file as the user configured it (the source partition names it this way): the
    /// worker's `weft.file.as.configured` when it rewrote `file` onto the granted directory.
    pub file: String,
    /// Where the guest opens it: relative paths are relative to the granted directory, which
    /// the host preopens as `/`.
    pub guest_path: String,
    pub topic: String,
    pub batch_size: usize,
    pub max_line: usize,
}

/// Checks a config, one issue per bad key.
pub fn validate(c: &Config) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    let mut issue = |key: &str, message: String| {
        issues.push(ConfigIssue {
            key: key.into(),
            message,
        })
    };
    match c.get(FILE).map(str::trim) {
        None | Some("") => issue(
            FILE,
            "is required: reading standard input is not supported in the sandbox; name a file \
             inside the directory granted by `capability.filesystem.dir`"
                .into(),
        ),
        Some(f) if f.split('/').any(|part| part == "..") => issue(
            FILE,
            format!("`{f}` leaves the granted directory (`..` is not allowed)"),
        ),
        Some(_) => {}
    }
    if c.get(TOPIC).map(str::trim).unwrap_or("").is_empty() {
        issue(TOPIC, "is required: the topic to publish lines to".into());
    }
    range(
        c,
        BATCH_SIZE,
        DEFAULT_BATCH_SIZE,
        1,
        MAX_BATCH_SIZE,
        &mut issue,
    );
    range(
        c,
        MAX_LINE_BYTES,
        DEFAULT_MAX_LINE_BYTES,
        1,
        MAX_MAX_LINE_BYTES,
        &mut issue,
    );
    issues
}

fn range(
    c: &Config,
    key: &str,
    default: i64,
    min: i64,
    max: i64,
    issue: &mut impl FnMut(&str, String),
) {
    match c.i64(key, default) {
        Ok(v) if (min..=max).contains(&v) => {}
        Ok(v) => issue(key, format!("{v} is out of range [{min}, {max}]")),
        Err(e) => issue(key, e.message),
    }
}

impl Settings {
    /// Reads a config, or a fatal error listing every bad key.
    pub fn from_config(c: &Config) -> Result<Settings> {
        let issues = validate(c);
        if !issues.is_empty() {
            let all: Vec<String> = issues
                .iter()
                .map(|i| format!("`{}` {}", i.key, i.message))
                .collect();
            return Err(PluginError::fatal(format!(
                "invalid file-source config: {}",
                all.join("; ")
            )));
        }
        let file = c.get(FILE).unwrap_or_default().trim().to_string();
        let guest_path = if file.starts_with('/') {
            file.clone()
        } else {
            format!("/{}", file.trim_start_matches("./"))
        };
        let as_configured = c
            .get(FILE_AS_CONFIGURED)
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map_or(file, str::to_string);
        Ok(Settings {
            guest_path,
            file: as_configured,
            topic: c.get(TOPIC).unwrap_or_default().trim().to_string(),
            batch_size: c.i64(BATCH_SIZE, DEFAULT_BATCH_SIZE)? as usize,
            max_line: c.i64(MAX_LINE_BYTES, DEFAULT_MAX_LINE_BYTES)? as usize,
        })
    }
}

/// A running file-source task.
#[derive(Debug)]
pub struct FileSourceTask {
    settings: Settings,
    partition: String,
    tail: FileTail,
    warned_missing: bool,
}

impl FileSourceTask {
    /// Starts from the stored position of this file's partition, if any among `committed`
    /// (pairs of partition and position strings).
    pub fn open<'a>(
        settings: Settings,
        committed: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<FileSourceTask> {
        let (mut exact, mut legacy) = (None, None);
        for (partition, pos) in committed {
            if position::is_partition_of(partition, &settings.file) {
                exact = Some(pos);
            } else if position::is_partition_of(partition, &settings.guest_path) {
                // Earlier versions named the partition by the path inside the sandbox.
                legacy = Some(pos);
            }
        }
        let start = match exact.or(legacy) {
            Some(pos) => position::parse_position(pos).map_err(PluginError::fatal)?,
            None => 0,
        };
        Ok(FileSourceTask {
            partition: position::partition(&settings.file),
            tail: FileTail::new(settings.guest_path.clone(), start, settings.max_line),
            settings,
            warned_missing: false,
        })
    }

    /// The source partition string of this task's file.
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// Reads up to `batch.size` new lines through `emit(line as UTF-8, position after it)`;
    /// nothing, promptly, when there are none. `log(warn, message)` receives what happened to
    /// the file.
    fn read_lines(
        &mut self,
        mut log: impl FnMut(bool, String),
        mut emit: impl FnMut(&[u8], u64),
    ) -> Result<()> {
        let file = self.settings.file.as_str();
        let warned_missing = &mut self.warned_missing;
        let res = self.tail.poll(
            self.settings.batch_size,
            |line, pos| {
                // The value schema is `string`: invalid UTF-8 becomes U+FFFD, as Kafka's
                // UTF-8 reader does (no copy when the line is valid).
                match String::from_utf8_lossy(line) {
                    Cow::Borrowed(text) => emit(text.as_bytes(), pos),
                    Cow::Owned(text) => emit(text.as_bytes(), pos),
                }
            },
            |event| match event {
                Event::Missing => {
                    if !*warned_missing {
                        *warned_missing = true;
                        log(
                            true,
                            format!("file `{file}` does not exist yet; waiting for it"),
                        );
                    }
                }
                Event::Opened { at } => {
                    *warned_missing = false;
                    log(false, format!("reading `{file}` from byte {at}"));
                }
                Event::StoredPositionPastEnd { stored, len } => log(
                    true,
                    format!(
                        "stored position {stored} is past the end of `{file}` ({len} bytes): \
                         it was truncated while the task was stopped; reading from byte 0"
                    ),
                ),
                Event::Restarted { truncated, dropped } => log(
                    true,
                    format!(
                        "`{file}` was {}; reading it from byte 0{}",
                        if truncated { "truncated" } else { "replaced" },
                        if dropped > 0 {
                            format!(" (dropped an unterminated last line of {dropped} bytes)")
                        } else {
                            String::new()
                        }
                    ),
                ),
            },
        );
        res.map(drop)
            .map_err(|e| PluginError::fatal(format!("reading `{}`: {e}", self.settings.file)))
    }

    /// Reads up to `batch.size` new lines as records, each with the position after it, packed
    /// straight into the poll's batch (no record objects, no re-encoding).
    pub fn poll(&mut self, log: impl FnMut(bool, String)) -> Result<Polled> {
        let mut polled = Polled::with_capacity(64 * 1024).with_schemas(Schemas {
            key: None,
            value: Some(VALUE_SCHEMA.to_string()),
        });
        let topic = self.settings.topic.clone();
        let partition = self.partition.clone();
        self.read_lines(log, |line, pos| {
            polled.push_parts(RecordParts::new(&topic).value(line));
            polled.reached(SourcePosition {
                partition: partition.clone(),
                position: position::position(pos),
            });
        })?;
        Ok(polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn validate_names_each_bad_key() {
        let issues = validate(&config(&[("batch.size", "0")]));
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, vec!["file", "topic", "batch.size"]);
        assert!(issues[0].message.contains("standard input"));
        let issues = validate(&config(&[
            ("file", "../etc/passwd"),
            ("topic", "t"),
            ("batch.size", "x"),
        ]));
        assert_eq!(issues.len(), 2);
        assert!(issues[0].message.contains("granted directory"));
        assert!(validate(&config(&[("file", "a.txt"), ("topic", "t")])).is_empty());
        let err = Settings::from_config(&config(&[])).unwrap_err();
        assert!(err.message.contains("`file`"), "{}", err.message);
    }

    #[test]
    fn settings_map_relative_files_onto_the_granted_root() {
        let s = Settings::from_config(&config(&[("file", "test.txt"), ("topic", "t")])).unwrap();
        assert_eq!(s.file, "test.txt");
        assert_eq!(s.guest_path, "/test.txt");
        assert_eq!(s.batch_size, 2000);
        let s = Settings::from_config(&config(&[("file", "/d/x.txt"), ("topic", "t")])).unwrap();
        assert_eq!(s.guest_path, "/d/x.txt");
        // The worker rewrote `file` onto the granted directory and kept the configured name.
        let s = Settings::from_config(&config(&[
            ("file", "/x.txt"),
            (FILE_AS_CONFIGURED, "data/x.txt"),
            ("topic", "t"),
        ]))
        .unwrap();
        assert_eq!(
            (s.file.as_str(), s.guest_path.as_str()),
            ("data/x.txt", "/x.txt")
        );
    }

    #[test]
    fn positions_stored_under_the_sandbox_path_are_still_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, "one\ntwo\n").unwrap();
        let guest = path.to_str().unwrap().to_string();
        let legacy = position::partition(&guest);
        let exact = position::partition("in.txt");
        let open = |committed: &[(&str, &str)]| {
            let settings = Settings {
                file: "in.txt".into(),
                guest_path: guest.clone(),
                topic: "lines".into(),
                batch_size: 10,
                max_line: 1 << 20,
            };
            let mut t = FileSourceTask::open(settings, committed.iter().copied()).unwrap();
            assert_eq!(t.partition(), exact);
            poll(&mut t).count as usize
        };
        assert_eq!(open(&[]), 2);
        assert_eq!(open(&[(legacy.as_str(), r#"{"position":4}"#)]), 1);
        // The name as configured wins over an older entry, whatever their order.
        assert_eq!(
            open(&[
                (exact.as_str(), r#"{"position":8}"#),
                (legacy.as_str(), r#"{"position":0}"#)
            ]),
            0
        );
    }

    /// One poll, finished as the export hands it to the host.
    fn poll(t: &mut FileSourceTask) -> weft_plugin_sdk::PackedPoll {
        t.poll(|_, _| {}).unwrap().finish().unwrap()
    }

    fn task(dir: &std::path::Path, committed: &[(&str, &str)], batch: usize) -> FileSourceTask {
        let path = dir.join("in.txt");
        let settings = Settings {
            file: "in.txt".into(),
            guest_path: path.to_str().unwrap().into(),
            topic: "lines".into(),
            batch_size: batch,
            max_line: 1 << 20,
        };
        FileSourceTask::open(settings, committed.iter().copied()).unwrap()
    }

    #[test]
    fn poll_packs_lines_with_one_position_per_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut data = "héllo\n".as_bytes().to_vec();
        data.extend_from_slice(b"bad \xff\n\nlast");
        std::fs::write(dir.path().join("in.txt"), data).unwrap();
        let mut t = task(dir.path(), &[], 10);
        assert_eq!(t.partition(), r#"{"filename":"in.txt"}"#);
        let p = poll(&mut t);
        let records = p.decode().unwrap();
        let values: Vec<&[u8]> = records
            .iter()
            .map(|r| r.value.as_deref().unwrap())
            .collect();
        assert_eq!(
            values,
            vec![
                "héllo".as_bytes(),
                "bad \u{fffd}".as_bytes(),
                b"".as_slice()
            ]
        );
        assert!(records
            .iter()
            .all(|r| r.key.is_none() && r.topic == "lines" && r.headers.is_empty()));
        assert_eq!(p.schemas.value.as_deref(), Some(VALUE_SCHEMA));
        let positions: Vec<(u32, &str, &str)> = p
            .positions
            .iter()
            .map(|r| {
                (
                    r.after_records,
                    r.position.partition.as_str(),
                    r.position.position.as_str(),
                )
            })
            .collect();
        let part = r#"{"filename":"in.txt"}"#;
        assert_eq!(
            positions,
            vec![
                (1, part, r#"{"position":7}"#),
                (2, part, r#"{"position":13}"#),
                (3, part, r#"{"position":14}"#),
            ]
        );
        let p = poll(&mut t);
        assert!(p.count == 0 && p.positions.is_empty());
    }

    #[test]
    fn reopening_at_a_committed_position_resumes_exactly() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("in.txt"), "1\n2\n3\n4\n").unwrap();
        let mut t = task(dir.path(), &[], 3);
        let p = poll(&mut t);
        assert_eq!(p.positions.len(), 3);
        // The worker stored the position after the second record only.
        let pos = p.positions[1].position.position.clone();
        let other = r#"{"filename":"other.txt"}"#;
        let mut t = task(
            dir.path(),
            &[
                (other, r#"{"position":1}"#),
                (r#"{"filename":"in.txt"}"#, &pos),
            ],
            10,
        );
        let records = poll(&mut t).decode().unwrap();
        let values: Vec<&[u8]> = records
            .iter()
            .map(|r| r.value.as_deref().unwrap())
            .collect();
        assert_eq!(values, vec![b"3".as_slice(), b"4".as_slice()]);
    }

    #[test]
    fn a_malformed_stored_position_is_a_fatal_error() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            file: "in.txt".into(),
            guest_path: dir.path().join("in.txt").to_str().unwrap().into(),
            topic: "t".into(),
            batch_size: 1,
            max_line: 10,
        };
        let err = FileSourceTask::open(
            settings,
            [(r#"{"filename":"in.txt"}"#, r#"{"position":"x"}"#)],
        )
        .unwrap_err();
        assert!(err.message.contains("non-negative"), "{}", err.message);
    }

    #[test]
    fn a_missing_file_is_logged_once_and_polls_stay_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = task(dir.path(), &[], 10);
        let mut logs = Vec::new();
        for _ in 0..3 {
            let p = t.poll(|warn, m| logs.push((warn, m))).unwrap();
            assert!(p.positions().is_empty());
        }
        assert_eq!(logs.len(), 1);
        assert!(logs[0].0 && logs[0].1.contains("does not exist"));
    }

    #[test]
    fn crlf_lines_fill_polls_of_batch_size_with_a_position_each() {
        let dir = tempfile::tempdir().unwrap();
        let body: String = (0..25).map(|i| format!("line {i}\r\n")).collect();
        std::fs::write(dir.path().join("in.txt"), body).unwrap();
        let mut t = task(dir.path(), &[], 10);
        let mut seen = Vec::new();
        for expect in [10, 10, 5, 0] {
            let p = poll(&mut t);
            assert_eq!(p.count, expect);
            let after: Vec<u32> = p.positions.iter().map(|p| p.after_records).collect();
            assert_eq!(after, (1..=expect).collect::<Vec<_>>());
            for r in p.decode().unwrap() {
                seen.push(String::from_utf8(r.value.unwrap()).unwrap());
            }
        }
        let expect: Vec<String> = (0..25).map(|i| format!("line {i}")).collect();
        assert_eq!(seen, expect);
    }
}
