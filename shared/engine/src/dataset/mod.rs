//! Reading datasets (CSV, JSON Lines, Parquet) from files, directories or several paths taken
//! as one dataset, streaming them into a [`DatasetProfile`] in bounded memory.

mod csv;
pub(crate) mod files;
mod jsonl;
mod manifest;
#[cfg(feature = "parquet")]
mod parquet;

use std::path::PathBuf;

use crate::preprocess::RecordPreprocessor;
use crate::profile::DatasetProfile;
use crate::EngineError;

pub(crate) use self::jsonl::json_error_message;
pub use self::jsonl::observe_json_record;
pub use self::manifest::{manifest_data_files, parse_manifest};

/// The layout of a dataset's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetFormat {
    /// Comma-separated values; with `header`, the first line of every file names the columns,
    /// otherwise they are `_c0`, `_c1`, ... (Spark's names). An empty field is missing.
    Csv {
        header: bool,
    },
    /// One flat JSON object per line.
    JsonLines,
    Parquet,
}

impl DatasetFormat {
    pub fn name(self) -> &'static str {
        match self {
            DatasetFormat::Csv { .. } => "CSV",
            DatasetFormat::JsonLines => "JSON Lines",
            DatasetFormat::Parquet => "Parquet",
        }
    }
}

/// How far a long read has got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub records: u64,
}

/// Receives progress now and then (every few tens of thousands of records and at each file's end).
pub type ProgressFn<'a> = &'a mut dyn FnMut(Progress);

/// Records between two progress reports.
pub(crate) const PROGRESS_EVERY: u64 = 1 << 16;

/// The data files of `paths` in a stable order: each file as given, each directory's files
/// recursively in name order. Hidden files and Spark/Hadoop markers (`.x`, `_SUCCESS`) are skipped.
pub fn list_data_files(paths: &[PathBuf], format: DatasetFormat) -> Result<Vec<PathBuf>, EngineError> {
    let no_files = |dir: &std::path::Path| {
        Some(EngineError::NoDataFiles {
            path: dir.to_path_buf(),
            format: format.name(),
        })
    };
    files::list(paths, &|_| true, &no_files)
}

/// Profiles a whole dataset: every file of `paths` in order, as one dataset.
pub fn profile_dataset(
    paths: &[PathBuf],
    format: DatasetFormat,
    progress: ProgressFn<'_>,
) -> Result<DatasetProfile, EngineError> {
    let mut profile = DatasetProfile::default();
    profile_dataset_into(paths, format, &mut profile, progress)?;
    Ok(profile)
}

/// Like [`profile_dataset`], into a profile prepared by the caller (e.g. one that tallies
/// baseline domains).
pub fn profile_dataset_into(
    paths: &[PathBuf],
    format: DatasetFormat,
    profile: &mut DatasetProfile,
    progress: ProgressFn<'_>,
) -> Result<(), EngineError> {
    profile_dataset_through(paths, format, None, profile, progress)
}

/// Like [`profile_dataset_into`], each record going through `preprocessor` when there is one
/// (see [`crate::preprocess`]).
pub fn profile_dataset_through(
    paths: &[PathBuf],
    format: DatasetFormat,
    preprocessor: Option<&dyn RecordPreprocessor>,
    profile: &mut DatasetProfile,
    progress: ProgressFn<'_>,
) -> Result<(), EngineError> {
    let files = list_data_files(paths, format)?;
    let mut reading = Reading::new(&files, progress);
    let mut csv_header: Option<(PathBuf, Vec<String>)> = None;
    for file in &files {
        if let Some(preprocessor) = preprocessor {
            crate::preprocess::profile_dataset_file(file, format, preprocessor, profile, &mut reading)?;
            reading.file_done(file, profile.records.read);
            continue;
        }
        match format {
            DatasetFormat::Csv { header } => {
                csv::profile_csv_file(file, header, &mut csv_header, profile, &mut reading)?
            }
            DatasetFormat::JsonLines => jsonl::profile_jsonl_file(file, profile, &mut reading)?,
            #[cfg(feature = "parquet")]
            DatasetFormat::Parquet => parquet::profile_parquet_file(file, profile, &mut reading)?,
            #[cfg(not(feature = "parquet"))]
            DatasetFormat::Parquet => return Err(EngineError::ParquetNotBuilt),
        }
        reading.file_done(file, profile.records.read);
    }
    Ok(())
}

/// Progress bookkeeping shared by the readers.
pub(crate) struct Reading<'a> {
    bytes_total: u64,
    bytes_before: u64,
    progress: ProgressFn<'a>,
}

impl<'a> Reading<'a> {
    pub(crate) fn new(files: &[PathBuf], progress: ProgressFn<'a>) -> Self {
        let bytes_total = files.iter().map(|f| files::size(f)).sum();
        Self {
            bytes_total,
            bytes_before: 0,
            progress,
        }
    }

    /// `file` is read through: the next file's bytes count from its end.
    pub(crate) fn file_done(&mut self, file: &std::path::Path, records: u64) {
        self.bytes_before += files::size(file);
        self.report(0, records);
    }

    pub(crate) fn report(&mut self, bytes_in_file: u64, records: u64) {
        (self.progress)(Progress {
            bytes_done: self.bytes_before + bytes_in_file,
            bytes_total: self.bytes_total,
            records,
        });
    }
}
