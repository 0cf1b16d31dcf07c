//! A JSON object's top-level members edited by field transforms one after another and written
//! out once: values replaced and members appended, every byte not edited copied as it stands.
//! InsertField and MaskField edit through it, alone or several in a row in the built-in
//! `chain`, which then reads each record once and writes it once whatever the number of
//! transforms.

use std::ops::Range;

use crate::json_object::Member;

/// The edits to one object, and the buffers they are kept in (reused from one record to the
/// next). Every call that reads or writes the object takes its text: the text [`ObjectEdits::start`]
/// was given. Ranges are read with bounds checks, so another text gives wrong output, never a
/// panic.
#[derive(Debug, Default)]
pub struct ObjectEdits {
    /// The object's own members, as found in its text.
    own: Vec<Member>,
    /// Own members whose value was replaced: member index and the new value in `scratch`, in
    /// the order of the members.
    replaced: Vec<(usize, Range<usize>)>,
    /// Members appended after the own ones: key (between its quotes) and value, in `scratch`.
    appended: Vec<Member>,
    /// Where appended members go in the text: just past the last own member's value, or the `{`.
    append_at: usize,
    /// Text written anew: appended keys and new values.
    scratch: Vec<u8>,
}

impl ObjectEdits {
    /// Starts editing `text`. False, with nothing to edit, when it is not valid JSON or not an
    /// object (every byte is checked).
    pub fn start(&mut self, text: &[u8]) -> bool {
        self.replaced.clear();
        self.appended.clear();
        self.scratch.clear();
        if !crate::json_scan::object_members(text, &mut self.own) {
            self.own.clear();
            return false;
        }
        self.append_at = match self.own.last() {
            Some(m) => m.value.end,
            None => text.iter().position(|&b| b == b'{').map_or(0, |p| p + 1),
        };
        true
    }

    /// Number of members, own and appended. Members are numbered in the order they are written.
    pub fn len(&self) -> usize {
        self.own.len() + self.appended.len()
    }

    /// True when the object has no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether any value was replaced or any member appended.
    pub fn changed(&self) -> bool {
        !self.replaced.is_empty() || !self.appended.is_empty()
    }

    /// Whether member `i`'s key is `name` (escapes decoded when the key has any).
    #[inline(always)]
    pub fn key_is(&self, text: &[u8], i: usize, name: &str) -> bool {
        match self.own.get(i) {
            Some(m) => m.key_is(text, name),
            None => self
                .appended
                .get(i - self.own.len())
                .is_some_and(|m| m.key_is(&self.scratch, name)),
        }
    }

    /// Member `i`'s value as it now stands (empty when there is no such member).
    pub fn value<'a>(&'a self, text: &'a [u8], i: usize) -> &'a [u8] {
        if let Some(m) = self.appended.get(i.wrapping_sub(self.own.len())) {
            return m.value_text(&self.scratch);
        }
        match self.replaced.iter().find(|(at, _)| *at == i) {
            Some((_, new)) => self.scratch.get(new.clone()).unwrap_or_default(),
            None => self.own.get(i).map_or(&[], |m| m.value_text(text)),
        }
    }

    /// Replaces member `i`'s value with what `write` appends to the buffer it is given (JSON
    /// text, which the caller must make valid).
    pub fn set_value(&mut self, i: usize, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.scratch.len();
        write(&mut self.scratch);
        let new = start..self.scratch.len();
        if let Some(m) = self.appended.get_mut(i.wrapping_sub(self.own.len())) {
            m.value = new;
            return;
        }
        if i >= self.own.len() {
            return;
        }
        // Kept in member order, for the one pass that writes them.
        match self.replaced.iter().position(|(at, _)| *at >= i) {
            Some(p) if self.replaced[p].0 == i => self.replaced[p].1 = new,
            Some(p) => self.replaced.insert(p, (i, new)),
            None => self.replaced.push((i, new)),
        }
    }

    /// Appends a member after the others: `quoted_key` is the key as a JSON string, and
    /// `write` appends the value's JSON text.
    pub fn append(&mut self, quoted_key: &[u8], write: impl FnOnce(&mut Vec<u8>)) {
        let key_start = self.scratch.len() + 1;
        self.scratch.extend_from_slice(quoted_key);
        let key = key_start..self.scratch.len().saturating_sub(1).max(key_start);
        let start = self.scratch.len();
        write(&mut self.scratch);
        self.appended.push(Member {
            key,
            value: start..self.scratch.len(),
        });
    }

    /// Appends the edited object to `out`: the text as it stands, with replaced values in place
    /// and appended members after the last own one.
    pub fn write(&self, text: &[u8], out: &mut Vec<u8>) {
        out.reserve(text.len() + self.scratch.len() + 2 * self.appended.len());
        let mut copied = 0;
        for (i, new) in &self.replaced {
            let Some(m) = self.own.get(*i) else { continue };
            out.extend_from_slice(text.get(copied..m.value.start).unwrap_or_default());
            out.extend_from_slice(self.scratch.get(new.clone()).unwrap_or_default());
            copied = m.value.end;
        }
        out.extend_from_slice(text.get(copied..self.append_at).unwrap_or_default());
        let mut first = self.own.is_empty();
        for m in &self.appended {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(m.quoted_key(&self.scratch));
            out.push(b':');
            out.extend_from_slice(m.value_text(&self.scratch));
        }
        out.extend_from_slice(text.get(self.append_at..).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edited(text: &str, edit: impl FnOnce(&mut ObjectEdits)) -> String {
        let mut e = ObjectEdits::default();
        assert!(e.start(text.as_bytes()), "{text}");
        edit(&mut e);
        let mut out = Vec::new();
        e.write(text.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn untouched_text_is_written_as_it_stands() {
        for text in [
            r#"{"a":1}"#,
            " { \"a\" : [1, 2] ,\n\"b\":null } ",
            "{}",
            " { } ",
        ] {
            assert_eq!(edited(text, |e| assert!(!e.changed())), text);
        }
    }

    #[test]
    fn values_are_replaced_in_place_and_members_appended_after_the_last() {
        let text = r#" {"a" : 1, "b":"x" ,"c":[true]} "#;
        let out = edited(text, |e| {
            assert_eq!(e.len(), 3);
            assert!(e.key_is(text.as_bytes(), 1, "b"));
            // Out of member order, and one value replaced twice.
            e.set_value(2, |o| o.extend_from_slice(b"[]"));
            e.set_value(0, |o| o.extend_from_slice(b"0"));
            e.set_value(0, |o| o.extend_from_slice(b"-1"));
            e.append(br#""d""#, |o| o.extend_from_slice(b"\"new\""));
            e.append(br#""e""#, |o| o.extend_from_slice(b"2"));
            assert!(e.key_is(text.as_bytes(), 3, "d") && !e.key_is(text.as_bytes(), 3, "e"));
            assert_eq!(e.value(text.as_bytes(), 0), b"-1");
            assert_eq!(e.value(text.as_bytes(), 1), b"\"x\"");
            // An appended member's value replaced.
            e.set_value(4, |o| o.extend_from_slice(b"3"));
            assert_eq!(e.value(text.as_bytes(), 4), b"3");
            assert!(e.changed());
        });
        assert_eq!(out, r#" {"a" : -1, "b":"x" ,"c":[],"d":"new","e":3} "#);
        assert_eq!(
            edited(" { } ", |e| e.append(br#""k""#, |o| o.push(b'1'))),
            r#" {"k":1 } "#
        );
    }

    #[test]
    fn what_is_not_an_object_is_refused_and_out_of_range_members_are_ignored() {
        let mut e = ObjectEdits::default();
        for bad in ["[1]", "{", "1", "{\"a\":1,}"] {
            assert!(!e.start(bad.as_bytes()), "{bad}");
            assert!(e.is_empty());
        }
        let out = edited(r#"{"a":1}"#, |e| {
            e.set_value(7, |o| o.push(b'2'));
            assert_eq!(e.value(b"{\"a\":1}", 9), b"");
            assert!(!e.key_is(b"{\"a\":1}", 9, "a"));
        });
        assert_eq!(out, r#"{"a":1}"#);
        // A key that is not a quoted string is the caller's mistake: wrong text out, no panic.
        let mut e = ObjectEdits::default();
        assert!(e.start(b"{}"));
        e.append(b"", |o| o.push(b'0'));
        e.set_value(0, |o| o.push(b'1'));
        assert_eq!(e.value(b"{}", 0), b"1");
        e.write(b"{}", &mut Vec::new());
    }
}
