//! `mask-field`: replaces the given fields of JSON object values with an empty value of the
//! same type (`""`, `0`, `false`, `[]`, `{}`) or with `replacement`, after Kafka Connect's
//! `MaskField$Value` (`target=key`: `MaskField$Key`). The schema is unchanged. Tombstones pass
//! through.

use serde_json::Value;
use weft_plugin_sdk::json_edit::ObjectEdits;
use weft_plugin_sdk::json_object;
use weft_plugin_sdk::*;

use crate::field_edit::{apply_alone, FieldEdit};

#[derive(Default)]
pub struct MaskField {
    part: Part,
    fields: Vec<String>,
    /// `replacement`, when set, as the JSON texts it is written as.
    replacement: Option<Replacement>,
    /// The record's members being edited (kept to reuse its buffers).
    edits: ObjectEdits,
}

impl Plugin for MaskField {
    fn metadata() -> Metadata {
        Metadata::new(
            "mask-field",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Mask fields of JSON values",
        )
        .config(ConfigDef::new("fields", ConfigType::List, "Fields to mask.").required())
        .config(ConfigDef::new(
            "replacement",
            ConfigType::String,
            "Replacement instead of the type's empty value.",
        ))
        .config(Part::config_def())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.part = Part::from_config(config)?;
        self.fields = config.list("fields");
        self.replacement = config.get("replacement").map(|r| Replacement {
            text: json_object::quoted(r),
            number: match serde_json::from_str::<Value>(r) {
                Ok(n @ Value::Number(_)) => Ok(serde_json::to_vec(&n).unwrap_or_default()),
                _ => Err(format!("replacement `{r}` is not a number")),
            },
        });
        Ok(())
    }
}

/// The `replacement` config value as masked values are written.
struct Replacement {
    /// As a JSON string (for every value that is not a number).
    text: Vec<u8>,
    /// As a JSON number (for numbers), or why it is not one.
    number: std::result::Result<Vec<u8>, String>,
}

impl MaskField {
    /// The masked form of `value` (a valid JSON value's text): the empty value of its type, or
    /// the replacement.
    fn masked(&self, value: &[u8]) -> Result<&[u8]> {
        let first = value.first().copied().unwrap_or(b'n');
        let is_number = first == b'-' || first.is_ascii_digit();
        match (&self.replacement, is_number) {
            (Some(r), true) => match &r.number {
                Ok(n) => Ok(n),
                Err(e) => Err(PluginError::fatal(e.clone())),
            },
            (Some(r), false) => Ok(&r.text),
            (None, _) => Ok(match first {
                b'"' => b"\"\"",
                b't' | b'f' => b"false",
                b'[' => b"[]",
                b'{' => b"{}",
                b'n' => b"null",
                _ => b"0",
            }),
        }
    }
}

impl FieldEdit for MaskField {
    fn name(&self) -> &'static str {
        "mask-field"
    }

    fn part(&self) -> Part {
        self.part
    }

    fn edit(&mut self, _: &Record<'_>, text: &[u8], object: &mut ObjectEdits) -> Result<()> {
        for i in 0..object.len() {
            if self.fields.iter().any(|f| object.key_is(text, i, f)) {
                let masked = self.masked(object.value(text, i))?;
                object.set_value(i, |out| out.extend_from_slice(masked));
            }
        }
        Ok(())
    }
}

impl Transform for MaskField {
    fn apply<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        // Only the masked values are written anew; the text around them is copied as it
        // stands, and a record without a masked field is left untouched.
        apply_alone(self, |t| &mut t.edits, record)
    }
}
