//! The example configs under connectors/mirror/ agree across formats and are valid.

#[path = "../../example_configs.rs"]
mod example_configs;

use weft_connector_mirror::config::{validate_with, Role, Settings};
use weft_plugin_sdk::Config;

#[test]
fn example_configs_are_valid() {
    let c = example_configs::load(env!("CARGO_MANIFEST_DIR").as_ref(), "mirror");
    let c = Config::new(c.into_iter().collect());
    assert!(
        validate_with(&c, true).is_empty(),
        "{:?}",
        validate_with(&c, true)
    );
    let s = Settings::parse(&c).unwrap();
    assert_eq!(s.role, Role::Source);
    assert!(s.should_replicate_topic("orders"));
    assert!(s.should_replicate_topic("payments-eu"));
    assert!(!s.should_replicate_topic("audit"));
    assert_eq!(s.refresh_topics_ms, Some(30_000));
    assert_eq!(s.target_topic("orders"), "A.orders");
}
