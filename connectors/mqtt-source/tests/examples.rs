//! The example configs under connectors/mqtt-source/ agree across formats and are valid.

#[path = "../../example_configs.rs"]
mod example_configs;

use weft_connector_mqtt_source::task::{validate, Settings};
use weft_plugin_sdk::Config;

#[test]
fn example_configs_are_valid() {
    let c = example_configs::load(env!("CARGO_MANIFEST_DIR").as_ref(), "mqtt-source");
    let c = Config::new(c.into_iter().collect());
    assert!(validate(&c).is_empty(), "{:?}", validate(&c));
    let s = Settings::from_config(&c).unwrap();
    assert_eq!(s.filters, vec!["sensors/+/temp".to_string()]);
    assert_eq!(s.server, "tcp://127.0.0.1:1883");
}
