//! `insert-field`: adds record metadata or a static value as fields of a JSON object key or
//! value (`target`), after Kafka Connect's `InsertField$Value` / `InsertField$Key`. A field name
//! ending in `!` is required and `?` (the default) optional, as in Kafka; with a struct schema
//! the inserted fields are added to it (topic and static value `string`, partition `int32`,
//! offset `int64`, timestamp Connect's `Timestamp`).

use serde_json::{Map, Value};
use weft_plugin_sdk::json_edit::ObjectEdits;
use weft_plugin_sdk::json_object;
use weft_plugin_sdk::*;

use crate::field_edit::{apply_alone, FieldEdit};

/// A field to insert: name and whether Kafka would make it required (`name!`).
#[derive(Debug, Clone)]
struct Field {
    name: String,
    /// The name as a JSON string, written before each inserted value.
    quoted: Vec<u8>,
    required: bool,
}

impl Field {
    fn parse(spec: &str) -> Field {
        match spec.strip_suffix('!') {
            Some(n) => Field {
                name: n.to_string(),
                quoted: json_object::quoted(n),
                required: true,
            },
            None => {
                let name = spec.strip_suffix('?').unwrap_or(spec);
                Field {
                    name: name.to_string(),
                    quoted: json_object::quoted(name),
                    required: false,
                }
            }
        }
    }

    fn schema(&self, ty: &str) -> Map<String, Value> {
        schema::as_field(schema::primitive(ty, !self.required), &self.name)
    }
}

#[derive(Default)]
pub struct InsertField {
    part: Part,
    topic: Option<Field>,
    partition: Option<Field>,
    offset: Option<Field>,
    timestamp: Option<Field>,
    static_field: Option<(Field, String)>,
    /// `static.value` as a JSON string.
    static_json: Vec<u8>,
    /// The record's members being edited (kept to reuse its buffers).
    edits: ObjectEdits,
    /// For each kind in [`INSERTED`], whether it is configured and is the insert its name
    /// takes: the last one configured with that name, as when each was put into a map in turn.
    wins: [bool; INSERTED.len()],
    /// The kinds configured, as indices into [`INSERTED`], last first.
    configured: Vec<usize>,
}

impl Plugin for InsertField {
    fn metadata() -> Metadata {
        let opt = |name: &str, doc: &str| ConfigDef::new(name, ConfigType::String, doc);
        Metadata::new(
            "insert-field",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Insert topic, partition, offset, timestamp or a static field into JSON objects",
        )
        .config(opt("topic.field", "Field name for the record's topic."))
        .config(opt(
            "partition.field",
            "Field name for the record's partition.",
        ))
        .config(opt("offset.field", "Field name for the record's offset."))
        .config(opt(
            "timestamp.field",
            "Field name for the record's timestamp (ms).",
        ))
        .config(opt("static.field", "Field name for a static value."))
        .config(opt("static.value", "The static value (text)."))
        .config(Part::config_def())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.part = Part::from_config(config)?;
        let get = |k: &str| config.get(k).map(Field::parse);
        self.topic = get("topic.field");
        self.partition = get("partition.field");
        self.offset = get("offset.field");
        self.timestamp = get("timestamp.field");
        self.static_field = match (get("static.field"), config.get("static.value")) {
            (Some(f), Some(v)) => {
                self.static_json = json_object::quoted(v);
                Some((f, v.to_string()))
            }
            (None, None) => None,
            _ => {
                return Err(PluginError::fatal(
                    "static.field and static.value must be set together",
                ))
            }
        };
        let names = INSERTED.map(|w| self.field(w).map(|f| f.name.as_str()));
        let wins = std::array::from_fn(|i| {
            names[i].is_some_and(|name| !names[i + 1..].iter().flatten().any(|n| *n == name))
        });
        let configured = (0..INSERTED.len()).rev().filter(|&i| names[i].is_some());
        self.configured = configured.collect();
        self.wins = wins;
        Ok(())
    }
}

impl Transform for InsertField {
    fn schemas(&mut self, input: &Schemas) -> Result<Schemas> {
        let Some(text) = self.part.schema(input) else {
            return Ok(input.clone());
        };
        let s = schema::parse(text)?;
        let Some(mut fields) = schema::fields(&s) else {
            return Ok(input.clone());
        };
        if let Some(f) = &self.topic {
            fields.push(f.schema("string"));
        }
        if let Some(f) = &self.partition {
            fields.push(f.schema("int32"));
        }
        if let Some(f) = &self.offset {
            fields.push(f.schema("int64"));
        }
        if let Some(f) = &self.timestamp {
            let mut ts = f.schema("int64");
            ts.insert(
                "name".into(),
                "org.apache.kafka.connect.data.Timestamp".into(),
            );
            ts.insert("version".into(), 1.into());
            fields.push(ts);
        }
        if let Some((f, _)) = &self.static_field {
            fields.push(f.schema("string"));
        }
        let out = schema::to_text(&schema::with_fields(&s, fields));
        Ok(self.part.with_schema(input, Some(out)))
    }

    fn apply<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        apply_alone(self, |t| &mut t.edits, record)
    }
}

impl FieldEdit for InsertField {
    fn name(&self) -> &'static str {
        "insert-field"
    }

    fn part(&self) -> Part {
        self.part
    }

    /// A field the object has is replaced where it stands (every member of that name); the
    /// others go after its last member, in config order.
    fn edit(&mut self, record: &Record<'_>, text: &[u8], object: &mut ObjectEdits) -> Result<()> {
        let mut placed = [false; INSERTED.len()];
        for m in 0..object.len() {
            // The last kind configured with the member's name writes its value.
            let replaced = self.configured.iter().copied().find(|&i| {
                self.field(INSERTED[i])
                    .is_some_and(|f| object.key_is(text, m, &f.name))
            });
            if let Some(i) = replaced {
                object.set_value(m, |out| self.write_value(INSERTED[i], record, out));
                placed[i] = true;
            }
        }
        for &i in self.configured.iter().rev() {
            if let Some(f) = self
                .field(INSERTED[i])
                .filter(|_| self.wins[i] && !placed[i])
            {
                object.append(&f.quoted, |out| self.write_value(INSERTED[i], record, out));
            }
        }
        Ok(())
    }
}

/// What an inserted field holds.
#[derive(Debug, Clone, Copy)]
enum Inserted {
    Topic,
    Partition,
    Offset,
    Timestamp,
    Static,
}

/// Every kind, in the order fields are appended.
const INSERTED: [Inserted; 5] = [
    Inserted::Topic,
    Inserted::Partition,
    Inserted::Offset,
    Inserted::Timestamp,
    Inserted::Static,
];

impl InsertField {
    fn field(&self, what: Inserted) -> Option<&Field> {
        match what {
            Inserted::Topic => self.topic.as_ref(),
            Inserted::Partition => self.partition.as_ref(),
            Inserted::Offset => self.offset.as_ref(),
            Inserted::Timestamp => self.timestamp.as_ref(),
            Inserted::Static => self.static_field.as_ref().map(|(f, _)| f),
        }
    }

    /// Appends the field's value for `record` as JSON text.
    fn write_value(&self, what: Inserted, record: &Record<'_>, out: &mut Vec<u8>) {
        use std::io::Write;
        let number = |n: Option<i64>, out: &mut Vec<u8>| match n {
            // Writing into a Vec cannot fail.
            Some(n) => drop(write!(out, "{n}")),
            None => out.extend_from_slice(b"null"),
        };
        match what {
            Inserted::Topic => json_object::write_str(out, &record.topic),
            Inserted::Partition => number(record.partition.map(i64::from), out),
            Inserted::Offset => number(record.offset, out),
            Inserted::Timestamp => number(record.timestamp, out),
            Inserted::Static => out.extend_from_slice(&self.static_json),
        }
    }
}
