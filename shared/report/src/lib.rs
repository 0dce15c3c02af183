//! modelmon's report writer: every file of a run's report folder and of a baseline's folder,
//! as named bytes with their content types, so the CLI (files) and the runs (the object store)
//! write the same things without knowing what is in them.
//!
//! - A run: SageMaker's `statistics.json` and `constraint_violations.json` (not for a run with
//!   no data), modelmon's `report.json`, and `report.html`.
//! - A baseline: `statistics.json`, `constraints.json`, modelmon's `report.json` (the dataset and
//!   the account of its records) and `report.html`.
//!
//! The page is rendered from the JSON alone ([`render_folder`] does it again from a folder's
//! files). Pure: no I/O, no clock, no randomness; the same input gives the same bytes.

mod document;
mod format;
mod page;
mod svg;

use modelmon_engine::analysis::{Analysis, Outcome};
use modelmon_formats::{from_json_slice, Constraints, FormatError, MonitoringConfig, Statistics};

pub use document::{BaselineReport, RunContext, RunReport, TimeWindow, VERSION};
pub use page::{content_security_policy, MAX_OPEN_DETAILS, SCRIPT, SCRIPT_HASH, STYLE, STYLE_HASH};

/// One file of a report folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFile {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

const JSON: &str = "application/json";
const HTML: &str = "text/html; charset=utf-8";

/// Every file a run may write; a run with no data writes only report.json and report.html, and
/// the others must not be left over from an earlier run into the same folder.
pub const RUN_FILES: [&str; 4] = [
    "statistics.json",
    "constraint_violations.json",
    "report.json",
    "report.html",
];

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(
        "{0}: not a report folder: it needs report.json (a run's report) or statistics.json and \
         constraints.json (a baseline)"
    )]
    NotAReport(String),
}

/// The files of one analysis run, in the order they are written (the page last).
/// `monitoring_config` is the baseline constraints' global settings, for the page to name.
pub fn run_files(analysis: &Analysis, monitoring_config: &MonitoringConfig, context: RunContext) -> Vec<ReportFile> {
    let report = RunReport::new(analysis, monitoring_config, context);
    let mut files = Vec::with_capacity(RUN_FILES.len());
    if analysis.outcome != Outcome::NoData {
        files.push(file(
            "statistics.json",
            JSON,
            analysis.statistics.to_json().into_bytes(),
        ));
        files.push(file(
            "constraint_violations.json",
            JSON,
            analysis.violations().to_json().into_bytes(),
        ));
    }
    files.push(file("report.json", JSON, document::to_json(&report)));
    files.push(file("report.html", HTML, page::run_page(&report).into_bytes()));
    files
}

/// The files of a baseline: SageMaker's two, then modelmon's report.json and the page.
pub fn baseline_files(statistics: &Statistics, constraints: &Constraints, report: &BaselineReport) -> Vec<ReportFile> {
    vec![
        file("statistics.json", JSON, statistics.to_json().into_bytes()),
        file("constraints.json", JSON, constraints.to_json().into_bytes()),
        file("report.json", JSON, document::to_json(report)),
        file(
            "report.html",
            HTML,
            page::baseline_page(statistics, constraints, Some(report)).into_bytes(),
        ),
    ]
}

/// The JSON files of a report folder, as read (`None` where a file does not exist).
#[derive(Debug, Clone, Default)]
pub struct FolderFiles {
    /// Names the folder in error messages.
    pub folder: String,
    pub report: Option<Vec<u8>>,
    pub statistics: Option<Vec<u8>>,
    pub constraints: Option<Vec<u8>>,
}

/// report.html again from a folder's JSON files: a baseline's if it has constraints.json
/// (a run's folder never has), else a run's from its report.json. The same files give the
/// same bytes as when they were written.
pub fn render_folder(files: &FolderFiles) -> Result<ReportFile, ReportError> {
    let name = |file: &str| format!("{}/{file}", files.folder.trim_end_matches('/'));
    let html = match (&files.statistics, &files.constraints, &files.report) {
        (Some(statistics), Some(constraints), report) => {
            let statistics = Statistics::from_json_slice(statistics, &name("statistics.json"))?;
            let constraints = Constraints::from_json_slice(constraints, &name("constraints.json"))?;
            let report: Option<BaselineReport> = report
                .as_deref()
                .map(|bytes| from_json_slice(bytes, &name("report.json")))
                .transpose()?;
            page::baseline_page(&statistics, &constraints, report.as_ref())
        }
        (_, None, Some(report)) => {
            let report: RunReport = from_json_slice(report, &name("report.json"))?;
            page::run_page(&report)
        }
        _ => return Err(ReportError::NotAReport(files.folder.clone())),
    };
    Ok(file("report.html", HTML, html.into_bytes()))
}

fn file(name: &'static str, content_type: &'static str, bytes: Vec<u8>) -> ReportFile {
    ReportFile {
        name,
        content_type,
        bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_report_files_is_refused_by_name() {
        let files = FolderFiles {
            folder: "some/dir".into(),
            ..FolderFiles::default()
        };
        let err = render_folder(&files).unwrap_err().to_string();
        assert!(err.starts_with("some/dir: not a report folder"), "{err}");
    }

    #[test]
    fn a_broken_report_json_names_the_file_and_line() {
        let files = FolderFiles {
            folder: "run/".into(),
            report: Some(b"{\n  \"outcome\": \"Completed\",\n  \"exit_message\": 3\n}".to_vec()),
            ..FolderFiles::default()
        };
        let err = render_folder(&files).unwrap_err().to_string();
        assert!(err.contains("run/report.json") && err.contains("line 3"), "{err}");
    }
}
