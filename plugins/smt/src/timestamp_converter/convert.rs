//! Kafka's TimestampConverter translators: a timestamp in one representation (string, unix,
//! Date, Time, Timestamp) to milliseconds since the epoch and on to the target representation,
//! on values in the Connect value encoding (Date is int32 days, Time int32 ms of the day,
//! Timestamp int64 ms). Schemaless, Connect's `java.util.Date` results are written as the
//! milliseconds they hold (midnight for Date, the time on 1970-01-01 for Time).

use serde_json::{Map, Value};

use super::calendar::MS_PER_DAY;
use super::pattern::Pattern;

/// Connect's logical type names.
pub const TIMESTAMP_NAME: &str = "org.apache.kafka.connect.data.Timestamp";
pub const DATE_NAME: &str = "org.apache.kafka.connect.data.Date";
pub const TIME_NAME: &str = "org.apache.kafka.connect.data.Time";

/// A timestamp representation (`target.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Unix,
    Date,
    Time,
    Timestamp,
}

impl Kind {
    /// Kafka's `target.type` value.
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "string" => Kind::Str,
            "unix" => Kind::Unix,
            "Date" => Kind::Date,
            "Time" => Kind::Time,
            "Timestamp" => Kind::Timestamp,
            _ => return None,
        })
    }

    /// The Connect schema of this representation.
    pub fn schema(self, optional: bool) -> Map<String, Value> {
        let (ty, name) = match self {
            Kind::Str => ("string", None),
            Kind::Unix => ("int64", None),
            Kind::Date => ("int32", Some(DATE_NAME)),
            Kind::Time => ("int32", Some(TIME_NAME)),
            Kind::Timestamp => ("int64", Some(TIMESTAMP_NAME)),
        };
        let mut m = Map::new();
        m.insert("type".into(), Value::from(ty));
        m.insert("optional".into(), Value::from(optional));
        if let Some(name) = name {
            m.insert("name".into(), Value::from(name));
            m.insert("version".into(), Value::from(1));
        }
        m
    }

    /// The representation a schema declares (Kafka's `timestampTypeFromSchema`).
    pub fn from_schema(schema: &Map<String, Value>) -> Result<Kind, String> {
        let name = schema.get("name").and_then(Value::as_str);
        let ty = schema.get("type").and_then(Value::as_str);
        Ok(match (name, ty) {
            (Some(TIMESTAMP_NAME), _) => Kind::Timestamp,
            (Some(DATE_NAME), _) => Kind::Date,
            (Some(TIME_NAME), _) => Kind::Time,
            (_, Some("string")) => Kind::Str,
            (_, Some("int64")) => Kind::Unix,
            _ => {
                return Err(format!(
                    "Schema {} does not correspond to a known timestamp type format",
                    Value::Object(schema.clone())
                ))
            }
        })
    }

    /// The representation of a schemaless value (Kafka's `inferTimestampType`): an integer is
    /// unix time, text a formatted string.
    pub fn infer(v: &Value) -> Result<Kind, String> {
        match v {
            Value::String(_) => Ok(Kind::Str),
            Value::Number(n) if n.is_i64() => Ok(Kind::Unix),
            other => Err(format!(
                "TimestampConverter does not support {} objects as timestamps",
                json_type(other)
            )),
        }
    }
}

/// The precision of unix timestamps (`unix.precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Seconds,
    Milliseconds,
    Microseconds,
    Nanoseconds,
}

impl Precision {
    pub fn parse(s: &str) -> Option<Precision> {
        Some(match s {
            "seconds" => Precision::Seconds,
            "milliseconds" => Precision::Milliseconds,
            "microseconds" => Precision::Microseconds,
            "nanoseconds" => Precision::Nanoseconds,
            _ => return None,
        })
    }
}

/// The configured conversion.
#[derive(Debug, Clone)]
pub struct Converter {
    pub target: Kind,
    pub format: Option<Pattern>,
    pub precision: Precision,
}

impl Converter {
    /// `v` (in `source` representation, inferred when `None`, which also means schemaless) to
    /// the target representation. Null stays null.
    pub fn convert(&self, v: &Value, source: Option<Kind>) -> Result<Value, String> {
        if v.is_null() {
            return Ok(Value::Null);
        }
        let kind = match source {
            Some(k) => k,
            None => Kind::infer(v)?,
        };
        let ms = self.to_ms(kind, v)?;
        self.to_target(ms, source.is_none())
    }

    fn to_ms(&self, kind: Kind, v: &Value) -> Result<i64, String> {
        match kind {
            Kind::Str => {
                let Value::String(s) = v else {
                    return Err(format!(
                        "Expected string timestamp to be a String, but found {}",
                        json_type(v)
                    ));
                };
                let Some(format) = &self.format else {
                    return Err(
                        "TimestampConverter needs the `format` option to parse string \
                                timestamps"
                            .into(),
                    );
                };
                format.parse(s)
            }
            Kind::Unix => {
                let t = v.as_i64().ok_or_else(|| {
                    format!(
                        "Expected Unix timestamp to be a Long, but found {}",
                        json_type(v)
                    )
                })?;
                // Java's TimeUnit: coarser to finer saturates, finer to coarser truncates.
                Ok(match self.precision {
                    Precision::Seconds => t.saturating_mul(1000),
                    Precision::Milliseconds => t,
                    Precision::Microseconds => t / 1000,
                    Precision::Nanoseconds => t / 1_000_000,
                })
            }
            Kind::Date | Kind::Time | Kind::Timestamp => {
                let n = v.as_i64().ok_or_else(|| {
                    format!(
                        "Expected {kind:?} to be an integer, but found {}",
                        json_type(v)
                    )
                })?;
                Ok(if kind == Kind::Date {
                    n.checked_mul(MS_PER_DAY)
                        .ok_or_else(|| format!("Date of {n} days is out of range"))?
                } else {
                    n
                })
            }
        }
    }

    fn to_target(&self, ms: i64, schemaless: bool) -> Result<Value, String> {
        Ok(match self.target {
            Kind::Str => match &self.format {
                Some(f) => Value::from(f.format(ms)),
                None => return Err("TimestampConverter needs the `format` option".into()),
            },
            Kind::Unix => Value::from(match self.precision {
                Precision::Seconds => ms / 1000,
                Precision::Milliseconds => ms,
                Precision::Microseconds => ms.saturating_mul(1000),
                Precision::Nanoseconds => ms.saturating_mul(1_000_000),
            }),
            Kind::Date => {
                let days = ms.div_euclid(MS_PER_DAY);
                if schemaless {
                    Value::from(days * MS_PER_DAY)
                } else {
                    let days = i32::try_from(days)
                        .map_err(|_| format!("{ms} ms is out of the range of a Connect Date"))?;
                    Value::from(days)
                }
            }
            Kind::Time => Value::from(ms.rem_euclid(MS_PER_DAY)),
            Kind::Timestamp => Value::from(ms),
        })
    }
}

/// How Kafka's messages name a value's class, for JSON.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "Boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "Double",
        Value::String(_) => "String",
        Value::Array(_) => "List",
        Value::Object(_) => "Map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // 2024-03-05T07:08:09.012Z
    const T: i64 = 1_709_622_489_012;
    const DAYS: i64 = 19_787;
    const IN_DAY: i64 = 25_689_012;

    fn conv(target: Kind, precision: Precision) -> Converter {
        Converter {
            target,
            format: Some(Pattern::compile("yyyy-MM-dd'T'HH:mm:ss.SSSX").unwrap()),
            precision,
        }
    }

    #[test]
    fn every_source_to_every_target_with_schemas() {
        let ms = Precision::Milliseconds;
        let sources = [
            (Kind::Str, json!("2024-03-05T07:08:09.012Z")),
            (Kind::Unix, json!(T)),
            (Kind::Timestamp, json!(T)),
        ];
        for (kind, v) in sources {
            let c = |t| conv(t, ms).convert(&v, Some(kind)).unwrap();
            assert_eq!(c(Kind::Str), json!("2024-03-05T07:08:09.012Z"), "{kind:?}");
            assert_eq!(c(Kind::Unix), json!(T), "{kind:?}");
            assert_eq!(c(Kind::Timestamp), json!(T), "{kind:?}");
            assert_eq!(c(Kind::Date), json!(DAYS), "{kind:?}");
            assert_eq!(c(Kind::Time), json!(IN_DAY), "{kind:?}");
        }
        // Date (days) and Time (ms of the day) as sources.
        let c = conv(Kind::Timestamp, ms);
        assert_eq!(
            c.convert(&json!(DAYS), Some(Kind::Date)),
            Ok(json!(T - IN_DAY))
        );
        assert_eq!(
            c.convert(&json!(IN_DAY), Some(Kind::Time)),
            Ok(json!(IN_DAY))
        );
        assert_eq!(c.convert(&Value::Null, Some(Kind::Date)), Ok(Value::Null));
    }

    #[test]
    fn unix_precision_scales_in_and_out_like_javas_time_unit() {
        let seconds = conv(Kind::Unix, Precision::Seconds);
        assert_eq!(
            seconds.convert(&json!(T), Some(Kind::Timestamp)),
            Ok(json!(T / 1000))
        );
        let from_s = conv(Kind::Timestamp, Precision::Seconds);
        assert_eq!(
            from_s.convert(&json!(1_709_622_489), Some(Kind::Unix)),
            Ok(json!(T - 12))
        );
        let micros = conv(Kind::Timestamp, Precision::Microseconds);
        assert_eq!(
            micros.convert(&json!(T * 1000 + 999), Some(Kind::Unix)),
            Ok(json!(T))
        );
        let nanos = conv(Kind::Unix, Precision::Nanoseconds);
        assert_eq!(
            nanos.convert(&json!(T), Some(Kind::Timestamp)),
            Ok(json!(T * 1_000_000))
        );
        // Overflow saturates as TimeUnit does.
        assert_eq!(
            nanos.convert(&json!(i64::MAX / 2), Some(Kind::Timestamp)),
            Ok(json!(i64::MAX))
        );
        // Negative instants truncate toward zero going coarser (Java's long division).
        assert_eq!(
            seconds.convert(&json!(-1500), Some(Kind::Timestamp)),
            Ok(json!(-1))
        );
    }

    #[test]
    fn schemaless_values_are_inferred_and_dates_written_as_milliseconds() {
        let c = |t| conv(t, Precision::Milliseconds);
        assert_eq!(
            c(Kind::Date).convert(&json!(T), None),
            Ok(json!(T - IN_DAY))
        );
        assert_eq!(c(Kind::Time).convert(&json!(T), None), Ok(json!(IN_DAY)));
        assert_eq!(
            c(Kind::Unix).convert(&json!("2024-03-05T07:08:09.012Z"), None),
            Ok(json!(T))
        );
        let err = c(Kind::Unix).convert(&json!(1.5), None).unwrap_err();
        assert_eq!(
            err,
            "TimestampConverter does not support Double objects as timestamps"
        );
        assert!(c(Kind::Unix).convert(&json!({"a": 1}), None).is_err());
    }

    #[test]
    fn schemas_name_the_logical_types_and_unknown_schemas_are_refused() {
        assert_eq!(
            Value::Object(Kind::Timestamp.schema(true)),
            json!({"type": "int64", "optional": true, "name": TIMESTAMP_NAME, "version": 1})
        );
        assert_eq!(
            Value::Object(Kind::Date.schema(false)),
            json!({"type": "int32", "optional": false, "name": DATE_NAME, "version": 1})
        );
        assert_eq!(
            Value::Object(Kind::Unix.schema(false)),
            json!({"type": "int64", "optional": false})
        );
        let of = |v: Value| Kind::from_schema(v.as_object().unwrap());
        assert_eq!(
            of(json!({"type": "int32", "name": TIME_NAME})),
            Ok(Kind::Time)
        );
        assert_eq!(of(json!({"type": "int64"})), Ok(Kind::Unix));
        assert_eq!(of(json!({"type": "string"})), Ok(Kind::Str));
        assert!(of(json!({"type": "int32"}))
            .unwrap_err()
            .contains("does not correspond to a known timestamp type format"));
        // Type errors name what was found.
        let err = conv(Kind::Unix, Precision::Milliseconds)
            .convert(&json!(5), Some(Kind::Str))
            .unwrap_err();
        assert_eq!(
            err,
            "Expected string timestamp to be a String, but found integer"
        );
    }
}
