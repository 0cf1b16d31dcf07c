//! Reading a record's key or value as a serde_json object and writing one back, for the
//! transforms that rebuild a whole object (ExtractField, Flatten, HeaderFrom, ReplaceField,
//! ValueToKey).

use serde_json::{Map, Value};
use weft_plugin_sdk::*;

/// The part of `record` as a JSON object; `None` for a null part (a tombstone), an error naming
/// `plugin` when it is not an object.
pub(crate) fn json_object(
    record: &Record<'_>,
    part: Part,
    plugin: &str,
) -> Result<Option<Map<String, Value>>> {
    let Some(v) = part.get(record) else {
        return Ok(None);
    };
    match serde_json::from_slice(v) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        _ => Err(PluginError::fatal(format!(
            "{plugin} needs a JSON object {}",
            part.name()
        ))),
    }
}

/// `v` as JSON text.
pub(crate) fn to_bytes(v: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| PluginError::fatal(e.to_string()))
}
