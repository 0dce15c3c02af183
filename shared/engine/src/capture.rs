//! SageMaker data capture: the JSON Lines files an endpoint writes under
//! `{prefix}/{endpoint}/{variant}/yyyy/mm/dd/hh/`, turned into rows of a profile.
//!
//! - Output columns come first, then input columns, as SageMaker's analyzer does when both are
//!   captured; CSV and JSON-array payloads map to the baseline's feature names by position, flat
//!   JSON objects by key.
//! - Only records whose `inferenceTime` lies in `[start, end)` count; only hour folders that can
//!   hold such records are read.
//! - Shadow-variant records are skipped (and counted); a record that cannot be decoded is
//!   rejected with its file, line and reason. A record whose input and output encodings differ is
//!   an error, as in SageMaker.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{DateTime, Duration, Timelike, Utc};
use modelmon_formats::{CaptureRecord, Encoding, EventData};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dataset::files::{self, for_each_line};
use crate::dataset::{ProgressFn, Reading, PROGRESS_EVERY};
use crate::profile::{DatasetProfile, RejectReason};
use crate::EngineError;

/// The analysis window `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    pub fn contains(&self, time: DateTime<Utc>) -> bool {
        self.start <= time && time < self.end
    }

    /// The hour folders (`yyyy/mm/dd/hh`) that can hold records of the window. Capture files
    /// roll about once a minute and sit in the hour of their first record, so the hour before
    /// the window is included: its last file may hold the window's first records (each record is
    /// then kept or not by its inferenceTime).
    pub fn hour_folders(&self) -> Vec<String> {
        self.hours_from(truncate_to_hour(self.start) - Duration::hours(1))
    }

    /// The window's own hour folders only: for batch manifests, which carry no per-record time
    /// to filter by, so the hour before would be read twice by back-to-back runs.
    pub fn own_hour_folders(&self) -> Vec<String> {
        self.hours_from(truncate_to_hour(self.start))
    }

    fn hours_from(&self, first: DateTime<Utc>) -> Vec<String> {
        let mut folders = Vec::new();
        let mut hour = first;
        while hour < self.end {
            folders.push(hour.format("%Y/%m/%d/%H").to_string());
            hour += Duration::hours(1);
        }
        folders
    }
}

fn truncate_to_hour(time: DateTime<Utc>) -> DateTime<Utc> {
    time.with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(time)
}

/// What was read besides the analysed and rejected records (those are in the profile's account).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureSummary {
    pub files: u64,
    /// Records of the files read whose inferenceTime lies outside the window.
    pub outside_window: u64,
    /// Shadow-variant records (`invocationSource: ShadowExperiment`), which SageMaker skips.
    pub shadow_skipped: u64,
}

/// Reads captured traffic into `profile`. Positional payloads (CSV, JSON arrays) take their column
/// names from the profile's positional names (the baseline's features; `_cN` beyond their end).
pub fn profile_capture(
    paths: &[PathBuf],
    window: Option<Window>,
    profile: &mut DatasetProfile,
    progress: ProgressFn<'_>,
) -> Result<CaptureSummary, EngineError> {
    let files = list_capture_files(paths, window)?;
    let mut reading = Reading::new(&files, progress);
    let mut summary = CaptureSummary::default();
    for file in &files {
        summary.files += 1;
        read_capture_file(file, window, profile, &mut summary, &mut reading)?;
        reading.file_done(file, profile.records.read);
    }
    Ok(summary)
}

/// The capture files under `paths`, in name order, skipping hour folders outside the window.
pub fn list_capture_files(paths: &[PathBuf], window: Option<Window>) -> Result<Vec<PathBuf>, EngineError> {
    list_hour_files(paths, window.map(|w| w.hour_folders()))
}

/// The files under `paths`, in name order, skipping `yyyy/mm/dd/hh` folders not in `wanted_hours`.
pub(crate) fn list_hour_files(
    paths: &[PathBuf],
    wanted_hours: Option<Vec<String>>,
) -> Result<Vec<PathBuf>, EngineError> {
    let enter = |trail: &[String]| match (&wanted_hours, hour_folder(trail)) {
        (Some(hours), Some(folder)) => hours.contains(&folder),
        _ => true,
    };
    // An hour with no traffic is no error: the analysis says "no data".
    files::list(paths, &enter, &|_| None)
}

/// `yyyy/mm/dd/hh` when the last four folders of `trail` look like one.
fn hour_folder(trail: &[String]) -> Option<String> {
    let last: &[String] = trail.get(trail.len().checked_sub(4)?..)?;
    let widths = [4, 2, 2, 2];
    let is_date = last
        .iter()
        .zip(widths)
        .all(|(part, width)| part.len() == width && part.bytes().all(|b| b.is_ascii_digit()));
    is_date.then(|| last.join("/"))
}

fn read_capture_file(
    path: &Path,
    window: Option<Window>,
    profile: &mut DatasetProfile,
    summary: &mut CaptureSummary,
    reading: &mut Reading<'_>,
) -> Result<(), EngineError> {
    let display = path.display();
    for_each_line(path, |line_number, line, bytes_read| {
        match read_capture_line(line, window) {
            Ok(Line::Rows(rows)) => {
                for row in rows {
                    observe_row(profile, row);
                }
            }
            Ok(Line::OutsideWindow) => summary.outside_window += 1,
            Ok(Line::Shadow) => summary.shadow_skipped += 1,
            Err(LineError::Rejected(reason, message)) => profile
                .records
                .reject(reason, || format!("{display}:{line_number}: {message}")),
            Err(LineError::Fatal(message)) => {
                return Err(EngineError::Capture {
                    path: path.to_path_buf(),
                    line: line_number,
                    message,
                })
            }
        }
        if line_number.is_multiple_of(PROGRESS_EVERY) {
            reading.report(bytes_read, profile.records.read);
        }
        Ok(())
    })?;
    Ok(())
}

enum Line {
    Rows(Vec<PayloadRow>),
    OutsideWindow,
    Shadow,
}

enum LineError {
    Rejected(RejectReason, String),
    Fatal(String),
}

/// Where a field goes: a named column, or the baseline feature at this position.
#[derive(Debug, Clone, PartialEq)]
enum Column {
    Named(String),
    Position(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum FieldValue {
    Text(String),
    Json(Value),
    Missing,
}

/// A decoded payload row, before positions are named.
type PayloadRow = Vec<(Column, FieldValue)>;

type Decoded = Result<Vec<PayloadRow>, (RejectReason, String)>;

fn read_capture_line(line: &[u8], window: Option<Window>) -> Result<Line, LineError> {
    let text = std::str::from_utf8(line).map_err(|err| {
        LineError::Rejected(
            RejectReason::InvalidUtf8,
            format!("invalid UTF-8 at byte {}", err.valid_up_to() + 1),
        )
    })?;
    let record: CaptureRecord = serde_json::from_str(text)
        .map_err(|err| LineError::Rejected(RejectReason::MalformedJson, crate::dataset::json_error_message(&err)))?;
    if record.event_metadata.is_shadow() {
        return Ok(Line::Shadow);
    }
    let inference_time = DateTime::parse_from_rfc3339(&record.event_metadata.inference_time).map_err(|err| {
        LineError::Rejected(
            RejectReason::BadPayload,
            format!(
                "eventMetadata.inferenceTime `{}` is not an ISO-8601 time: {err}",
                record.event_metadata.inference_time
            ),
        )
    })?;
    if window.is_some_and(|w| !w.contains(inference_time.with_timezone(&Utc))) {
        return Ok(Line::OutsideWindow);
    }
    let capture = &record.capture_data;
    let parts: Vec<(&str, &EventData)> = [
        ("endpointOutput", &capture.endpoint_output),
        ("endpointInput", &capture.endpoint_input),
    ]
    .into_iter()
    .filter_map(|(name, part)| part.as_ref().map(|p| (name, p)))
    .collect();
    if parts.is_empty() {
        return Err(LineError::Rejected(
            RejectReason::BadPayload,
            "captureData has neither endpointInput nor endpointOutput".to_string(),
        ));
    }
    if let [(_, output), (_, input)] = parts.as_slice() {
        if output.encoding != input.encoding {
            return Err(LineError::Fatal(format!(
                "Encoding mismatch: Encoding is {} for endpointInput, but Encoding is {} for endpointOutput. \
                 SageMaker requires the same encoding for input and output; so does modelmon.",
                input.encoding.as_str(),
                output.encoding.as_str()
            )));
        }
    }
    let mut decoded = Vec::with_capacity(parts.len());
    for (name, part) in &parts {
        let rows =
            decode_part(part).map_err(|(reason, message)| LineError::Rejected(reason, format!("{name}: {message}")))?;
        decoded.push((*name, rows));
    }
    let rows = combine(decoded).map_err(|message| LineError::Rejected(RejectReason::BadPayload, message))?;
    Ok(Line::Rows(rows))
}

/// A payload's rows, each a list of (column, value).
fn decode_part(part: &EventData) -> Decoded {
    let content_type = part.observed_content_type.as_deref().unwrap_or("").to_ascii_lowercase();
    let (text, is_csv) = match part.encoding {
        Encoding::Csv => (part.data.clone(), true),
        Encoding::Json => (part.data.clone(), false),
        Encoding::Base64 => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(part.data.trim())
                .map_err(|err| (RejectReason::BadPayload, format!("data is not valid base64: {err}")))?;
            let text = String::from_utf8(bytes).map_err(|_| {
                (
                    RejectReason::BadPayload,
                    "base64 data does not decode to UTF-8 text".to_string(),
                )
            })?;
            if content_type.contains("csv") {
                (text, true)
            } else if content_type.contains("json") {
                (text, false)
            } else {
                return Err((
                    RejectReason::BadPayload,
                    format!("base64 payload of content type `{content_type}` is neither CSV nor JSON"),
                ));
            }
        }
    };
    if is_csv {
        decode_csv(&text)
    } else {
        decode_json(&text)
    }
}

fn decode_csv(text: &str) -> Decoded {
    // An empty body (a model that answered nothing) is one row with its value missing.
    if text.trim().is_empty() {
        return Ok(vec![vec![(Column::Position(0), FieldValue::Missing)]]);
    }
    let field = |(i, text): (usize, &str)| {
        let value = if text.is_empty() {
            FieldValue::Missing
        } else {
            FieldValue::Text(text.to_string())
        };
        (Column::Position(i), value)
    };
    // Most payloads quote nothing: split them directly. A CSV reader costs more to build than a
    // short payload costs to parse, and it was most of an analysis run's time.
    if !text.contains('"') {
        return Ok(text
            .lines()
            .map(|line| line.strip_suffix('\r').unwrap_or(line))
            .filter(|line| !line.is_empty())
            .map(|line| line.split(',').enumerate().map(field).collect())
            .collect());
    }
    // As at the end of a CSV file: in well-formed CSV every quote opens and closes a quoted field
    // (an escaped quote is a pair), so an odd count is a field that is never closed, which the
    // parser would otherwise end silently at the end of the payload, swallowing what follows.
    if text.bytes().filter(|&b| b == b'"').count() % 2 == 1 {
        return Err((
            RejectReason::UnclosedQuote,
            "CSV payload: a quoted field is never closed".to_string(),
        ));
    }
    let rows = split_quoted_csv(text)
        .map_err(|message| (RejectReason::BadPayload, format!("CSV payload: {message}")))?
        .iter()
        .map(|row| row.iter().map(String::as_str).enumerate().map(field).collect())
        .collect();
    Ok(rows)
}

thread_local! {
    /// One CSV state machine per thread, reset for each payload: building one is costly.
    static CSV_READER: std::cell::RefCell<csv_core::Reader> = std::cell::RefCell::new(csv_core::Reader::new());
}

/// The records of a payload with quoted fields, parsed as RFC 4180 CSV (blank lines skipped).
fn split_quoted_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    CSV_READER.with(|reader| {
        let mut reader = reader.borrow_mut();
        reader.reset();
        // Unquoting only shrinks a field, and a record has at most one field more than separators.
        let mut output = vec![0u8; text.len() + 1];
        let mut ends = vec![0usize; text.bytes().filter(|&b| b == b',' || b == b'\n').count() + 2];
        let mut input = text.as_bytes();
        let mut rows = Vec::new();
        // A record can span calls (the last one ends only at end of input): its output and field
        // ends continue where the previous call left them (csv_core counts field ends per record).
        let (mut written, mut fields) = (0usize, 0usize);
        loop {
            let (result, read, wrote, ended) = reader.read_record(input, &mut output[written..], &mut ends[fields..]);
            input = &input[read..];
            written += wrote;
            fields += ended;
            match result {
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::Record => {
                    let mut start = 0;
                    let mut row = Vec::with_capacity(fields);
                    for &end in &ends[..fields] {
                        let bytes = output.get(start..end).ok_or("a field lies outside its record")?;
                        row.push(String::from_utf8_lossy(bytes).into_owned());
                        start = end;
                    }
                    rows.push(row);
                    (written, fields) = (0, 0);
                }
                csv_core::ReadRecordResult::End => return Ok(rows),
                csv_core::ReadRecordResult::OutputFull | csv_core::ReadRecordResult::OutputEndsFull => {
                    return Err("a record is larger than its payload".to_string())
                }
            }
        }
    })
}

/// A JSON payload: a flat object (columns by key), an array of scalars (by position), a scalar,
/// an array of flat objects or arrays (several rows), or JSON Lines.
fn decode_json(text: &str) -> Decoded {
    let values: Vec<Value> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) if items.iter().all(|i| i.is_object() || i.is_array()) && !items.is_empty() => items,
        Ok(value) => vec![value],
        Err(first_err) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str::<Value>)
            .collect::<Result<_, _>>()
            .map_err(|_| {
                (
                    RejectReason::MalformedJson,
                    format!("JSON payload: {}", crate::dataset::json_error_message(&first_err)),
                )
            })?,
    };
    values.into_iter().map(json_row).collect()
}

fn json_row(value: Value) -> Result<PayloadRow, (RejectReason, String)> {
    match value {
        Value::Object(map) => map
            .into_iter()
            .map(|(key, v)| Ok((Column::Named(key.clone()), scalar(v, &key)?)))
            .collect(),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| Ok((Column::Position(i), scalar(v, &format!("[{i}]"))?)))
            .collect(),
        other => Ok(vec![(Column::Position(0), scalar(other, "value")?)]),
    }
}

fn scalar(value: Value, field: &str) -> Result<FieldValue, (RejectReason, String)> {
    match value {
        Value::Array(_) | Value::Object(_) => Err((
            RejectReason::NestedValue,
            format!("field `{field}` is nested; SageMaker's built-in analysis and modelmon profile flat records"),
        )),
        flat => Ok(FieldValue::Json(flat)),
    }
}

/// Joins output rows with input rows (output columns first); positions run on across both.
fn combine(parts: Vec<(&str, Vec<PayloadRow>)>) -> Result<Vec<PayloadRow>, String> {
    let mut parts = parts.into_iter();
    let Some((_, mut rows)) = parts.next() else {
        return Ok(Vec::new());
    };
    for (name, more) in parts {
        if more.len() != rows.len() {
            return Err(format!(
                "endpointOutput has {} rows but {name} has {}",
                rows.len(),
                more.len()
            ));
        }
        for (row, extra) in rows.iter_mut().zip(more) {
            let offset = row.len();
            row.extend(extra.into_iter().map(|(column, value)| match column {
                Column::Position(i) => (Column::Position(offset + i), value),
                named => (named, value),
            }));
        }
    }
    Ok(rows)
}

fn observe_row(profile: &mut DatasetProfile, row: PayloadRow) {
    let mut seen = Vec::with_capacity(row.len());
    for (column, value) in row {
        let name = match column {
            Column::Named(name) => name,
            Column::Position(i) => profile.positional_name(i),
        };
        let i = profile.column_index(&name);
        // A key of the output and a position of the input can name the same column: one record
        // holds one value per column, the first (output columns come first).
        if seen.contains(&i) {
            continue;
        }
        seen.push(i);
        let column = &mut profile.columns[i];
        match value {
            FieldValue::Text(text) => column.observe_text(&text),
            FieldValue::Json(value) => column.observe_json(&value),
            FieldValue::Missing => {}
        }
    }
    profile.records.analysed_one();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn hour_folders_cover_the_window_and_the_hour_before() {
        let window = Window {
            start: time("2024-03-10T23:30:00Z"),
            end: time("2024-03-11T01:00:00Z"),
        };
        assert_eq!(
            window.hour_folders(),
            vec!["2024/03/10/22", "2024/03/10/23", "2024/03/11/00"]
        );
        assert!(window.contains(time("2024-03-10T23:30:00Z")));
        assert!(!window.contains(time("2024-03-11T01:00:00Z")), "end is exclusive");
    }

    #[test]
    fn trail_ending_in_a_date_is_an_hour_folder() {
        let trail: Vec<String> = ["ep", "AllTraffic", "2024", "03", "10", "22"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(hour_folder(&trail).as_deref(), Some("2024/03/10/22"));
        assert_eq!(hour_folder(&trail[..5]), None);
    }

    #[test]
    fn an_empty_csv_body_is_one_row_with_its_value_missing() {
        let rows = decode_csv("").unwrap_or_default();
        assert_eq!(rows, vec![vec![(Column::Position(0), FieldValue::Missing)]]);
        let rows = decode_csv("1,2\n3,4\n").unwrap_or_default();
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn payloads_split_like_the_csv_reader() {
        for text in [
            "1,,x\r\n\n4,5,6\n",
            "a",
            "a,b,",
            ",",
            "7,8\n9",
            "\"a,b\",c\n\"x\"\"y\",\"\"\n",
            "\"multi\nline\",2\n3,\"4\"",
            "1,\"2\"\r\n\r\n3,4\r\n",
        ] {
            let fast = decode_csv(text).unwrap_or_default();
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes());
            let expected: Vec<Vec<String>> = reader
                .records()
                .map(|r| r.unwrap().iter().map(str::to_string).collect())
                .collect();
            let got: Vec<Vec<String>> = fast
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|(_, v)| match v {
                            FieldValue::Text(t) => t.clone(),
                            _ => String::new(),
                        })
                        .collect()
                })
                .collect();
            assert_eq!(got, expected, "payload {text:?}");
        }
        let quoted = decode_csv("\"a,b\",c").unwrap_or_default();
        assert_eq!(quoted[0][0].1, FieldValue::Text("a,b".to_string()));
    }
}
