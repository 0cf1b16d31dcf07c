//! Source and sink connector calls: task configs, open at committed positions, poll/commit,
//! assign/revoke/put/pre-commit, and the open state (positions, assignment) an instance
//! recreated after a failure is opened with again.

use weft_batch::Record;

use super::data::{Polled, PolledBatch, RecordFailure, Schemas};
use super::instance::Live;
use super::store::classify;
use super::wit::{
    plugin_error, unwit_configs, unwit_failures, unwit_offsets, unwit_schemas, wit_entries,
    wit_offsets, wit_partitions, wit_positions, wit_schemas,
};
use super::world::World;
use super::{Instance, PluginKind, SourcePosition};
use crate::config::PluginConfig;
use crate::error::{Result, RuntimeError};

impl Instance {
    /// Source connector: splits `config` into at most `max_tasks` task configs.
    pub fn source_task_configs(
        &mut self,
        config: &PluginConfig,
        max_tasks: u32,
    ) -> Result<Vec<Vec<(String, String)>>> {
        let id = self.id.clone();
        let entries = wit_entries(&config.plugin_entries());
        let r = self.call(|store, w| match w {
            World::Source(s) => s
                .weft_plugin_source()
                .call_task_configs(store, &entries, max_tasks)
                .map(Some),
            _ => Ok(None),
        })?;
        let r = r.ok_or_else(|| self.wrong_kind(PluginKind::SourceConnector))?;
        r.map(unwit_configs).map_err(|e| plugin_error(&id, e))
    }

    /// Source connector: starts the task at the committed positions `(partition, position)`.
    ///
    /// Until this succeeds, `poll` and `commit` are refused ([`RuntimeError::NotOpen`]); once it
    /// has, an instance recreated after a failure is opened again with the task config and the
    /// positions committed since.
    pub fn source_open(&mut self, committed: &[(String, String)]) -> Result<()> {
        let id = self.id.clone();
        let entries = wit_entries(&self.entries);
        let wit_committed = wit_positions(committed);
        // Opening anew replaces whatever the task was opened with before.
        self.opened = None;
        let r = self.call(|store, w| match w {
            World::Source(s) => s
                .weft_plugin_source()
                .call_open(store, &entries, &wit_committed)
                .map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::SourceConnector))?
            .map_err(|e| plugin_error(&id, e))?;
        self.opened = Some(Opened::Source(committed.to_vec()));
        Ok(())
    }

    /// Source connector: new records, the positions they reach (`(after_records, position)`,
    /// checked to be in order and in range) and their schemas.
    pub fn source_poll(&mut self) -> Result<Polled> {
        let polled = self.source_poll_batch()?;
        Ok(Polled {
            records: self.decode_output(&polled.batch)?,
            positions: polled.positions,
            schemas: polled.schemas,
        })
    }

    /// As [`Instance::source_poll`], with the records left packed (checked, not decoded).
    pub fn source_poll_batch(&mut self) -> Result<PolledBatch> {
        self.require_open(PluginKind::SourceConnector, "poll")?;
        let id = self.id.clone();
        let r = self.call(|store, w| match w {
            World::Source(s) => s.weft_plugin_source().call_poll(store).map(Some),
            _ => Ok(None),
        })?;
        let polled = r
            .ok_or_else(|| self.wrong_kind(PluginKind::SourceConnector))?
            .map_err(|e| plugin_error(&id, e))?;
        let count = self.checked_count(&polled.records)?;
        self.count_records(count);
        let mut last = 0;
        let mut positions = Vec::with_capacity(polled.positions.len());
        for p in polled.positions {
            if p.after_records < last || p.after_records as usize > count {
                return Err(RuntimeError::BadOutput {
                    plugin: id.to_string(),
                    message: format!(
                        "position after {} records is out of order or past the {} records polled",
                        p.after_records, count
                    ),
                });
            }
            last = p.after_records;
            positions.push((p.after_records, (p.position.partition, p.position.position)));
        }
        Ok(PolledBatch {
            batch: polled.records,
            count,
            positions,
            schemas: unwit_schemas(polled.schemas),
        })
    }

    /// Source connector: these positions were acknowledged by the cluster (everything before them
    /// is there). They are stored at the next offset flush, so after a crash an instance may be
    /// reopened before them.
    pub fn source_commit(&mut self, positions: &[(String, String)]) -> Result<()> {
        self.require_open(PluginKind::SourceConnector, "commit")?;
        // The host has stored them whatever the plugin makes of the news.
        if let Some(Opened::Source(committed)) = &mut self.opened {
            for (partition, position) in positions {
                match committed.iter_mut().find(|(p, _)| p == partition) {
                    Some(c) => c.1 = position.clone(),
                    None => committed.push((partition.clone(), position.clone())),
                }
            }
        }
        let id = self.id.clone();
        let positions = wit_positions(positions);
        let r = self.call(|store, w| match w {
            World::Source(s) => s
                .weft_plugin_source()
                .call_commit(store, &positions)
                .map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::SourceConnector))?
            .map_err(|e| plugin_error(&id, e))
    }

    /// Sink connector: splits `config` into at most `max_tasks` task configs.
    pub fn sink_task_configs(
        &mut self,
        config: &PluginConfig,
        max_tasks: u32,
    ) -> Result<Vec<Vec<(String, String)>>> {
        let id = self.id.clone();
        let entries = wit_entries(&config.plugin_entries());
        let r = self.call(|store, w| match w {
            World::Sink(s) => s
                .weft_plugin_sink()
                .call_task_configs(store, &entries, max_tasks)
                .map(Some),
            _ => Ok(None),
        })?;
        let r = r.ok_or_else(|| self.wrong_kind(PluginKind::SinkConnector))?;
        r.map(unwit_configs).map_err(|e| plugin_error(&id, e))
    }

    /// Sink connector: starts the task with `task_config` (one of what `sink_task_configs`
    /// returned); partitions come with [`Instance::sink_assign`].
    ///
    /// Until this succeeds, the other sink calls are refused ([`RuntimeError::NotOpen`]); once
    /// it has, an instance recreated after a failure is opened again with this config and
    /// assigned its current partitions at the offsets `pre-commit` returned last (records put
    /// since are the caller's to send again).
    pub fn sink_open(&mut self, task_config: &[(String, String)]) -> Result<()> {
        let id = self.id.clone();
        let entries = wit_entries(task_config);
        self.opened = None;
        let r = self.call(|store, w| match w {
            World::Sink(s) => s.weft_plugin_sink().call_open(store, &entries).map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::SinkConnector))?
            .map_err(|e| plugin_error(&id, e))?;
        self.opened = Some(Opened::Sink {
            config: task_config.to_vec(),
            assignment: Vec::new(),
        });
        Ok(())
    }

    /// Sink connector: these `(topic, partition, offset)`s are now the task's.
    pub fn sink_assign(&mut self, partitions: &[(String, i32, i64)]) -> Result<()> {
        self.require_open(PluginKind::SinkConnector, "assign")?;
        let id = self.id.clone();
        let wit = wit_offsets(partitions);
        let r = self.call(|store, w| match w {
            World::Sink(s) => s.weft_plugin_sink().call_assign(store, &wit).map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::SinkConnector))?
            .map_err(|e| plugin_error(&id, e))?;
        if let Some(Opened::Sink { assignment, .. }) = &mut self.opened {
            for (topic, partition, offset) in partitions {
                match assignment
                    .iter_mut()
                    .find(|(t, p, _)| t == topic && p == partition)
                {
                    Some(a) => a.2 = *offset,
                    None => assignment.push((topic.clone(), *partition, *offset)),
                }
            }
        }
        Ok(())
    }

    /// Sink connector: these `(topic, partition)`s are no longer the task's. Call
    /// [`Instance::sink_pre_commit`] for them first.
    pub fn sink_revoke(&mut self, partitions: &[(String, i32)]) -> Result<()> {
        self.require_open(PluginKind::SinkConnector, "revoke")?;
        // Whatever the plugin makes of it, a recreated instance must not get them back.
        if let Some(Opened::Sink { assignment, .. }) = &mut self.opened {
            assignment.retain(|(t, p, _)| !partitions.iter().any(|(rt, rp)| rt == t && rp == p));
        }
        let id = self.id.clone();
        let wit = wit_partitions(partitions);
        let r = self.call(|store, w| match w {
            World::Sink(s) => s.weft_plugin_sink().call_revoke(store, &wit).map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::SinkConnector))?
            .map_err(|e| plugin_error(&id, e))
    }

    /// Sink connector: delivers records (Connect value encoding, described by `schemas`);
    /// returns the records that failed on their own (indexes into `records`, checked).
    pub fn sink_put(
        &mut self,
        records: &[Record],
        schemas: &Schemas,
    ) -> Result<Vec<RecordFailure>> {
        self.sink_put_batch(&weft_batch::encode(records)?, records.len(), schemas)
    }

    /// As [`Instance::sink_put`], for `count` records already packed.
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    pub fn sink_put_batch(
        &mut self,
        batch: &Vec<u8>,
        count: usize,
        schemas: &Schemas,
    ) -> Result<Vec<RecordFailure>> {
        self.require_open(PluginKind::SinkConnector, "put")?;
        let id = self.id.clone();
        let schemas = wit_schemas(schemas);
        let r = self.call(|store, w| match w {
            World::Sink(s) => s
                .weft_plugin_sink()
                .call_put(store, batch, &schemas)
                .map(Some),
            _ => Ok(None),
        })?;
        let failures = r
            .ok_or_else(|| self.wrong_kind(PluginKind::SinkConnector))?
            .map_err(|e| plugin_error(&id, e))?;
        self.count_records(count);
        unwit_failures(&id, failures, count)
    }

    /// Sink connector: `offsets` are the next offsets after everything put, per partition;
    /// returns those safe to commit. Only offsets of partitions in `offsets` and no further
    /// than given are accepted; from now on an instance recreated after a failure is assigned
    /// its partitions at them.
    pub fn sink_pre_commit(
        &mut self,
        offsets: &[(String, i32, i64)],
    ) -> Result<Vec<(String, i32, i64)>> {
        self.require_open(PluginKind::SinkConnector, "pre-commit")?;
        let id = self.id.clone();
        let wit = wit_offsets(offsets);
        let r = self.call(|store, w| match w {
            World::Sink(s) => s.weft_plugin_sink().call_pre_commit(store, &wit).map(Some),
            _ => Ok(None),
        })?;
        let safe = unwit_offsets(
            r.ok_or_else(|| self.wrong_kind(PluginKind::SinkConnector))?
                .map_err(|e| plugin_error(&id, e))?,
        );
        for (topic, partition, offset) in &safe {
            let given = offsets
                .iter()
                .find(|(t, p, _)| t == topic && p == partition);
            if given.is_none_or(|(_, _, o)| offset > o) {
                return Err(RuntimeError::BadOutput {
                    plugin: id.to_string(),
                    message: format!(
                        "pre-commit returned offset {offset} of {topic}-{partition}, which was \
                         not offered or is past the offset offered"
                    ),
                });
            }
        }
        if let Some(Opened::Sink { assignment, .. }) = &mut self.opened {
            for (topic, partition, offset) in &safe {
                if let Some(a) = assignment
                    .iter_mut()
                    .find(|(t, p, _)| t == topic && p == partition)
                {
                    a.2 = *offset;
                }
            }
        }
        Ok(safe)
    }

    /// Fails unless this is a `kind` connector whose task is open: a data call on a task that
    /// was never opened (or whose `open` failed) would run on a blank instance.
    fn require_open(&self, kind: PluginKind, call: &'static str) -> Result<()> {
        if self.plugin.kind != kind {
            return Err(self.wrong_kind(kind));
        }
        if self.opened.is_none() {
            return Err(RuntimeError::NotOpen {
                plugin: self.id.to_string(),
                call,
            });
        }
        Ok(())
    }

    /// Opens a freshly created connector instance again where its task stood. Called by the
    /// lifecycle before the instance serves anything; any failure fails the task.
    pub(super) fn reopen(&self, live: &mut Live) -> Result<()> {
        let Some(opened) = &self.opened else {
            return Ok(());
        };
        let r = match (opened, &live.world) {
            (Opened::Source(committed), World::Source(s)) => s.weft_plugin_source().call_open(
                &mut live.store,
                &wit_entries(&self.entries),
                &wit_positions(committed),
            ),
            (Opened::Sink { config, assignment }, World::Sink(s)) => {
                let sink = s.weft_plugin_sink();
                match sink.call_open(&mut live.store, &wit_entries(config)) {
                    Ok(Ok(())) if assignment.is_empty() => Ok(Ok(())),
                    Ok(Ok(())) => sink.call_assign(&mut live.store, &wit_offsets(assignment)),
                    other => other,
                }
            }
            _ => return Err(self.wrong_kind(self.plugin.kind)),
        };
        let cause = match r {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => plugin_error(&self.id, e),
            Err(e) => classify(&self.id, &self.sandbox, live.store.data(), e),
        };
        Err(RuntimeError::ReopenFailed {
            plugin: self.id.to_string(),
            message: cause.to_string(),
        })
    }
}

/// What a connector task was opened with, kept up to date with what the host committed since,
/// so that an instance recreated after a failure is opened again where the task stood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Opened {
    /// Source partitions and positions.
    Source(Vec<SourcePosition>),
    /// The task config and the current assignment at the offsets `pre-commit` returned last.
    Sink {
        config: Vec<(String, String)>,
        assignment: Vec<(String, i32, i64)>,
    },
}
