//! Reads and rewrites the top-level members of a JSON object in its text, without building a
//! tree: field transforms (InsertField, MaskField, ...) touch one or two members of every
//! record, and parsing each value into a `serde_json::Value` and writing it back cost them more
//! than the rest of a pipeline together. Members keep their order and their text; only the
//! members a transform changes are written anew.

use std::ops::Range;

use weft_batch::same_bytes;

/// One top-level member: where its key (between the quotes) and its value lie in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The key's text between its quotes (escapes not decoded).
    pub key: Range<usize>,
    /// The value's text.
    pub value: Range<usize>,
}

impl Member {
    /// The key as written, with its quotes, ready to be copied into an output (empty if this
    /// member does not come from `text`).
    pub fn quoted_key<'t>(&self, text: &'t [u8]) -> &'t [u8] {
        self.key
            .start
            .checked_sub(1)
            .and_then(|start| text.get(start..self.key.end + 1))
            .unwrap_or_default()
    }

    /// The value's text (empty if this member does not come from `text`).
    pub fn value_text<'t>(&self, text: &'t [u8]) -> &'t [u8] {
        text.get(self.value.clone()).unwrap_or_default()
    }

    /// Whether the key is `name` (escapes decoded when the key has any).
    #[inline(always)]
    pub fn key_is(&self, text: &[u8], name: &str) -> bool {
        let Some(raw) = text.get(self.key.clone()) else {
            return false;
        };
        let name = name.as_bytes();
        // A key of the same length matches as written or not at all: an escape always writes a
        // character in more bytes than it stands for (so a name holding a backslash, written
        // `\\`, never matches as written). Only a longer key can still match, and only when it
        // starts as `name` does or with an escape; most keys are turned away by their length or
        // first byte, without a look for escapes.
        if raw.len() == name.len() {
            return same_bytes(raw, name) && !has_backslash(name);
        }
        match (raw.first(), name.first()) {
            (Some(&r), Some(&n)) if raw.len() > name.len() && (r == n || r == b'\\') => {
                escaped_key_is(self.quoted_key(text), raw, name)
            }
            _ => false,
        }
    }
}

/// Whether `s` holds a backslash, looked for a word at a time (a key is one or two overlapping
/// words). Not `contains`, which in wasm is a call to core's memchr, nor a byte loop, which in
/// wasm pays an interruption check per byte (~70 instructions for a 6-byte key).
pub fn has_backslash(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Whether a lane of `w` (the low `lanes` bytes) is a backslash: the classic zero-byte test
    // on `w` with every backslash turned into zero, exact as a yes or no.
    let hit = |w: u64, lanes: u32| {
        let mask = if lanes == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * lanes)) - 1
        };
        let x = (w ^ (ONES * u64::from(b'\\'))) | !mask;
        x.wrapping_sub(ONES) & !x & (ONES << 7) != 0
    };
    let word = |i: usize| -> u64 {
        match s.get(i..).and_then(|t| t.first_chunk::<8>()) {
            Some(c) => u64::from_le_bytes(*c),
            None => 0,
        }
    };
    let half = |i: usize| -> u64 {
        match s.get(i..).and_then(|t| t.first_chunk::<4>()) {
            Some(c) => u64::from(u32::from_le_bytes(*c)),
            None => 0,
        }
    };
    let n = s.len();
    match n {
        0 => false,
        1..=3 => [0, 1, 2].iter().any(|&i| s.get(i) == Some(&b'\\')),
        4..=7 => hit(half(0), 4) || hit(half(n - 4), 4),
        _ => {
            let mut i = 0;
            while i + 8 < n {
                if hit(word(i), 8) {
                    return true;
                }
                i += 8;
            }
            hit(word(n - 8), 8)
        }
    }
}

/// [`Member::key_is`] for a key longer than `name`: equal only once its escapes are decoded.
#[cold]
fn escaped_key_is(quoted: &[u8], raw: &[u8], name: &[u8]) -> bool {
    if !has_backslash(raw) {
        return false;
    }
    serde_json::from_slice::<String>(quoted).is_ok_and(|k| k.as_bytes() == name)
}

/// Fills `out` with the top-level members of `text`. False when `text` is not valid JSON or
/// not an object; every byte is checked, in the same pass that finds the members.
pub fn members(text: &[u8], out: &mut Vec<Member>) -> bool {
    crate::json_scan::object_members(text, out)
}

/// As [`members`], for text already checked to be valid JSON (a value inside a document that
/// [`members`] or serde_json accepted), so that nested values are not checked again. On text
/// that is not valid JSON the ranges are meaningless but stay within `text`.
pub fn members_of_checked(text: &[u8], out: &mut Vec<Member>) -> bool {
    out.clear();
    items(text, b'{', b'}', |i| {
        if text.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(text, i);
        let colon = skip_ws(text, key_end + 1);
        if text.get(colon) != Some(&b':') {
            return None;
        }
        let start = skip_ws(text, colon + 1);
        let end = value_end(text, start);
        out.push(Member {
            key: i + 1..key_end,
            value: start..end,
        });
        Some(end)
    })
}

/// Fills `out` with the ranges of the elements of the array in `text`, which must already be
/// checked to be valid JSON (as for [`members_of_checked`]). False when it is not an array.
pub fn elements_of_checked(text: &[u8], out: &mut Vec<Range<usize>>) -> bool {
    out.clear();
    items(text, b'[', b']', |i| {
        if i >= text.len() {
            return None;
        }
        let end = value_end(text, i);
        out.push(i..end);
        Some(end)
    })
}

/// Walks the comma-separated items of the object or array that `text` holds between `open` and
/// `close`: `item` reads the item starting at its index and returns the index just past it, or
/// `None` when it is not well formed. False when `text` is not such a sequence.
fn items(text: &[u8], open: u8, close: u8, mut item: impl FnMut(usize) -> Option<usize>) -> bool {
    let mut i = skip_ws(text, 0);
    if text.get(i) != Some(&open) {
        return false;
    }
    i = skip_ws(text, i + 1);
    if text.get(i) == Some(&close) {
        return true;
    }
    loop {
        let Some(end) = item(i) else {
            return false;
        };
        i = skip_ws(text, end);
        match text.get(i) {
            Some(b',') => i = skip_ws(text, i + 1),
            Some(&c) if c == close => return true,
            _ => return false,
        }
    }
}

fn skip_ws(text: &[u8], mut i: usize) -> usize {
    while matches!(text.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The index of the quote closing the string whose opening quote is at `open`.
fn string_end(text: &[u8], open: usize) -> usize {
    let mut i = open + 1;
    while let Some(&c) = text.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    text.len()
}

/// The index just past the value starting at `start`.
fn value_end(text: &[u8], start: usize) -> usize {
    match text.get(start) {
        Some(b'"') => string_end(text, start) + 1,
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = start;
            while let Some(&c) = text.get(i) {
                match c {
                    b'"' => i = string_end(text, i),
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            text.len()
        }
        _ => {
            let mut i = start;
            while let Some(&c) = text.get(i) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                i += 1;
            }
            i
        }
    }
}

/// Writes an object member by member: `{`, then `"key":value` pairs, then [`ObjectWriter::finish`].
pub struct ObjectWriter {
    out: Vec<u8>,
    empty: bool,
}

impl ObjectWriter {
    /// An object about as large as `hint` bytes.
    pub fn with_capacity(hint: usize) -> ObjectWriter {
        let mut out = Vec::with_capacity(hint);
        out.push(b'{');
        ObjectWriter { out, empty: true }
    }

    /// Appends a member whose key is already quoted JSON text; `value` writes the value's text.
    pub fn member(&mut self, quoted_key: &[u8], value: impl FnOnce(&mut Vec<u8>)) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.extend_from_slice(quoted_key);
        self.out.push(b':');
        value(&mut self.out);
    }

    /// The object's text.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(b'}');
        self.out
    }
}

/// `s` as a JSON string.
pub fn quoted(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 2);
    write_str(&mut out, s);
    out
}

/// Appends `s` as a JSON string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(out, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_and_values(text: &str) -> Option<Vec<(String, String)>> {
        let mut m = Vec::new();
        members(text.as_bytes(), &mut m).then(|| {
            m.iter()
                .map(|m| {
                    (
                        text[m.key.clone()].to_string(),
                        text[m.value.clone()].to_string(),
                    )
                })
                .collect()
        })
    }

    #[test]
    fn finds_every_top_level_member_and_nothing_nested() {
        let text = r#" { "a" : 1 , "b\"c":"x,}y", "n":{"a":[1,{"b":"]"}]}, "l":[],"t":true,"z":null,"f":-1.5e3 } "#;
        let got = keys_and_values(text).unwrap();
        let want = [
            ("a", "1"),
            (r#"b\"c"#, r#""x,}y""#),
            ("n", r#"{"a":[1,{"b":"]"}]}"#),
            ("l", "[]"),
            ("t", "true"),
            ("z", "null"),
            ("f", "-1.5e3"),
        ];
        assert_eq!(got.len(), want.len());
        for ((k, v), (wk, wv)) in got.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
        let mut m = Vec::new();
        assert!(members(text.as_bytes(), &mut m));
        assert!(m[1].key_is(text.as_bytes(), "b\"c"));
        assert!(m[0].key_is(text.as_bytes(), "a") && !m[0].key_is(text.as_bytes(), "b"));
        assert_eq!(keys_and_values("{}").unwrap().len(), 0);
    }

    #[test]
    fn refuses_what_is_not_a_valid_object() {
        for bad in [
            "",
            "[1]",
            "1",
            "\"s\"",
            "{",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":1} x",
            "{\"a\" 1}",
            "{\"a\":tru}",
            "\u{0}",
        ] {
            assert!(keys_and_values(bad).is_none(), "{bad:?}");
        }
        let mut m = Vec::new();
        assert!(
            !members(b"{\"a\":\"\xff\"}", &mut m),
            "a string that is not UTF-8"
        );
        assert!(!members(b"{\"\xc3\":1}", &mut m), "a key that is not UTF-8");
    }

    #[test]
    fn finds_array_elements_and_nothing_nested() {
        let text = br#" [ 1 , "a,]" ,{"b":[2,3]}, [], null,-2.5 ] "#;
        let mut e = Vec::new();
        assert!(elements_of_checked(text, &mut e));
        let got: Vec<&[u8]> = e.iter().map(|r| &text[r.clone()]).collect();
        let want: [&[u8]; 6] = [
            b"1",
            br#""a,]""#,
            br#"{"b":[2,3]}"#,
            b"[]",
            b"null",
            b"-2.5",
        ];
        assert_eq!(got, want);
        assert!(elements_of_checked(b"[]", &mut e) && e.is_empty());
        assert!(!elements_of_checked(b"{}", &mut e));
        let mut m = Vec::new();
        assert!(members_of_checked(br#"{"x":{"y":1}}"#, &mut m) && m.len() == 1);
    }

    #[test]
    fn keys_match_as_decoded_whatever_their_length_and_first_byte() {
        let text =
            br#"{"\u0075serid":1,"u\u0073erid":2,"userid":3,"useri":4,"\\":5,"":6,"usErid":7}"#;
        let mut m = Vec::new();
        assert!(members(text, &mut m));
        let matching: Vec<usize> = (0..m.len())
            .filter(|&i| m[i].key_is(text, "userid"))
            .collect();
        assert_eq!(matching, [0, 1, 2]);
        assert!(m[4].key_is(text, "\\") && !m[4].key_is(text, ""));
        assert!(m[5].key_is(text, "") && !m[5].key_is(text, "u"));
        assert!(!m[3].key_is(text, "useri_") && m[3].key_is(text, "useri"));
        // An escaped backslash: the key is `a\b`, written `a\\b`, as long as the name `a\\b`.
        let text = br#"{"a\\b":1}"#;
        assert!(members(text, &mut m));
        assert!(m[0].key_is(text, "a\\b") && !m[0].key_is(text, "a\\\\b"));
    }

    #[test]
    fn a_backslash_is_found_wherever_it_stands() {
        for n in 0..20 {
            let plain = vec![b'a'; n];
            assert!(!has_backslash(&plain), "{n} bytes");
            for at in 0..n {
                let mut s = plain.clone();
                s[at] = b'\\';
                assert!(has_backslash(&s), "{n} bytes, at {at}");
                // Bytes next to a backslash's value must not be taken for it.
                s[at] = b'\\' + 1;
                assert!(!has_backslash(&s));
                s[at] = b'\\' - 1;
                assert!(!has_backslash(&s));
            }
        }
    }

    #[test]
    fn a_member_of_another_text_reads_as_empty() {
        let m = Member {
            key: 0..3,
            value: 5..100,
        };
        assert_eq!(m.quoted_key(b"ab"), b"");
        assert_eq!(m.value_text(b"ab"), b"");
        assert!(!m.key_is(b"ab", "ab"));
    }

    #[test]
    fn writes_members_in_order() {
        let mut w = ObjectWriter::with_capacity(16);
        w.member(&quoted("a"), |o| o.extend_from_slice(b"1"));
        w.member(&quoted("b\""), |o| write_str(o, "x\ny"));
        let text = w.finish();
        let v: serde_json::Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(v, serde_json::json!({"a": 1, "b\"": "x\ny"}));
        assert_eq!(ObjectWriter::with_capacity(0).finish(), b"{}");
    }
}
