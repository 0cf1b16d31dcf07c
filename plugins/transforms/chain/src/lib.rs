//! `chain`: runs built-in transforms in order inside one instance and one call, so that each
//! record is read once, handed from one transform to the next in memory, and written once. The
//! Connect worker configures it for a run of built-in transforms without predicates, instead of
//! one instance per transform (which reads and writes every record once per transform).
//!
//! Config: `stages` lists the transforms by built-in name (`insert-field,mask-field`), and
//! `stage.<i>.<key>` is the `<i>`-th one's key (from 0). A record that fails in any stage fails
//! as a whole, without saying in which one: the worker then runs the batch through the
//! transforms one by one, which names it (the built-in transforms are pure functions of record
//! and config, so the second run gives what the first would have).

use weft_plugin_sdk::json_edit::ObjectEdits;
use weft_plugin_sdk::*;
use weft_smt::field_edit::{apply_edits, FieldEdit};
use weft_smt::*;

/// A transform inside the chain: what [`Transform`] and [`Plugin`] offer, callable on a boxed
/// value (they have associated functions that keep them from being used as trait objects).
trait Stage {
    fn configure(&mut self, config: Config) -> Result<()>;
    fn schemas(&mut self, input: &Schemas) -> Result<Schemas>;
    fn apply<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>>;
    fn close(&mut self);
}

impl<T: Transform> Stage for T {
    fn configure(&mut self, config: Config) -> Result<()> {
        self.configure_checked(&config.with_defaults(&T::metadata().config))
    }

    fn schemas(&mut self, input: &Schemas) -> Result<Schemas> {
        Transform::schemas(self, input)
    }

    fn apply<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        Transform::apply(self, record)
    }

    fn close(&mut self) {
        Plugin::close(self)
    }
}

/// A stage that edits a JSON object's members (see [`FieldEdit`]).
trait EditStage: Stage + FieldEdit {}

impl<T: Stage + FieldEdit> EditStage for T {}

/// A built-in transform, unconfigured.
enum Built {
    /// Called record by record.
    Whole(Box<dyn Stage>),
    /// Edits members: with the editors next to it on the same part, it reads and writes each
    /// record once.
    Edit(Box<dyn EditStage>),
}

/// The built-in transform named `name`.
fn stage(name: &str) -> Option<Built> {
    fn new<T: Transform>() -> Option<Built> {
        Some(Built::Whole(Box::new(T::default())))
    }
    fn edit<T: Transform + FieldEdit>() -> Option<Built> {
        Some(Built::Edit(Box::new(T::default())))
    }
    match name {
        "cast" => new::<cast::Cast>(),
        "drop-headers" => new::<drop_headers::DropHeaders>(),
        "extract-field" => new::<extract_field::ExtractField>(),
        "filter" => new::<filter::Filter>(),
        "flatten" => new::<flatten::Flatten>(),
        "header-from" => new::<header_from::HeaderFrom>(),
        "hoist-field" => new::<hoist_field::HoistField>(),
        "insert-field" => edit::<insert_field::InsertField>(),
        "insert-header" => new::<insert_header::InsertHeader>(),
        "mask-field" => edit::<mask_field::MaskField>(),
        "regex-router" => new::<regex_router::RegexRouter>(),
        "replace-field" => new::<replace_field::ReplaceField>(),
        "set-schema-metadata" => new::<set_schema_metadata::SetSchemaMetadata>(),
        "timestamp-converter" => new::<timestamp_converter::TimestampConverter>(),
        "timestamp-router" => new::<timestamp_router::TimestampRouter>(),
        "value-to-key" => new::<value_to_key::ValueToKey>(),
        _ => None,
    }
}

/// Stages run together on each record.
enum Group {
    /// One transform.
    Whole(Box<dyn Stage>),
    /// Consecutive member editors of one part: one read and one write of it between them.
    Edits {
        part: Part,
        stages: Vec<Box<dyn EditStage>>,
    },
}

impl Group {
    fn stages(&mut self) -> Vec<&mut dyn Stage> {
        match self {
            Group::Whole(s) => vec![&mut **s],
            Group::Edits { stages, .. } => stages
                .iter_mut()
                .map(|s| &mut **s as &mut dyn Stage)
                .collect(),
        }
    }
}

/// The key that lists the stages.
const STAGES: &str = "stages";

/// The configured stages, in order, grouped.
#[derive(Default)]
pub struct Chain {
    groups: Vec<Group>,
    /// The members being edited by a group of editors (kept to reuse its buffers).
    edits: ObjectEdits,
}

/// Stage `i`'s own keys, prefix removed.
fn stage_config(config: &Config, i: usize) -> Config {
    let prefix = format!("stage.{i}.");
    Config::new(
        config
            .entries()
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_string(), v.clone())))
            .collect(),
    )
}

impl Plugin for Chain {
    fn metadata() -> Metadata {
        Metadata::new(
            "chain",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Runs built-in transforms in order in one instance (the Connect worker uses it for \
             runs of built-in transforms)",
        )
        .config(
            ConfigDef::new(
                STAGES,
                ConfigType::List,
                "The built-in transforms to run, in order; `stage.<i>.<key>` configures the \
                 i-th, from 0.",
            )
            .required(),
        )
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        let mut issues = config.check(&Self::metadata().config);
        if issues.is_empty() {
            if let Err(e) = Plugin::configure(&mut Chain::default(), config) {
                issues.push(ConfigIssue {
                    key: STAGES.into(),
                    message: e.message,
                });
            }
        }
        issues
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.groups.clear();
        for (i, name) in config.list(STAGES).iter().enumerate() {
            let built = stage(name).ok_or_else(|| {
                PluginError::fatal(format!("stage {i}: `{name}` is not a built-in transform"))
            })?;
            let configured = |s: &mut dyn Stage| {
                s.configure(stage_config(config, i))
                    .map_err(|e| PluginError::fatal(format!("stage {i} ({name}): {}", e.message)))
            };
            match built {
                Built::Whole(mut s) => {
                    configured(&mut *s)?;
                    self.groups.push(Group::Whole(s));
                }
                Built::Edit(mut s) => {
                    configured(&mut *s)?;
                    match self.groups.last_mut() {
                        Some(Group::Edits { part, stages }) if *part == s.part() => stages.push(s),
                        _ => self.groups.push(Group::Edits {
                            part: s.part(),
                            stages: vec![s],
                        }),
                    }
                }
            }
        }
        if self.groups.is_empty() {
            return Err(PluginError::fatal("`stages` names no transform"));
        }
        Ok(())
    }

    fn close(&mut self) {
        for g in &mut self.groups {
            for s in g.stages() {
                s.close();
            }
        }
    }
}

impl Transform for Chain {
    fn schemas(&mut self, input: &Schemas) -> Result<Schemas> {
        let mut schemas = input.clone();
        for g in &mut self.groups {
            for s in g.stages() {
                schemas = s.schemas(&schemas)?;
            }
        }
        Ok(schemas)
    }

    fn apply<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        let mut record = record;
        for g in &mut self.groups {
            let out = match g {
                Group::Whole(s) => s.apply(record)?,
                Group::Edits { part, stages } => apply_edits(
                    *part,
                    stages.iter_mut().map(|s| &mut **s as &mut dyn FieldEdit),
                    &mut self.edits,
                    record,
                )?,
            };
            match out {
                Some(r) => record = r,
                None => return Ok(None),
            }
        }
        Ok(Some(record))
    }
}

export_transform!(Chain);

#[cfg(test)]
mod tests {
    use super::*;

    fn config(entries: &[(&str, &str)]) -> Config {
        Config::new(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .with_defaults(&Chain::metadata().config)
    }

    fn chain(entries: &[(&str, &str)]) -> Result<Chain> {
        let mut c = Chain::default();
        c.configure_checked(&config(entries))?;
        Ok(c)
    }

    /// InsertField alone, configured as the chains below configure their stage 0.
    fn stamping_insert() -> insert_field::InsertField {
        let mut insert = insert_field::InsertField::default();
        Stage::configure(
            &mut insert,
            Config::new(vec![
                ("static.field".into(), "source".into()),
                ("static.value".into(), "bench".into()),
            ]),
        )
        .unwrap();
        insert
    }

    fn value(r: &Option<Record<'_>>) -> Option<String> {
        r.as_ref().and_then(|r| r.value_str().map(str::to_string))
    }

    #[test]
    fn stages_run_in_order_as_separate_transforms_would() {
        let mut c = chain(&[
            ("stages", "insert-field,mask-field"),
            ("stage.0.static.field", "source"),
            ("stage.0.static.value", "bench"),
            ("stage.1.fields", "userid,source"),
        ])
        .unwrap();
        let mut insert = stamping_insert();
        let mut mask = mask_field::MaskField::default();
        Stage::configure(
            &mut mask,
            Config::new(vec![("fields".into(), "userid,source".into())]),
        )
        .unwrap();
        for text in [
            r#"{"viewtime":1,"userid":"User_1","pageid":"Page_2"}"#,
            r#"{}"#,
            r#"{"userid":{"nested":[1,2]}}"#,
        ] {
            let fused = Transform::apply(&mut c, Record::new("t", text.as_bytes())).unwrap();
            let one = Transform::apply(&mut insert, Record::new("t", text.as_bytes()))
                .unwrap()
                .unwrap();
            let both = Transform::apply(&mut mask, one).unwrap();
            assert_eq!(value(&fused), value(&both), "for {text}");
        }
        let masked = Transform::apply(&mut c, Record::new("t", &b"{\"userid\":\"u\"}"[..]));
        assert_eq!(
            value(&masked.unwrap()).as_deref(),
            Some(r#"{"userid":"","source":""}"#)
        );
    }

    /// The stage `name` alone, configured with `entries`.
    fn alone(name: &str, entries: &[(&str, &str)]) -> Box<dyn Stage> {
        let mut s: Box<dyn Stage> = match stage(name).unwrap() {
            Built::Whole(s) => s,
            Built::Edit(s) => s,
        };
        let entries = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        s.configure(Config::new(entries)).unwrap();
        s
    }

    #[test]
    fn editors_run_together_give_what_they_give_one_after_another() {
        let inputs = [
            r#"{"viewtime":1,"userid":"User_1","pageid":"Page_2"}"#,
            r#"{}"#,
            r#" { } "#,
            " {\n \"userid\" : [1, {\"a\": \"}\"}] ,\t\"x\":null } ",
            r#"{"source":"old","userid":"u","source":12345678901}"#,
            r#"{"\u0075serid":"escaped","n":-1.5e3,"b":true}"#,
        ];
        // Each run: stages, their keys; every run has editors next to each other, some on the
        // key, so that the chain groups some and not others.
        type Stages<'a> = &'a [(&'a str, &'a [(&'a str, &'a str)])];
        let runs: [Stages; 5] = [
            &[
                (
                    "insert-field",
                    &[("static.field", "source"), ("static.value", "a\"b")],
                ),
                ("mask-field", &[("fields", "userid,source,x,b")]),
            ],
            &[
                ("mask-field", &[("fields", "userid"), ("replacement", "12")]),
                (
                    "insert-field",
                    &[("topic.field", "userid"), ("timestamp.field", "ts!")],
                ),
                (
                    "insert-field",
                    &[("offset.field", "ts"), ("partition.field", "p")],
                ),
                ("mask-field", &[("fields", "ts,n"), ("replacement", "7")]),
            ],
            &[
                (
                    "insert-field",
                    &[
                        ("static.field", "k"),
                        ("static.value", "v"),
                        ("target", "key"),
                    ],
                ),
                ("mask-field", &[("fields", "userid")]),
                ("mask-field", &[("fields", "k"), ("target", "key")]),
            ],
            &[
                ("mask-field", &[("fields", "userid")]),
                ("drop-headers", &[("headers", "h")]),
                (
                    "insert-field",
                    &[("static.field", "s"), ("static.value", "1")],
                ),
            ],
            &[(
                "insert-field",
                &[("static.field", "userid"), ("static.value", "x")],
            )],
        ];
        for stages in runs {
            let mut entries = vec![(
                "stages".to_string(),
                stages.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(","),
            )];
            for (i, (_, keys)) in stages.iter().enumerate() {
                entries.extend(
                    keys.iter()
                        .map(|(k, v)| (format!("stage.{i}.{k}"), v.to_string())),
                );
            }
            let mut c = Chain::default();
            c.configure_checked(&Config::new(entries).with_defaults(&Chain::metadata().config))
                .unwrap();
            let mut one_by_one: Vec<_> = stages.iter().map(|(n, keys)| alone(n, keys)).collect();
            for text in inputs {
                let record = || {
                    let mut r = Record::new("t", text.as_bytes());
                    r.key = Some(text.as_bytes().into());
                    r.timestamp = Some(7);
                    r.offset = Some(3);
                    r
                };
                let fused = Transform::apply(&mut c, record()).unwrap().unwrap();
                let mut r = record();
                for s in &mut one_by_one {
                    r = s.apply(r).unwrap().unwrap();
                }
                assert_eq!(
                    (fused.key_str(), fused.value_str()),
                    (r.key_str(), r.value_str()),
                    "{stages:?} on {text}"
                );
                let v: serde_json::Value = serde_json::from_slice(fused.value().unwrap()).unwrap();
                assert!(v.is_object(), "{v}");
            }
        }
    }

    #[test]
    fn editors_pass_tombstones_and_refuse_what_is_not_an_object_in_the_first_ones_words() {
        let mut c = chain(&[
            ("stages", "mask-field,insert-field"),
            ("stage.0.fields", "a"),
            ("stage.1.static.field", "x"),
            ("stage.1.static.value", "y"),
        ])
        .unwrap();
        let mut tombstone = Record::new("t", &b""[..]);
        tombstone.value = None;
        let out = Transform::apply(&mut c, tombstone).unwrap().unwrap();
        assert!(out.value.is_none());
        let e = Transform::apply(&mut c, Record::new("t", &b"{\"a\":"[..])).unwrap_err();
        assert_eq!(e.message, "mask-field needs a JSON object value");
        // A record that fails in any stage fails the chain's call for it.
        let e = Transform::apply(&mut c, Record::new("t", &b"[1]"[..])).unwrap_err();
        assert!(e.message.contains("JSON object"), "{}", e.message);
        // Nothing to mask or insert: the record's value is the input's, not a copy.
        let mut c = chain(&[("stages", "mask-field"), ("stage.0.fields", "a")]).unwrap();
        let text = &b"{\"b\":1}"[..];
        let out = Transform::apply(&mut c, Record::new("t", text))
            .unwrap()
            .unwrap();
        assert!(matches!(out.value, Some(std::borrow::Cow::Borrowed(v)) if v == text));
    }

    #[test]
    fn a_stage_that_drops_a_record_ends_the_chain_for_it() {
        let mut c = chain(&[
            ("stages", "filter,insert-field"),
            ("stage.0.predicate", "topic-matches"),
            ("stage.0.pattern", "t"),
            ("stage.1.static.field", "x"),
            ("stage.1.static.value", "y"),
        ])
        .unwrap();
        let out = Transform::apply(&mut c, Record::new("t", &b"{}"[..])).unwrap();
        assert!(
            out.is_none(),
            "Filter without a predicate drops every record"
        );
    }

    #[test]
    fn config_errors_name_the_stage() {
        let e = chain(&[("stages", "insert-field,nope")]).err().unwrap();
        assert!(
            e.message
                .contains("stage 1: `nope` is not a built-in transform"),
            "{}",
            e.message
        );
        let e = chain(&[("stages", "insert-field"), ("stage.0.static.field", "x")])
            .err()
            .unwrap();
        assert!(
            e.message.contains("stage 0 (insert-field)"),
            "{}",
            e.message
        );
        assert!(e.message.contains("static.value"), "{}", e.message);
        let e = chain(&[]).err().unwrap();
        assert!(e.message.contains("stages"), "{}", e.message);
    }
}
