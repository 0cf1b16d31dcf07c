//! Runs one transform over 1,000 pageviews (as datagen's `quickstart=pageviews` writes them) a
//! given number of times: the workload `benches/transform_instructions.sh` counts the
//! instructions of under callgrind, a figure that, unlike time, this shared machine does not
//! move.
//!
//! Usage: `transform_loop ROUNDS TRANSFORM [KEY=VALUE ...]`, TRANSFORM a built-in name or a
//! `.wasm` path. `chain` without keys is the fused InsertField + MaskField of
//! `benches/connect.sh transforms`. Set `WEFT_WASM_PERFMAP=1` to name the guest's functions in
//! `/tmp/perf-<pid>.map`.

use std::path::Path;

use weft_runtime::PluginConfig;

#[path = "common/pageviews.rs"]
mod pageviews;
use pageviews::{pageviews, CHAIN};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: transform_loop ROUNDS TRANSFORM [KEY=VALUE ...]";
    let rounds: usize = args.next().ok_or(usage)?.parse()?;
    let what = args.next().ok_or(usage)?;
    let mut config: Vec<(String, String)> = args
        .map(|a| {
            let (k, v) = a.split_once('=').ok_or(usage)?;
            Ok::<_, &str>((k.to_string(), v.to_string()))
        })
        .collect::<Result<_, _>>()?;
    if config.is_empty() && (what == "chain" || what.ends_with(".wasm")) {
        config = CHAIN
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }
    let registry = pageviews::registry()?;
    let plugin = if what.ends_with(".wasm") {
        registry.runtime().load_file(Path::new(&what))?
    } else {
        registry.resolve(&what)?
    };
    let mut instance = plugin.instantiate(&PluginConfig::new(config))?;
    let batch = weft_batch::encode(&pageviews())?;
    let start = std::time::Instant::now();
    let mut bytes = 0;
    for _ in 0..rounds {
        bytes += instance
            .transform_batch(&batch, &Default::default())?
            .batch
            .len();
    }
    let per_record = start.elapsed().as_nanos() as f64 / (rounds.max(1) * 1000) as f64;
    eprintln!("{what}: {per_record:.1} ns/record, {bytes} bytes out");
    Ok(())
}
