//! The data calls of partitioners, serializers, interceptors, transforms and converters: one
//! packed batch per call, with the output checked before the caller sees it.

use wasmtime::Store;
use weft_batch::{BatchReader, Record};

use super::data::{Output, PackedOutput, Schemas};
use super::wit::{plugin_error, unwit_failures, unwit_schemas, wit_offsets, wit_schemas};
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

    /// Transforms a packed batch whose keys and values `schemas` describes.
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    pub fn transform_batch(&mut self, batch: &Vec<u8>, schemas: &Schemas) -> Result<PackedOutput> {
        let count = input_count(batch);
        let schemas = wit_schemas(schemas);
        let id = self.id.clone();
        let r = self.call(|store, w| match w {
            World::Transform(t) => t
                .weft_plugin_record_transform()
                .call_transform(store, batch, &schemas)
                .map(Some),
            _ => Ok(None),
        })?;
        let out = r
            .ok_or_else(|| self.wrong_kind(PluginKind::Transform))?
            .map_err(|e| plugin_error(&id, e))?;
        self.count_records(count);
        self.packed(out.records, out.failures, out.schemas, count)
    }

    /// Converter: Connect values (described by `schemas`) to the bytes to produce, packed.
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    #[allow(clippy::wrong_self_convention)] // Connect's name (Converter.fromConnectData)
    pub fn from_connect_batch(
        &mut self,
        batch: &Vec<u8>,
        schemas: &Schemas,
    ) -> Result<PackedOutput> {
        let count = input_count(batch);
        let schemas = wit_schemas(schemas);
        let id = self.id.clone();
        let r = self.call(|store, w| match w {
            World::Converter(c) => c
                .weft_plugin_convert()
                .call_from_connect(store, batch, &schemas)
                .map(Some),
            _ => Ok(None),
        })?;
        let out = r
            .ok_or_else(|| self.wrong_kind(PluginKind::Converter))?
            .map_err(|e| plugin_error(&id, e))?;
        self.count_records(count);
        self.packed(out.records, out.failures, out.schemas, count)
    }

    /// Converter: consumed bytes to Connect values and the schemas read, packed.
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    pub fn to_connect_batch(&mut self, batch: &Vec<u8>) -> Result<PackedOutput> {
        let count = input_count(batch);
        let id = self.id.clone();
        let r = self.call(|store, w| match w {
            World::Converter(c) => c
                .weft_plugin_convert()
                .call_to_connect(store, batch)
                .map(Some),
            _ => Ok(None),
        })?;
        let out = r
            .ok_or_else(|| self.wrong_kind(PluginKind::Converter))?
            .map_err(|e| plugin_error(&id, e))?;
        self.count_records(count);
        self.packed(out.records, out.failures, out.schemas, count)
    }

    /// Checks a transform's or converter's output against its `count` input records.
    fn packed(
        &self,
        batch: Vec<u8>,
        failures: Vec<types::RecordFailure>,
        schemas: types::Schemas,
        count: usize,
    ) -> Result<PackedOutput> {
        let out_count = self.checked_count(&batch)?;
        let failures = unwit_failures(&self.id, failures, count)?;
        Ok(PackedOutput {
            batch,
            count: out_count,
            failures,
            schemas: unwit_schemas(schemas),
        })
    }

    /// Number of records in a batch a plugin returned; malformed bytes are its fault.
    pub(super) fn checked_count(&self, bytes: &[u8]) -> Result<usize> {
        let bad = |e: weft_batch::DecodeError| RuntimeError::BadOutput {
            plugin: self.id.to_string(),
            message: e.to_string(),
        };
        BatchReader::new(bytes)
            .and_then(|reader| reader.check_records())
            .map_err(bad)
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

    /// Transforms owned records whose keys and values `schemas` describes (encodes, calls,
    /// validates and decodes the output).
    pub fn transform(&mut self, records: &[Record], schemas: &Schemas) -> Result<Output> {
        let out = self.transform_batch(&weft_batch::encode(records)?, schemas)?;
        self.unpacked(out)
    }

    /// Converter: Connect values (described by `schemas`) to the bytes to produce.
    pub fn convert_from_connect(
        &mut self,
        records: &[Record],
        schemas: &Schemas,
    ) -> Result<Output> {
        let out = self.from_connect_batch(&weft_batch::encode(records)?, schemas)?;
        self.unpacked(out)
    }

    /// Converter: consumed bytes to Connect values, with the schemas read.
    pub fn convert_to_connect(&mut self, records: &[Record]) -> Result<Output> {
        let out = self.to_connect_batch(&weft_batch::encode(records)?)?;
        self.unpacked(out)
    }

    fn unpacked(&self, out: PackedOutput) -> Result<Output> {
        Ok(Output {
            records: self.decode_output(&out.batch)?,
            failures: out.failures,
            schemas: out.schemas,
        })
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

/// Records in an input batch the host built (0 if it cannot be read, which cannot happen for a
/// batch from `weft_batch::encode`).
fn input_count(batch: &[u8]) -> usize {
    BatchReader::new(batch).map_or(0, |r| r.len())
}
