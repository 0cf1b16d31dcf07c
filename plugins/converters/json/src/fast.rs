//! Schema'd values without a tree, both ways (`from_connect`, and `to_connect`'s payloads): a
//! value's text is checked against its schema and written as Kafka's JSON straight from the
//! text, member by member. Parsing every value into an order-keeping tree, converting it into a
//! second tree and writing that cost about 2 µs per record, most of a JSON pipeline. What this
//! path does not handle (maps with repeated or escaped keys or past the lookup bound, structs
//! whose members are out of schema order past it, nulls at the top of a payload read) and every
//! value that fails a check go to the tree path instead, which also words the errors, so the
//! bytes written are the tree path's in every case (the tests compare the two).

use std::io::Write as _;
use std::ops::Range;

use base64::Engine as _;
use serde_json::Number;
use weft_plugin_sdk::json_object::{self, Member};
use weft_plugin_sdk::json_scan;

use crate::schema::{Field, Schema, Type};
use crate::value::{Direction, Options};

/// How deep values may nest, as in the tree path.
const MAX_DEPTH: usize = 64;
/// Fields × members past which a struct whose members are not in schema order, or a map (for
/// its repeated-key check), is left to the tree path (its index is a hash map, this path's
/// lookup is a scan).
const MAX_LOOKUPS: usize = 4096;

/// Reusable lists of members and elements, one per nesting level, so that a record costs no
/// allocation beyond its output.
#[derive(Default)]
pub struct Scratch {
    members: Vec<Vec<Member>>,
    elements: Vec<Vec<Range<usize>>>,
}

impl Scratch {
    fn members(&mut self) -> &mut Vec<Vec<Member>> {
        &mut self.members
    }

    fn elements(&mut self) -> &mut Vec<Vec<Range<usize>>> {
        &mut self.elements
    }

    /// Runs `f` with the list `levels` keeps for nesting level `depth`, lent out so that `f`
    /// may recurse with the scratch; the list comes back whatever `f` returns.
    fn lend<T, R>(
        &mut self,
        levels: fn(&mut Scratch) -> &mut Vec<Vec<T>>,
        depth: usize,
        f: impl FnOnce(&mut Vec<T>, &mut Scratch) -> Option<R>,
    ) -> Option<R> {
        let lists = levels(self);
        if lists.len() <= depth {
            lists.resize_with(depth + 1, Vec::new);
        }
        let mut list = std::mem::take(&mut lists[depth]);
        let r = f(&mut list, self);
        levels(self)[depth] = list;
        r
    }
}

/// Appends the JSON form of `text`, a value of `schema` in the Connect value encoding, to `out`.
/// False, with `out` as it was, when the tree path must do it.
pub fn write(
    schema: &Schema,
    text: &[u8],
    opts: Options,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> bool {
    if let Type::Struct(fields) = &schema.ty {
        if trim(text).first() == Some(&b'{') {
            // The pass that checks the text also finds the struct's members, so the walk that
            // writes it starts one level down instead of reading the top level again.
            let start = out.len();
            let written = scratch
                .lend(Scratch::members, 0, |members, scratch| {
                    json_scan::object_members(text, members).then_some(())?;
                    structure_of(fields, text, members, 0, opts, scratch, out)
                })
                .is_some();
            if !written {
                out.truncate(start);
            }
            return written;
        }
    }
    is_valid(text) && write_checked(schema, text, opts, scratch, out)
}

/// Whether `text` is one JSON value, every string UTF-8 (which the tree path refuses too).
pub fn is_valid(text: &[u8]) -> bool {
    json_scan::is_valid(text)
}

/// As [`write`], for text [`is_valid`] accepted: the walk trusts its structure.
pub fn write_checked(
    schema: &Schema,
    text: &[u8],
    opts: Options,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> bool {
    let start = out.len();
    let written = value(schema, trim(text), 0, opts, scratch, out).is_some();
    if !written {
        out.truncate(start);
    }
    written
}

/// `text` without the JSON whitespace around it.
pub fn trim(text: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let start = text.iter().position(|c| !ws(c)).unwrap_or(text.len());
    let end = text.iter().rposition(|c| !ws(c)).map_or(start, |i| i + 1);
    &text[start..end]
}

fn value(
    schema: &Schema,
    v: &[u8],
    depth: usize,
    opts: Options,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    if v == b"null" {
        return null(schema, opts, out);
    }
    match &schema.ty {
        Type::Boolean => {
            if v != b"true" && v != b"false" {
                return None;
            }
            out.extend_from_slice(v);
        }
        Type::Int8 => int(v, i8::MIN.into(), i8::MAX.into(), out)?,
        Type::Int16 => int(v, i16::MIN.into(), i16::MAX.into(), out)?,
        Type::Int32 => int(v, i32::MIN.into(), i32::MAX.into(), out)?,
        Type::Int64 => int(v, i64::MIN, i64::MAX, out)?,
        Type::Float32 | Type::Float64 => {
            // Java writes a float node: 1 becomes 1.0.
            let n: Number = serde_json::from_slice(v).ok()?;
            let n = Number::from_f64(n.as_f64()?)?;
            write!(out, "{n}").ok()?;
        }
        Type::String => string(v, out)?,
        Type::Bytes => {
            let s: String = serde_json::from_slice(v).ok()?;
            base64::engine::general_purpose::STANDARD.decode(&s).ok()?;
            json_object::write_str(out, &s);
        }
        Type::Array(items) => scratch.lend(Scratch::elements, depth, |elements, scratch| {
            json_object::elements_of_checked(v, elements).then_some(())?;
            array(items, v, elements, depth, opts, scratch, out)
        })?,
        Type::Map(keys, values) if keys.ty == Type::String && v.first() == Some(&b'{') => {
            scratch.lend(Scratch::members, depth, |members, scratch| {
                map(values, v, members, depth, opts, scratch, out)
            })?
        }
        // Keys other than strings: an array of [key, value] pairs (strings may come so too).
        Type::Map(keys, values) => scratch.lend(Scratch::elements, depth, |pairs, scratch| {
            pairs_of(keys, values, v, pairs, depth, opts, scratch, out)
        })?,
        Type::Struct(fields) => scratch.lend(Scratch::members, depth, |members, scratch| {
            structure(fields, v, members, depth, opts, scratch, out)
        })?,
    }
    Some(())
}

/// A null where `schema` is expected: its default, null if optional, else the tree path's error.
fn null(schema: &Schema, opts: Options, out: &mut Vec<u8>) -> Option<()> {
    let use_default = opts.direction == Direction::ToConnect || opts.replace_null_with_default;
    match (&schema.default, use_default) {
        (Some(d), true) => {
            let mut text = String::new();
            d.write(&mut text);
            out.extend_from_slice(text.as_bytes());
        }
        _ if schema.optional => out.extend_from_slice(b"null"),
        _ => return None,
    }
    Some(())
}

fn int(v: &[u8], min: i64, max: i64, out: &mut Vec<u8>) -> Option<()> {
    match plain_integer_within(v, min, max) {
        // Digits without a leading zero are how serde_json writes the integer it reads.
        Some(true) => out.extend_from_slice(v),
        Some(false) => return None,
        None => {
            // Parsed as the tree path parses it, so that its text comes out the same.
            let n: Number = serde_json::from_slice(v).ok()?;
            if !(min..=max).contains(&n.as_i64()?) {
                return None;
            }
            write!(out, "{n}").ok()?;
        }
    }
    Some(())
}

/// Whether `v`, an integer written as serde_json writes one (`0`, or an optional `-` and up to
/// 19 digits without a leading zero), lies within `min..=max`. `None` for any other text (`-0`,
/// a fraction, an exponent, a leading zero, more digits), which the caller leaves to serde_json.
fn plain_integer_within(v: &[u8], min: i64, max: i64) -> Option<bool> {
    let (negative, digits) = match v.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, v),
    };
    match digits {
        [b'0'] if !negative => return Some((min..=max).contains(&0)),
        [b'1'..=b'9', ..] if digits.len() <= 19 && json_scan::all_digits(digits) => {}
        _ => return None,
    }
    // Eighteen digits are within i64 whatever they are: an int64 needs no value.
    if digits.len() <= 18 && min == i64::MIN && max == i64::MAX {
        return Some(true);
    }
    // Nineteen digits fit in a u64; a multiply that checks for overflow would be a 128-bit
    // library call in wasm32.
    let mut n: u64 = 0;
    for &d in digits {
        n = n * 10 + u64::from(d - b'0');
    }
    let n = if negative {
        0i64.checked_sub_unsigned(n)
    } else {
        i64::try_from(n).ok()
    };
    Some(n.is_some_and(|n| (min..=max).contains(&n)))
}

fn string(v: &[u8], out: &mut Vec<u8>) -> Option<()> {
    if v.first() != Some(&b'"') {
        return None;
    }
    if json_object::has_backslash(v) {
        let s: String = serde_json::from_slice(v).ok()?;
        json_object::write_str(out, &s);
    } else {
        // Valid JSON text without escapes holds no quote, backslash or control character
        // between its quotes: serde_json would write it as it is.
        out.extend_from_slice(v);
    }
    Some(())
}

fn array(
    items: &Schema,
    v: &[u8],
    elements: &[Range<usize>],
    depth: usize,
    opts: Options,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Option<()> {
    out.push(b'[');
    for (i, e) in elements.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        value(items, v.get(e.clone())?, depth + 1, opts, scratch, out)?;
    }
    out.push(b']');
    Some(())
}

fn map(
    values: &Schema,
    v: &[u8],
    members: &mut Vec<Member>,
    depth: usize,
    opts: Options,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Option<()> {
    if !json_object::members_of_checked(v, members) {
        return None;
    }
    // A repeated key keeps its first place and its last value in the tree path; keys are
    // compared as written, so escaped ones go there too.
    if members.len().saturating_mul(members.len()) > MAX_LOOKUPS {
        return None;
    }
    for (i, m) in members.iter().enumerate() {
        let key = v.get(m.key.clone())?;
        if key.contains(&b'\\')
            || members[..i]
                .iter()
                .any(|o| v.get(o.key.clone()) == Some(key))
        {
            return None;
        }
    }
    out.push(b'{');
    for (i, m) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(m.quoted_key(v));
        out.push(b':');
        value(values, m.value_text(v), depth + 1, opts, scratch, out)?;
    }
    out.push(b'}');
    Some(())
}

#[allow(clippy::too_many_arguments)]
fn pairs_of(
    keys: &Schema,
    values: &Schema,
    v: &[u8],
    pairs: &mut Vec<Range<usize>>,
    depth: usize,
    opts: Options,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Option<()> {
    if !json_object::elements_of_checked(v, pairs) {
        return None;
    }
    scratch.lend(Scratch::elements, depth + 1, |pair, scratch| {
        out.push(b'[');
        for (i, p) in pairs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let text = v.get(p.clone())?;
            if !json_object::elements_of_checked(text, pair) || pair.len() != 2 {
                return None;
            }
            let (k, val) = (pair[0].clone(), pair[1].clone());
            out.push(b'[');
            value(keys, text.get(k)?, depth + 1, opts, scratch, out)?;
            out.push(b',');
            value(values, text.get(val)?, depth + 1, opts, scratch, out)?;
            out.push(b']');
        }
        out.push(b']');
        Some(())
    })
}

fn structure(
    fields: &[Field],
    v: &[u8],
    members: &mut Vec<Member>,
    depth: usize,
    opts: Options,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Option<()> {
    if !json_object::members_of_checked(v, members) {
        return None;
    }
    structure_of(fields, v, members, depth, opts, scratch, out)
}

/// Writes the struct whose members in `v` are `members` (its text already checked).
fn structure_of(
    fields: &[Field],
    v: &[u8],
    members: &[Member],
    depth: usize,
    opts: Options,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Option<()> {
    // Values usually carry every field once, in schema order: then member i is field i, and no
    // key repeats (a schema's field names are distinct). Otherwise each field is looked up.
    let in_order = members.len() == fields.len()
        && members
            .iter()
            .zip(fields)
            .all(|(m, f)| m.key_is(v, &f.name));
    if !in_order && fields.len().saturating_mul(members.len()) > MAX_LOOKUPS {
        return None;
    }
    out.push(b'{');
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&field.label);
        let member = if in_order {
            members.get(i)
        } else {
            // The last of repeated keys wins, as in the tree path.
            members.iter().rev().find(|m| m.key_is(v, &field.name))
        };
        match member {
            Some(m) => value(
                &field.schema,
                m.value_text(v),
                depth + 1,
                opts,
                scratch,
                out,
            )?,
            None => null(&field.schema, opts, out)?,
        }
    }
    out.push(b'}');
    Some(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ojson::Json;
    use crate::value::convert;

    const OPTS: Options = Options {
        direction: Direction::ToJson,
        replace_null_with_default: true,
    };

    pub(crate) fn schema(text: &str) -> Schema {
        let json = Json::parse(text.as_bytes()).unwrap();
        Schema::parse(&json).unwrap().unwrap()
    }

    /// The tree path's answer: the text written, or None for an error.
    fn tree(s: &Schema, v: &[u8], opts: Options) -> Option<String> {
        let json = Json::parse(v).ok()?;
        let mut text = String::new();
        convert(s, &json, 0, opts).ok()?.write(&mut text);
        Some(text)
    }

    fn fast(s: &Schema, v: &[u8], opts: Options) -> Option<String> {
        let mut out = b"prefix".to_vec();
        let written = write(s, v, opts, &mut Scratch::default(), &mut out);
        assert!(
            out.starts_with(b"prefix"),
            "the output before the value is kept"
        );
        if !written {
            assert_eq!(out, b"prefix", "a fallback leaves the output as it was");
            return None;
        }
        Some(String::from_utf8(out[6..].to_vec()).unwrap())
    }

    /// Fast and tree agree wherever the fast path writes; returns whether it did.
    fn agree(s: &Schema, v: &str, opts: Options) -> bool {
        let f = fast(s, v.as_bytes(), opts);
        if let Some(f) = &f {
            assert_eq!(Some(f), tree(s, v.as_bytes(), opts).as_ref(), "value {v}");
        }
        f.is_some()
    }

    pub(crate) const WIDE: &str = r#"{"type":"struct","fields":[
        {"field":"b","type":"boolean"},
        {"field":"i8","type":"int8","optional":true},
        {"field":"i32","type":"int32","optional":true,"default":7},
        {"field":"i64","type":"int64"},
        {"field":"f","type":"float","optional":true},
        {"field":"d","type":"double","optional":true},
        {"field":"s","type":"string","optional":true},
        {"field":"by","type":"bytes","optional":true},
        {"field":"a","type":"array","items":{"type":"int32"},"optional":true},
        {"field":"m","type":"map","keys":{"type":"string"},"values":{"type":"double"},"optional":true},
        {"field":"im","type":"map","keys":{"type":"int32"},"values":{"type":"string"},"optional":true},
        {"field":"n","type":"struct","optional":true,"fields":[
            {"field":"x","type":"string","optional":true,"default":"dx"},
            {"field":"y","type":"array","items":{"type":"struct","fields":[{"field":"z","type":"int16"}]}}]}
    ]}"#;

    #[test]
    fn writes_what_the_tree_path_writes_for_ordinary_values() {
        let pv = schema(
            r#"{"type":"struct","name":"ksql.pageviews","fields":[{"field":"viewtime","type":"int64"},{"field":"userid","type":"string"},{"field":"pageid","type":"string"}]}"#,
        );
        let v = r#"{"viewtime":1,"userid":"User_5","pageid":"Page_53"}"#;
        assert_eq!(fast(&pv, v.as_bytes(), OPTS).as_deref(), Some(v));
        let wide = schema(WIDE);
        for v in [
            r#"{"b":true,"i64":5}"#,
            r#" { "i64" : -9223372036854775808 , "b" : false , "f" : 1 , "d" : 2.5e3 } "#,
            r#"{"b":true,"i64":1,"s":"tab\tq\"uote \u00e9 é","by":"AAEC","a":[1,2,3]}"#,
            r#"{"b":true,"i64":1,"a":[],"m":{},"n":{"y":[{"z":3},{"z":-4}]}}"#,
            r#"{"b":true,"i64":1,"m":{"k":1,"l":3,"é":2.0},"i32":null,"i8":null}"#,
            r#"{"b":true,"i64":1,"i64":2,"\u0062":false,"extra":{"deep":[1,{"x":2}]}}"#,
            r#"{"b":true,"i64":1,"d":-0,"f":1e-7,"i8":-128}"#,
            r#"{"b":true,"i64":1,"m":[["k",1]],"im":[[1,"x"],[ 2 , "\n" ]]}"#,
        ] {
            assert!(agree(&wide, v, OPTS), "the fast path takes {v}");
        }
    }

    #[test]
    fn leaves_errors_and_rare_shapes_to_the_tree_path() {
        let wide = schema(WIDE);
        for v in [
            "not json",
            r#"{"b":true}"#,
            r#"{"b":1,"i64":1}"#,
            r#"{"b":true,"i64":1.5}"#,
            r#"{"b":true,"i64":1,"i8":128}"#,
            r#"{"b":true,"i64":"1"}"#,
            r#"{"b":true,"i64":1,"by":"not base64!"}"#,
            r#"{"b":true,"i64":1,"a":{"x":1}}"#,
            r#"{"b":true,"i64":1,"a":[1,"x"]}"#,
            r#"{"b":true,"i64":1,"m":{"k":1,"k":2}}"#,
            r#"{"b":true,"i64":1,"m":{"\u006b":1}}"#,
            r#"{"b":true,"i64":1,"im":[[1]]}"#,
            r#"{"b":true,"i64":1,"im":[[1,2]]}"#,
            r#"{"b":true,"i64":1,"n":{"y":[{}]}}"#,
            r#"[1]"#,
            r#"{"b":true,"i64":1} x"#,
        ] {
            assert!(!agree(&wide, v, OPTS), "the tree path takes {v}");
        }
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_as_the_tree_path_refuses_it() {
        let wide = schema(WIDE);
        for v in [
            &b"{\"b\":true,\"i64\":1,\"s\":\"\xff\"}"[..],
            b"{\"b\":true,\"i64\":1,\"\xc3\":1}",
            b"{\"b\":true,\"i64\":1,\"m\":{\"\xed\xa0\x80\":1.0}}",
        ] {
            assert_eq!(tree(&wide, v, OPTS), None);
            assert_eq!(fast(&wide, v, OPTS), None);
        }
    }

    #[test]
    fn a_wide_struct_in_schema_order_takes_the_fast_path() {
        let fields: Vec<String> = (0..200)
            .map(|i| format!(r#"{{"field":"f{i}","type":"int32"}}"#))
            .collect();
        let wide = schema(&format!(
            r#"{{"type":"struct","fields":[{}]}}"#,
            fields.join(",")
        ));
        let members: Vec<String> = (0..200).map(|i| format!(r#""f{i}":{i}"#)).collect();
        let v = format!("{{{}}}", members.join(","));
        assert!(agree(&wide, &v, OPTS), "in order");
        let mut shuffled = members.clone();
        shuffled.swap(0, 199);
        let v = format!("{{{}}}", shuffled.join(","));
        assert!(
            !agree(&wide, &v, OPTS),
            "out of order: the tree path's hash index"
        );
        assert!(tree(&wide, v.as_bytes(), OPTS).is_some());
    }

    #[test]
    fn a_struct_schema_repeating_a_field_name_is_refused() {
        let json = Json::parse(
            br#"{"type":"struct","fields":[{"field":"a","type":"int32"},{"field":"a","type":"int64"}]}"#,
        )
        .unwrap();
        let e = Schema::parse(&json).unwrap_err();
        assert!(e.contains("field name duplication a"), "{e}");
    }

    #[test]
    fn nulls_defaults_and_the_replace_option_match() {
        let wide = schema(WIDE);
        let keep_null = Options {
            replace_null_with_default: false,
            ..OPTS
        };
        for opts in [OPTS, keep_null] {
            for v in [
                r#"{"b":true,"i64":1,"i32":null,"n":{"x":null,"y":[]}}"#,
                r#"{"b":true,"i64":1,"n":{"y":[]}}"#,
                "null",
            ] {
                let f = fast(&wide, v.as_bytes(), opts);
                assert_eq!(f, tree(&wide, v.as_bytes(), opts), "value {v}");
            }
        }
        let opt = schema(r#"{"type":"int32","optional":true}"#);
        assert_eq!(fast(&opt, b" null ", OPTS).as_deref(), Some("null"));
    }

    /// Integers as serde_json reads and writes them, the route every integer took before the
    /// digits were read directly: the text written, or None for a refusal.
    fn int_by_serde(v: &[u8], min: i64, max: i64) -> Option<Vec<u8>> {
        let n: Number = serde_json::from_slice(v).ok()?;
        (min..=max)
            .contains(&n.as_i64()?)
            .then(|| n.to_string().into_bytes())
    }

    #[test]
    fn integers_are_written_as_serde_json_writes_them() {
        let ranges = [
            (i64::from(i8::MIN), i64::from(i8::MAX)),
            (i64::from(i16::MIN), i64::from(i16::MAX)),
            (i64::from(i32::MIN), i64::from(i32::MAX)),
            (i64::MIN, i64::MAX),
        ];
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "00",
            "01",
            "-01",
            "1",
            "-1",
            "127",
            "128",
            "-128",
            "-129",
            "32767",
            "-32769",
            "2147483647",
            "2147483648",
            "-2147483648",
            "-2147483649",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "999999999999999999",
            "-999999999999999999",
            "1.0",
            "1e3",
            "1E3",
            "-1.5",
            "12a",
            "1 ",
            " 1",
            "-",
            "",
            "--1",
            "+1",
            "1-",
            "0x1",
            "\"1\"",
            "null",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        // Every length up to twenty digits, each with its last digit changed to every byte
        // around the digits (a word of digits is tested by nibbles, so these are its edges).
        for len in 1..=20 {
            let digits: String = (0..len).map(|i| char::from(b'1' + (i % 9) as u8)).collect();
            for sign in ["", "-"] {
                texts.push(format!("{sign}{digits}"));
                for b in [b'/', b':', b'?', b'.', b'e', 0x39 + 6, 0xfa] {
                    let mut t = format!("{sign}{digits}").into_bytes();
                    if let Some(last) = t.last_mut() {
                        *last = b;
                    }
                    texts.push(String::from_utf8_lossy(&t).into_owned());
                }
            }
        }
        for t in &texts {
            for &(min, max) in &ranges {
                let mut out = Vec::new();
                let fast = int(t.as_bytes(), min, max, &mut out).map(|()| out);
                assert_eq!(
                    fast,
                    int_by_serde(t.as_bytes(), min, max),
                    "{t:?} in {min}..={max}"
                );
            }
        }
    }

    /// Values generated from the schema with a fixed seed, many of them wrong on purpose: the
    /// two paths agree on every one the fast path takes, and it takes the well-formed ones.
    #[test]
    fn generated_values_agree() {
        let wide = schema(WIDE);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let (mut taken, mut well_formed) = (0, 0);
        for _ in 0..3000 {
            let mut g = Gen {
                seed: &mut seed,
                text: String::new(),
            };
            let wrong = g.below(4) == 0;
            g.value_of(&wide, wrong);
            let v = std::mem::take(&mut g.text);
            if agree(&wide, &v, OPTS) {
                taken += 1;
            }
            well_formed += usize::from(!wrong);
        }
        // Maps with a repeated or escaped key go to the tree path even when well formed.
        assert!(
            taken * 2 > well_formed,
            "the fast path took only {taken} of 3000 ({well_formed} well formed)"
        );
    }

    /// Values generated from a schema with a fixed seed, wrong on purpose when asked.
    pub(crate) struct Gen<'s> {
        seed: &'s mut u64,
        pub(crate) text: String,
    }

    impl<'s> Gen<'s> {
        pub(crate) fn new(seed: &'s mut u64) -> Gen<'s> {
            Gen {
                seed,
                text: String::new(),
            }
        }

        pub(crate) fn below(&mut self, n: u64) -> u64 {
            *self.seed ^= *self.seed << 13;
            *self.seed ^= *self.seed >> 7;
            *self.seed ^= *self.seed << 17;
            *self.seed % n
        }

        fn put(&mut self, options: &[&str]) {
            let i = self.below(options.len() as u64) as usize;
            self.text.push_str(options[i]);
        }

        fn ws(&mut self) {
            if self.below(8) == 0 {
                self.text.push(' ');
            }
        }

        pub(crate) fn value_of(&mut self, s: &Schema, wrong: bool) {
            self.ws();
            if (s.optional || s.default.is_some() || wrong) && self.below(6) == 0 {
                self.text.push_str("null");
                return;
            }
            if wrong && self.below(10) == 0 {
                self.put(&["\"x\"", "1.5", "[]", "{}", "true", "300"]);
                return;
            }
            match &s.ty {
                Type::Boolean => self.put(&["true", "false"]),
                Type::Int8 | Type::Int16 | Type::Int32 | Type::Int64 => {
                    let n = self.below(if wrong { 400 } else { 200 }) as i64 - 100;
                    self.text.push_str(&n.to_string());
                }
                Type::Float32 | Type::Float64 => {
                    self.put(&["1", "-2.5", "1e3", "0.1", "-0", "12345678901234567890"]);
                }
                Type::Bytes if !wrong => self.put(&["\"AAEC\"", "\"\"", "\"AA\\u003d\\u003d\""]),
                Type::String | Type::Bytes => {
                    self.put(&[
                        "\"AAEC\"",
                        "\"\"",
                        "\"a\\nb\"",
                        "\"\\u00e9t\\u00e9\"",
                        "\"q\\\"\"",
                    ]);
                }
                Type::Array(items) => {
                    self.text.push('[');
                    for i in 0..self.below(4) {
                        if i > 0 {
                            self.text.push(',');
                        }
                        self.value_of(items, wrong);
                    }
                    self.text.push(']');
                }
                Type::Map(k, v) => {
                    if k.ty == Type::String {
                        self.text.push('{');
                        for i in 0..self.below(4) {
                            if i > 0 {
                                self.text.push(',');
                            }
                            self.put(&["\"k\"", "\"l\"", "\"\\u006d\"", "\"n o\""]);
                            self.text.push(':');
                            self.value_of(v, wrong);
                        }
                        self.text.push('}');
                    } else {
                        self.text.push_str("[[1,\"x\"]]");
                    }
                }
                Type::Struct(fields) => {
                    self.text.push('{');
                    let mut first = true;
                    for Field {
                        name, schema: f, ..
                    } in fields
                    {
                        let skip = (f.optional || wrong) && self.below(5) == 0;
                        let twice = self.below(20) == 0;
                        for _ in 0..(if skip {
                            0
                        } else if twice {
                            2
                        } else {
                            1
                        }) {
                            if !first {
                                self.text.push(',');
                            }
                            first = false;
                            self.ws();
                            self.text.push_str(&format!("\"{name}\":"));
                            self.value_of(f, wrong);
                        }
                    }
                    if self.below(5) == 0 {
                        if !first {
                            self.text.push(',');
                        }
                        self.text.push_str("\"unknown\":[{\"a\":1}]");
                    }
                    self.text.push('}');
                }
            }
            self.ws();
        }
    }
}
