//! Runs the built-in JsonConverter (`schemas.enable=false`) over 1,000 pageviews with datagen's
//! schema a given number of times, as polled or after the fused InsertField + MaskField of
//! `benches/connect.sh transforms`: the converter's share of a source task's work (on the task's
//! thread, or after the pair on the stages' thread), which
//! `benches/transform_instructions.sh json-converter[-chained]` counts instructions of.
//!
//! Usage: `convert_loop ROUNDS plain|chained [CONVERTER.wasm]` (default: the built-in).

use std::path::Path;

use weft_runtime::{PluginConfig, Schemas};

#[path = "common/pageviews.rs"]
mod pageviews;
use pageviews::{pageviews, CHAIN};

/// The schema datagen's `quickstart=pageviews` gives its values.
const PAGEVIEWS_SCHEMA: &str = concat!(
    r#"{"type":"struct","name":"ksql.pageviews","optional":false,"fields":["#,
    r#"{"field":"viewtime","type":"int64","optional":false},"#,
    r#"{"field":"userid","type":"string","optional":false},"#,
    r#"{"field":"pageid","type":"string","optional":false}]}"#
);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: convert_loop ROUNDS plain|chained [CONVERTER.wasm]";
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().ok_or(usage)?.parse()?;
    let chained = match args.next().as_deref() {
        Some("plain") => false,
        Some("chained") => true,
        _ => return Err(usage.into()),
    };
    let wasm = args.next();
    let registry = pageviews::registry()?;
    let mut batch = weft_batch::encode(&pageviews())?;
    let mut schemas = Schemas {
        key: None,
        value: Some(PAGEVIEWS_SCHEMA.to_string()),
    };
    if chained {
        let mut chain = registry
            .resolve("chain")?
            .instantiate(&PluginConfig::new(CHAIN))?;
        let out = chain.transform_batch(&batch, &schemas)?;
        batch = out.batch;
        schemas = out.schemas;
    }
    let converter = match &wasm {
        Some(path) => registry.runtime().load_file(Path::new(path))?,
        None => registry.resolve("json-converter")?,
    };
    let mut converter = converter.instantiate(&PluginConfig::new([("schemas.enable", "false")]))?;
    let start = std::time::Instant::now();
    let mut bytes = 0;
    for _ in 0..rounds {
        bytes += converter.from_connect_batch(&batch, &schemas)?.batch.len();
    }
    let per_record = start.elapsed().as_nanos() as f64 / (rounds.max(1) * 1000) as f64;
    eprintln!(
        "json-converter ({}): {per_record:.1} ns/record, {bytes} bytes out",
        if chained { "chained" } else { "plain" }
    );
    Ok(())
}
