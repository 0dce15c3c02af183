//! `modelmon baseline`: statistics.json and suggested constraints.json from a training dataset.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use modelmon_engine::dataset::{profile_dataset_through, DatasetFormat, ReadOptions};
use modelmon_engine::profile::DatasetProfile;
use modelmon_engine::suggest::suggest_constraints;
use modelmon_formats::{Constraints, Statistics};
use modelmon_report::BaselineReport;

use crate::progress::ProgressLine;
use crate::{summary, write_report, CliError, FormatArg};

#[derive(Args)]
pub struct BaselineArgs {
    /// A file or directory of the dataset; repeat to take several paths as one dataset.
    #[arg(long = "dataset", required = true, value_name = "PATH")]
    datasets: Vec<PathBuf>,
    /// Layout of the files.
    #[arg(long, value_enum, default_value = "csv")]
    format: FormatArg,
    /// CSV files start with a header line naming the columns (the default).
    #[arg(long, overrides_with = "no_header")]
    header: bool,
    /// CSV files have no header line: columns are named _c0, _c1, ...
    #[arg(long = "no-header")]
    no_header: bool,
    /// Directory for statistics.json and constraints.json (and modelmon's report.json and
    /// report.html).
    #[arg(long, value_name = "DIR")]
    output: PathBuf,
    /// Threads that read and profile the dataset (default: one per core); the baseline is the
    /// same whatever the number.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// No progress line and no summary.
    #[arg(long)]
    quiet: bool,
    /// A SageMaker record preprocessor (`preprocess_handler`) through which every record goes:
    /// a CSV file's lines (after the header), a JSON Lines file's values. Run with the local
    /// Python 3 (`python3`, or MODELMON_PYTHON).
    #[cfg(feature = "serve")]
    #[arg(long, value_name = "FILE")]
    record_preprocessor: Option<PathBuf>,
}

pub fn run(args: BaselineArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let format = args.format.dataset_format(!args.no_header);
    let mut progress = ProgressLine::new(args.quiet);
    let options = ReadOptions::with_threads(args.threads.unwrap_or(0));
    let mut profile = DatasetProfile::default();
    #[cfg(feature = "serve")]
    let scripts = match &args.record_preprocessor {
        Some(path) => {
            let scripts = crate::scripts::LocalScripts::start()?;
            let records =
                modelmon_cloud::run::scripts::record_format(modelmon_engine::analysis::InputFormat::Dataset(format));
            let preprocessor = scripts.preprocessor(path, records)?;
            Some((scripts, preprocessor))
        }
        None => None,
    };
    #[cfg(feature = "serve")]
    let preprocessor = scripts
        .as_ref()
        .map(|(_, p)| p as &dyn modelmon_engine::preprocess::RecordPreprocessor);
    #[cfg(not(feature = "serve"))]
    let preprocessor = None;
    profile_dataset_through(&args.datasets, format, preprocessor, options, &mut profile, &mut |p| {
        progress.update(p)
    })?;
    progress.finish();
    if profile.item_count() == 0 {
        return Err(CliError::Usage(format!(
            "the dataset has no records to baseline ({})",
            profile.records.summary()
        )));
    }
    let dataset = args.datasets.iter().map(|p| p.display().to_string()).collect();
    let (statistics, _) = write_baseline(&profile, &args.output, dataset, format)?;
    if !args.quiet {
        print!("{}", summary::records(&profile.records));
        print!("{}", summary::features(&statistics));
        println!(
            "Wrote {} and {}, the page is {} ({:.2} s)",
            args.output.join("statistics.json").display(),
            args.output.join("constraints.json").display(),
            args.output.join("report.html").display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The baseline of `profile` (its statistics and suggested constraints), written to `dir` as
/// SageMaker's baselining job writes them, with modelmon's report.json and report.html beside.
pub fn write_baseline(
    profile: &DatasetProfile,
    dir: &Path,
    dataset: Vec<String>,
    format: DatasetFormat,
) -> Result<(Statistics, Constraints), CliError> {
    let statistics = profile.to_statistics();
    let constraints = suggest_constraints(&statistics);
    let report = BaselineReport::new(dataset, Some(format.name().to_string()), profile.records.clone());
    write_report(
        dir,
        &modelmon_report::baseline_files(&statistics, &constraints, &report),
        &[],
    )?;
    Ok((statistics, constraints))
}
