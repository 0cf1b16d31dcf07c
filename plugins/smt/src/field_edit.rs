//! The transforms that edit a JSON object's members (InsertField, MaskField): one shape, so
//! that alone each reads and writes a record once, and several in a row in the `chain` read it
//! once and write it once between them.

use weft_plugin_sdk::json_edit::ObjectEdits;
use weft_plugin_sdk::*;

/// A field transform whose work is editing the top-level members of a JSON object key or value.
pub trait FieldEdit {
    /// The transform's built-in name, for messages.
    fn name(&self) -> &'static str;

    /// The part it edits.
    fn part(&self) -> Part;

    /// Edits the members of `record`'s part, whose text is `text` (`object` was started on it).
    fn edit(&mut self, record: &Record<'_>, text: &[u8], object: &mut ObjectEdits) -> Result<()>;

    /// Its failure for a part that is not a JSON object.
    fn not_an_object(&self) -> PluginError {
        PluginError::fatal(format!(
            "{} needs a JSON object {}",
            self.name(),
            self.part().name()
        ))
    }
}

/// [`Transform::apply`] of an editor on its own; `edits` are its buffers, kept between records.
pub fn apply_alone<'a, T: FieldEdit>(
    editor: &mut T,
    edits: impl Fn(&mut T) -> &mut ObjectEdits,
    record: Record<'a>,
) -> Result<Option<Record<'a>>> {
    let mut object = std::mem::take(edits(editor));
    let part = editor.part();
    let out = apply_edits(part, [editor as &mut dyn FieldEdit], &mut object, record);
    *edits(editor) = object;
    out
}

/// Runs `stages`, all editing `part`, over `record`: the part is read once and, when a stage
/// changed it, written once. A null part (a tombstone) passes untouched, as Kafka's SMTs pass
/// it; a part that is not an object fails with the first stage's message.
pub fn apply_edits<'a, 's>(
    part: Part,
    stages: impl IntoIterator<Item = &'s mut (dyn FieldEdit + 's)>,
    object: &mut ObjectEdits,
    mut record: Record<'a>,
) -> Result<Option<Record<'a>>> {
    let Some(text) = part.get(&record) else {
        return Ok(Some(record));
    };
    let mut stages = stages.into_iter();
    if !object.start(text) {
        return match stages.next() {
            Some(first) => Err(first.not_an_object()),
            None => Ok(Some(record)),
        };
    }
    for stage in stages {
        stage.edit(&record, text, object)?;
    }
    if object.changed() {
        let mut out = record::buffer(text.len() + 64);
        object.write(text, &mut out);
        part.set(&mut record, Some(out));
    }
    Ok(Some(record))
}
