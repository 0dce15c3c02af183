//! The capture line's fast path against serde_json: `CaptureRecord::from_line` must read every
//! line exactly as serde_json does (the same record, or an error for the same lines).
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelmon_formats::CaptureRecord;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    let by_serde = serde_json::from_str::<CaptureRecord>(line).ok();
    assert_eq!(CaptureRecord::from_line(line).ok(), by_serde, "read differently: {line}");
});
