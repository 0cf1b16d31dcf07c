//! `string-converter`: Kafka Connect's StringConverter. Writes a value as text in
//! `converter.encoding` (Kafka's key, default UTF-8; `encoding` is accepted as an alias) and
//! reads bytes back as an optional string (`{"type":"string","optional":true}`). Values of other
//! schemas are written in the Connect value encoding (JSON text for structs and numbers).

use std::borrow::Cow;

use weft_plugin_sdk::*;

/// The character sets supported, by Java's names and aliases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Charset {
    #[default]
    Utf8,
    Latin1,
    Ascii,
}

impl Charset {
    fn parse(name: &str) -> Option<Charset> {
        match name.to_ascii_uppercase().replace('_', "-").as_str() {
            "UTF-8" | "UTF8" => Some(Charset::Utf8),
            "ISO-8859-1" | "ISO8859-1" | "LATIN1" => Some(Charset::Latin1),
            "US-ASCII" | "ASCII" => Some(Charset::Ascii),
            _ => None,
        }
    }

    /// Text (UTF-8) to bytes; a character the charset lacks becomes `?`, as Java does. UTF-8
    /// text is its own encoding and comes back borrowed.
    fn encode(self, text: &str) -> Cow<'_, [u8]> {
        match self {
            Charset::Utf8 => Cow::Borrowed(text.as_bytes()),
            Charset::Latin1 => text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                .collect(),
            Charset::Ascii => text
                .chars()
                .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
                .collect(),
        }
    }

    /// Bytes to text (UTF-8); malformed input becomes U+FFFD, as Java's decoder does. Valid
    /// UTF-8 comes back borrowed.
    fn decode(self, bytes: &[u8]) -> Cow<'_, str> {
        match self {
            Charset::Utf8 => String::from_utf8_lossy(bytes),
            Charset::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
            Charset::Ascii => bytes
                .iter()
                .map(|&b| {
                    if b.is_ascii() {
                        char::from(b)
                    } else {
                        '\u{FFFD}'
                    }
                })
                .collect(),
        }
    }
}

#[derive(Default)]
struct StringConverter {
    charset: Charset,
}

impl Plugin for StringConverter {
    fn metadata() -> Metadata {
        Metadata::new(
            "string-converter",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Converter,
            "Kafka Connect's StringConverter: values as text",
        )
        .config(
            ConfigDef::new(
                "converter.encoding",
                ConfigType::String,
                "The name of the Java character set to use for encoding strings as byte arrays.",
            )
            .default("UTF-8")
            .importance(Importance::High)
            .display_name("Encoding")
            .recommended(["UTF-8", "ISO-8859-1", "US-ASCII"]),
        )
        .config(
            ConfigDef::new(
                "encoding",
                ConfigType::String,
                "Alias of converter.encoding.",
            )
            .importance(Importance::Low),
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

    fn configure(&mut self, config: &Config) -> Result<()> {
        // An explicit `encoding` wins over the default filled in for `converter.encoding`.
        let name = config
            .get("encoding")
            .or_else(|| config.get("converter.encoding"))
            .unwrap_or("UTF-8");
        self.charset = Charset::parse(name).ok_or_else(|| {
            PluginError::fatal(format!(
                "unsupported encoding `{name}` (UTF-8, ISO-8859-1 or US-ASCII)"
            ))
        })?;
        Ok(())
    }
}

impl Converter for StringConverter {
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

    // UTF-8 text (the default encoding) passes through as the batch holds it, and so do
    // bytes that are not text.
    fn from_connect_borrowed<'v>(
        &mut self,
        _topic: &str,
        value: Option<&'v [u8]>,
        _schema: Option<&str>,
    ) -> Result<Option<Cow<'v, [u8]>>> {
        Ok(value.map(|v| match std::str::from_utf8(v) {
            Ok(text) => self.charset.encode(text),
            Err(_) => Cow::Borrowed(v),
        }))
    }

    fn to_connect_borrowed<'v>(
        &mut self,
        _topic: &str,
        value: Option<&'v [u8]>,
    ) -> Result<(Option<Cow<'v, [u8]>>, Option<Cow<'static, str>>)> {
        let text = value.map(|v| match self.charset.decode(v) {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        });
        Ok((text, Some(Cow::Borrowed(schema::OPTIONAL_STRING))))
    }
}

export_converter!(StringConverter);
