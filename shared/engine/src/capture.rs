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

use std::borrow::Cow;
use std::path::PathBuf;

use base64::Engine as _;
use chrono::{DateTime, Duration, Timelike, Utc};
use modelmon_formats::{CaptureRecord, Encoding, EventData};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dataset::files::{self, for_each_line};
use crate::dataset::parts::{plan, profile_parts, Part, PartContext, PartReader, PartResult};
use crate::dataset::{file_sources, ProgressFn, ReadOptions, ReadStats, SourceRef, PROGRESS_EVERY};
use crate::preprocess::{Pending, RecordPreprocessor};
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

/// Reads captured traffic under `paths` into `profile`, on every core. Positional payloads (CSV,
/// JSON arrays) take their column names from the profile's positional names (the baseline's
/// features; `_cN` beyond their end).
///
/// With a `preprocessor`, each record of the window (shadow records skipped) goes to the user's
/// script, and its answer becomes the record's rows (see [`crate::preprocess`]).
pub fn profile_capture(
    paths: &[PathBuf],
    window: Option<Window>,
    preprocessor: Option<&dyn RecordPreprocessor>,
    profile: &mut DatasetProfile,
    progress: ProgressFn<'_>,
) -> Result<CaptureSummary, EngineError> {
    let sources = file_sources(&list_capture_files(paths, window)?);
    profile_capture_sources(
        &sources,
        window,
        preprocessor,
        ReadOptions::default(),
        profile,
        progress,
    )
    .map(|(summary, _)| summary)
}

/// Reads the capture files `sources` (already listed, in order) into `profile`: each file is a
/// part (a big one, several), profiled on `options.threads` threads and merged in order. A
/// `preprocessor` is called from the thread of each part, in batches of that part's records, so
/// the result does not depend on the threads either.
pub fn profile_capture_sources(
    sources: &[SourceRef],
    window: Option<Window>,
    preprocessor: Option<&dyn RecordPreprocessor>,
    options: ReadOptions,
    profile: &mut DatasetProfile,
    progress: ProgressFn<'_>,
) -> Result<(CaptureSummary, ReadStats), EngineError> {
    let parts = plan(sources, true, options.chunk_bytes);
    let mut summary = CaptureSummary::default();
    let stats = profile_parts(
        sources,
        &parts,
        options,
        &CaptureParts { window, preprocessor },
        profile,
        progress,
        &mut |part, of_part| {
            summary.files += u64::from(part.chunk == 0);
            summary.outside_window += of_part.outside_window;
            summary.shadow_skipped += of_part.shadow_skipped;
            Ok(())
        },
    )?;
    Ok((summary, stats))
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

/// Reads the parts of capture files: lines, each a record (a JSON text holds no raw line break).
struct CaptureParts<'p> {
    window: Option<Window>,
    preprocessor: Option<&'p dyn RecordPreprocessor>,
}

/// What became of a capture line of the window.
enum Kept<'a> {
    /// Its rows are in the line's buffers.
    Rows,
    /// Its text waits for the preprocessor.
    Record(&'a str),
    /// It is outside the window or a shadow record.
    Skipped,
}

impl PartReader for CaptureParts<'_> {
    type Extra = CaptureSummary;

    fn read(
        &self,
        part: &Part,
        mut profile: DatasetProfile,
        context: &PartContext<'_>,
    ) -> Result<PartResult<CaptureSummary>, EngineError> {
        let name = context.sources[part.source].name();
        let mut summary = CaptureSummary::default();
        let mut seen = Vec::new();
        let mut pending = Pending::default();
        // The decoded rows of a line borrow from it; their buffers are kept (empty) between lines.
        let mut spare: (Rows<'static>, Rows<'static>) = Default::default();
        let lines = for_each_line(context, part, |line_number, line, bytes_read| {
            let (mut rows, mut input_rows) = (
                std::mem::take(&mut spare.0).recycle(),
                std::mem::take(&mut spare.1).recycle(),
            );
            let outcome = read_capture_line(line, self.window).and_then(|line| match line {
                Line::Record(text, record) => match self.preprocessor {
                    Some(_) => Ok(Kept::Record(text)),
                    None => record_rows(&record, &mut rows, &mut input_rows).map(|()| Kept::Rows),
                },
                Line::OutsideWindow => {
                    summary.outside_window += 1;
                    Ok(Kept::Skipped)
                }
                Line::Shadow => {
                    summary.shadow_skipped += 1;
                    Ok(Kept::Skipped)
                }
            });
            match outcome {
                Ok(Kept::Rows) => {
                    for row in rows.iter() {
                        observe_row(&mut profile, row, &mut seen);
                    }
                }
                Ok(Kept::Record(text)) => {
                    if let Some(preprocessor) = self.preprocessor {
                        pending.push(line_number, text);
                        if pending.len() >= preprocessor.batch_records() {
                            pending.flush(preprocessor, name, &mut profile)?;
                        }
                    }
                }
                Ok(Kept::Skipped) => {}
                Err(LineError::Rejected(reason, message)) => profile
                    .records
                    .reject(reason, || format!("{name}:{line_number}: {message}")),
                Err(LineError::Fatal(message)) => {
                    return Err(EngineError::Capture {
                        path: name.into(),
                        line: line_number,
                        message,
                    })
                }
            }
            spare = (rows.recycle(), input_rows.recycle());
            if line_number.is_multiple_of(PROGRESS_EVERY) {
                context.progress(bytes_read, profile.records.read);
            }
            Ok(())
        })?;
        if let Some(preprocessor) = self.preprocessor {
            pending.flush(preprocessor, name, &mut profile)?;
        }
        Ok(PartResult::new(profile, lines, summary))
    }
}

/// Adds the rows of a CSV text (a preprocessor's answer) to the profile, by position.
pub(crate) fn observe_csv_rows(
    profile: &mut DatasetProfile,
    text: &str,
    seen: &mut Vec<usize>,
) -> Result<(), (RejectReason, String)> {
    let mut rows = Rows::default();
    decode_csv(text, &mut rows)?;
    for row in rows.iter() {
        observe_row(profile, row, seen);
    }
    Ok(())
}

/// What a capture line held.
#[allow(
    clippy::large_enum_variant,
    reason = "a line's record is moved once, on the stack; boxing it would allocate for every line"
)]
enum Line<'a> {
    /// A record of the window (its text and its fields), to be turned into rows.
    Record(&'a str, CaptureRecord<'a>),
    OutsideWindow,
    Shadow,
}

enum LineError {
    Rejected(RejectReason, String),
    Fatal(String),
}

/// Where a field goes: a named column, or the baseline feature at this position.
#[derive(Debug, Clone, PartialEq)]
enum Column<'a> {
    Named(Cow<'a, str>),
    Position(usize),
}

/// A field's value; text borrows from the capture line where it can. A JSON value is boxed: it is
/// three times the size of the others, and every CSV field would carry that size around.
#[derive(Debug, Clone, PartialEq)]
enum FieldValue<'a> {
    Text(Cow<'a, str>),
    Json(Box<Value>),
    Missing,
}

/// A decoded field, before positions are named.
type Field<'a> = (Column<'a>, FieldValue<'a>);

/// The same field, no longer borrowing (an owned text is moved, not copied).
fn owned_field((column, value): Field<'_>) -> Field<'static> {
    let column = match column {
        Column::Named(name) => Column::Named(Cow::Owned(name.into_owned())),
        Column::Position(i) => Column::Position(i),
    };
    let value = match value {
        FieldValue::Text(text) => FieldValue::Text(Cow::Owned(text.into_owned())),
        FieldValue::Json(value) => FieldValue::Json(value),
        FieldValue::Missing => FieldValue::Missing,
    };
    (column, value)
}

/// A payload decoded into rows, or why it was rejected.
type Decoded = Result<(), (RejectReason, String)>;

/// Decoded payload rows: their fields one after another, and where each row ends. One pair of
/// these serves every line of a file (see [`Rows::recycle`]): allocating rows for each record
/// cost an analysis run 7% of its time.
#[derive(Debug, Default)]
struct Rows<'a> {
    fields: Vec<Field<'a>>,
    ends: Vec<usize>,
}

impl<'a> Rows<'a> {
    fn push_row(&mut self, fields: impl IntoIterator<Item = Field<'a>>) {
        self.fields.extend(fields);
        self.ends.push(self.fields.len());
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn iter(&self) -> impl Iterator<Item = &[Field<'a>]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(start, &end)| &self.fields[start..end])
    }

    /// Adds `other`'s rows, copying what they borrow (from text that is about to go).
    fn extend_owned(&mut self, other: Rows<'_>) {
        let base = self.fields.len();
        let owned = other
            .fields
            .into_iter()
            .map(|field| -> Field<'a> { owned_field(field) });
        self.fields.extend(owned);
        self.ends.extend(other.ends.iter().map(|end| base + end));
    }

    /// Moves the fields of `more`'s rows onto the ends of these rows, row by row (output columns
    /// first); positions run on across both. `more` is left empty.
    fn append_columns(&mut self, name: &str, more: &mut Rows<'a>) -> Result<(), String> {
        if more.len() != self.len() {
            return Err(format!(
                "endpointOutput has {} rows but {name} has {}",
                self.len(),
                more.len()
            ));
        }
        let after = |offset: usize| {
            move |(column, value): Field<'a>| match column {
                Column::Position(i) => (Column::Position(offset + i), value),
                named => (named, value),
            }
        };
        let mut theirs = more.fields.drain(..);
        if let [end] = self.ends.as_mut_slice() {
            // One row, the usual case: in place.
            self.fields.extend(theirs.map(after(*end)));
            *end = self.fields.len();
        } else {
            let mut mine = std::mem::take(&mut self.fields).into_iter();
            let ends = std::mem::take(&mut self.ends);
            self.fields.reserve(mine.len() + theirs.len());
            let (mut my_start, mut their_start) = (0, 0);
            for (&my_end, &their_end) in ends.iter().zip(&more.ends) {
                let extra = theirs
                    .by_ref()
                    .take(their_end - their_start)
                    .map(after(my_end - my_start));
                self.push_row(mine.by_ref().take(my_end - my_start).chain(extra));
                (my_start, their_start) = (my_end, their_end);
            }
        }
        more.ends.clear();
        Ok(())
    }

    /// These buffers, emptied, for rows of another line (`collect` of a `vec::IntoIter` into items
    /// of the same layout reuses its allocation).
    #[allow(
        clippy::unnecessary_filter_map,
        reason = "the item type changes (its lifetime), which `filter` cannot do"
    )]
    fn recycle<'b>(mut self) -> Rows<'b> {
        self.fields.clear();
        self.ends.clear();
        Rows {
            fields: self.fields.into_iter().filter_map(|_| None).collect(),
            ends: self.ends,
        }
    }
}

/// Reads one capture line: a record of the window, or what else it is.
fn read_capture_line(line: &[u8], window: Option<Window>) -> Result<Line<'_>, LineError> {
    let text = std::str::from_utf8(line).map_err(|err| {
        LineError::Rejected(
            RejectReason::InvalidUtf8,
            format!("invalid UTF-8 at byte {}", err.valid_up_to() + 1),
        )
    })?;
    let record = CaptureRecord::from_line(text)
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
    Ok(Line::Record(text, record))
}

/// Where a decoded capture record becomes rows (into `rows`; `input_rows` is scratch space), when
/// no record preprocessor (SageMaker's `preprocess_handler`) makes them instead.
fn record_rows<'a>(
    record: &CaptureRecord<'a>,
    rows: &mut Rows<'a>,
    input_rows: &mut Rows<'a>,
) -> Result<(), LineError> {
    let capture = &record.capture_data;
    let (output, input) = (capture.endpoint_output.as_ref(), capture.endpoint_input.as_ref());
    if let (Some(output), Some(input)) = (output, input) {
        if output.encoding != input.encoding {
            return Err(LineError::Fatal(format!(
                "Encoding mismatch: Encoding is {} for endpointInput, but Encoding is {} for endpointOutput. \
                 SageMaker requires the same encoding for input and output; so does modelmon.",
                input.encoding.as_str(),
                output.encoding.as_str()
            )));
        }
    }
    let reject =
        |name: &'static str| move |(reason, message)| LineError::Rejected(reason, format!("{name}: {message}"));
    match (output, input) {
        (None, None) => Err(LineError::Rejected(
            RejectReason::BadPayload,
            "captureData has neither endpointInput nor endpointOutput".to_string(),
        )),
        (Some(output), Some(input)) => {
            decode_part(output, rows).map_err(reject("endpointOutput"))?;
            decode_part(input, input_rows).map_err(reject("endpointInput"))?;
            rows.append_columns("endpointInput", input_rows)
                .map_err(|message| LineError::Rejected(RejectReason::BadPayload, message))
        }
        (Some(output), None) => decode_part(output, rows).map_err(reject("endpointOutput")),
        (None, Some(input)) => decode_part(input, rows).map_err(reject("endpointInput")),
    }
}

/// Decodes a payload into `rows`, borrowing from the capture line where the payload is verbatim
/// in it.
fn decode_part<'a>(part: &EventData<'a>, rows: &mut Rows<'a>) -> Decoded {
    match part.encoding {
        Encoding::Csv => match &part.data {
            Cow::Borrowed(text) => decode_csv(text, rows),
            // Unescaped from JSON: the line does not hold the payload as it is.
            Cow::Owned(text) => decode_csv_owned(text, rows),
        },
        Encoding::Json => decode_json(&part.data, rows),
        Encoding::Base64 => {
            let content_type = part.observed_content_type.as_deref().unwrap_or("").to_ascii_lowercase();
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
                decode_csv_owned(&text, rows)
            } else if content_type.contains("json") {
                decode_json(&text, rows)
            } else {
                Err((
                    RejectReason::BadPayload,
                    format!("base64 payload of content type `{content_type}` is neither CSV nor JSON"),
                ))
            }
        }
    }
}

/// [`decode_csv`] of text that does not outlive the call.
fn decode_csv_owned(text: &str, rows: &mut Rows<'_>) -> Decoded {
    let mut borrowed = Rows::default();
    decode_csv(text, &mut borrowed)?;
    rows.extend_owned(borrowed);
    Ok(())
}

/// The CSV field at position `i`; an empty one is missing.
fn csv_field(i: usize, text: Cow<'_, str>) -> Field<'_> {
    let value = if text.is_empty() {
        FieldValue::Missing
    } else {
        FieldValue::Text(text)
    };
    (Column::Position(i), value)
}

fn decode_csv<'a>(text: &'a str, rows: &mut Rows<'a>) -> Decoded {
    // An empty body (a model that answered nothing) is one row with its value missing.
    if text.trim().is_empty() {
        rows.push_row([(Column::Position(0), FieldValue::Missing)]);
        return Ok(());
    }
    // Most payloads quote nothing: split them directly. A CSV reader costs more to build than a
    // short payload costs to parse, and it was most of an analysis run's time.
    if !text.contains('"') {
        for line in split_ascii(text, b'\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if !line.is_empty() {
                let fields = split_ascii(line, b',').enumerate();
                rows.push_row(fields.map(|(i, field)| csv_field(i, Cow::Borrowed(field))));
            }
        }
        return Ok(());
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
    let records =
        split_quoted_csv(text).map_err(|message| (RejectReason::BadPayload, format!("CSV payload: {message}")))?;
    for record in records {
        rows.push_row(
            record
                .into_iter()
                .enumerate()
                .map(|(i, field)| csv_field(i, Cow::Owned(field))),
        );
    }
    Ok(())
}

/// `text.split(separator)` for an ASCII separator, with one vectorised scan for all of them:
/// `str::split` and `str::lines` start a new search for each piece, which showed in the profile
/// of short payloads.
fn split_ascii(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    let mut start = 0;
    memchr::memchr_iter(separator, text.as_bytes())
        .chain([text.len()])
        .map(move |end| {
            let piece = &text[start..end];
            start = end + 1;
            piece
        })
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
fn decode_json(text: &str, rows: &mut Rows<'_>) -> Decoded {
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
    for value in values {
        rows.push_row(json_row(value)?);
    }
    Ok(())
}

fn json_row(value: Value) -> Result<Vec<Field<'static>>, (RejectReason, String)> {
    match value {
        Value::Object(map) => map
            .into_iter()
            .map(|(key, v)| {
                let value = scalar(v, &key)?;
                Ok((Column::Named(Cow::Owned(key)), value))
            })
            .collect(),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| Ok((Column::Position(i), scalar(v, &format!("[{i}]"))?)))
            .collect(),
        other => Ok(vec![(Column::Position(0), scalar(other, "value")?)]),
    }
}

fn scalar(value: Value, field: &str) -> Result<FieldValue<'static>, (RejectReason, String)> {
    match value {
        Value::Array(_) | Value::Object(_) => Err((
            RejectReason::NestedValue,
            format!("field `{field}` is nested; SageMaker's built-in analysis and modelmon profile flat records"),
        )),
        flat => Ok(FieldValue::Json(Box::new(flat))),
    }
}

/// Adds one row to the profile; `seen` is scratch space kept across rows.
fn observe_row(profile: &mut DatasetProfile, row: &[Field<'_>], seen: &mut Vec<usize>) {
    seen.clear();
    for (column, value) in row {
        let i = match column {
            Column::Named(name) => profile.column_index(name),
            Column::Position(position) => profile.positional_column(*position),
        };
        // A key of the output and a position of the input can name the same column: one record
        // holds one value per column, the first (output columns come first).
        if seen.contains(&i) {
            continue;
        }
        seen.push(i);
        let column = &mut profile.columns[i];
        match value {
            FieldValue::Text(text) => column.observe_text(text),
            FieldValue::Json(value) => column.observe_json(value),
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

    /// The rows of a CSV payload, as owned values.
    fn csv_rows(text: &str) -> Vec<Vec<FieldValue<'static>>> {
        let mut rows = Rows::default();
        decode_csv(text, &mut rows).expect("a well-formed payload");
        rows.iter()
            .map(|row| row.iter().map(|field| owned_field(field.clone()).1).collect())
            .collect()
    }

    #[test]
    fn an_empty_csv_body_is_one_row_with_its_value_missing() {
        assert_eq!(csv_rows(""), vec![vec![FieldValue::Missing]]);
        assert_eq!(csv_rows("1,2\n3,4\n").len(), 2);
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
            "é,€x,\r\n日本,ü",
        ] {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes());
            let expected: Vec<Vec<String>> = reader
                .records()
                .map(|r| r.unwrap().iter().map(str::to_string).collect())
                .collect();
            let got: Vec<Vec<String>> = csv_rows(text)
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|value| match value {
                            FieldValue::Text(t) => t.to_string(),
                            _ => String::new(),
                        })
                        .collect()
                })
                .collect();
            assert_eq!(got, expected, "payload {text:?}");
        }
        assert_eq!(csv_rows("\"a,b\",c")[0][0], FieldValue::Text(Cow::Borrowed("a,b")));
    }

    /// Output and input rows joined as SageMaker's analyzer does: output columns first, positions
    /// running on, named columns kept; several rows pair up row by row.
    #[test]
    fn input_columns_follow_output_columns_row_by_row() {
        let mut output = Rows::default();
        decode_csv("0.5\n0.7", &mut output).unwrap();
        let mut input = Rows::default();
        decode_json(r#"[{"a":1,"b":"x"},{"a":2,"b":"y"}]"#, &mut input).unwrap();
        output.append_columns("endpointInput", &mut input).unwrap();
        let columns: Vec<Vec<Column<'_>>> = output
            .iter()
            .map(|row| row.iter().map(|(c, _)| c.clone()).collect())
            .collect();
        let named = |name: &'static str| Column::Named(Cow::Borrowed(name));
        assert_eq!(columns, vec![vec![Column::Position(0), named("a"), named("b")]; 2]);
        assert_eq!(
            output.iter().nth(1).unwrap()[1].1,
            FieldValue::Json(Box::new(serde_json::json!(2)))
        );
        assert!(input.fields.is_empty() && input.ends.is_empty());

        let mut one = Rows::default();
        decode_csv("1", &mut one).unwrap();
        let mut more = Rows::default();
        decode_csv("2,3", &mut more).unwrap();
        one.append_columns("endpointInput", &mut more).unwrap();
        let positions: Vec<Column<'_>> = one.iter().next().unwrap().iter().map(|(c, _)| c.clone()).collect();
        assert_eq!(
            positions,
            vec![Column::Position(0), Column::Position(1), Column::Position(2)]
        );

        let mut two = Rows::default();
        decode_csv("1\n2", &mut two).unwrap();
        let mut three = Rows::default();
        decode_csv("1\n2\n3", &mut three).unwrap();
        let error = two.append_columns("endpointInput", &mut three).unwrap_err();
        assert_eq!(error, "endpointOutput has 2 rows but endpointInput has 3");
    }

    #[test]
    fn recycled_rows_keep_their_allocation() {
        let mut rows = Rows::default();
        decode_csv("1,2,3,4,5,6,7,8", &mut rows).unwrap();
        let capacity = rows.fields.capacity();
        let recycled: Rows<'static> = rows.recycle();
        assert!(recycled.fields.is_empty() && recycled.ends.is_empty());
        assert_eq!(recycled.fields.capacity(), capacity);
    }
}
