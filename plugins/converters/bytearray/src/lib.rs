//! `bytearray-converter`: Kafka Connect's ByteArrayConverter. Passes bytes through unchanged;
//! a value whose schema is not `bytes` is refused, and consumed bytes are reported with the
//! schema `{"type":"bytes","optional":true}`.

use std::borrow::Cow;

use weft_plugin_sdk::serde_json::{self, Value};
use weft_plugin_sdk::*;

#[derive(Default)]
struct ByteArrayConverter {
    /// The last schema checked and, if it is not `bytes`, its type: a batch carries one schema
    /// for all its records, so it is parsed once per batch, not once per record.
    checked: Option<(String, Option<String>)>,
}

/// The type a schema that is not `bytes` names (`unknown` when it names none), or `None`.
fn not_bytes(schema: &str) -> Option<String> {
    let ty = serde_json::from_str::<Value>(schema)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string));
    match ty.as_deref() {
        Some("bytes") => None,
        _ => Some(ty.map_or_else(|| "unknown".to_string(), |t| t.to_ascii_uppercase())),
    }
}

impl Plugin for ByteArrayConverter {
    fn metadata() -> Metadata {
        Metadata::new(
            "bytearray-converter",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Converter,
            "Kafka Connect's ByteArrayConverter: bytes unchanged",
        )
        .config(
            ConfigDef::new(
                "converter.type",
                ConfigType::String,
                "How this converter will be used.",
            )
            .importance(Importance::Low)
            .recommended(["key", "value", "header"]),
        )
    }
}

impl Converter for ByteArrayConverter {
    fn from_connect(
        &mut self,
        topic: &str,
        value: Option<&[u8]>,
        schema: Option<&str>,
    ) -> Result<Option<Vec<u8>>> {
        Ok(self
            .from_connect_borrowed(topic, value, schema)?
            .map(Cow::into_owned))
    }

    fn to_connect(
        &mut self,
        topic: &str,
        value: Option<&[u8]>,
    ) -> Result<(Option<Vec<u8>>, Option<String>)> {
        let (v, s) = self.to_connect_borrowed(topic, value)?;
        Ok((v.map(Cow::into_owned), s.map(Cow::into_owned)))
    }

    // Bytes pass through as the batch holds them: no copy, no allocation per record.
    fn from_connect_borrowed<'v>(
        &mut self,
        _topic: &str,
        value: Option<&'v [u8]>,
        schema: Option<&str>,
    ) -> Result<Option<Cow<'v, [u8]>>> {
        if let Some(s) = schema {
            if self.checked.as_ref().is_none_or(|(last, _)| last != s) {
                self.checked = Some((s.to_string(), not_bytes(s)));
            }
            if let Some((_, Some(ty))) = &self.checked {
                return Err(PluginError::fatal(format!(
                    "Invalid schema type for ByteArrayConverter: {ty}"
                )));
            }
        }
        Ok(value.map(Cow::Borrowed))
    }

    fn to_connect_borrowed<'v>(
        &mut self,
        _topic: &str,
        value: Option<&'v [u8]>,
    ) -> Result<(Option<Cow<'v, [u8]>>, Option<Cow<'static, str>>)> {
        Ok((
            value.map(Cow::Borrowed),
            Some(Cow::Borrowed(schema::OPTIONAL_BYTES)),
        ))
    }
}

export_converter!(ByteArrayConverter);
