//! `weft dump-log`: DumpLogSegments for segment, index, aborted-transaction index and producer
//! snapshot files.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

#[derive(Args, Debug)]
pub struct DumpLogArgs {
    /// Segment file(s) (`<dir>/<base offset>.log`, transaction markers shown), their
    /// `.index`/`.timeindex`/`.txnindex` files, or producer state snapshots (`<offset>.snapshot`).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print every record's key, value and headers too.
    #[arg(long, alias = "print-data-log")]
    pub print_data: bool,
}

pub fn run(args: DumpLogArgs) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for f in &args.files {
        // dump_segment prints the "Dumping <file>" header itself, as kafka-dump-log does.
        weft_log::dump::dump_segment(f, args.print_data, &mut out)
            .with_context(|| format!("dumping {}", f.display()))?;
    }
    Ok(())
}
