//! The example configs under connectors/datagen/ agree across formats and are valid.

#[path = "../../example_configs.rs"]
mod example_configs;

use weft_connector_datagen::pacing::Rate;
use weft_connector_datagen::shapes::Shape;
use weft_connector_datagen::task::{validate, Settings};
use weft_plugin_sdk::Config;

#[test]
fn example_configs_are_valid() {
    let c = example_configs::load(env!("CARGO_MANIFEST_DIR").as_ref(), "datagen");
    let c = Config::new(c.into_iter().collect());
    assert!(validate(&c).is_empty(), "{:?}", validate(&c));
    let s = Settings::from_config(&c).unwrap();
    assert_eq!(s.shape, Shape::Orders);
    assert_eq!(s.rate, Rate::MaxInterval(100));
    assert_eq!(s.iterations, None);
}
