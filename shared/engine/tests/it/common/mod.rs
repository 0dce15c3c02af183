//! Helpers shared by the engine's integration tests.

use std::path::{Path, PathBuf};

use modelmon_formats::{FeatureStatistics, NumericalStatistics, Statistics};

/// Writes `contents` to `path`, creating its folder.
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> PathBuf {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, contents).unwrap();
    path.to_path_buf()
}

pub fn feature<'a>(stats: &'a Statistics, name: &str) -> &'a FeatureStatistics {
    stats.feature(name).unwrap_or_else(|| panic!("no feature `{name}`"))
}

pub fn numerical<'a>(stats: &'a Statistics, name: &str) -> &'a NumericalStatistics {
    let feature = feature(stats, name);
    feature
        .numerical_statistics
        .as_ref()
        .unwrap_or_else(|| panic!("`{name}` has no numerical statistics: {feature:?}"))
}
