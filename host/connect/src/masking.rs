//! Credentials in REST answers: the values of a connector's PASSWORD-type keys (as its component
//! declares them) are shown as `[hidden]`, Kafka's `Password.HIDDEN`; a config PUT back with
//! `[hidden]` keeps the stored value, so a GET-edit-PUT round trip does not overwrite a secret.

use weft_runtime::{PluginKind, Registry};

use crate::config;
use crate::model::ConfigMap;

/// How a PASSWORD value is shown.
pub const HIDDEN: &str = "[hidden]";

/// The PASSWORD-type keys of the connector `config` names (none when it does not load).
pub fn password_keys(registry: &Registry, config: &ConfigMap) -> Vec<String> {
    let Some(class) = config.get("connector.class") else {
        return Vec::new();
    };
    let Ok(plugin) = config::aliases::connector_plugin(class) else {
        return Vec::new();
    };
    match registry.resolve(&plugin) {
        Ok(p)
            if matches!(
                p.kind(),
                PluginKind::SinkConnector | PluginKind::SourceConnector
            ) =>
        {
            p.metadata()
                .config
                .iter()
                .filter(|d| d.ty == "password")
                .map(|d| d.name.clone())
                .collect()
        }
        _ => Vec::new(),
    }
}

/// `pairs` with the values of `keys` hidden.
pub fn mask<I: IntoIterator<Item = (String, String)>>(pairs: I, keys: &[String]) -> ConfigMap {
    pairs
        .into_iter()
        .map(|(k, v)| {
            if keys.contains(&k) && !v.is_empty() {
                (k, HIDDEN.to_string())
            } else {
                (k, v)
            }
        })
        .collect()
}

/// Puts back the stored value of each of `keys` that `config` carries as [`HIDDEN`].
pub fn restore_hidden(config: &mut ConfigMap, stored: &ConfigMap, keys: &[String]) {
    for k in keys {
        if config.get(k).map(String::as_str) == Some(HIDDEN) {
            if let Some(v) = stored.get(k) {
                config.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_values_round_trip() {
        let keys = vec!["p".to_string()];
        let stored: ConfigMap = [("p".into(), "secret".into()), ("u".into(), "me".into())].into();
        let shown = mask(stored.clone(), &keys);
        assert_eq!(shown["p"], HIDDEN);
        assert_eq!(shown["u"], "me");
        let mut back = shown.clone();
        restore_hidden(&mut back, &stored, &keys);
        assert_eq!(back, stored);
    }
}
