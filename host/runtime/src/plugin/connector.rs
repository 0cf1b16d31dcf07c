//! Source and sink connector calls: task configs, open at committed positions, poll/commit and
//! put/flush, and the open state an instance recreated after a failure is opened with again.

use weft_batch::Record;

use super::instance::Live;
use super::store::classify;
use super::wit::{plugin_error, unwit_configs, wit_entries, wit_offsets, wit_positions};
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

    /// Source connector: new records and the positions they reach.
    pub fn source_poll(&mut self) -> Result<(Vec<Record>, Vec<SourcePosition>)> {
        self.require_open(PluginKind::SourceConnector, "poll")?;
        let id = self.id.clone();
        let r = self.call(|store, w| match w {
            World::Source(s) => s.weft_plugin_source().call_poll(store).map(Some),
            _ => Ok(None),
        })?;
        let (batch, positions) = r
            .ok_or_else(|| self.wrong_kind(PluginKind::SourceConnector))?
            .map_err(|e| plugin_error(&id, e))?;
        let records = self.decode_output(&batch)?;
        Ok((
            records,
            positions
                .into_iter()
                .map(|p| (p.partition, p.position))
                .collect(),
        ))
    }

    /// Source connector: these positions are stored. From now on, an instance recreated after
    /// a failure is opened at them.
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

    /// Sink connector: starts the task for `(topic, partition, offset)` assignments.
    ///
    /// Until this succeeds, `put` and `flush` are refused ([`RuntimeError::NotOpen`]); once it
    /// has, an instance recreated after a failure is opened again with the task config and the
    /// offsets committed since (records put after the last flush are the caller's to send again).
    pub fn sink_open(&mut self, assigned: &[(String, i32, i64)]) -> Result<()> {
        let id = self.id.clone();
        let entries = wit_entries(&self.entries);
        let wit_assigned = wit_offsets(assigned);
        self.opened = None;
        let r = self.call(|store, w| match w {
            World::Sink(s) => s
                .weft_plugin_sink()
                .call_open(store, &entries, &wit_assigned)
                .map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::SinkConnector))?
            .map_err(|e| plugin_error(&id, e))?;
        self.opened = Some(Opened::Sink(assigned.to_vec()));
        Ok(())
    }

    /// Sink connector: delivers records.
    pub fn sink_put(&mut self, records: &[Record]) -> Result<()> {
        self.require_open(PluginKind::SinkConnector, "put")?;
        let id = self.id.clone();
        let batch = weft_batch::encode(records)?;
        let r = self.call(|store, w| match w {
            World::Sink(s) => s.weft_plugin_sink().call_put(store, &batch).map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::SinkConnector))?
            .map_err(|e| plugin_error(&id, e))
    }

    /// Sink connector: makes everything put durable before `offsets` are committed. Once it
    /// succeeds, an instance recreated after a failure is opened at these offsets.
    pub fn sink_flush(&mut self, offsets: &[(String, i32, i64)]) -> Result<()> {
        self.require_open(PluginKind::SinkConnector, "flush")?;
        let id = self.id.clone();
        let wit = wit_offsets(offsets);
        let r = self.call(|store, w| match w {
            World::Sink(s) => s.weft_plugin_sink().call_flush(store, &wit).map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::SinkConnector))?
            .map_err(|e| plugin_error(&id, e))?;
        if let Some(Opened::Sink(assigned)) = &mut self.opened {
            for (topic, partition, offset) in offsets {
                match assigned
                    .iter_mut()
                    .find(|(t, p, _)| t == topic && p == partition)
                {
                    Some(a) => a.2 = *offset,
                    None => assigned.push((topic.clone(), *partition, *offset)),
                }
            }
        }
        Ok(())
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
        let entries = wit_entries(&self.entries);
        let r = match (opened, &live.world) {
            (Opened::Source(committed), World::Source(s)) => s.weft_plugin_source().call_open(
                &mut live.store,
                &entries,
                &wit_positions(committed),
            ),
            (Opened::Sink(assigned), World::Sink(s)) => {
                s.weft_plugin_sink()
                    .call_open(&mut live.store, &entries, &wit_offsets(assigned))
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
    /// Topic partitions and offsets.
    Sink(Vec<(String, i32, i64)>),
}
