//! `cast`: casts fields of a JSON object value (or key, `target=key`), or the whole value, to
//! another primitive type, after Kafka Connect's `Cast$Value` / `Cast$Key`. `spec` is
//! `field:type,...` or a single `type` for the whole value; types are `int8`, `int16`, `int32`,
//! `int64`, `float32`, `float64`, `boolean` and `string`. Numbers, booleans and strings convert
//! as Kafka converts them (a float to an integer truncates, a boolean is 1 or 0, a string is
//! parsed; anything to `string` is its text). A struct schema gets the new field types.

use serde_json::{Map, Number, Value};
use weft_plugin_sdk::*;

/// A target type of Kafka's Cast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Int(i64, i64, &'static str),
    Float(&'static str),
    Boolean,
    Str,
}

impl To {
    fn parse(name: &str) -> Result<To> {
        Ok(match name.trim() {
            "int8" => To::Int(i8::MIN.into(), i8::MAX.into(), "int8"),
            "int16" => To::Int(i16::MIN.into(), i16::MAX.into(), "int16"),
            "int32" => To::Int(i32::MIN.into(), i32::MAX.into(), "int32"),
            "int64" => To::Int(i64::MIN, i64::MAX, "int64"),
            "float32" => To::Float("float"),
            "float64" => To::Float("double"),
            "boolean" => To::Boolean,
            "string" => To::Str,
            other => {
                return Err(PluginError::fatal(format!(
                    "Invalid type found in casting spec: {other}"
                )))
            }
        })
    }

    /// The Connect schema type name.
    fn schema_type(self) -> &'static str {
        match self {
            To::Int(_, _, t) | To::Float(t) => t,
            To::Boolean => "boolean",
            To::Str => "string",
        }
    }

    fn cast(self, v: &Value) -> Result<Value> {
        let fail = || {
            PluginError::fatal(format!(
                "Unexpected type in Cast transformation: cannot cast {v} to {}",
                self.schema_type()
            ))
        };
        Ok(match (self, v) {
            (_, Value::Null) => Value::Null,
            (To::Str, Value::String(_)) => v.clone(),
            (To::Str, other) => Value::String(other.to_string()),
            (To::Boolean, Value::Bool(_)) => v.clone(),
            (To::Boolean, Value::Number(n)) => Value::Bool(n.as_f64().is_some_and(|f| f != 0.0)),
            (To::Boolean, Value::String(s)) => Value::Bool(s.trim().eq_ignore_ascii_case("true")),
            (To::Int(min, max, _), _) => {
                let i = match v {
                    Value::Bool(b) => i64::from(*b),
                    Value::Number(n) => match n.as_i64() {
                        Some(i) => i,
                        // Java's narrowing of a double truncates toward zero.
                        None => n.as_f64().ok_or_else(fail)?.trunc() as i64,
                    },
                    Value::String(s) => s.trim().parse().map_err(|_| fail())?,
                    _ => return Err(fail()),
                };
                if !(min..=max).contains(&i) {
                    return Err(fail());
                }
                Value::Number(i.into())
            }
            (To::Float(_), _) => {
                let f = match v {
                    Value::Bool(b) => f64::from(u8::from(*b)),
                    Value::Number(n) => n.as_f64().ok_or_else(fail)?,
                    Value::String(s) => s.trim().parse().map_err(|_| fail())?,
                    _ => return Err(fail()),
                };
                Value::Number(Number::from_f64(f).ok_or_else(fail)?)
            }
            _ => return Err(fail()),
        })
    }
}

#[derive(Default)]
pub struct Cast {
    part: Part,
    /// Field and type; a field of `None` is the whole value.
    fields: Vec<(Option<String>, To)>,
    schema_type: Option<String>,
}

impl Cast {
    fn whole(&self) -> Option<To> {
        match self.fields.as_slice() {
            [(None, to)] => Some(*to),
            _ => None,
        }
    }

    fn to_for(&self, field: &str) -> Option<To> {
        self.fields
            .iter()
            .find(|(f, _)| f.as_deref() == Some(field))
            .map(|(_, t)| *t)
    }
}

impl Plugin for Cast {
    fn metadata() -> Metadata {
        Metadata::new(
            "cast",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Cast fields or the whole value to another primitive type",
        )
        .config(
            ConfigDef::new(
                "spec",
                ConfigType::List,
                "List of fields and the type to cast them to of the form field1:type,field2:type \
                 to cast fields of Maps or Structs. A single type to cast the entire value.",
            )
            .required()
            .importance(Importance::High),
        )
        .config(Part::config_def())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.part = Part::from_config(config)?;
        let spec = config.list("spec");
        if spec.is_empty() {
            return Err(PluginError::fatal(
                "Must specify at least one field to cast.",
            ));
        }
        self.fields = spec
            .iter()
            .map(|item| match item.split_once(':') {
                Some((f, t)) => Ok((Some(f.trim().to_string()), To::parse(t)?)),
                None if spec.len() == 1 => Ok((None, To::parse(item)?)),
                None => Err(PluginError::fatal(
                    "Cast transformations that specify a type to cast the entire value to may \
                     only specify a single cast in their spec",
                )),
            })
            .collect::<Result<_>>()?;
        Ok(())
    }
}

impl Transform for Cast {
    fn schemas(&mut self, input: &Schemas) -> Result<Schemas> {
        let Some(text) = self.part.schema(input) else {
            self.schema_type = None;
            return Ok(input.clone());
        };
        let mut s = schema::parse(text)?;
        self.schema_type = schema::type_of(&s).map(str::to_string);
        if let Some(to) = self.whole() {
            s.insert("type".into(), Value::from(to.schema_type()));
            s.remove("name");
            s.remove("version");
            s.remove("parameters");
            return Ok(self.part.with_schema(input, Some(schema::to_text(&s))));
        }
        let Some(fields) = schema::fields(&s) else {
            return Ok(input.clone());
        };
        let cast = fields
            .into_iter()
            .map(|mut f| {
                if let Some(to) = schema::field_name(&f).and_then(|n| self.to_for(n)) {
                    f.insert("type".into(), Value::from(to.schema_type()));
                    f.remove("name");
                    f.remove("version");
                    f.remove("parameters");
                }
                f
            })
            .collect();
        let out = schema::to_text(&schema::with_fields(&s, cast));
        Ok(self.part.with_schema(input, Some(out)))
    }

    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let Some(bytes) = self.part.get(&record) else {
            return Ok(Some(record));
        };
        if let Some(to) = self.whole() {
            let v = schema::decode_value(bytes, self.schema_type.as_deref())?;
            let out = to.cast(&v)?;
            self.part.set(&mut record, Some(schema::encode_value(&out)));
            return Ok(Some(record));
        }
        let mut obj: Map<String, Value> = match serde_json::from_slice(bytes) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(PluginError::fatal(format!(
                    "cast of fields needs a JSON object {}",
                    self.part.name()
                )))
            }
        };
        for (name, v) in obj.iter_mut() {
            if let Some(to) = self.to_for(name) {
                *v = to.cast(v)?;
            }
        }
        let bytes = Value::Object(obj).to_string().into_bytes();
        self.part.set(&mut record, Some(bytes));
        Ok(Some(record))
    }
}
