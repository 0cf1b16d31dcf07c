//! Values checked against a schema and put in their JSON form, in both directions: Connect
//! value → JSON (Kafka's `convertToJson`) and JSON → Connect value (`convertToConnect`). A
//! struct's fields come out in schema order; floats are written as floats; `bytes` nested in a
//! struct, array or map stay base64 text, as in JsonConverter's JSON.

use base64::Engine as _;
use serde_json::Number;

use crate::ojson::Json;
use crate::schema::{Schema, Type};

const MAX_DEPTH: usize = 64;

/// Which way a value is going: the errors for a null in a required field differ, as in Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Connect value to JSON (produce side).
    ToJson,
    /// JSON to Connect value (consume side).
    ToConnect,
}

/// Options from the converter's config.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub direction: Direction,
    /// Kafka's `replace.null.with.default` (to JSON only).
    pub replace_null_with_default: bool,
}

/// A schema's default value in its JSON form.
pub fn normalize(schema: &Schema, v: &Json, depth: usize) -> Result<Json, String> {
    let opts = Options {
        direction: Direction::ToConnect,
        replace_null_with_default: true,
    };
    convert(schema, v, depth, opts)
}

/// `v` checked against `schema` and in its JSON form.
pub fn convert(schema: &Schema, v: &Json, depth: usize, opts: Options) -> Result<Json, String> {
    if depth > MAX_DEPTH {
        return Err(format!("Value nests deeper than {MAX_DEPTH} levels"));
    }
    if *v == Json::Null {
        return null_for(schema, opts);
    }
    let mismatch = || format!("Invalid type for {}: {}", schema.type_upper(), json_type(v));
    Ok(match (&schema.ty, v) {
        (Type::Boolean, Json::Bool(_)) => v.clone(),
        (Type::Int8, Json::Num(n)) => int_in(n, i8::MIN.into(), i8::MAX.into(), schema)?,
        (Type::Int16, Json::Num(n)) => int_in(n, i16::MIN.into(), i16::MAX.into(), schema)?,
        (Type::Int32, Json::Num(n)) => int_in(n, i32::MIN.into(), i32::MAX.into(), schema)?,
        (Type::Int64, Json::Num(n)) => int_in(n, i64::MIN, i64::MAX, schema)?,
        (Type::Float32 | Type::Float64, Json::Num(n)) => {
            // Java writes a float node: 1 becomes 1.0.
            let f = n.as_f64().ok_or_else(mismatch)?;
            Json::Num(Number::from_f64(f).ok_or_else(mismatch)?)
        }
        (Type::String, Json::Str(_)) => v.clone(),
        (Type::Bytes, Json::Str(s)) => {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("Invalid base64 for BYTES: {e}"))?;
            v.clone()
        }
        (Type::Array(items), Json::Arr(elems)) => Json::Arr(
            elems
                .iter()
                .map(|e| convert(items, e, depth + 1, opts))
                .collect::<Result<_, _>>()?,
        ),
        (Type::Map(k, val), Json::Obj(fields)) if k.ty == Type::String => Json::Obj(
            fields
                .iter()
                .map(|(key, e)| Ok((key.clone(), convert(val, e, depth + 1, opts)?)))
                .collect::<Result<_, String>>()?,
        ),
        // Maps with keys other than strings are arrays of [key, value] pairs.
        (Type::Map(k, val), Json::Arr(pairs)) => Json::Arr(
            pairs
                .iter()
                .map(|p| match p {
                    Json::Arr(kv) if kv.len() == 2 => Ok(Json::Arr(vec![
                        convert(k, &kv[0], depth + 1, opts)?,
                        convert(val, &kv[1], depth + 1, opts)?,
                    ])),
                    _ => Err("Found invalid map entry instead of array tuple".to_string()),
                })
                .collect::<Result<_, _>>()?,
        ),
        (Type::Struct(fields), Json::Obj(_)) => Json::Obj(
            fields
                .iter()
                .map(|f| {
                    let field = v.get(&f.name).unwrap_or(&Json::Null);
                    Ok((f.name.clone(), convert(&f.schema, field, depth + 1, opts)?))
                })
                .collect::<Result<_, String>>()?,
        ),
        _ => return Err(mismatch()),
    })
}

fn null_for(schema: &Schema, opts: Options) -> Result<Json, String> {
    let use_default = opts.direction == Direction::ToConnect || opts.replace_null_with_default;
    if let (Some(d), true) = (&schema.default, use_default) {
        return Ok(d.clone());
    }
    if schema.optional {
        return Ok(Json::Null);
    }
    Err(match opts.direction {
        Direction::ToJson => {
            "Conversion error: null value for field that is required and has no default value"
                .to_string()
        }
        Direction::ToConnect => format!(
            "Invalid null value for required {} field",
            schema.type_upper()
        ),
    })
}

fn int_in(n: &Number, min: i64, max: i64, schema: &Schema) -> Result<Json, String> {
    match n.as_i64() {
        Some(i) if (min..=max).contains(&i) => Ok(Json::Num(n.clone())),
        _ => Err(format!("Invalid value for {}: {n}", schema.type_upper())),
    }
}

fn json_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Num(_) => "number",
        Json::Str(_) => "string",
        Json::Arr(_) => "array",
        Json::Obj(_) => "object",
    }
}
