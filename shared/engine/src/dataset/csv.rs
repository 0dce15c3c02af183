//! CSV files: streamed record by record; a malformed row is rejected with its line, never fatal.

use std::fs::File;
use std::path::{Path, PathBuf};

use csv::{ErrorKind, ReaderBuilder, StringRecord};

use super::{Reading, PROGRESS_EVERY};
use crate::profile::{DatasetProfile, RejectReason};
use crate::EngineError;

/// Profiles one CSV file into `profile`. `first_header` carries the column names (and the file
/// that set them) across the files of one dataset: every file must agree with the first.
pub(crate) fn profile_csv_file(
    path: &Path,
    header: bool,
    first_header: &mut Option<(PathBuf, Vec<String>)>,
    profile: &mut DatasetProfile,
    reading: &mut Reading<'_>,
) -> Result<(), EngineError> {
    let file = File::open(path).map_err(|e| EngineError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| EngineError::io(path, e))?.len();
    if file_len == 0 {
        profile.records.empty_files.push(path.display().to_string());
        return Ok(());
    }
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(file);
    let mut record = StringRecord::new();
    let display = path.display();

    if header {
        let names = match read_header(&mut reader, &mut record, path)? {
            Some(names) => names,
            None => {
                profile.records.empty_files.push(display.to_string());
                return Ok(());
            }
        };
        match first_header {
            Some((first_path, expected)) if *expected != names => {
                return Err(EngineError::HeaderMismatch {
                    path: path.to_path_buf(),
                    first_path: first_path.clone(),
                    expected: expected.clone(),
                    found: names,
                })
            }
            Some(_) => {}
            None => *first_header = Some((path.to_path_buf(), names)),
        }
    }

    let mut column_count = first_header.as_ref().map(|(_, names)| names.len());
    if let Some((_, names)) = first_header.as_ref() {
        ensure_columns(profile, names);
    }
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(err) => match err.kind() {
                ErrorKind::Utf8 { pos, err: utf8 } => {
                    let line = pos.as_ref().map_or(0, |p| p.line());
                    let field = column_name(first_header.as_ref(), utf8.field());
                    profile.records.reject(RejectReason::InvalidUtf8, || {
                        format!("{display}:{line}: field `{field}` is not valid UTF-8")
                    });
                    continue;
                }
                _ => return Err(csv_error(path, err)),
            },
        }
        let line = record.position().map_or(0, |p| p.line());
        let expected = *column_count.get_or_insert_with(|| {
            let names: Vec<String> = (0..record.len()).map(|i| profile.positional_name(i)).collect();
            ensure_columns(profile, &names);
            *first_header = Some((path.to_path_buf(), names));
            record.len()
        });
        // The csv crate ends a quoted field at end of file without complaint: a quote opened and
        // never closed would silently swallow the rest of the file into one record.
        if reader.position().byte() >= file_len && has_unclosed_quote(path, record.position().map_or(0, |p| p.byte()))?
        {
            profile.records.reject(RejectReason::UnclosedQuote, || {
                format!("{display}:{line}: a quoted field opened in this record is never closed (it runs to the end of the file)")
            });
            continue;
        }
        if record.len() != expected {
            let found = record.len();
            let multiline = record.iter().any(|f| f.contains('\n'));
            profile.records.reject(RejectReason::WrongFieldCount, || {
                let hint = if multiline {
                    " (a quoted field runs over several lines: is a closing quote missing?)"
                } else {
                    ""
                };
                format!("{display}:{line}: expected {expected} fields, found {found}{hint}")
            });
            continue;
        }
        for (column, field) in profile.columns.iter_mut().zip(record.iter()) {
            if !field.is_empty() {
                column.observe_text(field);
            }
        }
        profile.records.analysed_one();
        if profile.records.read.is_multiple_of(PROGRESS_EVERY) {
            reading.report(record.position().map_or(0, |p| p.byte()), profile.records.read);
        }
    }
    Ok(())
}

/// Whether the bytes from `start` to the end of the file hold an odd number of quotes: in
/// well-formed CSV every quoted field opens and closes (an escaped quote is a pair).
fn has_unclosed_quote(path: &Path, start: u64) -> Result<bool, EngineError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path).map_err(|e| EngineError::io(path, e))?;
    file.seek(SeekFrom::Start(start))
        .map_err(|e| EngineError::io(path, e))?;
    let mut quotes = 0usize;
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer).map_err(|e| EngineError::io(path, e))?;
        if n == 0 {
            return Ok(quotes % 2 == 1);
        }
        quotes += buffer[..n].iter().filter(|&&b| b == b'"').count();
    }
}

/// The header's column names; `None` for a file with no lines at all.
fn read_header(
    reader: &mut csv::Reader<File>,
    record: &mut StringRecord,
    path: &Path,
) -> Result<Option<Vec<String>>, EngineError> {
    match reader.read_record(record) {
        Ok(false) => Ok(None),
        Ok(true) => {
            let mut names: Vec<String> = Vec::with_capacity(record.len());
            for (i, name) in record.iter().enumerate() {
                // Spark names unnamed columns by position too.
                let name = if name.trim().is_empty() {
                    format!("_c{i}")
                } else {
                    name.to_string()
                };
                if names.contains(&name) {
                    return Err(EngineError::DuplicateColumn {
                        path: path.to_path_buf(),
                        name,
                    });
                }
                names.push(name);
            }
            Ok(Some(names))
        }
        Err(err) => match err.kind() {
            ErrorKind::Utf8 { .. } => Err(EngineError::Csv {
                path: path.to_path_buf(),
                line: 1,
                message: "the header is not valid UTF-8".to_string(),
            }),
            _ => Err(csv_error(path, err)),
        },
    }
}

fn ensure_columns(profile: &mut DatasetProfile, names: &[String]) {
    for name in names {
        profile.column_index(name);
    }
}

fn column_name(header: Option<&(PathBuf, Vec<String>)>, index: usize) -> String {
    header
        .and_then(|(_, names)| names.get(index).cloned())
        .unwrap_or_else(|| format!("_c{index}"))
}

fn csv_error(path: &Path, err: csv::Error) -> EngineError {
    let line = err.position().map_or(0, |p| p.line());
    match err.into_kind() {
        ErrorKind::Io(source) => EngineError::io(path, source),
        other => EngineError::Csv {
            path: path.to_path_buf(),
            line,
            message: format!("{other:?}"),
        },
    }
}
