//! `timestamp-prepend`: on send, prefixes each value with the record's timestamp (the send time,
//! which the host assigns when the producer did not) and a separator, like the classic
//! ProducerInterceptor tutorial. Consumed records pass unchanged.

use weft_plugin_sdk::*;

#[derive(Default)]
struct TimestampPrepend {
    separator: String,
}

impl Plugin for TimestampPrepend {
    fn metadata() -> Metadata {
        Metadata::new(
            "timestamp-prepend",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Interceptor,
            "Prefix each sent value with its send time in ms",
        )
        .config(
            ConfigDef::new(
                "separator",
                ConfigType::String,
                "Text between the timestamp and the value.",
            )
            .default(","),
        )
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.separator = config.get("separator").unwrap_or(",").to_string();
        Ok(())
    }
}

impl Interceptor for TimestampPrepend {
    fn on_send<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let ts = record.timestamp.unwrap_or(0);
        let mut v = format!("{ts}{}", self.separator).into_bytes();
        if let Some(old) = record.value() {
            v.extend_from_slice(old);
        }
        record.set_value(v);
        Ok(Some(record))
    }
}

export_interceptor!(TimestampPrepend);
