//! `timestamp-converter`: Kafka Connect's `TimestampConverter$Value` / `$Key` — converts a
//! timestamp (the whole value or key, or one field of it) between `string` (a SimpleDateFormat
//! `format`), `unix` (in `unix.precision`), and Connect's `Date`, `Time` and `Timestamp`
//! logical types, updating the schema; schemaless values are inferred (an integer is unix
//! time, text a formatted string).

mod calendar;
mod convert;
mod pattern;

use convert::{Converter, Kind, Precision};
use pattern::Pattern;
use serde_json::{Map, Value};
use weft_plugin_sdk::*;

/// What the current batch's schema says about the records.
#[derive(Debug, Default)]
enum Batch {
    /// No schema: representations are inferred from each value.
    #[default]
    Schemaless,
    /// The whole key or value is the timestamp, in this representation (or the error Kafka
    /// raises for each record).
    Whole(std::result::Result<Kind, String>),
    /// A struct: its field schemas, and the timestamp field's representation if it has one.
    Struct {
        fields: Vec<Map<String, Value>>,
        source: Option<std::result::Result<Kind, String>>,
    },
    /// The schema cannot hold the field; every non-null record fails with this.
    Invalid(String),
}

#[derive(Default)]
pub struct TimestampConverter {
    part: Part,
    /// The timestamp field; empty for the whole key or value.
    field: String,
    converter: Option<Converter>,
    replace_null_with_default: bool,
    batch: Batch,
}

const PURPOSE: &str = "converting timestamps";

fn fail(message: impl Into<String>) -> PluginError {
    PluginError::fatal(message.into())
}

impl TimestampConverter {
    fn converter(&self) -> Result<&Converter> {
        self.converter
            .as_ref()
            .ok_or_else(|| fail("timestamp-converter is not configured"))
    }

    /// A struct value converted field by field in schema order, nulls taking their field's
    /// default when `replace.null.with.default` is set (Connect's `Struct.get`).
    fn convert_struct(
        &self,
        fields: &[Map<String, Value>],
        source: Option<&std::result::Result<Kind, String>>,
        mut obj: Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        let mut out = Map::new();
        for f in fields {
            let Some(name) = schema::field_name(f) else {
                continue;
            };
            let mut v = obj.remove(name).unwrap_or(Value::Null);
            if v.is_null() && self.replace_null_with_default {
                if let Some(d) = f.get("default") {
                    v = d.clone();
                }
            }
            if name == self.field {
                let kind = source
                    .cloned()
                    .unwrap_or_else(|| Kind::from_schema(f))
                    .map_err(fail)?;
                v = self.converter()?.convert(&v, Some(kind)).map_err(fail)?;
            }
            out.insert(name.to_string(), v);
        }
        Ok(out)
    }
}

impl Plugin for TimestampConverter {
    fn metadata() -> Metadata {
        Metadata::new(
            "timestamp-converter",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Convert timestamps between formats such as strings, unix time, Date, Time and \
             Timestamp (Kafka's TimestampConverter)",
        )
        .config(
            ConfigDef::new(
                "field",
                ConfigType::String,
                "The field containing the timestamp, or empty if the entire value is a timestamp",
            )
            .default("")
            .importance(Importance::High),
        )
        .config(
            ConfigDef::new(
                "target.type",
                ConfigType::String,
                "The desired timestamp representation: string, unix, Date, Time, or Timestamp",
            )
            .required()
            .importance(Importance::High)
            .recommended(["string", "unix", "Date", "Time", "Timestamp"]),
        )
        .config(
            ConfigDef::new(
                "format",
                ConfigType::String,
                "A SimpleDateFormat-compatible format for the timestamp (letters y M d H m s S Z \
                 X and quoted text). Used to generate the output when type=string or used to \
                 parse the input if the input is a string.",
            )
            .default("")
            .importance(Importance::Medium),
        )
        .config(
            ConfigDef::new(
                "unix.precision",
                ConfigType::String,
                "The desired Unix precision for the timestamp: seconds, milliseconds, \
                 microseconds, or nanoseconds.",
            )
            .default("milliseconds")
            .importance(Importance::Low)
            .recommended(["seconds", "milliseconds", "microseconds", "nanoseconds"]),
        )
        .config(
            ConfigDef::new(
                "replace.null.with.default",
                ConfigType::Boolean,
                "Whether to replace fields that have a default value and that are null to the \
                 default value.",
            )
            .default("true")
            .importance(Importance::Medium),
        )
        .config(Part::config_def())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.part = Part::from_config(config)?;
        self.field = config.get("field").unwrap_or("").to_string();
        let ty = config.require("target.type")?;
        let target = Kind::parse(ty).ok_or_else(|| {
            fail(format!(
                "Invalid value {ty} for configuration target.type: String must be one of: \
                 string, unix, Date, Time, Timestamp"
            ))
        })?;
        let p = config.get("unix.precision").unwrap_or("milliseconds");
        let precision = Precision::parse(p).ok_or_else(|| {
            fail(format!(
                "Invalid value {p} for configuration unix.precision: String must be one of: \
                 nanoseconds, microseconds, milliseconds, seconds"
            ))
        })?;
        let pattern = config.get("format").unwrap_or("");
        if target == Kind::Str && pattern.trim().is_empty() {
            return Err(fail(
                "TimestampConverter requires format option to be specified when using string \
                 timestamps",
            ));
        }
        let format = if pattern.trim().is_empty() {
            None
        } else {
            Some(Pattern::compile(pattern).map_err(|why| {
                fail(format!(
                    "TimestampConverter requires a SimpleDateFormat-compatible pattern for \
                     string timestamps: {why}"
                ))
            })?)
        };
        self.replace_null_with_default = config.bool("replace.null.with.default", true)?;
        self.converter = Some(Converter {
            target,
            format,
            precision,
        });
        Ok(())
    }
}

impl Transform for TimestampConverter {
    fn schemas(&mut self, input: &Schemas) -> Result<Schemas> {
        let Some(text) = self.part.schema(input) else {
            self.batch = Batch::Schemaless;
            return Ok(input.clone());
        };
        let s = schema::parse(text)?;
        let optional = s.get("optional").and_then(Value::as_bool).unwrap_or(false);
        let target = self.converter()?.target;
        if self.field.is_empty() {
            self.batch = Batch::Whole(Kind::from_schema(&s));
            let out = schema::to_text(&target.schema(optional));
            return Ok(self.part.with_schema(input, Some(out)));
        }
        let Some(fields) = schema::fields(&s) else {
            self.batch = Batch::Invalid(format!(
                "Only Struct objects supported for [{PURPOSE}], found schema of type {}",
                schema::type_of(&s).unwrap_or("unknown")
            ));
            return Ok(input.clone());
        };
        let mut source = None;
        let updated: Vec<Map<String, Value>> = fields
            .iter()
            .map(|f| {
                if schema::field_name(f) != Some(self.field.as_str()) {
                    return f.clone();
                }
                source = Some(Kind::from_schema(f));
                let optional = f.get("optional").and_then(Value::as_bool).unwrap_or(false);
                schema::as_field(target.schema(optional), &self.field)
            })
            .collect();
        let mut out = schema::with_fields(&s, updated);
        // Kafka converts the struct's default value too.
        if let Some(Value::Object(default)) = s.get("default") {
            let d = self.convert_struct(&fields, source.as_ref(), default.clone())?;
            out.insert("default".into(), Value::Object(d));
        }
        self.batch = Batch::Struct { fields, source };
        Ok(self.part.with_schema(input, Some(schema::to_text(&out))))
    }

    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let converter = self.converter()?;
        let bytes = self.part.get(&record);
        let out = match (&self.batch, bytes) {
            // Kafka checks the whole value's schema before looking at the value.
            (Batch::Whole(Err(e)), _) => return Err(fail(e.clone())),
            (_, None) => return Ok(Some(record)),
            (Batch::Invalid(e), Some(_)) => return Err(fail(e.clone())),
            (Batch::Schemaless, Some(bytes)) if self.field.is_empty() => {
                let v = schema::decode_value(bytes, None)?;
                converter.convert(&v, None).map_err(fail)?
            }
            (Batch::Schemaless, Some(bytes)) => {
                let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(bytes) else {
                    return Err(fail(format!(
                        "Only Map objects supported in absence of schema for [{PURPOSE}], \
                         found: {}",
                        String::from_utf8_lossy(bytes)
                    )));
                };
                let v = obj.get(&self.field).cloned().unwrap_or(Value::Null);
                let converted = converter.convert(&v, None).map_err(fail)?;
                obj.insert(self.field.clone(), converted);
                Value::Object(obj)
            }
            (Batch::Whole(Ok(kind)), Some(bytes)) => {
                let ty = match kind {
                    Kind::Str => "string",
                    _ => "int64",
                };
                let v = schema::decode_value(bytes, Some(ty))?;
                converter.convert(&v, Some(*kind)).map_err(fail)?
            }
            (Batch::Struct { fields, source }, Some(bytes)) => {
                let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(bytes) else {
                    return Err(fail(format!(
                        "Only Struct objects supported for [{PURPOSE}], found: {}",
                        String::from_utf8_lossy(bytes)
                    )));
                };
                Value::Object(self.convert_struct(fields, source.as_ref(), obj)?)
            }
        };
        self.part.set(&mut record, Some(schema::encode_value(&out)));
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests;
