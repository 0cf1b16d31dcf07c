//! The data calls of partitioners, serializers, interceptors and transforms: one packed batch per
//! call, with the output checked before the caller sees it.

use wasmtime::Store;
use weft_batch::Record;

use super::wit::{plugin_error, wit_offsets};
use super::world::World;
use super::{Instance, PluginKind};
use crate::bindings::types;
use crate::error::{Result, RuntimeError};
use crate::host::HostState;

impl Instance {
    /// Chooses a partition for every record of `batch` (a packed batch of `count` records).
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    pub fn partition_batch(
        &mut self,
        partitions: u32,
        batch: &Vec<u8>,
        count: usize,
    ) -> Result<Vec<u32>> {
        let id = self.id.clone();
        let r = self.call(|store, w| match w {
            World::Partitioner(p) => p
                .weft_plugin_partition()
                .call_partition(store, partitions, batch)
                .map(Some),
            _ => Ok(None),
        })?;
        let out = r
            .ok_or_else(|| self.wrong_kind(PluginKind::Partitioner))?
            .map_err(|e| plugin_error(&id, e))?;
        if out.len() != count || out.iter().any(|p| *p >= partitions) {
            return Err(RuntimeError::BadOutput {
                plugin: id.to_string(),
                message: format!(
                    "expected {count} partitions below {partitions}, got {} values",
                    out.len()
                ),
            });
        }
        Ok(out)
    }

    /// Transforms a packed batch.
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    pub fn transform_batch(&mut self, batch: &Vec<u8>) -> Result<Vec<u8>> {
        self.batch_call(PluginKind::Transform, batch, |store, w, b| match w {
            World::Transform(t) => t
                .weft_plugin_record_transform()
                .call_transform(store, b)
                .map(Some),
            _ => Ok(None),
        })
    }

    /// Serializes a packed batch.
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    pub fn serialize_batch(&mut self, batch: &Vec<u8>) -> Result<Vec<u8>> {
        self.batch_call(PluginKind::Serializer, batch, |store, w, b| match w {
            World::Serializer(s) => s.weft_plugin_serde().call_serialize(store, b).map(Some),
            _ => Ok(None),
        })
    }

    /// Deserializes a packed batch.
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    pub fn deserialize_batch(&mut self, batch: &Vec<u8>) -> Result<Vec<u8>> {
        self.batch_call(PluginKind::Serializer, batch, |store, w, b| match w {
            World::Serializer(s) => s.weft_plugin_serde().call_deserialize(store, b).map(Some),
            _ => Ok(None),
        })
    }

    /// Runs the interceptor's `on-send` over a packed batch.
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    pub fn on_send_batch(&mut self, batch: &Vec<u8>) -> Result<Vec<u8>> {
        self.batch_call(PluginKind::Interceptor, batch, |store, w, b| match w {
            World::Interceptor(i) => i.weft_plugin_intercept().call_on_send(store, b).map(Some),
            _ => Ok(None),
        })
    }

    /// Runs the interceptor's `on-consume` over a packed batch.
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    pub fn on_consume_batch(&mut self, batch: &Vec<u8>) -> Result<Vec<u8>> {
        self.batch_call(PluginKind::Interceptor, batch, |store, w, b| match w {
            World::Interceptor(i) => i
                .weft_plugin_intercept()
                .call_on_consume(store, b)
                .map(Some),
            _ => Ok(None),
        })
    }

    /// Tells the interceptor which records were acknowledged; `failures` are (index, error).
    pub fn on_acknowledgement(
        &mut self,
        records: &[Record],
        failures: &[(u32, String)],
    ) -> Result<()> {
        let batch = weft_batch::encode(records)?;
        let r = self.call(|store, w| match w {
            World::Interceptor(i) => i
                .weft_plugin_intercept()
                .call_on_acknowledgement(store, &batch, failures)
                .map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::Interceptor))
    }

    /// Tells the interceptor that these offsets were committed.
    pub fn on_commit(&mut self, offsets: &[(String, i32, i64)]) -> Result<()> {
        let offsets = wit_offsets(offsets);
        let r = self.call(|store, w| match w {
            World::Interceptor(i) => i
                .weft_plugin_intercept()
                .call_on_commit(store, &offsets)
                .map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::Interceptor))
    }

    #[allow(clippy::ptr_arg)]
    fn batch_call(
        &mut self,
        kind: PluginKind,
        batch: &Vec<u8>,
        f: impl FnOnce(
            &mut Store<HostState>,
            &World,
            &Vec<u8>,
        )
            -> wasmtime::Result<Option<std::result::Result<Vec<u8>, types::PluginError>>>,
    ) -> Result<Vec<u8>> {
        let id = self.id.clone();
        let r = self.call(|store, w| f(store, w, batch))?;
        r.ok_or_else(|| self.wrong_kind(kind))?
            .map_err(|e| plugin_error(&id, e))
    }

    /// Transforms owned records (encodes, calls, validates and decodes the output).
    pub fn transform(&mut self, records: &[Record]) -> Result<Vec<Record>> {
        let out = self.transform_batch(&weft_batch::encode(records)?)?;
        self.decode_output(&out)
    }

    /// Serializes owned records.
    pub fn serialize(&mut self, records: &[Record]) -> Result<Vec<Record>> {
        let out = self.serialize_batch(&weft_batch::encode(records)?)?;
        self.decode_output(&out)
    }

    /// Deserializes owned records.
    pub fn deserialize(&mut self, records: &[Record]) -> Result<Vec<Record>> {
        let out = self.deserialize_batch(&weft_batch::encode(records)?)?;
        self.decode_output(&out)
    }

    /// Runs `on-send` over owned records.
    pub fn on_send(&mut self, records: &[Record]) -> Result<Vec<Record>> {
        let out = self.on_send_batch(&weft_batch::encode(records)?)?;
        self.decode_output(&out)
    }

    /// Runs `on-consume` over owned records.
    pub fn on_consume(&mut self, records: &[Record]) -> Result<Vec<Record>> {
        let out = self.on_consume_batch(&weft_batch::encode(records)?)?;
        self.decode_output(&out)
    }

    /// Partitions owned records (all of one topic).
    pub fn partition(&mut self, partitions: u32, records: &[Record]) -> Result<Vec<u32>> {
        let batch = weft_batch::encode(records)?;
        self.partition_batch(partitions, &batch, records.len())
    }
}
