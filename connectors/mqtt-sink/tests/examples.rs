//! The example configs under connectors/mqtt-sink/ agree across formats and are valid.

#[path = "../../example_configs.rs"]
mod example_configs;

use weft_connector_mqtt_sink::{validate, Settings};
use weft_plugin_sdk::Config;

#[test]
fn example_configs_are_valid() {
    let c = example_configs::load(env!("CARGO_MANIFEST_DIR").as_ref(), "mqtt-sink");
    let c = Config::new(c.into_iter().collect());
    assert!(validate(&c).is_empty(), "{:?}", validate(&c));
    let s = Settings::from_config(&c).unwrap();
    assert_eq!((s.qos, s.retain), (1, false));
}
