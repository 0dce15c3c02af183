//! `modelmon`: SageMaker-compatible data-quality monitoring on a laptop, no AWS account needed.

mod analyze;
mod baseline;
mod demo;
mod progress;
mod report;
#[cfg(feature = "serve")]
mod scripts;
#[cfg(feature = "serve")]
mod serve;
mod summary;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use modelmon_engine::dataset::DatasetFormat;

#[derive(Parser)]
#[command(
    name = "modelmon",
    version,
    about = "Data-quality monitoring for ML endpoints, compatible with SageMaker Model Monitor"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Profile a training dataset: writes statistics.json and suggested constraints.json.
    Baseline(baseline::BaselineArgs),
    /// Check captured traffic (or a batch dataset) against a baseline: violations and metrics.
    Analyze(analyze::AnalyzeArgs),
    /// The local demo: generate data, baseline it, and show the result. No AWS needed.
    Demo(demo::DemoArgs),
    /// Render report.html again from a report folder's JSON files (a run's or a baseline's).
    Report(report::ReportArgs),
    /// The SageMaker-compatible API and scheduled analyses on this machine (no AWS account).
    #[cfg(feature = "serve")]
    Serve(serve::ServeArgs),
}

/// The dataset formats a user can name on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Csv,
    Json,
    Parquet,
}

impl FormatArg {
    pub fn dataset_format(self, header: bool) -> DatasetFormat {
        match self {
            FormatArg::Csv => DatasetFormat::Csv { header },
            FormatArg::Json => DatasetFormat::JsonLines,
            FormatArg::Parquet => DatasetFormat::Parquet,
        }
    }
}

/// Errors the CLI reports before exiting with status 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Engine(#[from] modelmon_engine::EngineError),
    #[error(transparent)]
    Format(#[from] modelmon_formats::FormatError),
    #[error(transparent)]
    Report(#[from] modelmon_report::ReportError),
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
    /// A user's script cannot run, or failed; or Python is missing.
    #[cfg(feature = "serve")]
    #[error(transparent)]
    Script(modelmon_cloud::CloudError),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Baseline(args) => baseline::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Report(args) => report::run(args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `contents` to `path`, creating its directory.
pub fn write_file(path: &std::path::Path, contents: impl AsRef<[u8]>) -> Result<(), CliError> {
    let write = || -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, contents.as_ref())
    };
    write().map_err(|source| CliError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a report folder's files into `dir` and removes those of `stale` it did not write (left
/// over from an earlier run into the same folder).
pub fn write_report(
    dir: &std::path::Path,
    files: &[modelmon_report::ReportFile],
    stale: &[&str],
) -> Result<(), CliError> {
    for name in stale.iter().filter(|name| !files.iter().any(|f| f.name == **name)) {
        let path = dir.join(name);
        if path.exists() {
            std::fs::remove_file(&path).map_err(|source| CliError::Write { path, source })?;
        }
    }
    for file in files {
        write_file(&dir.join(file.name), &file.bytes)?;
    }
    Ok(())
}
