//! What the instruction-count examples run: 1,000 pageviews (as datagen's
//! `quickstart=pageviews` writes them) and the fused pair of transforms `benches/connect.sh
//! transforms` measures.

use std::sync::Arc;

use weft_batch::Record;
use weft_runtime::{Registry, Runtime, RuntimeError, RuntimeOptions};

/// The fused InsertField + MaskField of `benches/connect.sh transforms`, as `chain` config.
pub const CHAIN: [(&str, &str); 4] = [
    ("stages", "insert-field,mask-field"),
    ("stage.0.static.field", "source"),
    ("stage.0.static.value", "bench"),
    ("stage.1.fields", "userid"),
];

pub fn pageviews() -> Vec<Record> {
    (0..1000u64)
        .map(|i| {
            let value = format!(
                r#"{{"viewtime":{},"userid":"User_{}","pageid":"Page_{}"}}"#,
                1_700_000_000_000 + i,
                i % 10,
                i % 100
            );
            let mut r = Record::new("pageviews", value.into_bytes());
            r.key = Some(i.to_string().into_bytes());
            r.timestamp = Some(1_700_000_000_000 + i as i64);
            r
        })
        .collect()
}

/// The built-in plugins, compiled components cached on disk so that only the first run compiles.
pub fn registry() -> Result<Registry, RuntimeError> {
    let cache = std::env::temp_dir().join("weft-transform-loop-cache");
    let runtime = Runtime::with_options(RuntimeOptions {
        cache_dir: Some(cache),
        log: Arc::new(|_, _, _| {}),
        ..RuntimeOptions::default()
    })?;
    Ok(Registry::new(runtime))
}
