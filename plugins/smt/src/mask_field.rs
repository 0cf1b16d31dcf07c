//! `mask-field`: replaces the given fields of JSON object values with an empty value of the
//! same type (`""`, `0`, `false`, `[]`, `{}`) or with `replacement`, after Kafka Connect's
//! `MaskField$Value` (`target=key`: `MaskField$Key`). The schema is unchanged. Tombstones pass
//! through.

use serde_json::Value;
use weft_plugin_sdk::json_object;
use weft_plugin_sdk::*;

#[derive(Default)]
pub struct MaskField {
    part: Part,
    fields: Vec<String>,
    /// `replacement`, when set, as the JSON texts it is written as.
    replacement: Option<Replacement>,
    /// The members of the record being rewritten (kept to reuse its allocation).
    members: Vec<json_object::Member>,
    /// The members of what it is rewritten to, when a transform after this one reads them.
    written: Vec<json_object::Member>,
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
    /// Appends the masked form of `value` (a valid JSON value's text): the empty value of its
    /// type, or the replacement.
    fn write_masked(&self, value: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let first = value.first().copied().unwrap_or(b'n');
        let is_number = first == b'-' || first.is_ascii_digit();
        match (&self.replacement, is_number) {
            (Some(r), true) => match &r.number {
                Ok(n) => out.extend_from_slice(n),
                Err(e) => return Err(PluginError::fatal(e.clone())),
            },
            (Some(r), false) => out.extend_from_slice(&r.text),
            (None, _) => out.extend_from_slice(match first {
                b'"' => b"\"\"",
                b't' | b'f' => b"false",
                b'[' => b"[]",
                b'{' => b"{}",
                b'n' => b"null",
                _ => b"0",
            }),
        }
        Ok(())
    }
}

impl Transform for MaskField {
    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let Some(text) = self.part.get(&record) else {
            return Ok(Some(record));
        };
        if !json_object::members(text, &mut self.members) {
            return Err(PluginError::fatal(format!(
                "mask-field needs a JSON object {}",
                self.part.name()
            )));
        }
        // Only the masked values are written anew; the text around them is copied as it
        // stands, in one piece per run, and a record without a masked field is left untouched.
        // For a transform after this one in the instance, the output's members are noted (see
        // `json_object::remember`): the text copied as is is shifted by what masked values
        // changed in length before it.
        let track = json_object::remembering();
        let mut written = std::mem::take(&mut self.written);
        written.clear();
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        let mut shift = 0isize;
        for m in &self.members {
            let key = m.key.start.wrapping_add_signed(shift)..m.key.end.wrapping_add_signed(shift);
            let value = if self.fields.iter().any(|f| m.key_is(text, f)) {
                let out = out.get_or_insert_with(|| record::buffer(text.len()));
                out.extend_from_slice(text.get(copied..m.value.start).unwrap_or_default());
                let start = out.len();
                self.write_masked(m.value_text(text), out)?;
                copied = m.value.end;
                shift = out.len() as isize - m.value.end as isize;
                start..out.len()
            } else {
                m.value.start.wrapping_add_signed(shift)..m.value.end.wrapping_add_signed(shift)
            };
            if track {
                written.push(json_object::Member { key, value });
            }
        }
        match out {
            Some(mut out) => {
                out.extend_from_slice(text.get(copied..).unwrap_or_default());
                if track {
                    json_object::remember(&out, &mut written);
                }
                self.part.set(&mut record, Some(out));
            }
            None if track => json_object::remember(text, &mut self.members),
            None => {}
        }
        self.written = written;
        Ok(Some(record))
    }
}
