//! Connect schemas as JsonConverter writes them: parsed from the envelope's `schema` (Kafka's
//! `asConnectSchema`) and written back in Kafka's field order (`asJsonSchema`): `type`, then
//! `fields`/`items`/`keys`+`values`, `optional`, `name`, `version`, `doc`, `parameters`,
//! `default`, and a struct field's `field` last.

use crate::ojson::Json;

/// A Connect schema type.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Bytes,
    String,
    Array(Box<Schema>),
    Map(Box<Schema>, Box<Schema>),
    Struct(Vec<Field>),
}

/// A struct's field.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub schema: Schema,
    /// The name as a JSON string and a colon: what is written before the field's value.
    pub label: Vec<u8>,
}

impl Field {
    pub fn new(name: String, schema: Schema) -> Field {
        let mut label = Vec::with_capacity(name.len() + 3);
        weft_plugin_sdk::json_object::write_str(&mut label, &name);
        label.push(b':');
        Field {
            name,
            schema,
            label,
        }
    }
}

/// A Connect schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub ty: Type,
    pub optional: bool,
    pub name: Option<String>,
    pub version: Option<serde_json::Number>,
    pub doc: Option<String>,
    pub parameters: Vec<(String, String)>,
    /// The default, already in the JSON form of this schema.
    pub default: Option<Json>,
}

/// How deep schemas may nest: bounds the recursion a hostile schema can cause.
const MAX_DEPTH: usize = 64;

impl Schema {
    /// Reads a schema from its JSON (`null` is no schema).
    pub fn parse(json: &Json) -> Result<Option<Schema>, String> {
        if *json == Json::Null {
            return Ok(None);
        }
        Schema::parse_at(json, 0).map(Some)
    }

    fn parse_at(json: &Json, depth: usize) -> Result<Schema, String> {
        if depth > MAX_DEPTH {
            return Err(format!("Schema nests deeper than {MAX_DEPTH} levels"));
        }
        let Some(Json::Str(type_name)) = json.get("type") else {
            return Err("Schema must contain 'type' field".into());
        };
        let child = |key: &str, missing: &str| -> Result<Box<Schema>, String> {
            match json.get(key) {
                None | Some(Json::Null) => Err(missing.to_string()),
                Some(s) => Schema::parse_at(s, depth + 1).map(Box::new),
            }
        };
        let ty = match type_name.as_str() {
            "boolean" => Type::Boolean,
            "int8" => Type::Int8,
            "int16" => Type::Int16,
            "int32" => Type::Int32,
            "int64" => Type::Int64,
            "float" => Type::Float32,
            "double" => Type::Float64,
            "bytes" => Type::Bytes,
            "string" => Type::String,
            "array" => Type::Array(child(
                "items",
                "Array schema did not specify the element type",
            )?),
            "map" => Type::Map(
                child("keys", "Map schema did not specify the key type")?,
                child("values", "Map schema did not specify the value type")?,
            ),
            "struct" => {
                let Some(Json::Arr(fields)) = json.get("fields") else {
                    return Err("Struct schema's \"fields\" argument is not an array.".into());
                };
                let mut out = Vec::with_capacity(fields.len());
                let mut names = std::collections::HashSet::with_capacity(fields.len());
                for f in fields {
                    let Some(Json::Str(name)) = f.get("field") else {
                        return Err("Struct schema's field name not specified properly".into());
                    };
                    // Kafka's SchemaBuilder refuses a repeated name; a struct value could not
                    // say which of the two a member is for.
                    if !names.insert(name.as_str()) {
                        return Err(format!(
                            "Cannot create field because of field name duplication {name}"
                        ));
                    }
                    out.push(Field::new(name.clone(), Schema::parse_at(f, depth + 1)?));
                }
                Type::Struct(out)
            }
            other => return Err(format!("Unknown schema type: {other}")),
        };
        let optional = matches!(json.get("optional"), Some(Json::Bool(true)));
        let name = match json.get("name") {
            Some(Json::Str(s)) => Some(s.clone()),
            _ => None,
        };
        let version = match json.get("version") {
            Some(Json::Num(n)) if n.is_i64() || n.is_u64() => Some(n.clone()),
            _ => None,
        };
        let doc = match json.get("doc") {
            Some(Json::Str(s)) => Some(s.clone()),
            _ => None,
        };
        let mut parameters = Vec::new();
        if let Some(Json::Obj(params)) = json.get("parameters") {
            for (k, v) in params {
                let Json::Str(v) = v else {
                    return Err("Schema parameters must have string values.".into());
                };
                parameters.push((k.clone(), v.clone()));
            }
        }
        let mut schema = Schema {
            ty,
            optional,
            name,
            version,
            doc,
            parameters,
            default: None,
        };
        if let Some(d) = json.get("default").filter(|d| **d != Json::Null) {
            let d = crate::value::normalize(&schema, d, depth + 1)?;
            schema.default = Some(d);
        }
        Ok(schema)
    }

    /// The schema's JSON in Kafka's field order.
    pub fn to_json(&self) -> Json {
        let mut f: Vec<(String, Json)> = vec![("type".into(), Json::Str(self.type_name().into()))];
        match &self.ty {
            Type::Struct(fields) => {
                let fields = fields
                    .iter()
                    .map(|field| {
                        let mut j = field.schema.to_json();
                        if let Json::Obj(entries) = &mut j {
                            entries.push(("field".into(), Json::Str(field.name.clone())));
                        }
                        j
                    })
                    .collect();
                f.push(("fields".into(), Json::Arr(fields)));
            }
            Type::Array(items) => f.push(("items".into(), items.to_json())),
            Type::Map(k, v) => {
                f.push(("keys".into(), k.to_json()));
                f.push(("values".into(), v.to_json()));
            }
            _ => {}
        }
        f.push(("optional".into(), Json::Bool(self.optional)));
        if let Some(n) = &self.name {
            f.push(("name".into(), Json::Str(n.clone())));
        }
        if let Some(v) = &self.version {
            f.push(("version".into(), Json::Num(v.clone())));
        }
        if let Some(d) = &self.doc {
            f.push(("doc".into(), Json::Str(d.clone())));
        }
        if !self.parameters.is_empty() {
            let params = self
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), Json::Str(v.clone())))
                .collect();
            f.push(("parameters".into(), Json::Obj(params)));
        }
        if let Some(d) = &self.default {
            f.push(("default".into(), d.clone()));
        }
        Json::Obj(f)
    }

    /// Kafka's `Schema.Type` name, for error messages.
    pub fn type_upper(&self) -> &'static str {
        match self.ty {
            Type::Boolean => "BOOLEAN",
            Type::Int8 => "INT8",
            Type::Int16 => "INT16",
            Type::Int32 => "INT32",
            Type::Int64 => "INT64",
            Type::Float32 => "FLOAT32",
            Type::Float64 => "FLOAT64",
            Type::Bytes => "BYTES",
            Type::String => "STRING",
            Type::Array(_) => "ARRAY",
            Type::Map(..) => "MAP",
            Type::Struct(_) => "STRUCT",
        }
    }

    fn type_name(&self) -> &'static str {
        match self.ty {
            Type::Boolean => "boolean",
            Type::Int8 => "int8",
            Type::Int16 => "int16",
            Type::Int32 => "int32",
            Type::Int64 => "int64",
            Type::Float32 => "float",
            Type::Float64 => "double",
            Type::Bytes => "bytes",
            Type::String => "string",
            Type::Array(_) => "array",
            Type::Map(..) => "map",
            Type::Struct(_) => "struct",
        }
    }
}
