//! `string`: keys and values are UTF-8 text, like Kafka's StringSerializer/StringDeserializer.
//! Serializing rejects bytes that are not UTF-8; deserializing replaces invalid sequences with
//! U+FFFD, as Java's `new String(bytes, UTF_8)` does.

use std::borrow::Cow;
use weft_plugin_sdk::*;

#[derive(Default)]
struct StringSerde;

impl Plugin for StringSerde {
    fn metadata() -> Metadata {
        Metadata::new(
            "string",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Serializer,
            "UTF-8 text keys and values",
        )
    }
}

fn lossy(b: Option<Cow<'_, [u8]>>) -> Option<Cow<'_, [u8]>> {
    b.map(|b| match String::from_utf8_lossy(&b) {
        Cow::Borrowed(_) => b,
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    })
}

impl Serializer for StringSerde {
    fn serialize<'a>(&mut self, record: Record<'a>) -> Result<Record<'a>> {
        for (what, bytes) in [("key", record.key()), ("value", record.value())] {
            if let Some(b) = bytes {
                if let Err(e) = std::str::from_utf8(b) {
                    return Err(PluginError::fatal(format!("{what} is not UTF-8: {e}")));
                }
            }
        }
        Ok(record)
    }

    fn deserialize<'a>(&mut self, mut record: Record<'a>) -> Result<Record<'a>> {
        record.key = lossy(record.key.take());
        record.value = lossy(record.value.take());
        Ok(record)
    }
}

export_serializer!(StringSerde);
