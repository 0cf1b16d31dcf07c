//! The example configs under connectors/http-sink/ agree across formats and are valid.

#[path = "../../example_configs.rs"]
mod example_configs;

use weft_connector_http_sink::settings::{validate, Settings};
use weft_plugin_sdk::Config;

#[test]
fn example_configs_are_valid() {
    let c = example_configs::load(env!("CARGO_MANIFEST_DIR").as_ref(), "http-sink");
    assert_eq!(c["http.api.url"], "http://localhost:8080/ingest");
    let c = Config::new(c.into_iter().collect());
    assert!(validate(&c).is_empty(), "{:?}", validate(&c));
    assert_eq!(Settings::open(&c).unwrap().batch_max_size, 100);
}
