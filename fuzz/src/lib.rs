//! Shared by the fuzz targets: a scratch folder for the file-based readers (on tmpfs when there
//! is one, reused across inputs) and the invariants every profile must satisfy.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use modelmon_engine::profile::DatasetProfile;
use modelmon_formats::{Constraints, Statistics};

/// This process's scratch folder: `$MODELMON_FUZZ_SCRATCH` (infra/fuzz.sh sets it and removes it
/// afterwards), else `/dev/shm`, else the temp dir; a `modelmon-fuzz-<pid>` folder inside.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::var_os("MODELMON_FUZZ_SCRATCH")
            .map(PathBuf::from)
            .or_else(|| Some(PathBuf::from("/dev/shm")).filter(|p| p.is_dir()))
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("modelmon-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir
    })
}

/// Writes `data` to `relative` under the scratch folder (replacing what was there) and returns
/// the full path.
pub fn write_scratch(relative: &str, data: &[u8]) -> PathBuf {
    let path = scratch().join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("scratch subfolder");
    }
    std::fs::write(&path, data).expect("scratch file");
    path
}

/// What must hold of any profile the readers return: every record read is analysed or rejected,
/// and turning it into statistics and suggested constraints works and round-trips.
pub fn check_profile(profile: &DatasetProfile, rows_are_records: bool) {
    let records = &profile.records;
    assert_eq!(
        records.read,
        records.analysed + records.rejected_total(),
        "read = analysed + rejected: {records:?}"
    );
    if rows_are_records {
        assert_eq!(profile.item_count(), records.analysed, "item count = analysed");
    }
    let statistics = profile.to_statistics();
    let constraints = modelmon_engine::suggest::suggest_constraints(&statistics);
    let json = statistics.to_json();
    if let Err(err) = Statistics::from_json_slice(json.as_bytes(), "statistics.json (written)") {
        panic!("statistics written from a profile do not parse back: {err}\n{json}");
    }
    let json = constraints.to_json();
    if let Err(err) = Constraints::from_json_slice(json.as_bytes(), "constraints.json (written)") {
        panic!("suggested constraints do not parse back: {err}\n{json}");
    }
}
