//! A user's record preprocessor (SageMaker's `preprocess_handler`) between the records read and
//! the rows profiled. The engine hands it batches of records (capture lines; a dataset's lines
//! or values) and turns its answers into rows; running the script is the caller's business
//! (modelmon_cloud::run::scripts, on the local Python or the scripts Lambda function).
//!
//! How an answer becomes rows:
//!
//! - a dict's keys map onto the columns by name; a key of digits only that names no column is the
//!   column at that position (SageMaker's docs key rows `str(i).zfill(20)`), so keys are never
//!   ordered as text (SageMaker's container sorts them, and `feature10` lands before `feature2`);
//! - a list of values, or a CSV string, maps by position;
//! - `[]` or `None` drops the record (counted as dropped), an exception rejects it (counted,
//!   with the record's file and line and the script's line).

use std::collections::HashMap;
use std::sync::Arc;

use modelmon_formats::scripts::{Preprocessed, Row};
use serde_json::Value;

use crate::dataset::files::for_each_line;
use crate::dataset::parts::{Part, PartContext, PartReader, PartResult};
use crate::dataset::{DatasetFormat, SourceRef, PROGRESS_EVERY};
use crate::profile::{DatasetProfile, RejectReason};
use crate::EngineError;

/// Runs a record preprocessor on batches of records. Called from the threads that read the
/// input's parts, each with batches of its own part's records (so the batches, and the result,
/// do not depend on the number of threads).
pub trait RecordPreprocessor: Sync {
    /// Where the script comes from (a path or an `s3://` URI), named in rejections.
    fn origin(&self) -> &str;
    /// How many records to hand over at once.
    fn batch_records(&self) -> usize;
    /// One outcome per record, in order. An error stops the run: the script cannot run.
    fn preprocess(&self, records: &[&str]) -> Result<Vec<Preprocessed>, String>;
}

/// Records waiting for the preprocessor, with where they were read.
#[derive(Default)]
pub(crate) struct Pending {
    lines: Vec<u64>,
    records: Vec<String>,
}

impl Pending {
    pub(crate) fn push(&mut self, line: u64, record: &str) {
        self.lines.push(line);
        self.records.push(record.to_string());
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// Runs the preprocessor on the pending records of `source` and profiles what it made of
    /// them; the batch is empty afterwards.
    pub(crate) fn flush(
        &mut self,
        preprocessor: &dyn RecordPreprocessor,
        source: &str,
        profile: &mut DatasetProfile,
    ) -> Result<(), EngineError> {
        if self.records.is_empty() {
            return Ok(());
        }
        let records: Vec<&str> = self.records.iter().map(String::as_str).collect();
        let outcomes = preprocessor.preprocess(&records).map_err(EngineError::Script)?;
        if outcomes.len() != records.len() {
            return Err(EngineError::Script(format!(
                "the record preprocessor answered {} outcomes for {} records",
                outcomes.len(),
                records.len()
            )));
        }
        let mut columns = KeyColumns::default();
        let mut seen = Vec::new();
        for (line, outcome) in self.lines.iter().zip(outcomes) {
            let reject = |reason, message: String| (reason, format!("{source}:{line}: {message}"));
            let observed = match outcome {
                Preprocessed::Dropped => {
                    profile.records.dropped_one();
                    Ok(())
                }
                Preprocessed::Raised(error) => Err(reject(
                    RejectReason::Preprocessor,
                    format!("preprocess_handler ({}) raised {error}", preprocessor.origin()),
                )),
                Preprocessed::Csv(text) => super::capture::observe_csv_rows(profile, &text, &mut seen)
                    .map_err(|(reason, message)| reject(reason, format!("the preprocessor's CSV: {message}"))),
                Preprocessed::Rows(rows) => match rows.iter().find_map(nested) {
                    Some(key) => Err(reject(
                        RejectReason::NestedValue,
                        format!("the preprocessor returned a nested value for {key}"),
                    )),
                    None => {
                        for row in &rows {
                            let indices = columns.of(row, profile);
                            observe_values(profile, &indices, &row.values, &mut seen);
                        }
                        Ok(())
                    }
                },
            };
            if let Err((reason, message)) = observed {
                profile.records.reject(reason, || message);
            }
        }
        self.lines.clear();
        self.records.clear();
        Ok(())
    }
}

/// The first nested value of `row`, named by its key or position.
fn nested(row: &Row) -> Option<String> {
    let i = row.values.iter().position(|v| v.is_array() || v.is_object())?;
    Some(match &row.keys {
        Some(keys) => format!("key `{}`", keys[i]),
        None => format!("position {i}"),
    })
}

/// The profile's columns of each key set of an answer, resolved once per key set.
#[derive(Default)]
struct KeyColumns {
    resolved: HashMap<*const [String], Arc<[usize]>>,
}

impl KeyColumns {
    fn of(&mut self, row: &Row, profile: &mut DatasetProfile) -> Arc<[usize]> {
        let Some(keys) = &row.keys else {
            return (0..row.values.len()).map(|i| profile.positional_column(i)).collect();
        };
        self.resolved
            .entry(Arc::as_ptr(keys))
            .or_insert_with(|| keys.iter().map(|key| key_column(key, profile)).collect())
            .clone()
    }
}

/// The column a dict's key goes to: the column of that name; for a key of digits only that no
/// column is named, the column at that position.
fn key_column(key: &str, profile: &mut DatasetProfile) -> usize {
    let digits = !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit());
    match key.parse::<usize>() {
        Ok(position) if digits && !profile.has_positional_name(key) => profile.positional_column(position),
        _ => profile.column_index(key),
    }
}

/// Adds one row of JSON values to the profile (a column given twice keeps its first value).
fn observe_values(profile: &mut DatasetProfile, columns: &[usize], values: &[Value], seen: &mut Vec<usize>) {
    seen.clear();
    for (&i, value) in columns.iter().zip(values) {
        if seen.contains(&i) {
            continue;
        }
        seen.push(i);
        profile.columns[i].observe_json(value);
    }
    profile.records.analysed_one();
}

/// Reads the parts of a dataset's files through the user's record preprocessor, as SageMaker's
/// container does for a baselining job: a CSV file's records are its lines (a header line names
/// the columns and is not passed), a JSON Lines file's are its values. A CSV file with a header
/// is one part (its later chunks would not know the names); the others are chunked by lines.
pub(crate) struct PreprocessedParts<'p> {
    /// CSV or JSON Lines (see [`PreprocessedParts::new`]).
    format: DatasetFormat,
    preprocessor: &'p dyn RecordPreprocessor,
}

impl<'p> PreprocessedParts<'p> {
    /// The reader of `sources` (named in the error for Parquet, which takes no preprocessor).
    pub(crate) fn new(
        sources: &[SourceRef],
        format: DatasetFormat,
        preprocessor: &'p dyn RecordPreprocessor,
    ) -> Result<PreprocessedParts<'p>, EngineError> {
        if format == DatasetFormat::Parquet {
            let name = sources.first().map_or("the dataset", |s| s.name());
            return Err(EngineError::Script(format!(
                "{name}: a record preprocessor takes CSV, JSON Lines or capture records, not Parquet \
                 (as SageMaker's container)"
            )));
        }
        Ok(PreprocessedParts { format, preprocessor })
    }

    /// Whether a source may be read in chunks (every line start is a record start).
    pub(crate) fn chunked(&self) -> bool {
        self.format != (DatasetFormat::Csv { header: true })
    }
}

impl PartReader for PreprocessedParts<'_> {
    type Extra = ();

    fn read(
        &self,
        part: &Part,
        mut profile: DatasetProfile,
        context: &PartContext<'_>,
    ) -> Result<PartResult<()>, EngineError> {
        let name = context.sources[part.source].name();
        let preprocessor = self.preprocessor;
        let mut pending = Pending::default();
        let mut header_read = self.format != (DatasetFormat::Csv { header: true }) || part.chunk > 0;
        let lines = for_each_line(context, part, |line_number, line, bytes_read| {
            let text = match std::str::from_utf8(line) {
                Ok(text) => text,
                Err(err) => {
                    let offset = err.valid_up_to();
                    profile.records.reject(RejectReason::InvalidUtf8, || {
                        format!("{name}:{line_number}: invalid UTF-8 at byte {}", offset + 1)
                    });
                    return Ok(());
                }
            };
            if !header_read {
                header_read = true;
                if !profile.has_positional_names() {
                    let names = csv_header(text);
                    profile = std::mem::take(&mut profile).with_positional_names(names);
                }
                return Ok(());
            }
            // JSON records are handed over as they are: each must be one JSON value.
            if self.format == DatasetFormat::JsonLines {
                if let Err(err) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
                    profile.records.reject(RejectReason::MalformedJson, || {
                        format!("{name}:{line_number}: {}", crate::dataset::json_error_message(&err))
                    });
                    return Ok(());
                }
            }
            pending.push(line_number, text);
            if pending.len() >= preprocessor.batch_records() {
                pending.flush(preprocessor, name, &mut profile)?;
            }
            if line_number.is_multiple_of(PROGRESS_EVERY) {
                context.progress(bytes_read, profile.records.read);
            }
            Ok(())
        })?;
        if lines == 0 && part.chunks == 1 {
            profile.records.empty_files.push(name.to_string());
        }
        pending.flush(preprocessor, name, &mut profile)?;
        Ok(PartResult::new(profile, lines, ()))
    }
}

/// The fields of a CSV header line.
fn csv_header(line: &str) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.as_bytes());
    match reader.records().next() {
        Some(Ok(record)) => record.iter().map(str::to_string).collect(),
        _ => line.split(',').map(str::to_string).collect(),
    }
}

#[cfg(test)]
mod tests {
    use modelmon_formats::scripts::RecordError;
    use serde_json::json;

    use super::*;

    /// Answers each record (its text is the index of a canned outcome) with that outcome.
    struct Canned(Vec<Preprocessed>);

    impl RecordPreprocessor for Canned {
        fn origin(&self) -> &str {
            "pre.py"
        }
        fn batch_records(&self) -> usize {
            2
        }
        fn preprocess(&self, records: &[&str]) -> Result<Vec<Preprocessed>, String> {
            Ok(records
                .iter()
                .map(|r| self.0[r.parse::<usize>().unwrap()].clone())
                .collect())
        }
    }

    fn keyed(keys: &[&str], values: Vec<Value>) -> Row {
        Row {
            keys: Some(keys.iter().map(|k| k.to_string()).collect()),
            values,
        }
    }

    /// Keys map by name in any order, digits-only keys by position; the account adds up.
    #[test]
    fn answers_become_rows_by_key_and_the_account_adds_up() {
        let outcomes = vec![
            Preprocessed::Rows(vec![keyed(&["plan", "age"], vec![json!("pro"), json!(30)])]),
            Preprocessed::Rows(vec![keyed(
                &["00000000000000000001", "00000000000000000000"],
                vec![json!(40), json!("basic")],
            )]),
            Preprocessed::Dropped,
            Preprocessed::Raised(RecordError {
                error_type: "KeyError".into(),
                message: "'age'".into(),
                line: Some(7),
            }),
            Preprocessed::Rows(vec![keyed(&["age"], vec![json!({"nested": 1})])]),
            Preprocessed::Csv("basic,50".into()),
        ];
        let preprocessor = Canned(outcomes);
        let mut profile = DatasetProfile::default().with_positional_names(vec!["plan".into(), "age".into()]);
        let mut pending = Pending::default();
        for i in 0..6 {
            pending.push(i as u64 + 1, &i.to_string());
        }
        pending.flush(&preprocessor, "capture.jsonl", &mut profile).unwrap();
        let names: Vec<&str> = profile.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["plan", "age"]);
        let records = &profile.records;
        assert_eq!((records.read, records.analysed, records.dropped), (6, 3, 1));
        assert_eq!(records.rejected_total(), 2);
        assert_eq!(
            records.rejected[&RejectReason::Preprocessor].examples,
            ["capture.jsonl:4: preprocess_handler (pre.py) raised KeyError at line 7: 'age'"]
        );
        assert_eq!(
            records.rejected[&RejectReason::NestedValue].examples,
            ["capture.jsonl:5: the preprocessor returned a nested value for key `age`"]
        );
        let statistics = profile.to_statistics();
        let age = statistics.features.iter().find(|f| f.name == "age").unwrap();
        assert_eq!(age.numerical_statistics.as_ref().unwrap().sum, 120.0);
    }
}
