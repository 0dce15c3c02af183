//! The CSV dataset reader: the bytes are one data file, profiled as a baseline job would.
//! Errors are fine; a panic, or a record neither analysed nor rejected, is not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelmon_engine::dataset::{profile_dataset, DatasetFormat};
use modelmon_fuzz::{check_profile, write_scratch};

fuzz_target!(|data: &[u8]| {
    let path = write_scratch("dataset/data.csv", data);
    if let Ok(profile) = profile_dataset(&[path], DatasetFormat::Csv { header: true }, &mut |_| {}) {
        check_profile(&profile, true);
    }
});
