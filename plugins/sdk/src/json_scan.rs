//! One pass over JSON text that checks it is exactly one JSON value and, for an object, notes
//! where its top-level members lie. Field transforms and the JsonConverter used to check each
//! value with serde_json (reading without building anything) and then walk it again to find
//! its members; this does both in the one walk, with no allocation unless values nest more
//! than 64 deep.
//!
//! What it accepts is exactly what `str::from_utf8` and `serde_json::from_slice::<IgnoredAny>`
//! both accept (the tests compare them): RFC 8259's grammar, strings without raw control
//! characters, any `\uXXXX` escape, any depth.

use std::ops::Range;

use crate::json_object::Member;

/// Whether `text` is one JSON value with only whitespace around it, every string UTF-8.
pub fn is_valid(text: &[u8]) -> bool {
    let mut s = Scanner::new(text);
    s.skip_ws();
    s.value() && s.at_end()
}

/// As [`is_valid`], for a JSON object, filling `out` with its top-level members in order.
/// False (with `out` meaningless) when `text` is not valid JSON or not an object.
pub fn object_members(text: &[u8], out: &mut Vec<Member>) -> bool {
    out.clear();
    let mut s = Scanner::new(text);
    s.skip_ws();
    s.object_members(out) && s.at_end()
}

/// Which containers enclose the current position, innermost last: one bit per level (set for
/// an object), the first 64 levels in a word and deeper ones in a vector.
#[derive(Default)]
struct Nesting {
    depth: usize,
    low: u64,
    high: Vec<u64>,
}

impl Nesting {
    fn push(&mut self, object: bool) {
        let (word, bit) = (self.depth / 64, self.depth % 64);
        let w = if word == 0 {
            &mut self.low
        } else {
            if self.high.len() < word {
                self.high.push(0);
            }
            &mut self.high[word - 1]
        };
        if object {
            *w |= 1 << bit;
        } else {
            *w &= !(1 << bit);
        }
        self.depth += 1;
    }

    /// Whether the innermost container is an object (false when there is none).
    fn in_object(&self) -> bool {
        let Some(level) = self.depth.checked_sub(1) else {
            return false;
        };
        let (word, bit) = (level / 64, level % 64);
        let w = if word == 0 {
            self.low
        } else {
            self.high.get(word - 1).copied().unwrap_or(0)
        };
        w & (1 << bit) != 0
    }

    fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
}

/// The bytes that end a run of plain ASCII characters in a string: the closing quote, a
/// backslash, the control characters a string may not hold, and the first byte of every
/// multi-byte UTF-8 character (only strings may hold one, so checking them there checks the
/// whole text's UTF-8).
const STRING_STOP: [bool; 256] = {
    let mut stop = [false; 256];
    let mut c = 0;
    while c < 256 {
        stop[c] = c < 0x20 || c >= 0x80;
        c += 1;
    }
    stop[b'"' as usize] = true;
    stop[b'\\' as usize] = true;
    stop
};

/// One byte per lane: the high bit of each byte of `x` that [`STRING_STOP`] names, so the
/// lowest set bit marks the first such byte (a borrow can flag a byte above a real one, never
/// below it).
fn string_stops(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_bytes = |v: u64| v.wrapping_sub(ONES) & !v;
    let quote = zero_bytes(x ^ (ONES * u64::from(b'"')));
    let backslash = zero_bytes(x ^ (ONES * u64::from(b'\\')));
    let control = x.wrapping_sub(ONES * 0x20) & !x;
    (quote | backslash | control | x) & HIGH
}

/// One byte per lane: the high bit of each byte of `x` that is not an ASCII digit, so the lowest
/// set bit marks the first such byte (as in [`string_stops`], a carry can flag a byte above a
/// real one, never below it).
fn non_digits(x: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Digits become 0..=9; 0x76 added to any byte from 10 up sets its high bit, and a byte
    // from 0x80 up has it already.
    let d = x ^ (0x0101_0101_0101_0101 * u64::from(b'0'));
    (d | d.wrapping_add(0x7676_7676_7676_7676)) & HIGH
}

/// Whether every byte of `s` is an ASCII digit, read eight at a time with [`non_digits`] (a byte
/// loop pays wasm's interruption check per byte); the last eight bytes may overlap the word before.
pub fn all_digits(s: &[u8]) -> bool {
    // Stops at the first non-digit (a false flag is only ever above a real one) or where fewer
    // than eight bytes are left; then the last eight bytes settle the rest.
    let i = skip_unflagged(s, 0, non_digits);
    match s.len().checked_sub(8) {
        Some(last) if i < s.len() => {
            i >= last
                && s.get(last..)
                    .and_then(|t| t.first_chunk::<8>())
                    .is_some_and(|w| non_digits(u64::from_le_bytes(*w)) == 0)
        }
        Some(_) => true,
        None => s.iter().all(u8::is_ascii_digit),
    }
}

/// From `i`, steps eight bytes at a time past bytes that `stops` (one of the masks above) does
/// not flag: to the first byte it flags, or to where fewer than eight bytes are left.
#[inline(always)]
fn skip_unflagged(text: &[u8], mut i: usize, stops: fn(u64) -> u64) -> usize {
    while let Some(chunk) = text.get(i..).and_then(|t| t.first_chunk::<8>()) {
        let flagged = stops(u64::from_le_bytes(*chunk));
        if flagged != 0 {
            return i + (flagged.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

/// Where the object or array that starts at `i` ends (just past its closing bracket), if it is
/// well formed. Its own scanner, so that the caller's never has its address taken: everything
/// else a scan calls is inlined into one function, whose position then stays in a register
/// (in wasm, a scanner passed by reference is read and written through memory at every step).
#[inline(never)]
fn container_end(text: &[u8], i: usize) -> Option<usize> {
    let mut s = Scanner { text, i };
    s.container().then_some(s.i)
}

struct Scanner<'t> {
    text: &'t [u8],
    i: usize,
}

impl<'t> Scanner<'t> {
    fn new(text: &'t [u8]) -> Self {
        Scanner { text, i: 0 }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.text.get(self.i).copied()
    }

    #[inline(always)]
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// Whether only whitespace is left.
    #[inline(always)]
    fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.i == self.text.len()
    }

    /// Reads an object, noting its members; the top level of most records is one object of
    /// scalars, so it has a loop of its own without the bookkeeping nested values need.
    #[inline(always)]
    fn object_members(&mut self, out: &mut Vec<Member>) -> bool {
        if self.peek() != Some(b'{') {
            return false;
        }
        self.i += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return true;
        }
        loop {
            let Some(key) = self.key() else {
                return false;
            };
            self.skip_ws();
            let start = self.i;
            if !self.value() {
                return false;
            }
            out.push(Member {
                key,
                value: start..self.i,
            });
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    /// Reads one value (whitespace already skipped).
    #[inline(always)]
    fn value(&mut self) -> bool {
        match self.peek() {
            Some(b'{' | b'[') => match container_end(self.text, self.i) {
                Some(end) => {
                    self.i = end;
                    true
                }
                None => false,
            },
            _ => self.scalar(),
        }
    }

    /// Reads a string, number or literal.
    #[inline(always)]
    fn scalar(&mut self) -> bool {
        match self.peek() {
            Some(b'"') => self.string(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => false,
        }
    }

    /// Reads an object or array from its opening bracket to just past its closing one, with an
    /// explicit stack rather than recursion, so that no depth can exhaust the guest's stack.
    fn container(&mut self) -> bool {
        let mut nest = Nesting::default();
        loop {
            // A value starts here.
            self.skip_ws();
            let opened = match self.peek() {
                Some(b'{') => Some(true),
                Some(b'[') => Some(false),
                _ if self.scalar() => None,
                _ => return false,
            };
            if let Some(object) = opened {
                self.i += 1;
                nest.push(object);
                self.skip_ws();
                let close = if object { b'}' } else { b']' };
                if self.peek() == Some(close) {
                    self.i += 1;
                    nest.pop();
                } else {
                    if object && self.key().is_none() {
                        return false;
                    }
                    continue;
                }
            }
            // A value has ended here; close every container that ends with it.
            loop {
                if nest.depth == 0 {
                    return true;
                }
                self.skip_ws();
                let object = nest.in_object();
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        if object && self.key().is_none() {
                            return false;
                        }
                        break;
                    }
                    Some(b'}') if object => {}
                    Some(b']') if !object => {}
                    _ => return false,
                }
                self.i += 1;
                nest.pop();
            }
        }
    }

    /// Reads `"key" :` (whitespace first), returning the key's range between its quotes.
    #[inline(always)]
    fn key(&mut self) -> Option<Range<usize>> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return None;
        }
        let start = self.i + 1;
        if !self.string() {
            return None;
        }
        let end = self.i - 1;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return None;
        }
        self.i += 1;
        Some(start..end)
    }

    /// Reads a string from its opening quote to just past its closing one.
    #[inline(always)]
    fn string(&mut self) -> bool {
        let text = self.text;
        let mut i = self.i + 1;
        loop {
            // Runs of plain ASCII characters are most of a string: skip them eight bytes at a
            // time (in wasm every loop turn also pays an interruption check).
            i = skip_unflagged(text, i, string_stops);
            let Some(&c) = text.get(i) else {
                return false;
            };
            if !STRING_STOP[c as usize] {
                i += 1;
                continue;
            }
            match c {
                b'"' => {
                    self.i = i + 1;
                    return true;
                }
                b'\\' => match text.get(i + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                    Some(b'u') => {
                        let hex = text.get(i + 2..i + 6);
                        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                            return false;
                        }
                        i += 6;
                    }
                    _ => return false,
                },
                0x80.. => {
                    // One character: its length from its first byte, then std's check (which
                    // also refuses overlong forms, surrogates and values past U+10FFFF).
                    let len = match c {
                        0xc0..=0xdf => 2,
                        0xe0..=0xef => 3,
                        _ => 4,
                    };
                    let ok = text
                        .get(i..i + len)
                        .is_some_and(|ch| std::str::from_utf8(ch).is_ok());
                    if !ok {
                        return false;
                    }
                    i += len;
                }
                _ => return false,
            }
        }
    }

    /// Reads a number: `-`? (`0` | [1-9][0-9]*) (`.` [0-9]+)? ([eE] [+-]? [0-9]+)?
    #[inline(always)]
    fn number(&mut self) -> bool {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.i += 1;
                if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return false;
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return false,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !self.some_digits() {
                return false;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !self.some_digits() {
                return false;
            }
        }
        true
    }

    #[inline(always)]
    fn digits(&mut self) {
        // Timestamps and ids run to 13 digits or more: eight at a time, as strings are read.
        self.i = skip_unflagged(self.text, self.i, non_digits);
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    /// Reads one or more digits.
    #[inline(always)]
    fn some_digits(&mut self) -> bool {
        let start = self.i;
        self.digits();
        self.i > start
    }

    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> bool {
        let found = self.text.get(self.i..self.i + word.len()) == Some(word);
        if found {
            self.i += word.len();
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IgnoredAny;

    /// What this module must agree with.
    fn serde_accepts(text: &[u8]) -> bool {
        std::str::from_utf8(text).is_ok() && serde_json::from_slice::<IgnoredAny>(text).is_ok()
    }

    fn agree(text: &[u8]) {
        assert_eq!(
            is_valid(text),
            serde_accepts(text),
            "{:?}",
            String::from_utf8_lossy(text)
        );
        let mut m = Vec::new();
        assert_eq!(
            object_members(text, &mut m),
            serde_accepts(text) && text.trim_ascii_start().starts_with(b"{"),
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }

    #[test]
    fn agrees_with_serde_json_on_edge_cases() {
        for text in [
            "",
            " ",
            "0",
            "-0",
            "01",
            "-",
            "-a",
            "1.",
            "1.5",
            "1e",
            "1e+",
            "1E-7",
            "1.5e3",
            ".5",
            "+1",
            "00",
            "0.0e0",
            "true",
            "tru",
            "truex",
            "nul",
            "null ",
            " false\n",
            "\"\"",
            "\"a",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u12g4\"",
            "\"\\uD800\"",
            "\"\\uDC00x\"",
            "\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"",
            "\"\t\"",
            "\"\u{7f}\"",
            "\"é\"",
            "[]",
            "[",
            "[1,]",
            "[,1]",
            "[1 2]",
            "[[],[[]]]",
            "{}",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{a:1}",
            "{\"a\":1 \"b\":2}",
            "{\"a\":[1,{\"b\":\"]\"}]}",
            "{\"\\uDC00\":1}",
            "{}x",
            "{} {}",
            "[1]]",
            "{\"a\":1}}",
            "1 2",
            "\u{0}",
            "{\"a\":{}}",
            "[{}]",
        ] {
            agree(text.as_bytes());
        }
        agree(b"\"\xff\"");
        agree(b"{\"\xc3\":1}");
    }

    /// The lane of the lowest byte a step's mask flags.
    fn first_flagged(mask: u64) -> Option<usize> {
        (mask != 0).then(|| (mask.trailing_zeros() / 8) as usize)
    }

    #[test]
    fn eight_byte_steps_stop_at_the_first_byte_the_table_names() {
        let first_stop = |chunk: [u8; 8]| chunk.iter().position(|&b| STRING_STOP[b as usize]);
        let flagged = |chunk: [u8; 8]| first_flagged(string_stops(u64::from_le_bytes(chunk)));
        // Every byte value in every lane, alone and behind another stop byte.
        for lane in 0..8 {
            for b in 0..=255u8 {
                let mut chunk = [b'a'; 8];
                chunk[lane] = b;
                assert_eq!(flagged(chunk), first_stop(chunk), "{b:#x} in lane {lane}");
                for (later, c) in [(lane + 1, b'"'), (7, 0x1f), (7, 0xff)] {
                    if later < 8 {
                        chunk[later] = c;
                        assert_eq!(flagged(chunk), first_stop(chunk), "{b:#x} in lane {lane}");
                    }
                }
            }
        }
        // Strings that end, escape or break the rules at every offset from the start.
        for len in 0..40 {
            for tail in [
                &b"\""[..],
                b"\\n",
                b"\\u00e9",
                b"\x01",
                b"\xc3\xa9",
                b"\xff",
                b"\\q",
            ] {
                let mut text = vec![b'"'];
                text.extend(std::iter::repeat_n(b'x', len));
                text.extend_from_slice(tail);
                text.extend_from_slice(b"yz\"");
                agree(&text);
                text.truncate(text.len() - 1);
                agree(&text);
            }
        }
    }

    #[test]
    fn eight_digit_steps_stop_at_the_first_byte_that_is_not_a_digit() {
        let first = |chunk: [u8; 8]| chunk.iter().position(|b| !b.is_ascii_digit());
        let flagged = |chunk: [u8; 8]| first_flagged(non_digits(u64::from_le_bytes(chunk)));
        for lane in 0..8 {
            for b in 0..=255u8 {
                let mut chunk = [b'7'; 8];
                chunk[lane] = b;
                assert_eq!(flagged(chunk), first(chunk), "{b:#x} in lane {lane}");
                if lane < 7 {
                    chunk[7] = 0xff;
                    assert_eq!(flagged(chunk), first(chunk), "{b:#x} in lane {lane}");
                }
            }
        }
        // Numbers whose digits end at every offset, with what may follow them.
        for len in 1..30 {
            for tail in ["", ",", ".5", "e3", "x", " ", "]"] {
                let text = format!("[1{}{tail}]", "0".repeat(len));
                agree(text.as_bytes());
                agree(format!("-{}", &text[1..text.len() - 1]).as_bytes());
            }
        }
    }

    #[test]
    fn any_depth_is_accepted_as_serde_json_accepts_it() {
        for depth in [63, 64, 65, 127, 128, 129, 300] {
            let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            agree(arrays.as_bytes());
            let objects = format!("{}1{}", "{\"k\":".repeat(depth), "}".repeat(depth));
            agree(objects.as_bytes());
            let unbalanced = format!("{}{}", "[".repeat(depth), "]".repeat(depth - 1));
            agree(unbalanced.as_bytes());
            let mixed = format!("{}{}", "[{\"a\":".repeat(depth), "1}]".repeat(depth));
            agree(mixed.as_bytes());
        }
    }

    #[test]
    fn members_are_the_top_level_ones_as_written() {
        let text = br#" { "a" : 1 , "b\"c":"x,}y", "n":{"a":[1,{"b":"]"}]}, "l":[],"e":{},"t":true,"z":null,"f":-1.5e3 } "#;
        let mut m = Vec::new();
        assert!(object_members(text, &mut m));
        let got: Vec<(&[u8], &[u8])> = m
            .iter()
            .map(|m| (&text[m.key.clone()], &text[m.value.clone()]))
            .collect();
        let want: Vec<(&[u8], &[u8])> = vec![
            (b"a", b"1"),
            (br#"b\"c"#, br#""x,}y""#),
            (b"n", br#"{"a":[1,{"b":"]"}]}"#),
            (b"l", b"[]"),
            (b"e", b"{}"),
            (b"t", b"true"),
            (b"z", b"null"),
            (b"f", b"-1.5e3"),
        ];
        assert_eq!(got, want);
        assert!(object_members(b"{}", &mut m) && m.is_empty());
        assert!(!object_members(b"[1]", &mut m));
    }

    /// JSON-like text: valid documents, then bytes cut, dropped or swapped in.
    fn jsonish() -> impl Strategy<Value = Vec<u8>> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| serde_json::to_string(&f).unwrap_or_default()),
            "[a-z\\\\\"\\u{0}-\\u{1f}é\u{1F600}]{0,6}".prop_map(|s| format!("\"{s}\"")),
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        ];
        let tree = leaf.prop_recursive(5, 40, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec(("[a-z\"\\\\]{0,3}", inner), 0..5).prop_map(|v| {
                    let members: Vec<String> = v
                        .into_iter()
                        .map(|(k, v)| format!("\"{k}\" : {v}"))
                        .collect();
                    format!("{{ {} }}", members.join(","))
                }),
            ]
        });
        (tree, any::<u64>(), 0u8..4).prop_map(|(text, pick, how)| {
            let mut b = text.into_bytes();
            if !b.is_empty() {
                let at = (pick as usize) % b.len();
                match how {
                    0 => {}
                    1 => b.truncate(at),
                    2 => {
                        b.remove(at);
                    }
                    _ => {
                        let swaps = b"{}[],:\"\\ 0-.eE\xff";
                        b[at] = swaps[(pick >> 32) as usize % swaps.len()];
                    }
                }
            }
            b
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn accepts_exactly_what_serde_json_accepts(text in jsonish()) {
            agree(&text);
        }

        #[test]
        fn any_bytes_are_judged_as_serde_json_judges_them(text in prop::collection::vec(any::<u8>(), 0..24)) {
            agree(&text);
        }

        #[test]
        fn members_match_serde_json_for_objects(text in jsonish()) {
            let mut m = Vec::new();
            if object_members(&text, &mut m) {
                let v: serde_json::Map<String, serde_json::Value> = match serde_json::from_slice(&text) {
                    Ok(v) => v,
                    // Lone surrogates in keys: IgnoredAny accepts them, a tree does not.
                    Err(_) => return Ok(()),
                };
                // A repeated key appears once in serde_json's map, with its last value.
                let mut last = std::collections::BTreeMap::new();
                for member in &m {
                    let key: String = serde_json::from_slice(member.quoted_key(&text)).unwrap();
                    let value: serde_json::Value = serde_json::from_slice(member.value_text(&text)).unwrap();
                    last.insert(key, value);
                }
                prop_assert_eq!(last.len(), v.len());
                for (k, want) in &v {
                    prop_assert_eq!(last.get(k), Some(want));
                }
            }
        }
    }

    #[test]
    fn a_word_of_digits_is_told_from_every_other_byte() {
        for len in 0..=24 {
            let digits: Vec<u8> = (0..len).map(|i| b'0' + (i % 10) as u8).collect();
            assert!(all_digits(&digits), "{len}");
            for at in 0..len {
                for b in (0..=255u8).filter(|b| !b.is_ascii_digit()) {
                    let mut s = digits.clone();
                    s[at] = b;
                    assert!(!all_digits(&s), "{len} bytes, {b:#x} at {at}");
                }
            }
        }
    }
}
