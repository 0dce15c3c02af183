//! Reading datasets (CSV, JSON Lines, Parquet) from files, directories, several paths taken as
//! one dataset, or any [`Source`] (the cloud layer's objects), streaming them into a
//! [`DatasetProfile`] in bounded memory, on every core (see [`parts`]).

mod csv;
pub(crate) mod files;
mod jsonl;
mod manifest;
#[cfg(feature = "parquet")]
mod parquet;
pub(crate) mod parts;
mod source;

use std::path::PathBuf;

use crate::preprocess::{PreprocessedParts, RecordPreprocessor};
use crate::profile::DatasetProfile;
use crate::EngineError;

pub(crate) use self::jsonl::json_error_message;
pub use self::jsonl::observe_json_record;
pub use self::manifest::{manifest_data_files, parse_manifest};
pub use self::parts::{ReadOptions, ReadStats, CHUNK_BYTES};
pub use self::source::{file_sources, FileSource, Source, SourceRef};

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

/// Profiles a whole dataset: every file of `paths` in order, as one dataset, on every core.
pub fn profile_dataset(
    paths: &[PathBuf],
    format: DatasetFormat,
    progress: ProgressFn<'_>,
) -> Result<DatasetProfile, EngineError> {
    let mut profile = DatasetProfile::default();
    profile_dataset_into(paths, format, ReadOptions::default(), &mut profile, progress)?;
    Ok(profile)
}

/// Like [`profile_dataset`], with `options` (threads), into a profile prepared by the caller
/// (e.g. one that tallies baseline domains).
pub fn profile_dataset_into(
    paths: &[PathBuf],
    format: DatasetFormat,
    options: ReadOptions,
    profile: &mut DatasetProfile,
    progress: ProgressFn<'_>,
) -> Result<ReadStats, EngineError> {
    profile_dataset_through(paths, format, None, options, profile, progress)
}

/// Like [`profile_dataset_into`], each record going through `preprocessor` when there is one
/// (see [`crate::preprocess`]).
pub fn profile_dataset_through(
    paths: &[PathBuf],
    format: DatasetFormat,
    preprocessor: Option<&dyn RecordPreprocessor>,
    options: ReadOptions,
    profile: &mut DatasetProfile,
    progress: ProgressFn<'_>,
) -> Result<ReadStats, EngineError> {
    let sources = file_sources(&list_data_files(paths, format)?);
    profile_sources_through(&sources, format, preprocessor, options, profile, progress)
}

/// Profiles `sources` in order, as one dataset, into `profile`. A source bigger than
/// `options.chunk_bytes` is read in chunks (Parquet: one source at a time), parts on
/// `options.threads` threads, merged in order: the same profile whatever the threads.
pub fn profile_sources(
    sources: &[SourceRef],
    format: DatasetFormat,
    options: ReadOptions,
    profile: &mut DatasetProfile,
    progress: ProgressFn<'_>,
) -> Result<ReadStats, EngineError> {
    profile_sources_through(sources, format, None, options, profile, progress)
}

/// Like [`profile_sources`], each record going through `preprocessor` when there is one: each
/// part's records in that part's thread, so the profile still does not depend on the threads.
pub fn profile_sources_through(
    sources: &[SourceRef],
    format: DatasetFormat,
    preprocessor: Option<&dyn RecordPreprocessor>,
    options: ReadOptions,
    profile: &mut DatasetProfile,
    progress: ProgressFn<'_>,
) -> Result<ReadStats, EngineError> {
    let no_extras = |_: &parts::Part, ()| Ok(());
    if let Some(preprocessor) = preprocessor {
        let reader = &PreprocessedParts::new(sources, format, preprocessor)?;
        let parts = parts::plan(sources, reader.chunked(), options.chunk_bytes);
        return parts::profile_parts(sources, &parts, options, reader, profile, progress, &mut { no_extras });
    }
    match format {
        DatasetFormat::Csv { header } => csv::profile_csv(sources, header, options, profile, progress),
        DatasetFormat::JsonLines => {
            let parts = parts::plan(sources, true, options.chunk_bytes);
            let reader = &jsonl::JsonLinesParts;
            parts::profile_parts(sources, &parts, options, reader, profile, progress, &mut { no_extras })
        }
        #[cfg(feature = "parquet")]
        DatasetFormat::Parquet => {
            // Parquet is read a row group at a time from a whole file: one part per source.
            let parts = parts::plan(sources, false, options.chunk_bytes);
            let reader = &parquet::ParquetParts;
            parts::profile_parts(sources, &parts, options, reader, profile, progress, &mut { no_extras })
        }
        #[cfg(not(feature = "parquet"))]
        DatasetFormat::Parquet => Err(EngineError::ParquetNotBuilt),
    }
}
