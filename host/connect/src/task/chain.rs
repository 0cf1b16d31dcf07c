//! The per-batch stages between a connector and Kafka: converters and transforms (each
//! transform gated by its predicate), one component call per batch or per run of records, with
//! per-record failures handed to the task's error handler.
//!
//! Every record entering a chain carries its index in the task's original batch in its
//! `offset` field, so a failure reported by any stage names the original record, and the
//! caller knows which original records came out the other end.
//!
//! A run of two or more built-in transforms without predicates (and with the same sandbox
//! keys) is fused: one instance of the built-in `chain` component runs them all in one call,
//! handing each record from one to the next in memory (plugins/transforms/chain). A batch in
//! which a record fails there goes through the transforms one by one instead, which names the
//! transform that failed it; they are pure functions of record and config, so that run gives
//! what the fused one would have.

use std::borrow::Cow;
use std::sync::Arc;

use regex::Regex;
use weft_runtime::{builtin, PluginKind, Registry, RuntimeError};

use crate::config::{PluginRef, Predicate, TransformSpec, PASSTHROUGH_HEADER_CONVERTER};
use crate::errors::{ErrorHandler, FailedRecord, Interrupt, Retried, Stage, TaskFailure};
use crate::task::batch::{origin, Batch, BatchWriter, RecordView};
use crate::task::component::{instantiate, Component, Converted, Failure, Schemas, Usage};

/// The outcome of running a stage over a batch.
pub enum Staged<T> {
    Done(T, Schemas),
    Stopped,
}

enum Pred {
    Topic(Regex),
    Header(String),
    Tombstone,
}

impl Pred {
    fn test(&self, r: &RecordView<'_>) -> bool {
        match self {
            Pred::Topic(re) => re.is_match(r.topic),
            Pred::Header(k) => r.headers.iter().any(|(name, _)| name == k),
            Pred::Tombstone => r.value.is_none(),
        }
    }
}

struct Step {
    comp: Component,
    alias: String,
    predicate: Option<Pred>,
    negate: bool,
    /// Set when `comp` is the `chain` component running several transforms.
    fused: Option<Fused>,
}

/// What a fused step needs to run its transforms one by one.
struct Fused {
    registry: Arc<Registry>,
    specs: Vec<TransformSpec>,
    defaults: Vec<(String, String)>,
    /// The transforms one by one, instantiated the first time a batch needs them.
    one_by_one: Option<Chain>,
    /// False once the fused instance failed as an instance (a trap, its deadline or memory
    /// cap): from then on every batch goes through the transforms one by one.
    usable: bool,
}

/// The built-in component that runs built-in transforms in one instance.
const CHAIN: &str = "chain";

/// The transforms of a connector, in order.
#[derive(Default)]
pub struct Chain {
    steps: Vec<Step>,
}

/// The task's original batch, which every record's `offset` indexes, and (sinks) the Kafka
/// offsets of its records.
#[derive(Clone, Copy)]
pub struct Origins<'a> {
    pub records: &'a Batch,
    pub kafka_offsets: Option<&'a [i64]>,
}

/// Hands a stage's per-record failures to the error handler; under `errors.tolerance=none`
/// the first one fails the task. Records are copied out of the batches only here.
pub fn handle_failures(
    failures: &[Failure],
    input: &Batch,
    origins: Origins<'_>,
    stage: Stage,
    class: &str,
    errors: &mut ErrorHandler,
) -> Result<(), TaskFailure> {
    if failures.is_empty() {
        return Ok(());
    }
    let inputs = input.views()?;
    let originals = origins.records.views()?;
    for f in failures {
        let Some(rec) = inputs.get(f.index as usize) else {
            return Err(TaskFailure::new(
                Some(stage),
                class,
                format!(
                    "reported a failure for record {} of a batch of {}",
                    f.index,
                    inputs.len()
                ),
            ));
        };
        let original = weft_runtime::Record::from_view(originals.get(origin(rec)).unwrap_or(rec));
        let kafka_offset = origins
            .kafka_offsets
            .and_then(|o| o.get(origin(rec)).copied());
        let failed = FailedRecord {
            stage,
            class,
            original: &original,
            kafka_offset,
            retriable: f.retriable,
            message: &f.message,
        };
        if !errors.tolerate(&failed) {
            // A consumed record is named by its partition and offset; a source's record has
            // neither yet, only the topic it is bound for.
            let which = match (original.partition, kafka_offset) {
                (Some(p), Some(o)) => format!("record {}-{p}@{o}", original.topic),
                _ => format!("a record for topic {}", original.topic),
            };
            return Err(TaskFailure::new(
                Some(stage),
                class,
                format!("{which} failed: {}", f.message),
            ));
        }
    }
    Ok(())
}

/// Runs one component call over `input` under the retry policy. A call that fails for good
/// fails the task, except that under `errors.tolerance=all` a plugin's own error gives up the
/// batch's records instead (a trap, deadline or memory overrun always fails the task).
pub fn run_stage(
    errors: &mut ErrorHandler,
    stop: &dyn Interrupt,
    stage: Stage,
    comp: &mut Component,
    input: &Batch,
    origins: Origins<'_>,
    call: impl FnMut(&mut Component) -> Result<Converted, RuntimeError>,
) -> Result<Option<(Batch, Schemas)>, TaskFailure> {
    let mut call = call;
    let class = comp.label().to_string();
    let r = errors.retry(stop, false, || call(comp));
    let mut out = match r {
        Retried::Done(c) => c,
        Retried::Stopped => return Ok(None),
        Retried::Failed(e) => {
            if e.is_instance_failure() || !errors.tolerate_all() {
                return Err(TaskFailure::from_runtime(Some(stage), &class, &e));
            }
            let msg = e.to_string();
            let failures: Vec<Failure> = (0..input.len() as u32)
                .map(|index| Failure {
                    index,
                    retriable: e.is_retriable(),
                    message: msg.clone(),
                })
                .collect();
            handle_failures(&failures, input, origins, stage, &class, errors)?;
            return Ok(Some((Batch::empty(), Schemas::default())));
        }
    };
    handle_failures(&out.failures, input, origins, stage, &class, errors)?;
    let schemas = std::mem::take(&mut out.schemas);
    Ok(Some((Batch::from_output(out), schemas)))
}

impl Chain {
    /// Instantiates the transforms, each run of built-in ones fused (see the module doc).
    pub fn build(
        registry: &Arc<Registry>,
        specs: &[TransformSpec],
        defaults: &[(String, String)],
    ) -> Result<Chain, TaskFailure> {
        let mut steps = Vec::with_capacity(specs.len());
        let mut i = 0;
        while i < specs.len() {
            let mut end = i;
            while end < specs.len()
                && fusable(&specs[end])
                && sandbox_keys(&specs[end]) == sandbox_keys(&specs[i])
            {
                end += 1;
            }
            if end - i < 2 {
                steps.push(Self::step(registry, &specs[i], defaults)?);
                i += 1;
                continue;
            }
            match fuse(registry, &specs[i..end], defaults) {
                Some(step) => steps.push(step),
                None => {
                    for s in &specs[i..end] {
                        steps.push(Self::step(registry, s, defaults)?);
                    }
                }
            }
            i = end;
        }
        Ok(Chain { steps })
    }

    /// The transforms one by one, none fused.
    fn one_by_one(
        registry: &Registry,
        specs: &[TransformSpec],
        defaults: &[(String, String)],
    ) -> Result<Chain, TaskFailure> {
        let steps = specs
            .iter()
            .map(|s| Self::step(registry, s, defaults))
            .collect::<Result<_, _>>()?;
        Ok(Chain { steps })
    }

    fn step(
        registry: &Registry,
        s: &TransformSpec,
        defaults: &[(String, String)],
    ) -> Result<Step, TaskFailure> {
        let comp = instantiate(registry, &s.component, defaults, &[])
            .map_err(|e| TaskFailure::from_runtime(Some(Stage::Transformation), &s.alias, &e))?;
        let predicate = match &s.predicate {
            None => None,
            Some(Predicate::TopicNameMatches(p)) => Some(Pred::Topic(
                Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                    TaskFailure::new(
                        Some(Stage::Transformation),
                        &s.alias,
                        format!("invalid TopicNameMatches pattern {p:?}: {e}"),
                    )
                })?,
            )),
            Some(Predicate::HasHeaderKey(k)) => Some(Pred::Header(k.clone())),
            Some(Predicate::RecordIsTombstone) => Some(Pred::Tombstone),
        };
        Ok(Step {
            comp,
            alias: s.alias.clone(),
            predicate,
            negate: s.negate,
            fused: None,
        })
    }

    /// True when there are no transforms.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Time spent inside the transforms, the memory they hold, their traps.
    pub fn usage(&self) -> Usage {
        self.steps
            .iter()
            .map(|s| {
                let one_by_one = s.fused.as_ref().and_then(|f| f.one_by_one.as_ref());
                s.comp.usage() + one_by_one.map(Chain::usage).unwrap_or_default()
            })
            .sum()
    }

    /// Runs every transform over the batch. A predicate-gated transform runs on each run of
    /// matching records; the others pass it untouched, in order. Without transforms the
    /// input comes back as it is, uncopied.
    pub fn apply<'a>(
        &mut self,
        input: &'a Batch,
        schemas: Schemas,
        origins: Origins<'_>,
        errors: &mut ErrorHandler,
        stop: &dyn Interrupt,
    ) -> Result<Staged<Cow<'a, Batch>>, TaskFailure> {
        let mut cur: Cow<'a, Batch> = Cow::Borrowed(input);
        let mut schemas = schemas;
        for step in &mut self.steps {
            if cur.is_empty() {
                break;
            }
            if let Some(fused) = &mut step.fused {
                match fused.apply(&mut step.comp, &cur, schemas, origins, errors, stop)? {
                    Staged::Done(out, out_schemas) => {
                        schemas = out_schemas;
                        cur = Cow::Owned(out);
                        continue;
                    }
                    Staged::Stopped => return Ok(Staged::Stopped),
                }
            }
            let Some(pred) = &step.predicate else {
                let s = schemas.clone();
                match run_stage(
                    errors,
                    stop,
                    Stage::Transformation,
                    &mut step.comp,
                    &cur,
                    origins,
                    |c| c.transform(&cur, &s),
                )? {
                    None => return Ok(Staged::Stopped),
                    Some((out, out_schemas)) => {
                        schemas = out_schemas;
                        cur = Cow::Owned(out);
                    }
                }
                continue;
            };
            let views = cur.views()?;
            let reader = cur.reader()?;
            let mut out = BatchWriter::for_output_of(&reader);
            let mut start = 0;
            while start < views.len() {
                let matching = pred.test(&views[start]) != step.negate;
                let mut end = start + 1;
                while end < views.len() && (pred.test(&views[end]) != step.negate) == matching {
                    end += 1;
                }
                let run = &views[start..end];
                if matching {
                    let mut w = BatchWriter::for_output_of(&reader);
                    for v in run {
                        w.push_view(v).map_err(copy_failed)?;
                    }
                    let run = Batch::finish(w)?;
                    let s = schemas.clone();
                    match run_stage(
                        errors,
                        stop,
                        Stage::Transformation,
                        &mut step.comp,
                        &run,
                        origins,
                        |c| c.transform(&run, &s),
                    )? {
                        None => return Ok(Staged::Stopped),
                        Some((o, out_schemas)) => {
                            if out_schemas != schemas {
                                tracing::debug!(transform = %step.alias, "a gated transform changed the batch's schemas");
                            }
                            o.for_each(|v| out.push_view(&v).map_err(copy_failed))?;
                        }
                    }
                } else {
                    for v in run {
                        out.push_view(v).map_err(copy_failed)?;
                    }
                }
                start = end;
            }
            drop(views);
            cur = Cow::Owned(Batch::finish(out)?);
        }
        Ok(Staged::Done(cur, schemas))
    }

    /// Closes every transform.
    pub fn close(&mut self) {
        for s in &mut self.steps {
            s.comp.close();
            if let Some(c) = s.fused.as_mut().and_then(|f| f.one_by_one.as_mut()) {
                c.close();
            }
        }
    }
}

impl Fused {
    /// Runs the fused transforms over `input`; when a record fails in them, or the call does,
    /// runs them one by one instead.
    fn apply(
        &mut self,
        comp: &mut Component,
        input: &Batch,
        schemas: Schemas,
        origins: Origins<'_>,
        errors: &mut ErrorHandler,
        stop: &dyn Interrupt,
    ) -> Result<Staged<Batch>, TaskFailure> {
        if self.usable {
            match comp.transform(input, &schemas) {
                Ok(mut out) if out.failures.is_empty() => {
                    let schemas = std::mem::take(&mut out.schemas);
                    return Ok(Staged::Done(Batch::from_output(out), schemas));
                }
                // A record failed: the run one by one names the transform.
                Ok(_) => {}
                Err(e) => {
                    if e.is_instance_failure() {
                        tracing::warn!(transforms = %self.aliases(), error = %e,
                            "the fused transforms failed; running them one by one from now on");
                        self.usable = false;
                    }
                }
            }
        }
        if self.one_by_one.is_none() {
            self.one_by_one = Some(Chain::one_by_one(
                &self.registry,
                &self.specs,
                &self.defaults,
            )?);
        }
        let Some(chain) = self.one_by_one.as_mut() else {
            return Err(crate::task::worker_failure("no transforms to run"));
        };
        Ok(match chain.apply(input, schemas, origins, errors, stop)? {
            Staged::Done(out, schemas) => Staged::Done(out.into_owned(), schemas),
            Staged::Stopped => Staged::Stopped,
        })
    }

    fn aliases(&self) -> String {
        let aliases: Vec<&str> = self.specs.iter().map(|s| s.alias.as_str()).collect();
        aliases.join(",")
    }
}

/// Whether a transform can run inside the `chain` component: a built-in one without a
/// predicate, named by its name alone (a name resolves to the built-in before any plugin
/// directory; a path or `name@version` may name another component). Decided from the list of
/// built-ins, so a fused transform's own component is never compiled.
fn fusable(s: &TransformSpec) -> bool {
    let name = &s.component.plugin;
    s.predicate.is_none()
        && name != CHAIN
        && builtin::find(name).is_some_and(|b| b.kind == PluginKind::Transform.as_str())
}

/// A transform's sandbox and capability keys, which a fused run must share (one instance has
/// one set).
fn sandbox_keys(s: &TransformSpec) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = s
        .component
        .config
        .iter()
        .filter(|(k, _)| is_sandbox_key(k))
        .cloned()
        .collect();
    keys.sort();
    keys
}

fn is_sandbox_key(key: &str) -> bool {
    key.starts_with("plugin.") || key.starts_with("capability.")
}

/// One `chain` instance for `specs`, or `None` when it cannot be made (the transforms are
/// then instantiated one by one, which names what is wrong with their configs).
fn fuse(
    registry: &Arc<Registry>,
    specs: &[TransformSpec],
    defaults: &[(String, String)],
) -> Option<Step> {
    let names: Vec<&str> = specs.iter().map(|s| s.component.plugin.as_str()).collect();
    let mut config = sandbox_keys(&specs[0]);
    config.push(("stages".into(), names.join(",")));
    for (i, s) in specs.iter().enumerate() {
        for (k, v) in &s.component.config {
            if !is_sandbox_key(k) {
                config.push((format!("stage.{i}.{k}"), v.clone()));
            }
        }
    }
    let chain = PluginRef {
        plugin: CHAIN.into(),
        config,
    };
    let comp = match instantiate(registry, &chain, defaults, &[]) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "transforms not fused");
            return None;
        }
    };
    let aliases: Vec<&str> = specs.iter().map(|s| s.alias.as_str()).collect();
    tracing::info!(transforms = %aliases.join(","), "built-in transforms fused: one instance, one call per batch");
    Some(Step {
        comp,
        alias: aliases.join(","),
        predicate: None,
        negate: false,
        fused: Some(Fused {
            registry: registry.clone(),
            specs: specs.to_vec(),
            defaults: defaults.to_vec(),
            one_by_one: None,
            usable: true,
        }),
    })
}

fn copy_failed(e: weft_batch::EncodeError) -> TaskFailure {
    crate::task::worker_failure(format!("a record could not be copied between stages: {e}"))
}

/// A source poll's records through the transforms, then the converters (`origins` being the
/// poll as polled, which failures name): the records to produce, on whichever thread the task
/// runs its stages.
pub fn transform_and_convert(
    chain: &mut Chain,
    conv: &mut Converters,
    input: &Batch,
    schemas: Schemas,
    origins: Origins<'_>,
    errors: &mut ErrorHandler,
    stop: &dyn Interrupt,
) -> Result<Staged<Batch>, TaskFailure> {
    let (transformed, schemas) = match chain.apply(input, schemas, origins, errors, stop)? {
        Staged::Done(batch, schemas) => (batch, schemas),
        Staged::Stopped => return Ok(Staged::Stopped),
    };
    conv.from_connect(&transformed, &schemas, origins, errors, stop)
}

/// A connector's key and value converters, and its header converter unless headers pass
/// through unchanged (Connect's `SimpleHeaderConverter`, the default: no component, no call).
pub struct Converters {
    pub key: Component,
    pub value: Component,
    pub header: Option<Component>,
}

impl Converters {
    /// Instantiates the connector's converters (or the worker's), each told its
    /// `converter.type`.
    pub fn build(
        registry: &Registry,
        key: &PluginRef,
        value: &PluginRef,
        header: &PluginRef,
        defaults: &[(String, String)],
    ) -> Result<Converters, TaskFailure> {
        let k = instantiate(registry, key, defaults, &[("converter.type", "key")])
            .map_err(|e| TaskFailure::from_runtime(Some(Stage::KeyConverter), &key.plugin, &e))?;
        let v = instantiate(registry, value, defaults, &[("converter.type", "value")]).map_err(
            |e| TaskFailure::from_runtime(Some(Stage::ValueConverter), &value.plugin, &e),
        )?;
        let h = if header.plugin == PASSTHROUGH_HEADER_CONVERTER {
            None
        } else {
            Some(
                instantiate(registry, header, defaults, &[("converter.type", "header")]).map_err(
                    |e| TaskFailure::from_runtime(Some(Stage::HeaderConverter), &header.plugin, &e),
                )?,
            )
        };
        Ok(Converters {
            key: k,
            value: v,
            header: h,
        })
    }

    /// Time spent inside the converters, the memory they hold, their traps.
    pub fn usage(&self) -> Usage {
        self.key.usage() + self.value.usage() + self.header.iter().map(Component::usage).sum()
    }

    /// Connect values to bytes, in Kafka's order (`convertTransformedRecord`): the header
    /// converter (each header value), then the key converter, then the value converter.
    pub fn from_connect(
        &mut self,
        input: &Batch,
        schemas: &Schemas,
        origins: Origins<'_>,
        errors: &mut ErrorHandler,
        stop: &dyn Interrupt,
    ) -> Result<Staged<Batch>, TaskFailure> {
        let mut cur: Cow<'_, Batch> = Cow::Borrowed(input);
        if let Some(h) = self.header.as_mut() {
            if input.has_headers()? {
                // Header values carry no schema: the converter sees each one schemaless.
                let Some((out, _)) = run_stage(
                    errors,
                    stop,
                    Stage::HeaderConverter,
                    h,
                    input,
                    origins,
                    |c| c.from_connect(input, schemas),
                )?
                else {
                    return Ok(Staged::Stopped);
                };
                cur = Cow::Owned(out);
            }
        }
        let Some((keyed, _)) = run_stage(
            errors,
            stop,
            Stage::KeyConverter,
            &mut self.key,
            &cur,
            origins,
            |c| c.from_connect(&cur, schemas),
        )?
        else {
            return Ok(Staged::Stopped);
        };
        drop(cur);
        let Some((valued, _)) = run_stage(
            errors,
            stop,
            Stage::ValueConverter,
            &mut self.value,
            &keyed,
            origins,
            |c| c.from_connect(&keyed, schemas),
        )?
        else {
            return Ok(Staged::Stopped);
        };
        Ok(Staged::Done(valued, schemas.clone()))
    }

    /// Consumed bytes to Connect values, in Kafka's order (`convertAndTransformRecord`): the
    /// key converter, the value converter, then the header converter (each header value).
    pub fn to_connect(
        &mut self,
        input: &Batch,
        origins: Origins<'_>,
        errors: &mut ErrorHandler,
        stop: &dyn Interrupt,
    ) -> Result<Staged<Batch>, TaskFailure> {
        let Some((keyed, key_schemas)) = run_stage(
            errors,
            stop,
            Stage::KeyConverter,
            &mut self.key,
            input,
            origins,
            |c| c.to_connect(input),
        )?
        else {
            return Ok(Staged::Stopped);
        };
        let Some((mut out, value_schemas)) = run_stage(
            errors,
            stop,
            Stage::ValueConverter,
            &mut self.value,
            &keyed,
            origins,
            |c| c.to_connect(&keyed),
        )?
        else {
            return Ok(Staged::Stopped);
        };
        drop(keyed);
        let schemas = Schemas {
            key: key_schemas.key,
            value: value_schemas.value,
        };
        if let Some(h) = self.header.as_mut() {
            if out.has_headers()? {
                let recs = out;
                let Some((converted, _)) = run_stage(
                    errors,
                    stop,
                    Stage::HeaderConverter,
                    h,
                    &recs,
                    origins,
                    |c| c.to_connect(&recs),
                )?
                else {
                    return Ok(Staged::Stopped);
                };
                out = converted;
            }
        }
        Ok(Staged::Done(out, schemas))
    }

    pub fn close(&mut self) {
        self.key.close();
        self.value.close();
        if let Some(h) = &mut self.header {
            h.close();
        }
    }
}
