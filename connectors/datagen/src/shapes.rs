//! The shapes of generated values: Confluent datagen's `orders`, `users` and `pageviews`
//! quickstarts (same field names and value ranges, as JSON objects), and a fixed-size shape for
//! benchmarks. Each value is written straight into a reused buffer: no allocation per record.

use crate::rng::Draw;

/// The key schema: a record's id as text.
pub const KEY_SCHEMA: &str = r#"{"type":"string","optional":false}"#;

const ORDERS_SCHEMA: &str = concat!(
    r#"{"type":"struct","name":"ksql.orders","optional":false,"fields":["#,
    r#"{"field":"ordertime","type":"int64","optional":false},"#,
    r#"{"field":"orderid","type":"int64","optional":false},"#,
    r#"{"field":"itemid","type":"string","optional":false},"#,
    r#"{"field":"orderunits","type":"double","optional":false},"#,
    r#"{"field":"address","type":"struct","name":"ksql.address","optional":false,"fields":["#,
    r#"{"field":"city","type":"string","optional":false},"#,
    r#"{"field":"state","type":"string","optional":false},"#,
    r#"{"field":"zipcode","type":"int64","optional":false}]}]}"#
);

const USERS_SCHEMA: &str = concat!(
    r#"{"type":"struct","name":"ksql.users","optional":false,"fields":["#,
    r#"{"field":"registertime","type":"int64","optional":false},"#,
    r#"{"field":"userid","type":"string","optional":false},"#,
    r#"{"field":"regionid","type":"string","optional":false},"#,
    r#"{"field":"gender","type":"string","optional":false}]}"#
);

const PAGEVIEWS_SCHEMA: &str = concat!(
    r#"{"type":"struct","name":"ksql.pageviews","optional":false,"fields":["#,
    r#"{"field":"viewtime","type":"int64","optional":false},"#,
    r#"{"field":"userid","type":"string","optional":false},"#,
    r#"{"field":"pageid","type":"string","optional":false}]}"#
);

/// Fixed-size values are bytes (holding a JSON object): benchmarks run them through
/// ByteArrayConverter, which, as Kafka's, takes only `bytes`.
const FIXED_SCHEMA: &str = r#"{"type":"bytes","optional":false}"#;

/// `{"id":` + `,"pad":"` + `"}` around the id digits and the padding.
const FIXED_OVERHEAD: usize = 6 + 8 + 2;
/// The smallest `record.size`: room for the largest id and no padding.
pub const MIN_FIXED_SIZE: usize = FIXED_OVERHEAD + 20;
/// The largest `record.size`.
pub const MAX_FIXED_SIZE: usize = 1024 * 1024;

/// Letters the fixed-size padding is cut from (at a record-dependent offset), so values do not
/// all compress to nothing.
const PAD_SOURCE_LEN: usize = 4096;

/// Quickstart names accepted by `quickstart`.
pub const QUICKSTARTS: [&str; 3] = ["orders", "users", "pageviews"];

/// What a generated value looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    Orders,
    Users,
    Pageviews,
    /// `{"id":N,"pad":"..."}` of exactly this many bytes, as `bytes`.
    Fixed(usize),
}

impl Shape {
    /// The shape named by `quickstart`.
    pub fn quickstart(name: &str) -> Option<Shape> {
        match name.trim().to_ascii_lowercase().as_str() {
            "orders" => Some(Shape::Orders),
            "users" => Some(Shape::Users),
            "pageviews" => Some(Shape::Pageviews),
            _ => None,
        }
    }

    /// The value schema, as JsonConverter writes a schema.
    pub fn value_schema(&self) -> &'static str {
        match self {
            Shape::Orders => ORDERS_SCHEMA,
            Shape::Users => USERS_SCHEMA,
            Shape::Pageviews => PAGEVIEWS_SCHEMA,
            Shape::Fixed(_) => FIXED_SCHEMA,
        }
    }
}

/// Writes values of one shape.
#[derive(Debug, Clone)]
pub struct ValueWriter {
    shape: Shape,
    pad: Vec<u8>,
}

impl ValueWriter {
    /// A writer for `shape` (a fixed size must be within [`MIN_FIXED_SIZE`, `MAX_FIXED_SIZE`]).
    pub fn new(shape: Shape) -> ValueWriter {
        let pad = match shape {
            Shape::Fixed(size) => {
                let mut d = Draw::new(0x5eed, 0);
                (0..PAD_SOURCE_LEN + size)
                    .map(|_| b'a' + d.below(26) as u8)
                    .collect()
            }
            _ => Vec::new(),
        };
        ValueWriter { shape, pad }
    }

    /// Appends the value of record `id` (timestamp fields `ts`, random fields from `d`).
    #[inline]
    pub fn write(&self, id: u64, ts: i64, d: &mut Draw, out: &mut Vec<u8>) {
        let mut num = itoa::Buffer::new();
        match &self.shape {
            Shape::Orders => {
                out.extend_from_slice(b"{\"ordertime\":");
                out.extend_from_slice(num.format(ts).as_bytes());
                out.extend_from_slice(b",\"orderid\":");
                out.extend_from_slice(num.format(id).as_bytes());
                out.extend_from_slice(b",\"itemid\":\"Item_");
                out.extend_from_slice(num.format(1 + d.below(999)).as_bytes());
                // 0.1 to 10.0 units, one decimal, without float formatting.
                let tenths = 1 + d.below(100);
                out.extend_from_slice(b"\",\"orderunits\":");
                out.extend_from_slice(num.format(tenths / 10).as_bytes());
                out.push(b'.');
                out.push(b'0' + (tenths % 10) as u8);
                out.extend_from_slice(b",\"address\":{\"city\":\"City_");
                out.extend_from_slice(num.format(1 + d.below(99)).as_bytes());
                out.extend_from_slice(b"\",\"state\":\"State_");
                out.extend_from_slice(num.format(1 + d.below(99)).as_bytes());
                out.extend_from_slice(b"\",\"zipcode\":");
                out.extend_from_slice(num.format(10_000 + d.below(90_000)).as_bytes());
                out.extend_from_slice(b"}}");
            }
            Shape::Users => {
                const GENDERS: [&[u8]; 3] = [b"MALE", b"FEMALE", b"OTHER"];
                out.extend_from_slice(b"{\"registertime\":");
                out.extend_from_slice(num.format(ts).as_bytes());
                out.extend_from_slice(b",\"userid\":\"User_");
                out.extend_from_slice(num.format(1 + d.below(9)).as_bytes());
                out.extend_from_slice(b"\",\"regionid\":\"Region_");
                out.extend_from_slice(num.format(1 + d.below(9)).as_bytes());
                out.extend_from_slice(b"\",\"gender\":\"");
                out.extend_from_slice(GENDERS[d.below(3) as usize]);
                out.extend_from_slice(b"\"}");
            }
            Shape::Pageviews => {
                out.extend_from_slice(b"{\"viewtime\":");
                out.extend_from_slice(num.format(ts).as_bytes());
                out.extend_from_slice(b",\"userid\":\"User_");
                out.extend_from_slice(num.format(1 + d.below(9)).as_bytes());
                out.extend_from_slice(b"\",\"pageid\":\"Page_");
                out.extend_from_slice(num.format(1 + d.below(99)).as_bytes());
                out.extend_from_slice(b"\"}");
            }
            Shape::Fixed(size) => {
                let digits = num.format(id).as_bytes();
                let pad_len = size.saturating_sub(FIXED_OVERHEAD + digits.len());
                let from = d.below(PAD_SOURCE_LEN as u64) as usize;
                out.extend_from_slice(b"{\"id\":");
                out.extend_from_slice(digits);
                out.extend_from_slice(b",\"pad\":\"");
                out.extend_from_slice(&self.pad[from..from + pad_len]);
                out.extend_from_slice(b"\"}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn value(shape: Shape, id: u64) -> Value {
        let w = ValueWriter::new(shape);
        let mut out = Vec::new();
        w.write(id, 1_700_000_000_000, &mut Draw::new(1, id), &mut out);
        serde_json::from_slice(&out).unwrap()
    }

    /// The field names and JSON types of a schema's struct, in order.
    fn schema_fields(schema: &str) -> Vec<(String, String)> {
        let v: Value = serde_json::from_str(schema).unwrap();
        v["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["field"].as_str().unwrap().to_string(),
                    f["type"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn json_type(v: &Value) -> &'static str {
        match v {
            Value::String(_) => "string",
            Value::Number(n) if n.is_f64() => "double",
            Value::Number(_) => "int64",
            Value::Object(_) => "struct",
            _ => "other",
        }
    }

    #[test]
    fn every_shape_is_json_matching_its_schema() {
        for shape in [Shape::Orders, Shape::Users, Shape::Pageviews] {
            for id in [0, 1, 99, u64::MAX / 3] {
                let v = value(shape.clone(), id);
                let obj = v.as_object().unwrap();
                let fields = schema_fields(shape.value_schema());
                let keys: Vec<&String> = obj.keys().collect();
                let names: Vec<&String> = fields.iter().map(|f| &f.0).collect();
                let mut sorted = names.clone();
                sorted.sort();
                assert_eq!(keys, sorted, "{shape:?}");
                for (name, ty) in &fields {
                    assert_eq!(json_type(&obj[name]), ty, "{shape:?}.{name}");
                }
            }
        }
    }

    #[test]
    fn quickstart_values_stay_in_confluent_ranges() {
        for id in 0..2000 {
            let o = value(Shape::Orders, id);
            assert_eq!(o["orderid"], id);
            let units = o["orderunits"].as_f64().unwrap();
            assert!((0.1..=10.0).contains(&units), "{units}");
            let zip = o["address"]["zipcode"].as_u64().unwrap();
            assert!((10_000..100_000).contains(&zip));
            let u = value(Shape::Users, id);
            assert!(["MALE", "FEMALE", "OTHER"].contains(&u["gender"].as_str().unwrap()));
            assert!(u["userid"].as_str().unwrap().starts_with("User_"));
            let p = value(Shape::Pageviews, id);
            assert!(p["pageid"].as_str().unwrap().starts_with("Page_"));
            assert_eq!(p["viewtime"], 1_700_000_000_000i64);
        }
    }

    #[test]
    fn fixed_values_are_json_objects_in_bytes() {
        assert_eq!(
            Shape::Fixed(100).value_schema(),
            r#"{"type":"bytes","optional":false}"#
        );
        let v = value(Shape::Fixed(100), 42);
        assert_eq!(v["id"], 42);
        assert!(v["pad"]
            .as_str()
            .unwrap()
            .bytes()
            .all(|b| b.is_ascii_lowercase()));
    }

    #[test]
    fn fixed_values_have_exactly_the_size_asked() {
        for size in [MIN_FIXED_SIZE, 100, 1000] {
            let w = ValueWriter::new(Shape::Fixed(size));
            for id in [0, 7, 123_456, u64::MAX] {
                let mut out = Vec::new();
                w.write(id, 0, &mut Draw::new(3, id), &mut out);
                assert_eq!(out.len(), size, "size {size} id {id}");
            }
        }
        assert_eq!(Shape::quickstart(" Orders "), Some(Shape::Orders));
        assert_eq!(Shape::quickstart("clickstream"), None);
    }
}
