//! One analysis run: read a window of captured traffic (or a batch dataset), profile it with the
//! baseline's engine, run the six checks, and gather everything the reports need.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use modelmon_formats::{ConstraintViolations, Constraints, Statistics};
use serde::{Deserialize, Serialize};

use crate::capture::{list_capture_files, profile_capture_sources, CaptureSummary, Window};
use crate::checks::{run_checks, CheckReport};
use crate::dataset::{
    file_sources, list_data_files, manifest_data_files, profile_sources_through, DatasetFormat, ProgressFn,
    ReadOptions, ReadStats, SourceRef,
};
use crate::preprocess::RecordPreprocessor;
use crate::profile::{DatasetProfile, RecordAccount};
use crate::EngineError;

/// What is analysed: endpoint capture, or a batch dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Capture,
    Dataset(DatasetFormat),
    /// Batch-transform capture: manifests under the destination list the data files.
    BatchCapture(DatasetFormat),
}

/// Where the data is.
#[derive(Clone, Copy)]
pub enum Input<'a> {
    /// Local files and folders, listed here: capture by the window's hour folders, batch capture
    /// by the manifests under them.
    Paths(&'a [PathBuf]),
    /// Sources the caller listed (a store's objects), read in this order; for batch capture, the
    /// data files its manifests list.
    Sources(&'a [SourceRef]),
}

pub struct AnalysisRequest<'a> {
    pub input: Input<'a>,
    pub format: InputFormat,
    /// Endpoint capture: the records whose inferenceTime lies in `[start, end)`; batch capture:
    /// the manifests in the window's hour folders.
    pub window: Option<Window>,
    pub baseline: &'a Statistics,
    pub constraints: &'a Constraints,
    /// Threads and chunks; the reports do not depend on the threads.
    pub read: ReadOptions,
    /// The user's record preprocessor, through which every record goes.
    pub preprocessor: Option<&'a dyn RecordPreprocessor>,
}

/// How a run ended, in SageMaker's execution statuses plus modelmon's explicit "no data".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Completed,
    CompletedWithViolations,
    /// The window held no records to analyse (SageMaker fails such runs with
    /// "Job inputs had no data").
    NoData,
}

#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub outcome: Outcome,
    pub exit_message: String,
    /// The profile of the analysed records, as `statistics.json`.
    #[serde(skip)]
    pub statistics: Statistics,
    pub records: RecordAccount,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureSummary>,
    pub checks: CheckReport,
    /// How long it took (kept out of the reports, which are the same for the same input).
    #[serde(skip)]
    pub timings: AnalysisTimings,
}

/// Where an analysis spent its time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AnalysisTimings {
    /// Reading and profiling the input, wall time (the two overlap: bytes are profiled as they
    /// arrive).
    pub profiling: Duration,
    /// The parts, the threads, and the time the threads waited for input bytes (summed).
    pub read: ReadStats,
    /// The six checks and the statistics to report.
    pub checks: Duration,
}

impl Analysis {
    pub fn violations(&self) -> ConstraintViolations {
        self.checks.constraint_violations()
    }
}

pub fn analyze(request: &AnalysisRequest<'_>, progress: ProgressFn<'_>) -> Result<Analysis, EngineError> {
    let domains: HashMap<String, Vec<String>> = request
        .constraints
        .features
        .iter()
        .filter_map(|f| Some((f.name.clone(), f.string_constraints.as_ref()?.domains.clone()?)))
        .collect();
    let feature_names: Vec<String> = request.baseline.features.iter().map(|f| f.name.clone()).collect();
    let mut profile = DatasetProfile::with_domains(domains).with_positional_names(feature_names);
    let started = Instant::now();
    let local;
    let sources = match request.input {
        Input::Sources(sources) => sources,
        Input::Paths(paths) => {
            let files = match request.format {
                InputFormat::Capture => list_capture_files(paths, request.window)?,
                InputFormat::Dataset(format) => list_data_files(paths, format)?,
                InputFormat::BatchCapture(_) => manifest_data_files(paths, request.window)?,
            };
            local = file_sources(&files);
            &local
        }
    };
    let (capture, read) = match request.format {
        InputFormat::Capture => {
            let (summary, read) = profile_capture_sources(
                sources,
                request.window,
                request.preprocessor,
                request.read,
                &mut profile,
                progress,
            )?;
            (Some(summary), read)
        }
        InputFormat::Dataset(format) | InputFormat::BatchCapture(format) => (
            None,
            profile_sources_through(
                sources,
                format,
                request.preprocessor,
                request.read,
                &mut profile,
                progress,
            )?,
        ),
    };
    let profiling = started.elapsed();
    let started = Instant::now();
    let checks = run_checks(request.baseline, request.constraints, &profile);
    let outcome = if checks.no_data {
        Outcome::NoData
    } else if checks.violations.is_empty() {
        Outcome::Completed
    } else {
        Outcome::CompletedWithViolations
    };
    let exit_message = match outcome {
        Outcome::NoData => no_data_message(&profile.records, capture.as_ref(), request.window),
        _ => checks.exit_message(),
    };
    let statistics = profile.to_statistics();
    let timings = AnalysisTimings {
        profiling,
        read,
        checks: started.elapsed(),
    };
    Ok(Analysis {
        outcome,
        exit_message,
        statistics,
        records: profile.records,
        capture,
        checks,
        timings,
    })
}

fn no_data_message(records: &RecordAccount, capture: Option<&CaptureSummary>, window: Option<Window>) -> String {
    let mut message = String::from("NoData: the input held no records to analyse");
    if let Some(window) = window {
        message.push_str(&format!(
            " in the window [{}, {})",
            window.start.to_rfc3339(),
            window.end.to_rfc3339()
        ));
    }
    if let Some(capture) = capture {
        message.push_str(&format!(
            " ({} capture files read, {} records outside the window, {} shadow records skipped, {} rejected)",
            capture.files,
            capture.outside_window,
            capture.shadow_skipped,
            records.rejected_total()
        ));
    }
    if records.dropped > 0 {
        message.push_str(&format!(
            "; the record preprocessor dropped {} of the records it was given",
            records.dropped
        ));
    }
    message.push('.');
    message
}
