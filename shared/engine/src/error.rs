use std::path::PathBuf;

use thiserror::Error;

/// Everything the engine refuses to do, with enough context (file, line, field) to fix it. A
/// `path` is a local file's path or an object's URI (what the [`crate::dataset::Source`] is called).
#[derive(Debug, Error)]
pub enum EngineError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no such file or directory")]
    MissingPath { path: PathBuf },
    #[error("{path}: no data files found (looked for {format} files)")]
    NoDataFiles { path: PathBuf, format: &'static str },
    #[error("{path}: line {line}: {message}")]
    Csv { path: PathBuf, line: u64, message: String },
    #[error("{path}: line {line}: {message}")]
    Capture { path: PathBuf, line: u64, message: String },
    #[error("{path}: line {line}: {message}")]
    Manifest { path: PathBuf, line: u64, message: String },
    #[error("{path}: {message}")]
    Parquet { path: PathBuf, message: String },
    #[error("this modelmon was built without Parquet support: build it with the `parquet` feature (the default)")]
    ParquetNotBuilt,
    #[error("{path}: header {found:?} does not match the header of {first_path}: {expected:?}")]
    HeaderMismatch {
        path: PathBuf,
        first_path: PathBuf,
        expected: Vec<String>,
        found: Vec<String>,
    },
    #[error("{path}: duplicate column name `{name}` in the header")]
    DuplicateColumn { path: PathBuf, name: String },
    /// A bug (a panicked profiling thread), reported rather than lost.
    #[error("internal error: {0}")]
    Internal(String),
    /// The user's record preprocessor cannot run (it does not import, lacks its handler, or its
    /// runner failed): Python's error, with the script named.
    #[error("{0}")]
    Script(String),
    #[error(transparent)]
    Sketch(#[from] crate::sketch::SketchError),
    #[error(transparent)]
    Format(#[from] modelmon_formats::FormatError),
}

impl EngineError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io {
            path: path.into(),
            source,
        }
    }
}
