//! Probe fixture: a transform that replaces each value with what the sandbox let it see: the
//! wall clock, how far the monotonic clock moved over some work, and `/etc/passwd`.

use std::hint::black_box;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use weft_plugin_sdk::*;

#[derive(Default)]
struct ClockProbe;

impl Plugin for ClockProbe {
    fn metadata() -> Metadata {
        Metadata::new(
            "clock-probe",
            "0.1.0",
            PluginKind::Transform,
            "Reports the clocks and whether /etc/passwd opens",
        )
    }
}

impl Transform for ClockProbe {
    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let start = Instant::now();
        let mut x = 0u64;
        for i in 0..200_000u64 {
            x = black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let mono = start.elapsed().as_nanos();
        let file = match std::fs::read_to_string("/etc/passwd") {
            Ok(text) => format!("ok:{}", text.trim()),
            Err(e) => format!("err:{e}"),
        };
        record.set_value(format!("wall={wall} mono={mono} file={file}"));
        Ok(Some(record))
    }
}

export_transform!(ClockProbe);
