//! `bytearray-converter`: Kafka Connect's ByteArrayConverter. Passes bytes through unchanged;
//! a value whose schema is not `bytes` is refused, and consumed bytes are reported with the
//! schema `{"type":"bytes","optional":true}`.

use weft_plugin_sdk::serde_json::{self, Value};
use weft_plugin_sdk::*;

#[derive(Default)]
struct ByteArrayConverter;

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
        _topic: &str,
        value: Option<&[u8]>,
        schema: Option<&str>,
    ) -> Result<Option<Vec<u8>>> {
        if let Some(s) = schema {
            let ty = serde_json::from_str::<Value>(s)
                .ok()
                .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string));
            if ty.as_deref() != Some("bytes") {
                let ty = ty.map_or_else(|| "unknown".to_string(), |t| t.to_ascii_uppercase());
                return Err(PluginError::fatal(format!(
                    "Invalid schema type for ByteArrayConverter: {ty}"
                )));
            }
        }
        Ok(value.map(<[u8]>::to_vec))
    }

    fn to_connect(
        &mut self,
        _topic: &str,
        value: Option<&[u8]>,
    ) -> Result<(Option<Vec<u8>>, Option<String>)> {
        Ok((
            value.map(<[u8]>::to_vec),
            Some(schema::OPTIONAL_BYTES.to_string()),
        ))
    }
}

export_converter!(ByteArrayConverter);
