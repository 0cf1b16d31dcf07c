//! The file-sink task: its settings and the put / flush cycle.

use weft_plugin_sdk::{log, Config, ConfigIssue, PluginError, Result};

use crate::encode::ValueKind;
use crate::writer::{LineFile, Repair};

/// Config keys (Kafka FileStreamSink's `file`; `topics`/`topics.regex` are Connect's own).
pub const FILE: &str = "file";
pub const TOPICS: &str = "topics";
pub const TOPICS_REGEX: &str = "topics.regex";

/// Checks a config, one issue per bad key. `topics`/`topics.regex` are the worker's to check
/// (as Connect's framework does), so a task config without them still opens.
pub fn validate(c: &Config) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    match c.get(FILE).map(str::trim) {
        None | Some("") => issues.push(ConfigIssue {
            key: FILE.into(),
            message: "is required: writing to standard output is not supported in the sandbox; \
                      name a file inside the directory granted by `capability.filesystem.dir`"
                .into(),
        }),
        Some(f) if f.split('/').any(|part| part == "..") => issues.push(ConfigIssue {
            key: FILE.into(),
            message: format!("`{f}` leaves the granted directory (`..` is not allowed)"),
        }),
        Some(_) => {}
    }
    issues
}

/// Where the guest opens `file`: relative paths are relative to the granted directory, which
/// the host preopens as `/`.
pub fn guest_path(file: &str) -> String {
    if file.starts_with('/') {
        file.to_string()
    } else {
        format!("/{}", file.trim_start_matches("./"))
    }
}

/// A running file-sink task.
#[derive(Debug)]
pub struct FileSinkTask {
    file: String,
    out: LineFile,
}

impl FileSinkTask {
    /// Opens (or creates) the file for appending.
    pub fn open(c: &Config) -> Result<FileSinkTask> {
        let issues = validate(c);
        if let Some(i) = issues.first() {
            return Err(PluginError::fatal(format!(
                "invalid file-sink config: `{}` {}",
                i.key, i.message
            )));
        }
        let file = c.get(FILE).unwrap_or_default().trim().to_string();
        Self::open_path(&file, &guest_path(&file))
    }

    /// Opens `path` (as the guest sees it), naming the file `file` in errors.
    pub fn open_path(file: &str, path: &str) -> Result<FileSinkTask> {
        let (out, repair) = LineFile::open(path)
            .map_err(|e| PluginError::fatal(format!("cannot open `{file}` for appending: {e}")))?;
        match repair {
            Repair::None => {}
            Repair::Truncated(n) => log::warn(&format!(
                "`{file}` ended in an unterminated line (a write cut short by a crash): cut off \
                 its {n} bytes; their records were not committed and come again"
            )),
            Repair::Terminated => log::warn(&format!(
                "`{file}` ended in an unterminated line too long to be this sink's: added a \
                 newline after it"
            )),
        }
        Ok(FileSinkTask {
            file: file.to_string(),
            out,
        })
    }

    /// Appends one line per value (`None` is a null value), all described by `value_schema`,
    /// and hands them to the file (without an fsync: that is [`FileSinkTask::flush`]).
    pub fn put<'v>(
        &mut self,
        values: impl IntoIterator<Item = Option<&'v [u8]>>,
        value_schema: Option<&str>,
    ) -> Result<()> {
        let kind = ValueKind::of(value_schema);
        let fail =
            |e: std::io::Error| PluginError::fatal(format!("writing to `{}`: {e}", self.file));
        for v in values {
            self.out.push(kind, v).map_err(fail)?;
        }
        // One write per put: readers see the lines at once, as with Kafka's sink (which writes
        // each line); they are durable after the fsync of the next flush.
        self.out.write_out().map_err(fail)
    }

    /// Makes everything put so far durable (write + fsync). A failure is retriable: nothing is
    /// committed, and the next pre-commit writes and syncs again.
    pub fn flush(&mut self) -> Result<()> {
        self.out
            .sync()
            .map_err(|e| PluginError::retriable(format!("syncing `{}`: {e}", self.file)))
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
    fn validate_names_bad_keys() {
        let issues = validate(&config(&[]));
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, vec!["file"]);
        assert!(issues[0].message.contains("standard output"));
        assert!(validate(&config(&[("file", "o.txt"), ("topics.regex", "a.*")])).is_empty());
        assert!(
            validate(&config(&[("file", "a/../../x"), ("topics", "t")]))[0]
                .message
                .contains("granted directory")
        );
        let err = FileSinkTask::open(&config(&[("topics", "t")])).unwrap_err();
        assert!(err.message.contains("`file`"), "{}", err.message);
        assert_eq!(guest_path("x.txt"), "/x.txt");
        assert_eq!(guest_path("/d/x.txt"), "/d/x.txt");
    }

    #[test]
    fn put_buffers_and_flush_makes_lines_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut t = FileSinkTask::open_path("out.txt", path.to_str().unwrap()).unwrap();
        let values = [Some(b"one".as_slice()), None, Some(b"three".as_slice())];
        t.put(values, Some(r#"{"type":"string","optional":false}"#))
            .unwrap();
        // Written at the end of the put (visible at once), synced by the flush.
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "one\nnull\nthree\n"
        );
        t.flush().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "one\nnull\nthree\n"
        );
        t.put([Some(br#""quoted""#.as_slice())], None).unwrap();
        t.flush().unwrap();
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("three\nquoted\n"));
    }

    #[test]
    fn an_unwritable_file_is_a_fatal_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("out.txt");
        let err =
            FileSinkTask::open_path("missing-dir/out.txt", path.to_str().unwrap()).unwrap_err();
        assert!(
            err.message.contains("missing-dir/out.txt"),
            "{}",
            err.message
        );
    }
}
