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

use weft_plugin_sdk::*;
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

/// The built-in transform named `name`, unconfigured.
fn stage(name: &str) -> Option<Box<dyn Stage>> {
    fn new<T: Transform>() -> Option<Box<dyn Stage>> {
        Some(Box::new(T::default()))
    }
    match name {
        "cast" => new::<cast::Cast>(),
        "drop-headers" => new::<drop_headers::DropHeaders>(),
        "extract-field" => new::<extract_field::ExtractField>(),
        "filter" => new::<filter::Filter>(),
        "flatten" => new::<flatten::Flatten>(),
        "header-from" => new::<header_from::HeaderFrom>(),
        "hoist-field" => new::<hoist_field::HoistField>(),
        "insert-field" => new::<insert_field::InsertField>(),
        "insert-header" => new::<insert_header::InsertHeader>(),
        "mask-field" => new::<mask_field::MaskField>(),
        "regex-router" => new::<regex_router::RegexRouter>(),
        "replace-field" => new::<replace_field::ReplaceField>(),
        "set-schema-metadata" => new::<set_schema_metadata::SetSchemaMetadata>(),
        "timestamp-converter" => new::<timestamp_converter::TimestampConverter>(),
        "timestamp-router" => new::<timestamp_router::TimestampRouter>(),
        "value-to-key" => new::<value_to_key::ValueToKey>(),
        _ => None,
    }
}

/// The key that lists the stages.
const STAGES: &str = "stages";

/// The configured stages, in order.
#[derive(Default)]
pub struct Chain {
    stages: Vec<Box<dyn Stage>>,
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
        self.stages.clear();
        // A field transform notes the members of the object it wrote, and the next one reads
        // them instead of walking the object again.
        json_object::remember_written(true);
        for (i, name) in config.list(STAGES).iter().enumerate() {
            let mut s = stage(name).ok_or_else(|| {
                PluginError::fatal(format!("stage {i}: `{name}` is not a built-in transform"))
            })?;
            s.configure(stage_config(config, i))
                .map_err(|e| PluginError::fatal(format!("stage {i} ({name}): {}", e.message)))?;
            self.stages.push(s);
        }
        if self.stages.is_empty() {
            return Err(PluginError::fatal("`stages` names no transform"));
        }
        Ok(())
    }

    fn close(&mut self) {
        for s in &mut self.stages {
            s.close();
        }
    }
}

impl Transform for Chain {
    fn schemas(&mut self, input: &Schemas) -> Result<Schemas> {
        let mut schemas = input.clone();
        for s in &mut self.stages {
            schemas = s.schemas(&schemas)?;
        }
        Ok(schemas)
    }

    fn apply<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        let mut record = record;
        let last = self.stages.len().saturating_sub(1);
        for (i, s) in self.stages.iter_mut().enumerate() {
            json_object::read_after(i < last);
            match s.apply(record)? {
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

    #[test]
    fn what_field_transforms_remember_is_what_a_walk_of_their_output_finds() {
        json_object::remember_written(true);
        let inputs = [
            r#"{"viewtime":1,"userid":"User_1","pageid":"Page_2"}"#,
            r#"{}"#,
            r#" { } "#,
            " {\n \"userid\" : [1, {\"a\": \"}\"}] ,\t\"x\":null } ",
            r#"{"source":"old","userid":"u","source":12345678901}"#,
            r#"{"\u0075serid":"escaped","n":-1.5e3}"#,
        ];
        let configs: [&[(&str, &str)]; 4] = [
            &[("static.field", "source"), ("static.value", "a\"b")],
            &[("topic.field", "userid"), ("timestamp.field", "ts!")],
            &[("fields", "userid")],
            &[("fields", "userid,source,x"), ("replacement", "12")],
        ];
        for (i, entries) in configs.iter().enumerate() {
            let mut stage: Box<dyn Stage> = if i < 2 {
                Box::new(insert_field::InsertField::default())
            } else {
                Box::new(mask_field::MaskField::default())
            };
            let entries = entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            stage.configure(Config::new(entries)).unwrap();
            for text in inputs {
                let mut r = Record::new("t", text.as_bytes());
                r.timestamp = Some(7);
                let out = stage.apply(r).unwrap().unwrap();
                let out = out.value().unwrap();
                let noted = json_object::remembered_for(out)
                    .unwrap_or_else(|| panic!("config {i} noted nothing for {text}"));
                let mut walked = Vec::new();
                assert!(json_scan::object_members(out, &mut walked), "{out:?}");
                assert_eq!(
                    noted,
                    walked,
                    "config {i}, {text} -> {}",
                    String::from_utf8_lossy(out)
                );
            }
        }
    }

    #[test]
    fn only_stages_with_a_stage_after_them_remember_what_they_wrote() {
        let mut c = chain(&[
            ("stages", "insert-field,mask-field"),
            ("stage.0.static.field", "source"),
            ("stage.0.static.value", "bench"),
            ("stage.1.fields", "userid"),
        ])
        .unwrap();
        let text = r#"{"viewtime":1,"userid":"User_1"}"#;
        let out = Transform::apply(&mut c, Record::new("t", text.as_bytes()))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value_str(),
            Some(r#"{"viewtime":1,"userid":"","source":"bench"}"#)
        );
        assert_eq!(
            json_object::remembered_for(out.value().unwrap()),
            None,
            "nothing in the instance reads the last stage's output"
        );
        // Told there is a stage after it, as the chain tells every stage but the last, a stage
        // remembers again.
        json_object::read_after(true);
        let mut insert = stamping_insert();
        let one = Stage::apply(&mut insert, Record::new("t", text.as_bytes()))
            .unwrap()
            .unwrap();
        assert!(json_object::remembered_for(one.value().unwrap()).is_some());
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
    fn a_failing_record_fails_the_chain_call() {
        let mut c = chain(&[
            ("stages", "mask-field,insert-field"),
            ("stage.0.fields", "a"),
            ("stage.1.static.field", "x"),
            ("stage.1.static.value", "y"),
        ])
        .unwrap();
        let e = Transform::apply(&mut c, Record::new("t", &b"[1]"[..])).unwrap_err();
        assert!(e.message.contains("JSON object"), "{}", e.message);
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
