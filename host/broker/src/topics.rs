//! The topic registry: which topics exist, their partitions and logs, and the metadata file that
//! remembers them (`<first log dir>/__weft_meta/topics.json`).
//!
//! Invariant: `topics.json` is the source of truth for which topics exist. It is rewritten atomically
//! (temp file + rename) before a change becomes visible, so a crash never leaves a half-known topic;
//! partition directories of topics it does not name are leftovers of an interrupted deletion.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use weft_log::Log;

use crate::config::BrokerConfig;
use crate::error::BrokerError;
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

#[derive(Serialize, Deserialize, Default)]
struct MetaFile {
    topics: Vec<MetaTopic>,
}

#[derive(Serialize, Deserialize)]
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
    dirs: Vec<PathBuf>,
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

impl Topics {
    /// Opens every known topic's partitions, recovering their logs.
    pub fn open(config: &BrokerConfig) -> Result<Topics, BrokerError> {
        for d in &config.log_dirs {
            std::fs::create_dir_all(d).map_err(io_err(d))?;
        }
        let first = config
            .log_dirs
            .first()
            .cloned()
            .unwrap_or_else(|| PathBuf::from("."));
        let meta_dir = first.join("__weft_meta");
        std::fs::create_dir_all(&meta_dir).map_err(io_err(&meta_dir))?;
        let meta_path = meta_dir.join("topics.json");

        // Partition directories present on disk, wherever they are.
        let mut on_disk: BTreeMap<(String, i32), PathBuf> = BTreeMap::new();
        for d in &config.log_dirs {
            for entry in std::fs::read_dir(d).map_err(io_err(d))? {
                let entry = entry.map_err(io_err(d))?;
                if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    continue;
                }
                let fname = entry.file_name().to_string_lossy().to_string();
                if let Some((t, i)) = parse_partition_dir(&fname) {
                    on_disk.insert((t.to_string(), i), entry.path());
                }
            }
        }

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
            dirs: config.log_dirs.clone(),
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
                let dir = match on_disk.remove(&(mt.name.clone(), i)) {
                    Some(d) => d,
                    None => topics.pick_dir().join(format!("{}-{}", mt.name, i)),
                };
                partitions.push(Arc::new(open_partition(
                    &name,
                    i,
                    &dir,
                    log_config.clone(),
                )?));
            }
            state.by_id.insert(mt.id, mt.name.clone());
            state.by_name.insert(
                mt.name.clone(),
                Arc::new(TopicInfo {
                    internal: mt.name.starts_with("__"),
                    name,
                    id: mt.id,
                    partitions,
                    overrides: mt.configs,
                }),
            );
        }
        for ((t, i), dir) in on_disk {
            tracing::warn!(dir = %dir.display(), "removing partition directory {t}-{i}: its topic was deleted");
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "could not remove leftover partition directory");
            }
        }
        *topics.state.write() = state;
        topics.persist()?;
        Ok(topics)
    }

    /// The log directory holding the fewest partitions (Kafka's placement rule for new partitions).
    fn pick_dir(&self) -> PathBuf {
        self.dirs
            .iter()
            .min_by_key(|d| {
                std::fs::read_dir(d)
                    .map(|rd| {
                        rd.filter_map(|e| e.ok())
                            .filter(|e| e.path().is_dir())
                            .count()
                    })
                    .unwrap_or(usize::MAX)
            })
            .cloned()
            .unwrap_or_else(|| PathBuf::from("."))
    }

    fn persist(&self) -> Result<(), BrokerError> {
        let state = self.state.read();
        let mut topics: Vec<MetaTopic> = state
            .by_name
            .values()
            .map(|t| MetaTopic {
                name: t.name.to_string(),
                id: t.id,
                partitions: t.partitions.len() as i32,
                configs: t.overrides.clone(),
            })
            .collect();
        drop(state);
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        let text = serde_json::to_string_pretty(&MetaFile { topics }).map_err(|e| {
            BrokerError::Metadata {
                path: self.meta_path.clone(),
                reason: e.to_string(),
            }
        })?;
        write_atomically(&self.meta_path, text.as_bytes())
    }

    /// Registers the function called after each topic deletion (outside the change lock, so it may
    /// create topics itself).
    pub fn on_delete(&self, hook: DeleteHook) {
        *self.delete_hook.write() = Some(hook);
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
        let t = self.get(topic)?;
        usize::try_from(index)
            .ok()
            .and_then(|i| t.partitions.get(i))
            .cloned()
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

    /// Creates a topic (or only validates the request, with `validate_only`).
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
                internal: name.starts_with("__"),
                name: arc_name,
                id,
                partitions: Vec::new(),
                overrides,
            }));
        }
        let mut parts = Vec::with_capacity(partitions as usize);
        for i in 0..partitions {
            let dir = self.pick_dir().join(format!("{name}-{i}"));
            parts.push(Arc::new(open_partition(
                &arc_name,
                i,
                &dir,
                log_config.clone(),
            )?));
        }
        let info = Arc::new(TopicInfo {
            internal: name.starts_with("__"),
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
        if let Err(e) = self.persist() {
            self.state.write().by_name.remove(name);
            return Err(e);
        }
        tracing::info!(topic = name, partitions, "created topic");
        Ok(info)
    }

    /// Deletes a topic and its data.
    pub fn delete(&self, name: &str) -> Result<Arc<TopicInfo>, BrokerError> {
        let _change = self.change.lock();
        let info = {
            let mut state = self.state.write();
            let info = state
                .by_name
                .remove(name)
                .ok_or_else(|| BrokerError::UnknownTopic(name.to_string()))?;
            state.by_id.remove(&info.id);
            info
        };
        self.persist()?;
        for p in &info.partitions {
            if let Some(log) = p.take_log() {
                if let Err(e) = log.delete() {
                    tracing::warn!(topic = name, partition = p.index, error = %e, "could not remove partition data");
                }
            }
        }
        tracing::info!(topic = name, "deleted topic");
        drop(_change);
        if let Some(hook) = self.delete_hook.read().as_ref() {
            hook(name);
        }
        Ok(info)
    }

    /// Grows a topic to `total` partitions.
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
        let mut parts = current.partitions.clone();
        for i in have..total {
            let dir = self.pick_dir().join(format!("{name}-{i}"));
            parts.push(Arc::new(open_partition(
                &current.name,
                i,
                &dir,
                log_config.clone(),
            )?));
        }
        let info = Arc::new(TopicInfo {
            name: current.name.clone(),
            id: current.id,
            internal: current.internal,
            partitions: parts,
            overrides: current.overrides.clone(),
        });
        self.state.write().by_name.insert(name.to_string(), info);
        self.persist()?;
        tracing::info!(topic = name, from = have, to = total, "added partitions");
        Ok(())
    }

    /// Replaces a topic's config overrides; running logs pick the change up at once.
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
        let info = Arc::new(TopicInfo {
            name: current.name.clone(),
            id: current.id,
            internal: current.internal,
            partitions: current.partitions.clone(),
            overrides: overrides.clone(),
        });
        self.state.write().by_name.insert(name.to_string(), info);
        self.persist()?;
        for p in &current.partitions {
            p.set_config(log_config.clone());
        }
        tracing::info!(topic = name, ?overrides, "altered topic config");
        Ok(())
    }

    /// Closes every log cleanly (flush + clean-shutdown marker).
    pub fn close_all(&self) {
        for p in self.all_partitions() {
            if let Some(log) = p.take_log() {
                if let Err(e) = log.close() {
                    tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "error closing log");
                }
            }
        }
    }
}

fn open_partition(
    topic: &Arc<str>,
    index: i32,
    dir: &Path,
    config: weft_log::LogConfig,
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
    Ok(Partition::new(topic.clone(), index, log))
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
