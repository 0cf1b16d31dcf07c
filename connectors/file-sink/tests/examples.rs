//! The example configs under connectors/file-sink/ agree across formats and are valid.

#[path = "../../example_configs.rs"]
mod example_configs;

use weft_connector_file_sink::task::validate;
use weft_plugin_sdk::Config;

#[test]
fn example_configs_are_valid() {
    let c = example_configs::load(env!("CARGO_MANIFEST_DIR").as_ref(), "file-sink");
    assert_eq!(c["file"], "test.sink.txt");
    let c = Config::new(c.into_iter().collect());
    assert!(validate(&c).is_empty(), "{:?}", validate(&c));
}
