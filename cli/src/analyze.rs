//! `modelmon analyze`: a window of captured traffic (or a batch dataset) against a baseline.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
#[cfg(feature = "serve")]
use modelmon_engine::analysis::Outcome;
use modelmon_engine::analysis::{analyze, Analysis, AnalysisRequest, Input, InputFormat};
use modelmon_engine::capture::Window;
use modelmon_engine::dataset::{DatasetFormat, ReadOptions};
use modelmon_formats::{Constraints, Statistics};
use modelmon_report::RunContext;

use crate::progress::ProgressLine;
use crate::{summary, write_report, CliError};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AnalyzeFormat {
    /// SageMaker data-capture JSON Lines (endpoint traffic).
    Capture,
    Csv,
    Json,
    Parquet,
}

#[derive(Args)]
pub struct AnalyzeArgs {
    /// Captured traffic (a capture prefix, endpoint or variant folder, or files) or a dataset.
    #[arg(long = "dataset", required = true, value_name = "PATH")]
    datasets: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "capture")]
    format: AnalyzeFormat,
    /// CSV datasets: the first line of each file is a header (default: no header, like
    /// SageMaker's batch input).
    #[arg(long)]
    header: bool,
    /// The dataset paths are batch-transform capture destinations: analyse the data files their
    /// manifests (`input/yyyy/mm/dd/hh/*`) list, read as --format.
    #[arg(long)]
    manifest: bool,
    /// The baseline's statistics.json.
    #[arg(long, value_name = "FILE")]
    statistics: PathBuf,
    /// The baseline's constraints.json.
    #[arg(long, value_name = "FILE")]
    constraints: PathBuf,
    /// Directory for statistics.json, constraint_violations.json, modelmon's report.json and
    /// report.html.
    #[arg(long, value_name = "DIR")]
    output: PathBuf,
    /// Start of the window (RFC 3339, inclusive), e.g. 2024-03-10T13:00:00Z. Capture only.
    #[arg(long, value_name = "TIME", requires = "end")]
    start: Option<String>,
    /// End of the window (RFC 3339, exclusive).
    #[arg(long, value_name = "TIME", requires = "start")]
    end: Option<String>,
    /// Threads that read and profile the input (default: one per core); the reports are the
    /// same whatever the number.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    #[arg(long)]
    quiet: bool,
    /// A SageMaker record preprocessor (`preprocess_handler`): every record goes through it, run
    /// with the local Python 3 (`python3`, or MODELMON_PYTHON).
    #[cfg(feature = "serve")]
    #[arg(long, value_name = "FILE")]
    record_preprocessor: Option<PathBuf>,
    /// A SageMaker post-analytics processor (`postprocess_handler`), run once after an analysis
    /// that completed, with `output_path` pointing at the reports; what it writes there lands in
    /// --output.
    #[cfg(feature = "serve")]
    #[arg(long, value_name = "FILE")]
    post_analytics_processor: Option<PathBuf>,
}

pub fn run(args: AnalyzeArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let baseline = read_json(&args.statistics, Statistics::from_json_slice)?;
    let constraints = read_json(&args.constraints, Constraints::from_json_slice)?;
    let window = match (&args.start, &args.end) {
        (Some(start), Some(end)) => Some(window(start, end)?),
        _ => None,
    };
    let dataset_format = match args.format {
        AnalyzeFormat::Capture => None,
        AnalyzeFormat::Csv => Some(DatasetFormat::Csv { header: args.header }),
        AnalyzeFormat::Json => Some(DatasetFormat::JsonLines),
        AnalyzeFormat::Parquet => Some(DatasetFormat::Parquet),
    };
    let format = match (dataset_format, args.manifest) {
        (None, false) => InputFormat::Capture,
        (None, true) => {
            return Err(CliError::Usage(
                "--manifest needs the data files' --format (csv, json or parquet)".into(),
            ))
        }
        (Some(format), false) => InputFormat::Dataset(format),
        (Some(format), true) => InputFormat::BatchCapture(format),
    };
    if window.is_some() && matches!(format, InputFormat::Dataset(_)) {
        return Err(CliError::Usage(
            "--start/--end select capture by time: use them with --format capture or --manifest".into(),
        ));
    }
    #[cfg(feature = "serve")]
    let scripts = match args.record_preprocessor.is_some() || args.post_analytics_processor.is_some() {
        true => Some(crate::scripts::LocalScripts::start()?),
        false => None,
    };
    #[cfg(feature = "serve")]
    let preprocessor = match (&scripts, &args.record_preprocessor) {
        (Some(scripts), Some(path)) => {
            Some(scripts.preprocessor(path, modelmon_cloud::run::scripts::record_format(format))?)
        }
        _ => None,
    };
    let request = AnalysisRequest {
        input: Input::Paths(&args.datasets),
        format,
        window,
        baseline: &baseline,
        constraints: &constraints,
        read: ReadOptions::with_threads(args.threads.unwrap_or(0)),
        #[cfg(feature = "serve")]
        preprocessor: preprocessor
            .as_ref()
            .map(|p| p as &dyn modelmon_engine::preprocess::RecordPreprocessor),
        #[cfg(not(feature = "serve"))]
        preprocessor: None,
    };
    let mut progress = ProgressLine::new(args.quiet);
    let analysis = analyze(&request, &mut |p| progress.update(p))?;
    progress.finish();
    let context = RunContext {
        window: window.map(Into::into),
        baseline_statistics: Some(args.statistics.display().to_string()),
        baseline_constraints: Some(args.constraints.display().to_string()),
        inputs: args.datasets.iter().map(|p| p.display().to_string()).collect(),
        input_format: Some(input_format_name(format)),
        ..RunContext::default()
    };
    let page = write_outputs(&args.output, &analysis, &constraints, context)?;
    #[cfg(feature = "serve")]
    let wrote = match (&scripts, &args.post_analytics_processor) {
        (Some(scripts), Some(path)) if analysis.outcome != Outcome::NoData => {
            let environment = post_analytics_environment(format, window);
            let baseline = [
                ("baseline_statistics", args.statistics.as_path()),
                ("baseline_constraints", args.constraints.as_path()),
            ];
            Some(scripts.post_analytics(path, &args.output, baseline, environment)?)
        }
        _ => None,
    };
    if !args.quiet {
        print!("{}", report(&analysis));
        #[cfg(feature = "serve")]
        if let Some(files) = wrote {
            println!(
                "The post-analytics processor ran and wrote {} file(s): {}",
                files.len(),
                files.join(", ")
            );
        }
        println!(
            "Reports in {}, the page is {} ({:.2} s)",
            args.output.display(),
            page.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The run's report folder: statistics.json and constraint_violations.json as SageMaker writes
/// them (not for a run with no data), modelmon's report.json and report.html; returns the
/// page's path.
pub fn write_outputs(
    dir: &Path,
    analysis: &Analysis,
    constraints: &Constraints,
    context: RunContext,
) -> Result<PathBuf, CliError> {
    let files = modelmon_report::run_files(analysis, &constraints.monitoring_config, context);
    write_report(dir, &files, &modelmon_report::RUN_FILES)?;
    Ok(dir.join("report.html"))
}

/// The readable summary: records, what violates what and by how much.
pub fn report(analysis: &Analysis) -> String {
    let mut text = summary::records(&analysis.records);
    if let Some(capture) = &analysis.capture {
        text.push_str(&format!(
            "Capture: {} files, {} records outside the window, {} shadow records skipped\n",
            capture.files, capture.outside_window, capture.shadow_skipped
        ));
    }
    text.push_str(&summary::checks(&analysis.checks));
    text.push_str(&format!("{}\n", analysis.exit_message));
    text
}

/// How the report names what was read.
pub fn input_format_name(format: InputFormat) -> String {
    match format {
        InputFormat::Capture => "capture".to_string(),
        InputFormat::Dataset(format) => format.name().to_string(),
        InputFormat::BatchCapture(format) => format!("{} from batch-transform manifests", format.name()),
    }
}

/// The container's environment for a post-analytics processor, besides the paths.
#[cfg(feature = "serve")]
fn post_analytics_environment(
    format: InputFormat,
    window: Option<Window>,
) -> std::collections::BTreeMap<String, String> {
    use modelmon_cloud::run::scripts::dataset_format_variable;
    let mut environment = std::collections::BTreeMap::new();
    environment.insert("dataset_format".to_string(), dataset_format_variable(format));
    environment.insert("publish_cloudwatch_metrics".to_string(), "Disabled".to_string());
    if let Some(window) = window {
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        environment.insert("start_time".to_string(), time(window.start));
        environment.insert("end_time".to_string(), time(window.end));
    }
    environment
}

fn window(start: &str, end: &str) -> Result<Window, CliError> {
    let parse = |text: &str, flag: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                CliError::Usage(format!(
                    "--{flag} {text:?} is not an RFC 3339 time ({e}); e.g. 2024-03-10T13:00:00Z"
                ))
            })
    };
    let window = Window {
        start: parse(start, "start")?,
        end: parse(end, "end")?,
    };
    if window.start >= window.end {
        return Err(CliError::Usage(format!(
            "the window is empty: --start {start} is not before --end {end}"
        )));
    }
    Ok(window)
}

fn read_json<T>(
    path: &Path,
    parse: fn(&[u8], &str) -> Result<T, modelmon_formats::FormatError>,
) -> Result<T, CliError> {
    let bytes = std::fs::read(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse(&bytes, &path.display().to_string())?)
}
