//! Fuzz target: producer bytes through weft-log's batch validation and append, into a plain and a
//! compacted log (the compacted one decodes every record to check its key), then read back.
//!
//! Input: one flag byte, then record batches. Flag bit 0 rewrites each batch's length field to match
//! the bytes given and bit 1 recomputes each CRC-32C, so mutations reach the checks past the header
//! instead of all dying at the CRC; with both bits clear the bytes are appended exactly as given.
#![no_main]

use std::path::PathBuf;
use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use weft_log::{CleanupPolicy, Log, LogConfig};

/// Appends accepted before the logs are recreated, so the scratch directory stays small.
const APPENDS_PER_LOG: u32 = 5_000;

struct Logs {
    dir: PathBuf,
    plain: Log,
    compacted: Log,
    appended: u32,
}

impl Logs {
    fn open() -> Logs {
        let dir = std::env::temp_dir().join(format!("weft-fuzz-batch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let plain = Log::open(&dir.join("plain-0"), LogConfig::default())
            .unwrap_or_else(|e| panic!("open plain log: {e}"))
            .0;
        let compact = LogConfig {
            cleanup_policy: CleanupPolicy {
                delete: false,
                compact: true,
            },
            ..LogConfig::default()
        };
        let compacted = Log::open(&dir.join("compacted-0"), compact)
            .unwrap_or_else(|e| panic!("open compacted log: {e}"))
            .0;
        Logs {
            dir,
            plain,
            compacted,
            appended: 0,
        }
    }
}

static LOGS: Mutex<Option<Logs>> = Mutex::new(None);

/// Rewrites length fields and/or CRCs of the batches in `buf`, walking them by their own lengths.
fn fix_up(buf: &mut [u8], lengths: bool, crcs: bool) {
    let mut at = 0usize;
    while buf.len() - at >= 61 {
        let rest = buf.len() - at;
        if lengths {
            // A batch runs to the next plausible start, here simply the end of the input.
            let len = (rest - 12) as i32;
            buf[at + 8..at + 12].copy_from_slice(&len.to_be_bytes());
        }
        let len = i32::from_be_bytes([buf[at + 8], buf[at + 9], buf[at + 10], buf[at + 11]]);
        let Ok(len) = usize::try_from(len) else { return };
        let Some(end) = (at + 12).checked_add(len) else { return };
        if end > buf.len() || len < 49 {
            return;
        }
        if crcs {
            let crc = crc32c::crc32c(&buf[at + 21..end]);
            buf[at + 17..at + 21].copy_from_slice(&crc.to_be_bytes());
        }
        at = end;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut records = rest.to_vec();
    fix_up(&mut records, flags & 1 != 0, flags & 2 != 0);

    let _ = weft_log::batch::validate(&records);
    for b in weft_log::batch::batches(&records) {
        if b.is_err() {
            break;
        }
    }

    let mut guard = LOGS.lock().unwrap_or_else(|p| p.into_inner());
    let logs = guard.get_or_insert_with(Logs::open);
    let now = 1_700_000_000_000;
    for log in [&mut logs.plain, &mut logs.compacted] {
        if let Ok(info) = log.append(&records, 0, now) {
            logs.appended += 1;
            // Reading back what was accepted must work and return whole batches.
            let read = log
                .read(info.base_offset, 1 << 20)
                .unwrap_or_else(|e| panic!("reading back offset {}: {e}", info.base_offset));
            assert!(!read.records.is_empty(), "accepted batch reads back empty");
            let _ = log.offset_for_timestamp(0);
        }
    }
    if logs.appended >= APPENDS_PER_LOG {
        let dir = logs.dir.clone();
        *guard = None;
        let _ = std::fs::remove_dir_all(dir);
    }
});
