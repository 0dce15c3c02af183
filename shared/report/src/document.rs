//! modelmon's own `report.json`, of a run and of a baseline: everything the page shows, so that
//! the page can be rendered again from the folder's JSON files alone.

use chrono::{DateTime, Utc};
use modelmon_engine::analysis::{Analysis, Outcome};
use modelmon_engine::capture::{CaptureSummary, Window};
use modelmon_engine::checks::CheckReport;
use modelmon_engine::profile::RecordAccount;
use modelmon_formats::MonitoringConfig;
use serde::{Deserialize, Serialize};

/// modelmon's version, written into every report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where a run's numbers come from: what the engine does not know.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunContext {
    /// The monitoring schedule that ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<DateTime<Utc>>,
    /// The records whose inferenceTime lies in `[start, end)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeWindow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_statistics: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_constraints: Option<String>,
    /// What was read: capture prefixes, dataset files or folders.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
    /// `capture`, `csv`, `json`, `parquet`, or a batch-capture manifest of one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl From<Window> for TimeWindow {
    fn from(window: Window) -> Self {
        TimeWindow {
            start: window.start,
            end: window.end,
        }
    }
}

/// A run's `report.json`: the analysis as the engine reports it (outcome, exit message, the
/// account of the records, capture, checks with the numbers and distributions behind each
/// verdict), then modelmon's version, the run's context and the thresholds in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub outcome: Outcome,
    pub exit_message: String,
    pub records: RecordAccount,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureSummary>,
    pub checks: CheckReport,
    pub modelmon_version: String,
    pub run: RunContext,
    /// The constraints' global settings; per-feature overrides show in each feature's
    /// thresholds and drift method.
    pub monitoring_config: MonitoringConfig,
}

impl RunReport {
    pub fn new(analysis: &Analysis, monitoring_config: &MonitoringConfig, context: RunContext) -> Self {
        RunReport {
            outcome: analysis.outcome,
            exit_message: analysis.exit_message.clone(),
            records: analysis.records.clone(),
            capture: analysis.capture.clone(),
            checks: analysis.checks.clone(),
            modelmon_version: VERSION.to_string(),
            run: context,
            monitoring_config: monitoring_config.clone(),
        }
    }
}

/// A baseline's `report.json`: what statistics.json and constraints.json do not say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BaselineReport {
    pub modelmon_version: String,
    /// The dataset's files or folders.
    pub dataset: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_format: Option<String>,
    /// Records read = analysed + rejected, with examples of each rejection.
    pub records: RecordAccount,
}

impl BaselineReport {
    pub fn new(dataset: Vec<String>, dataset_format: Option<String>, records: RecordAccount) -> Self {
        BaselineReport {
            modelmon_version: VERSION.to_string(),
            dataset,
            dataset_format,
            records,
        }
    }
}

/// Pretty JSON with a final newline.
pub fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("reports are plain data");
    bytes.push(b'\n');
    bytes
}
