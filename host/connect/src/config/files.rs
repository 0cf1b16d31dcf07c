//! Reads worker and connector files in any of the four formats into Connect's flat text map:
//! `.properties` (Java rules), TOML and YAML (nested tables flatten to dotted keys, scalars to
//! text, lists of scalars to comma-separated text as Connect's LIST type reads them) and JSON (a
//! flat object, or the body of a REST create request). The format comes from the extension.
//!
//! A Connect key that is both a value and a prefix (`transforms` and `transforms.a.type`) cannot
//! be a TOML table and a value at once: write the longer one as a quoted key
//! (`"transforms.a.type" = "..."`); YAML and JSON take flat dotted keys as they are.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::model::{ConfigMap, TargetState};

use super::properties;

/// The largest config file read (a config is a few kilobytes; this bounds the allocation).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Why a config file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: the file is larger than {MAX_FILE_BYTES} bytes", path.display())]
    TooLarge { path: PathBuf },
    #[error(
        "{}: unknown config file format (use .properties, .toml, .yaml/.yml or .json)",
        path.display()
    )]
    UnknownFormat { path: PathBuf },
    /// A syntax error, with the 1-based line.
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// Well-formed, but not a config (a list of tables, a null, a key given twice).
    #[error("{}: {message}", path.display())]
    Shape { path: PathBuf, message: String },
}

/// The file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Properties,
    Toml,
    Yaml,
    Json,
}

impl Format {
    /// The format a file's extension names.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "properties" | "props" | "conf" | "cfg" => Some(Format::Properties),
            "toml" => Some(Format::Toml),
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// A config read from a file: the flat map, and KIP-980's `initial_state` when the file was a
/// REST create body that had one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub config: ConfigMap,
    pub initial_state: Option<TargetState>,
}

/// Reads a config file, its format from its extension.
pub fn read_config_file(path: &Path) -> Result<ConfigFile, ConfigFileError> {
    let format = Format::from_path(path).ok_or_else(|| ConfigFileError::UnknownFormat {
        path: path.to_path_buf(),
    })?;
    let io = |source| ConfigFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(ConfigFileError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    parse_config(&bytes, format).map_err(|e| e.at(path))
}

/// A parse error before the file's path is attached.
#[derive(Debug)]
pub enum ParseError {
    Syntax { line: usize, message: String },
    Shape(String),
}

impl ParseError {
    fn at(self, path: &Path) -> ConfigFileError {
        match self {
            ParseError::Syntax { line, message } => ConfigFileError::Syntax {
                path: path.to_path_buf(),
                line,
                message,
            },
            ParseError::Shape(message) => ConfigFileError::Shape {
                path: path.to_path_buf(),
                message,
            },
        }
    }
}

/// Parses config text in `format` (bytes, so `.properties` can fall back to ISO-8859-1).
pub fn parse_config(bytes: &[u8], format: Format) -> Result<ConfigFile, ParseError> {
    let text = || {
        std::str::from_utf8(bytes).map_err(|e| ParseError::Syntax {
            line: line_of(bytes, e.valid_up_to()),
            message: "the file is not UTF-8".into(),
        })
    };
    let plain = |config| ConfigFile {
        config,
        initial_state: None,
    };
    match format {
        Format::Properties => properties::parse(&properties::decode(bytes))
            .map(plain)
            .map_err(|e| ParseError::Syntax {
                line: e.line,
                message: e.message,
            }),
        Format::Toml => parse_toml(text()?).map(plain),
        Format::Yaml => parse_yaml(text()?).map(plain),
        Format::Json => parse_json(text()?),
    }
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    1 + bytes.iter().take(offset).filter(|&&b| b == b'\n').count()
}

fn insert(out: &mut ConfigMap, key: String, value: String) -> Result<(), ParseError> {
    if out.contains_key(&key) {
        return Err(ParseError::Shape(format!("key `{key}` is given twice")));
    }
    out.insert(key, value);
    Ok(())
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn parse_toml(text: &str) -> Result<ConfigMap, ParseError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ParseError::Syntax {
            line: e
                .span()
                .map(|s| line_of(text.as_bytes(), s.start))
                .unwrap_or(1),
            message: e.message().to_string(),
        })?;
    let mut out = ConfigMap::new();
    flatten_toml("", &toml::Value::Table(table), &mut out)?;
    Ok(out)
}

fn toml_scalar(key: &str, v: &toml::Value) -> Result<String, ParseError> {
    match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Datetime(d) => Ok(d.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => Err(ParseError::Shape(format!(
            "`{key}`: a list may only hold plain values"
        ))),
    }
}

fn flatten_toml(prefix: &str, v: &toml::Value, out: &mut ConfigMap) -> Result<(), ParseError> {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten_toml(&join(prefix, k), v, out)?;
            }
            Ok(())
        }
        toml::Value::Array(items) => {
            let parts = items
                .iter()
                .map(|i| toml_scalar(prefix, i))
                .collect::<Result<Vec<_>, _>>()?;
            insert(out, prefix.to_string(), parts.join(","))
        }
        scalar => insert(out, prefix.to_string(), toml_scalar(prefix, scalar)?),
    }
}

fn parse_yaml(text: &str) -> Result<ConfigMap, ParseError> {
    use yaml_rust2::{Yaml, YamlLoader};
    let docs = YamlLoader::load_from_str(text).map_err(|e| ParseError::Syntax {
        line: e.marker().line().max(1),
        message: e.info().to_string(),
    })?;
    let mut out = ConfigMap::new();
    match docs.as_slice() {
        [] | [Yaml::Null] => Ok(out),
        [doc @ Yaml::Hash(_)] => {
            flatten_yaml("", doc, &mut out)?;
            Ok(out)
        }
        [_] => Err(ParseError::Shape(
            "the document must be a mapping of keys to values".into(),
        )),
        _ => Err(ParseError::Shape(
            "the file holds more than one YAML document".into(),
        )),
    }
}

fn yaml_scalar(key: &str, v: &yaml_rust2::Yaml) -> Result<String, ParseError> {
    use yaml_rust2::Yaml;
    match v {
        Yaml::String(s) | Yaml::Real(s) => Ok(s.clone()),
        Yaml::Integer(i) => Ok(i.to_string()),
        Yaml::Boolean(b) => Ok(b.to_string()),
        // `key:` with nothing after it, like `key=` in a properties file.
        Yaml::Null => Ok(String::new()),
        _ => Err(ParseError::Shape(format!(
            "`{key}`: expected a plain value (text, number or boolean)"
        ))),
    }
}

fn flatten_yaml(prefix: &str, v: &yaml_rust2::Yaml, out: &mut ConfigMap) -> Result<(), ParseError> {
    use yaml_rust2::Yaml;
    match v {
        Yaml::Hash(h) => {
            for (k, v) in h {
                let k = match k {
                    Yaml::Hash(_) | Yaml::Array(_) | Yaml::Null | Yaml::BadValue => {
                        return Err(ParseError::Shape(format!(
                            "a key under `{prefix}` is not plain text"
                        )))
                    }
                    k => yaml_scalar(prefix, k)?,
                };
                flatten_yaml(&join(prefix, &k), v, out)?;
            }
            Ok(())
        }
        Yaml::Array(items) => {
            let parts = items
                .iter()
                .map(|i| yaml_scalar(prefix, i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    ParseError::Shape(format!("`{prefix}`: a list may only hold plain values"))
                })?;
            insert(out, prefix.to_string(), parts.join(","))
        }
        scalar => insert(out, prefix.to_string(), yaml_scalar(prefix, scalar)?),
    }
}

fn parse_json(text: &str) -> Result<ConfigFile, ParseError> {
    let v: Json = serde_json::from_str(text).map_err(|e| ParseError::Syntax {
        line: e.line().max(1),
        message: e.to_string(),
    })?;
    let Json::Object(obj) = v else {
        return Err(ParseError::Shape("expected a JSON object".into()));
    };
    // The body of `POST /connectors`: {"name": ..., "config": {...}, "initial_state": ...}.
    let is_create_body = matches!(obj.get("config"), Some(Json::Object(_)))
        && obj
            .keys()
            .all(|k| matches!(k.as_str(), "name" | "config" | "initial_state"));
    if !is_create_body {
        let mut out = ConfigMap::new();
        flatten_json("", &Json::Object(obj), &mut out)?;
        return Ok(ConfigFile {
            config: out,
            initial_state: None,
        });
    }
    let mut config = ConfigMap::new();
    if let Some(c) = obj.get("config") {
        flatten_json("", c, &mut config)?;
    }
    match obj.get("name") {
        None | Some(Json::Null) => {}
        Some(Json::String(name)) => match config.get("name") {
            Some(inner) if inner != name => {
                return Err(ParseError::Shape(format!(
                    "the connector name `{name}` differs from the config's name `{inner}`"
                )))
            }
            _ => {
                config.insert("name".into(), name.clone());
            }
        },
        Some(_) => return Err(ParseError::Shape("`name` must be text".into())),
    }
    let initial_state = match obj.get("initial_state") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(parse_initial_state(s).ok_or_else(|| {
            ParseError::Shape(format!(
                "`initial_state` `{s}` is not RUNNING, PAUSED or STOPPED"
            ))
        })?),
        Some(_) => return Err(ParseError::Shape("`initial_state` must be text".into())),
    };
    Ok(ConfigFile {
        config,
        initial_state,
    })
}

/// KIP-980's `initial_state` (case-insensitive, as Connect's enum parser reads it).
pub fn parse_initial_state(s: &str) -> Option<TargetState> {
    match s.trim().to_ascii_uppercase().as_str() {
        "RUNNING" => Some(TargetState::Running),
        "PAUSED" => Some(TargetState::Paused),
        "STOPPED" => Some(TargetState::Stopped),
        _ => None,
    }
}

fn json_scalar(key: &str, v: &Json) -> Result<String, ParseError> {
    match v {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        Json::Null => Err(ParseError::Shape(format!("`{key}` is null"))),
        _ => Err(ParseError::Shape(format!(
            "`{key}`: expected a plain value (text, number or boolean)"
        ))),
    }
}

fn flatten_json(prefix: &str, v: &Json, out: &mut ConfigMap) -> Result<(), ParseError> {
    match v {
        Json::Object(m) => {
            for (k, v) in m {
                flatten_json(&join(prefix, k), v, out)?;
            }
            Ok(())
        }
        Json::Array(items) => {
            let parts = items
                .iter()
                .map(|i| json_scalar(prefix, i))
                .collect::<Result<Vec<_>, _>>()?;
            insert(out, prefix.to_string(), parts.join(","))
        }
        scalar => insert(out, prefix.to_string(), json_scalar(prefix, scalar)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_map as map;

    fn expected() -> ConfigMap {
        map(&[
            ("name", "s"),
            ("connector.class", "FileStreamSource"),
            ("tasks.max", "1"),
            ("transforms", "a,b"),
            ("transforms.a.type", "x"),
            ("errors.log.enable", "true"),
        ])
    }

    #[test]
    fn four_formats_read_the_same_map() {
        let props = "name=s\nconnector.class=FileStreamSource\ntasks.max=1\ntransforms=a,b\n\
                     transforms.a.type=x\nerrors.log.enable=true\n";
        let toml = "name = \"s\"\nconnector.class = \"FileStreamSource\"\ntasks.max = 1\n\
                    transforms = [\"a\", \"b\"]\n\"transforms.a.type\" = \"x\"\n[errors.log]\nenable = true\n";
        let yaml =
            "name: s\nconnector.class: FileStreamSource\ntasks:\n  max: 1\ntransforms: [a, b]\n\
                    transforms.a.type: x\nerrors:\n  log.enable: true\n";
        let json = r#"{"name":"s","connector.class":"FileStreamSource","tasks.max":1,
                       "transforms":"a,b","transforms.a.type":"x","errors.log.enable":true}"#;
        for (text, f) in [
            (props, Format::Properties),
            (toml, Format::Toml),
            (yaml, Format::Yaml),
            (json, Format::Json),
        ] {
            let got = parse_config(text.as_bytes(), f).unwrap_or_else(|e| panic!("{f:?}: {e:?}"));
            assert_eq!(got.config, expected(), "{f:?}");
        }
    }

    #[test]
    fn rest_create_body_as_a_file() {
        let body = r#"{"name":"s","config":{"connector.class":"FileStreamSource","tasks.max":"1",
                       "transforms":"a,b","transforms.a.type":"x","errors.log.enable":"true"},
                       "initial_state":"paused"}"#;
        let got = parse_config(body.as_bytes(), Format::Json).unwrap();
        assert_eq!(got.config, expected());
        assert_eq!(got.initial_state, Some(TargetState::Paused));
        let clash = r#"{"name":"s","config":{"name":"t"}}"#;
        assert!(matches!(
            parse_config(clash.as_bytes(), Format::Json),
            Err(ParseError::Shape(_))
        ));
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text, line) in [
            ("a.properties", "a=1\nb=\\uZZZZ\n", 2),
            ("a.toml", "a = 1\nb = = 2\n", 2),
            ("a.yaml", "a: 1\nb: [1, 2\nc: 3\n", 4),
            ("a.json", "{\"a\": 1,\n\"b\": }\n", 2),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            match read_config_file(&p) {
                Err(e @ ConfigFileError::Syntax { .. }) => {
                    let s = e.to_string();
                    assert!(s.starts_with(&p.display().to_string()), "{s}");
                    let ConfigFileError::Syntax { line: got, .. } = e else {
                        unreachable!()
                    };
                    assert!(
                        got >= line.min(2) && got <= line,
                        "{name}: line {got} in {s}"
                    );
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        let p = dir.path().join("a.ini");
        std::fs::write(&p, "a=1").unwrap();
        assert!(matches!(
            read_config_file(&p),
            Err(ConfigFileError::UnknownFormat { .. })
        ));
        assert!(matches!(
            read_config_file(&dir.path().join("missing.json")),
            Err(ConfigFileError::Io { .. })
        ));
    }

    #[test]
    fn shapes_that_are_not_configs() {
        assert!(matches!(
            parse_config(b"a = [{b = 1}]", Format::Toml),
            Err(ParseError::Shape(_))
        ));
        assert!(matches!(
            parse_config(b"- a\n- b\n", Format::Yaml),
            Err(ParseError::Shape(_))
        ));
        assert!(matches!(
            parse_config(b"[1]", Format::Json),
            Err(ParseError::Shape(_))
        ));
        assert!(matches!(
            parse_config(br#"{"a": null}"#, Format::Json),
            Err(ParseError::Shape(_))
        ));
        assert!(matches!(
            parse_config(b"a:\n  b: 1\na.b: 2\n", Format::Yaml),
            Err(ParseError::Shape(_))
        ));
        assert_eq!(
            parse_config(b"", Format::Yaml).unwrap().config,
            ConfigMap::new()
        );
    }
}
