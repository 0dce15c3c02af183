//! One analysis run: read a window of captured traffic (or a batch dataset), profile it with the
//! baseline's engine, run the six checks, and gather everything the reports need.

use std::collections::HashMap;
use std::path::PathBuf;

use modelmon_formats::{ConstraintViolations, Constraints, Statistics};
use serde::{Deserialize, Serialize};

use crate::capture::{profile_capture, CaptureSummary, Window};
use crate::checks::{run_checks, CheckReport};
use crate::dataset::{manifest_data_files, profile_dataset_through, DatasetFormat, ProgressFn};
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

pub struct AnalysisRequest<'a> {
    pub paths: &'a [PathBuf],
    pub format: InputFormat,
    /// Endpoint capture: the records whose inferenceTime lies in `[start, end)`; batch capture:
    /// the manifests in the window's hour folders.
    pub window: Option<Window>,
    pub baseline: &'a Statistics,
    pub constraints: &'a Constraints,
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
    let capture = match request.format {
        InputFormat::Capture => Some(profile_capture(
            request.paths,
            request.window,
            request.preprocessor,
            &mut profile,
            progress,
        )?),
        InputFormat::Dataset(format) => {
            profile_dataset_through(request.paths, format, request.preprocessor, &mut profile, progress)?;
            None
        }
        InputFormat::BatchCapture(format) => {
            let files = manifest_data_files(request.paths, request.window)?;
            profile_dataset_through(&files, format, request.preprocessor, &mut profile, progress)?;
            None
        }
    };
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
    Ok(Analysis {
        outcome,
        exit_message,
        statistics: profile.to_statistics(),
        records: profile.records,
        capture,
        checks,
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
