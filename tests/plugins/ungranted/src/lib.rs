//! Hostile fixture: a transform that imports the MQTT capability, which tests do not grant.

use weft_plugin_sdk::capability::mqtt;
use weft_plugin_sdk::*;

#[derive(Default)]
struct Ungranted;

impl Plugin for Ungranted {
    fn metadata() -> Metadata {
        Metadata::new(
            "ungranted",
            "0.1.0",
            PluginKind::Transform,
            "Publishes every value to MQTT",
        )
    }
}

impl Transform for Ungranted {
    fn apply<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        if let Some(v) = record.value() {
            let mut out = weft_batch::Record::new("exfiltrate", "");
            out.value = Some(v.to_vec());
            let batch = weft_batch::encode(&[out])?;
            mqtt::publish(&batch, 0, false)?;
        }
        Ok(Some(record))
    }
}

export_transform!(Ungranted);
