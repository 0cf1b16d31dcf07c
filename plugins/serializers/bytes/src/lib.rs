//! `bytes`: keys and values are raw bytes and pass unchanged, like Kafka's ByteArraySerializer.

use weft_plugin_sdk::*;

#[derive(Default)]
struct BytesSerde;

impl Plugin for BytesSerde {
    fn metadata() -> Metadata {
        Metadata::new(
            "bytes",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Serializer,
            "Raw bytes, unchanged",
        )
    }
}

impl Serializer for BytesSerde {
    fn serialize<'a>(&mut self, record: Record<'a>) -> Result<Record<'a>> {
        Ok(record)
    }

    fn deserialize<'a>(&mut self, record: Record<'a>) -> Result<Record<'a>> {
        Ok(record)
    }
}

export_serializer!(BytesSerde);
