//! The topic registry: which topics exist, their partitions and logs, and the metadata file that
//! remembers them (`<first log dir>/__weft_meta/topics.json`).
//!
//! Invariants:
//! - `topics.json` is the source of truth for which topics exist. Every change (create, delete, add
//!   partitions, config) is written to it atomically (temp file, fsync, rename, directory fsync)
//!   *before* it becomes visible; a failed save leaves the change undone and visible nowhere.
//! - A deleted topic's partition directories are renamed aside at once (Kafka's
//!   `<topic>-<p>.<uuid>-delete`) and removed in the background, so a topic re-created with the same
//!   name starts empty. Start-up removes only `-delete` directories: a partition directory that
//!   `topics.json` does not name is left alone with a warning (it may hold acknowledged data), and is
//!   moved aside as `<topic>-<p>.<uuid>-stray` if a new topic needs its name.
//! - Topic changes do file I/O: callers run them on blocking threads, never on an async worker.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use weft_log::Log;

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::executor::LogExecutor;
use crate::log_dir::LogDir;
use crate::partition::Partition;
use crate::topic_config::{self, TopicDefaults};

/// A topic as clients see it. Replaced wholesale (copy-on-write) when partitions or configs change.
pub struct TopicInfo {
    pub name: Arc<str>,
    pub id: Uuid,
    pub internal: bool,
    pub partitions: Vec<Arc<Partition>>,
    /// Topic-level config overrides (keys absent here take the broker default).
    pub overrides: BTreeMap<String, String>,
}

impl TopicInfo {
    /// The partition with this index; the one lookup every handler uses.
    pub fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }
}

#[derive(Serialize, Deserialize, Default)]
struct MetaFile {
    topics: Vec<MetaTopic>,
}

#[derive(Serialize, Deserialize, Clone)]
struct MetaTopic {
    name: String,
    id: Uuid,
    partitions: i32,
    #[serde(default)]
    configs: BTreeMap<String, String>,
}

#[derive(Default)]
struct State {
    by_name: HashMap<String, Arc<TopicInfo>>,
    by_id: HashMap<Uuid, String>,
}

/// All topics of this broker.
pub struct Topics {
    state: RwLock<State>,
    /// Serialises changes (create/delete/alter) so each is persisted before the next starts.
    change: Mutex<()>,
    dirs: Vec<Arc<LogDir>>,
    exec: Arc<LogExecutor>,
    meta_path: PathBuf,
    defaults: RwLock<TopicDefaults>,
    /// Called with a topic's name after it was deleted (the group coordinator drops its offsets).
    delete_hook: RwLock<Option<DeleteHook>>,
}

/// See [`Topics::on_delete`].
pub type DeleteHook = Box<dyn Fn(&str) + Send + Sync>;

/// Kafka's rule for topic names: 1-249 of `[a-zA-Z0-9._-]`, and not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), BrokerError> {
    if name.is_empty() {
        return Err(BrokerError::InvalidTopic("topic name is empty".into()));
    }
    if name == "." || name == ".." {
        return Err(BrokerError::InvalidTopic(format!(
            "topic name cannot be '{name}'"
        )));
    }
    if name.len() > 249 {
        return Err(BrokerError::InvalidTopic(format!(
            "topic name is {} characters long; at most 249 are allowed",
            name.len()
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '_' || *c == '-'))
    {
        return Err(BrokerError::InvalidTopic(format!(
            "topic name '{name}' contains '{c}'; only ASCII letters, digits, '.', '_' and '-' are allowed"
        )));
    }
    Ok(())
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BrokerError + '_ {
    move |source| BrokerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Splits a partition directory name `<topic>-<n>` into its parts.
fn parse_partition_dir(name: &str) -> Option<(&str, i32)> {
    let (topic, idx) = name.rsplit_once('-')?;
    let idx: i32 = idx.parse().ok()?;
    if topic.is_empty() || idx < 0 || validate_topic_name(topic).is_err() {
        return None;
    }
    Some((topic, idx))
}

/// Suffix of partition directories awaiting removal (Kafka's `-delete`).
const DELETE_SUFFIX: &str = "-delete";
/// Suffix of unknown partition directories moved aside for a new topic of the same name (kept).
const STRAY_SUFFIX: &str = "-stray";

/// Renames `dir` to `<dir name>.<uuid><suffix>` next to it; returns the new path.
fn rename_aside(dir: &Path, suffix: &str) -> Result<PathBuf, BrokerError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let to = dir.with_file_name(format!("{name}.{}{suffix}", Uuid::new_v4().simple()));
    std::fs::rename(dir, &to).map_err(io_err(dir))?;
    if let Some(parent) = dir.parent() {
        weft_log::sync_dir(parent)?;
    }
    Ok(to)
}

/// Removes directories in the background (a large partition takes a while).
fn remove_in_background(dirs: Vec<PathBuf>) {
    if dirs.is_empty() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("weft-delete".into())
        .spawn(move || {
            for d in dirs {
                match std::fs::remove_dir_all(&d) {
                    Ok(()) => tracing::debug!(dir = %d.display(), "removed deleted partition directory"),
                    Err(e) => tracing::warn!(dir = %d.display(), error = %e, "could not remove deleted partition directory; it is retried at the next start"),
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the directory removal thread; removal is retried at the next start");
    }
}

impl Topics {
    /// Opens every known topic's partitions, recovering their logs.
    pub fn open(config: &BrokerConfig, exec: Arc<LogExecutor>) -> Result<Topics, BrokerError> {
        for d in &config.log_dirs {
            std::fs::create_dir_all(d).map_err(io_err(d))?;
        }
        let dirs: Vec<Arc<LogDir>> = if config.log_dirs.is_empty() {
            vec![Arc::new(LogDir::new(PathBuf::from(".")))]
        } else {
            config
                .log_dirs
                .iter()
                .map(|d| Arc::new(LogDir::new(d.clone())))
                .collect()
        };
        let meta_dir = dirs[0].path().join("__weft_meta");
        std::fs::create_dir_all(&meta_dir).map_err(io_err(&meta_dir))?;
        let meta_path = meta_dir.join("topics.json");

        // Partition directories present on disk, wherever they are; `-delete` ones go.
        let mut on_disk: BTreeMap<(String, i32), (PathBuf, Arc<LogDir>)> = BTreeMap::new();
        let mut doomed = Vec::new();
        for d in &dirs {
            for entry in std::fs::read_dir(d.path()).map_err(io_err(d.path()))? {
                let entry = entry.map_err(io_err(d.path()))?;
                if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    continue;
                }
                let fname = entry.file_name().to_string_lossy().to_string();
                if fname.ends_with(DELETE_SUFFIX) {
                    doomed.push(entry.path());
                } else if let Some((t, i)) = parse_partition_dir(&fname) {
                    on_disk.insert((t.to_string(), i), (entry.path(), d.clone()));
                }
            }
        }
        if !doomed.is_empty() {
            tracing::info!(
                dirs = doomed.len(),
                "removing partition directories of deleted topics"
            );
        }
        remove_in_background(doomed);

        let meta: MetaFile = if meta_path.exists() {
            let text = std::fs::read_to_string(&meta_path).map_err(io_err(&meta_path))?;
            serde_json::from_str(&text).map_err(|e| BrokerError::Metadata {
                path: meta_path.clone(),
                reason: e.to_string(),
            })?
        } else {
            // No metadata (first start, or lost): adopt whatever partition directories exist.
            let mut adopted: BTreeMap<String, i32> = BTreeMap::new();
            for (t, i) in on_disk.keys() {
                let n = adopted.entry(t.clone()).or_insert(0);
                *n = (*n).max(i + 1);
            }
            if !adopted.is_empty() {
                tracing::warn!(
                    topics = adopted.len(),
                    "no topic metadata found; adopting partition directories on disk"
                );
            }
            MetaFile {
                topics: adopted
                    .into_iter()
                    .map(|(name, partitions)| MetaTopic {
                        name,
                        id: Uuid::new_v4(),
                        partitions,
                        configs: BTreeMap::new(),
                    })
                    .collect(),
            }
        };

        let topics = Topics {
            state: RwLock::new(State::default()),
            change: Mutex::new(()),
            dirs,
            exec,
            meta_path,
            defaults: RwLock::new(config.topic_defaults.clone()),
            delete_hook: RwLock::new(None),
        };

        let mut state = State::default();
        for mt in meta.topics {
            let log_config = match topic_config::validate(&mt.configs, &config.topic_defaults) {
                Ok(c) => c,
                Err(reason) => {
                    tracing::warn!(topic = %mt.name, %reason, "stored topic config is invalid; using broker defaults");
                    config.topic_defaults.log.clone()
                }
            };
            let name: Arc<str> = Arc::from(mt.name.as_str());
            let mut partitions = Vec::new();
            for i in 0..mt.partitions {
                let p = match on_disk.remove(&(mt.name.clone(), i)) {
                    Some((dir, log_dir)) => {
                        topics.open_partition(&name, i, &dir, log_config.clone(), log_dir)?
                    }
                    None => topics.create_partition(&name, i, log_config.clone())?,
                };
                partitions.push(Arc::new(p));
            }
            state.by_id.insert(mt.id, mt.name.clone());
            state.by_name.insert(
                mt.name.clone(),
                Arc::new(TopicInfo {
                    internal: crate::internal_topics::is_internal(&mt.name),
                    name,
                    id: mt.id,
                    partitions,
                    overrides: mt.configs,
                }),
            );
        }
        for ((t, i), (dir, _)) in on_disk {
            // Never delete what we cannot account for: it may hold acknowledged data.
            tracing::warn!(
                dir = %dir.display(),
                "partition directory {t}-{i} belongs to no known topic; leaving it alone (it is moved aside as -stray if a topic of that name is created)"
            );
        }
        *topics.state.write() = state;
        topics.save(&topics.meta_now())?;
        Ok(topics)
    }

    /// The online log directory holding the fewest partitions (Kafka's placement rule).
    fn pick_dir(&self) -> Result<Arc<LogDir>, BrokerError> {
        self.dirs
            .iter()
            .filter(|d| !d.is_offline())
            .min_by_key(|d| {
                std::fs::read_dir(d.path())
                    .map(|rd| {
                        rd.filter_map(|e| e.ok())
                            .filter(|e| {
                                parse_partition_dir(&e.file_name().to_string_lossy()).is_some()
                            })
                            .count()
                    })
                    .unwrap_or(usize::MAX)
            })
            .cloned()
            .ok_or_else(|| BrokerError::Io {
                path: self.dirs[0].path().to_path_buf(),
                source: std::io::Error::other("every log directory is offline"),
            })
    }

    fn open_partition(
        &self,
        topic: &Arc<str>,
        index: i32,
        dir: &Path,
        config: weft_log::LogConfig,
        log_dir: Arc<LogDir>,
    ) -> Result<Partition, BrokerError> {
        let (log, report) = Log::open(dir, config)?;
        if report.truncated_bytes > 0 {
            let (file, pos) = report
                .truncated_at
                .as_ref()
                .map(|(f, p)| (f.display().to_string(), *p))
                .unwrap_or_default();
            tracing::warn!(
                topic = %topic,
                partition = index,
                file = %file,
                position = pos,
                bytes = report.truncated_bytes,
                reason = report.truncate_reason.as_deref().unwrap_or("unknown"),
                "recovery truncated a torn or corrupt log tail"
            );
        }
        if report.rebuilt_indexes > 0 {
            tracing::info!(topic = %topic, partition = index, rebuilt = report.rebuilt_indexes, "rebuilt log indexes");
        }
        Ok(Partition::new(
            topic.clone(),
            index,
            log,
            log_dir,
            self.exec.clone(),
        ))
    }

    /// Creates a new, empty partition directory in the emptiest online log dir. A directory of that
    /// name that nothing accounts for is moved aside first, so the new partition never sees old data.
    fn create_partition(
        &self,
        topic: &Arc<str>,
        index: i32,
        config: weft_log::LogConfig,
    ) -> Result<Partition, BrokerError> {
        for d in &self.dirs {
            let existing = d.path().join(format!("{topic}-{index}"));
            if existing.exists() {
                let to = rename_aside(&existing, STRAY_SUFFIX)?;
                tracing::warn!(from = %existing.display(), to = %to.display(), "moved an unknown partition directory aside for a new partition");
            }
        }
        let log_dir = self.pick_dir()?;
        let dir = log_dir.path().join(format!("{topic}-{index}"));
        self.open_partition(topic, index, &dir, config, log_dir)
    }

    /// Removes partitions that were created but never became visible (their topic change failed).
    fn discard(&self, partitions: &[Arc<Partition>]) {
        let mut dirs = Vec::new();
        for p in partitions {
            drop(p.take_log());
            match rename_aside(p.dir(), DELETE_SUFFIX) {
                Ok(to) => dirs.push(to),
                Err(e) => {
                    tracing::warn!(dir = %p.dir().display(), error = %e, "could not discard a partition directory")
                }
            }
        }
        remove_in_background(dirs);
    }

    /// The metadata file's content for the current state.
    fn meta_now(&self) -> Vec<MetaTopic> {
        let state = self.state.read();
        state
            .by_name
            .values()
            .map(|t| MetaTopic {
                name: t.name.to_string(),
                id: t.id,
                partitions: t.partitions.len() as i32,
                configs: t.overrides.clone(),
            })
            .collect()
    }

    fn save(&self, topics: &[MetaTopic]) -> Result<(), BrokerError> {
        let mut topics = topics.to_vec();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        let text = serde_json::to_string_pretty(&MetaFile { topics }).map_err(|e| {
            BrokerError::Metadata {
                path: self.meta_path.clone(),
                reason: e.to_string(),
            }
        })?;
        write_atomically(&self.meta_path, text.as_bytes()).inspect_err(|e| {
            tracing::error!(path = %self.meta_path.display(), error = %e, "could not save topic metadata; the change is not applied");
        })
    }

    /// Saves the current state with `topic` replaced by `with` (or removed if `None`).
    fn save_with(&self, topic: &str, with: Option<MetaTopic>) -> Result<(), BrokerError> {
        let mut meta: Vec<MetaTopic> = self
            .meta_now()
            .into_iter()
            .filter(|t| t.name != topic)
            .collect();
        meta.extend(with);
        self.save(&meta)
    }

    /// Registers the function called after each topic deletion (outside the change lock, so it may
    /// create topics itself).
    pub fn on_delete(&self, hook: DeleteHook) {
        *self.delete_hook.write() = Some(hook);
    }

    /// The configured log directories.
    pub fn log_dirs(&self) -> &[Arc<LogDir>] {
        &self.dirs
    }

    pub fn defaults(&self) -> TopicDefaults {
        self.defaults.read().clone()
    }

    pub fn get(&self, name: &str) -> Option<Arc<TopicInfo>> {
        self.state.read().by_name.get(name).cloned()
    }

    pub fn get_by_id(&self, id: &Uuid) -> Option<Arc<TopicInfo>> {
        let state = self.state.read();
        state
            .by_id
            .get(id)
            .and_then(|n| state.by_name.get(n))
            .cloned()
    }

    pub fn partition(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        self.get(topic)?.partition(index).cloned()
    }

    /// All topics, sorted by name.
    pub fn list(&self) -> Vec<Arc<TopicInfo>> {
        let mut v: Vec<_> = self.state.read().by_name.values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    pub fn all_partitions(&self) -> Vec<Arc<Partition>> {
        self.list()
            .iter()
            .flat_map(|t| t.partitions.iter().cloned())
            .collect()
    }

    /// The log executor appends run on.
    pub fn executor(&self) -> &Arc<LogExecutor> {
        &self.exec
    }

    /// Creates a topic (or only validates the request, with `validate_only`). Blocking: file I/O.
    pub fn create(
        &self,
        name: &str,
        partitions: i32,
        overrides: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<Arc<TopicInfo>, BrokerError> {
        validate_topic_name(name)?;
        if partitions < 1 {
            return Err(BrokerError::InvalidPartitions(format!(
                "number of partitions must be at least 1, got {partitions}"
            )));
        }
        if partitions > 100_000 {
            return Err(BrokerError::InvalidPartitions(format!(
                "{partitions} partitions is more than one node can hold (100000)"
            )));
        }
        let log_config = topic_config::validate(&overrides, &self.defaults.read())
            .map_err(BrokerError::InvalidTopicConfig)?;
        let _change = self.change.lock();
        if self.get(name).is_some() {
            return Err(BrokerError::TopicExists(name.to_string()));
        }
        // Kafka forbids topics that differ only in '.' vs '_' because metric names collide.
        let folded = name.replace('.', "_");
        if let Some(other) = self
            .state
            .read()
            .by_name
            .keys()
            .find(|k| k.replace('.', "_") == folded)
        {
            return Err(BrokerError::InvalidTopic(format!(
                "topic '{name}' collides with existing topic '{other}' ('.' and '_' are interchangeable in metric names)"
            )));
        }
        let id = Uuid::new_v4();
        let arc_name: Arc<str> = Arc::from(name);
        if validate_only {
            return Ok(Arc::new(TopicInfo {
                internal: crate::internal_topics::is_internal(name),
                name: arc_name,
                id,
                partitions: Vec::new(),
                overrides,
            }));
        }
        let mut parts = Vec::with_capacity(partitions as usize);
        for i in 0..partitions {
            match self.create_partition(&arc_name, i, log_config.clone()) {
                Ok(p) => parts.push(Arc::new(p)),
                Err(e) => {
                    self.discard(&parts);
                    return Err(e);
                }
            }
        }
        let meta = MetaTopic {
            name: name.to_string(),
            id,
            partitions,
            configs: overrides.clone(),
        };
        if let Err(e) = self.save_with(name, Some(meta)) {
            self.discard(&parts);
            return Err(e);
        }
        let info = Arc::new(TopicInfo {
            internal: crate::internal_topics::is_internal(name),
            name: arc_name,
            id,
            partitions: parts,
            overrides,
        });
        {
            let mut state = self.state.write();
            state.by_id.insert(id, name.to_string());
            state.by_name.insert(name.to_string(), info.clone());
        }
        tracing::info!(topic = name, partitions, "created topic");
        Ok(info)
    }

    /// Deletes a topic: saved first, then invisible, then its directories renamed aside and removed
    /// in the background. Blocking: file I/O.
    pub fn delete(&self, name: &str) -> Result<Arc<TopicInfo>, BrokerError> {
        let change = self.change.lock();
        let info = self
            .get(name)
            .ok_or_else(|| BrokerError::UnknownTopic(name.to_string()))?;
        self.save_with(name, None)?;
        {
            let mut state = self.state.write();
            state.by_name.remove(name);
            state.by_id.remove(&info.id);
        }
        let mut renamed = Vec::new();
        for p in &info.partitions {
            // Dropping the log closes its files; the data is going away, so it is not flushed.
            drop(p.take_log());
            match rename_aside(p.dir(), DELETE_SUFFIX) {
                Ok(to) => renamed.push(to),
                Err(e) => {
                    // Renaming failed (the directory may be gone or the disk offline): remove in place
                    // so a topic re-created under this name cannot see the old data.
                    tracing::warn!(dir = %p.dir().display(), error = %e, "could not rename deleted partition directory; removing it in place");
                    if let Err(e) = std::fs::remove_dir_all(p.dir()) {
                        if e.kind() != std::io::ErrorKind::NotFound {
                            tracing::warn!(dir = %p.dir().display(), error = %e, "could not remove deleted partition directory");
                        }
                    }
                }
            }
        }
        remove_in_background(renamed);
        tracing::info!(topic = name, "deleted topic");
        drop(change);
        if let Some(hook) = self.delete_hook.read().as_ref() {
            hook(name);
        }
        Ok(info)
    }

    /// Grows a topic to `total` partitions. Blocking: file I/O.
    pub fn add_partitions(
        &self,
        name: &str,
        total: i32,
        validate_only: bool,
    ) -> Result<(), BrokerError> {
        let _change = self.change.lock();
        let current = self
            .get(name)
            .ok_or_else(|| BrokerError::UnknownTopic(name.to_string()))?;
        let have = current.partitions.len() as i32;
        if total <= have {
            return Err(BrokerError::InvalidPartitions(format!(
                "topic '{name}' has {have} partitions; the new count must be larger, got {total}"
            )));
        }
        if total > 100_000 {
            return Err(BrokerError::InvalidPartitions(format!(
                "{total} partitions is more than one node can hold (100000)"
            )));
        }
        if validate_only {
            return Ok(());
        }
        let log_config = topic_config::validate(&current.overrides, &self.defaults.read())
            .map_err(BrokerError::InvalidTopicConfig)?;
        let mut added = Vec::new();
        for i in have..total {
            match self.create_partition(&current.name, i, log_config.clone()) {
                Ok(p) => added.push(Arc::new(p)),
                Err(e) => {
                    self.discard(&added);
                    return Err(e);
                }
            }
        }
        let meta = MetaTopic {
            name: name.to_string(),
            id: current.id,
            partitions: total,
            configs: current.overrides.clone(),
        };
        if let Err(e) = self.save_with(name, Some(meta)) {
            self.discard(&added);
            return Err(e);
        }
        let mut parts = current.partitions.clone();
        parts.extend(added);
        let info = Arc::new(TopicInfo {
            name: current.name.clone(),
            id: current.id,
            internal: current.internal,
            partitions: parts,
            overrides: current.overrides.clone(),
        });
        self.state.write().by_name.insert(name.to_string(), info);
        tracing::info!(topic = name, from = have, to = total, "added partitions");
        Ok(())
    }

    /// Replaces a topic's config overrides; saved first, then running logs pick the change up.
    pub fn set_overrides(
        &self,
        name: &str,
        overrides: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), BrokerError> {
        let _change = self.change.lock();
        let current = self
            .get(name)
            .ok_or_else(|| BrokerError::UnknownTopic(name.to_string()))?;
        let log_config = topic_config::validate(&overrides, &self.defaults.read())
            .map_err(BrokerError::InvalidTopicConfig)?;
        if validate_only {
            return Ok(());
        }
        let meta = MetaTopic {
            name: name.to_string(),
            id: current.id,
            partitions: current.partitions.len() as i32,
            configs: overrides.clone(),
        };
        self.save_with(name, Some(meta))?;
        let info = Arc::new(TopicInfo {
            name: current.name.clone(),
            id: current.id,
            internal: current.internal,
            partitions: current.partitions.clone(),
            overrides: overrides.clone(),
        });
        self.state.write().by_name.insert(name.to_string(), info);
        for p in &current.partitions {
            p.set_config(log_config.clone());
        }
        tracing::info!(topic = name, ?overrides, "altered topic config");
        Ok(())
    }

    /// Closes every log cleanly (flush + clean-shutdown marker), then stops the log executor.
    pub fn close_all(&self) {
        for p in self.all_partitions() {
            if let Some(log) = p.take_log() {
                if p.log_dir().is_offline() {
                    // Its disk failed: a clean-shutdown marker would skip the recovery it needs.
                    continue;
                }
                if let Err(e) = log.close() {
                    tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "error closing log");
                }
            }
        }
        self.exec.shutdown();
    }
}

/// Writes `bytes` to `path` so that readers see either the old or the new file, never a mix (temp
/// file, fsync, rename, directory fsync: the log crate's one implementation).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BrokerError> {
    Ok(weft_log::write_atomically(path, bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(validate_topic_name("orders.v1_x-2").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("a b").is_err());
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
    }

    #[test]
    fn partition_dir_names() {
        assert_eq!(parse_partition_dir("my-topic-12"), Some(("my-topic", 12)));
        assert_eq!(parse_partition_dir("__weft_meta"), None);
        assert_eq!(parse_partition_dir("x-y"), None);
    }
}
