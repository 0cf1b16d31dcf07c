//! Test helper shared by the connector crates (included with `#[path]`): reads a connector's
//! example config in each format under connectors/<name>/ and checks they all say the same.

use std::collections::BTreeMap;
use std::path::Path;

/// The four example files of `name` as flat key/value maps, after checking they agree.
pub fn load(dir: &Path, name: &str) -> BTreeMap<String, String> {
    let read = |ext: &str| {
        let p = dir.join(format!("{name}.{ext}"));
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let props = flat_lines(&read("properties"), '=');
    let yaml = flat_lines(&read("yaml"), ':');
    let toml: toml::Table = toml::from_str(&read("toml")).unwrap();
    let toml: BTreeMap<String, String> = toml
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                toml::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect();
    let json: serde_json::Value = serde_json::from_str(&read("json")).unwrap();
    let mut rest: BTreeMap<String, String> = json["config"]
        .as_object()
        .expect("a REST create body has a `config` object")
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().expect("REST config values are strings").into(),
            )
        })
        .collect();
    rest.insert("name".into(), json["name"].as_str().unwrap().into());
    assert_eq!(props, yaml, "{name}: .properties and .yaml differ");
    assert_eq!(props, toml, "{name}: .properties and .toml differ");
    assert_eq!(props, rest, "{name}: .properties and .json differ");
    assert_eq!(props["connector.class"], name);
    props
}

/// `key<sep>value` lines, skipping blanks and `#` comments.
fn flat_lines(text: &str, sep: char) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once(sep)
                .unwrap_or_else(|| panic!("bad line `{l}`"));
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}
