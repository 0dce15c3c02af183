//! Capture records: the bytes are one capture file (JSON Lines, usually one record) in SageMaker's
//! layout, read by the engine as an analysis would read captured traffic. Errors are fine (an
//! encoding mismatch is fatal, as in SageMaker); a panic or a lost record is not.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use modelmon_engine::capture::{profile_capture, Window};
use modelmon_engine::profile::DatasetProfile;
use modelmon_fuzz::{check_profile, scratch, write_scratch};

fuzz_target!(|data: &[u8]| {
    write_scratch("capture/churn-endpoint/AllTraffic/2026/11/25/13/x.jsonl", data);
    // The whole day, so that mutated times near the seeds' stay in the window.
    let window = Window {
        start: Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap(),
        end: Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap(),
    };
    let names = ["label", "age", "plan"].map(String::from).to_vec();
    let mut profile = DatasetProfile::default().with_positional_names(names);
    let root = vec![scratch().join("capture")];
    if profile_capture(&root, Some(window), None, &mut profile, &mut |_| {}).is_ok() {
        check_profile(&profile, true);
    }
});
