//! CSV files: streamed record by record; a malformed row is rejected with its line, never fatal.

use std::fs::File;
use std::path::{Path, PathBuf};

use csv::{ErrorKind, ReaderBuilder, StringRecord};

use super::{Reading, PROGRESS_EVERY};
use crate::profile::{DatasetProfile, RejectReason};
use crate::EngineError;

/// Files with more data than this are profiled in chunks of about this size, several at a time,
/// and merged in file order. The size is fixed, so the result does not depend on the number of
/// cores: the same file always gives the same statistics.
const CHUNK_BYTES: u64 = 64 << 20;

/// Profiles one CSV file into `profile`. `first_header` carries the column names (and the file
/// that set them) across the files of one dataset: every file must agree with the first.
pub(crate) fn profile_csv_file(
    path: &Path,
    header: bool,
    first_header: &mut Option<(PathBuf, Vec<String>)>,
    profile: &mut DatasetProfile,
    reading: &mut Reading<'_>,
) -> Result<(), EngineError> {
    profile_csv_file_in_chunks(path, header, first_header, profile, reading, CHUNK_BYTES)
}

fn profile_csv_file_in_chunks(
    path: &Path,
    header: bool,
    first_header: &mut Option<(PathBuf, Vec<String>)>,
    profile: &mut DatasetProfile,
    reading: &mut Reading<'_>,
    chunk_bytes: u64,
) -> Result<(), EngineError> {
    let file = File::open(path).map_err(|e| EngineError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| EngineError::io(path, e))?.len();
    if file_len == 0 {
        profile.records.empty_files.push(path.display().to_string());
        return Ok(());
    }
    let mut reader = csv_reader(file);
    let mut record = StringRecord::new();

    if header {
        let names = match read_header(&mut reader, &mut record, path)? {
            Some(names) => names,
            None => {
                profile.records.empty_files.push(path.display().to_string());
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
    let data_start = reader.position().clone();
    if let Some((_, names)) = first_header.as_ref() {
        ensure_columns(profile, names);
        if file_len - data_start.byte() > chunk_bytes {
            let names = names.clone();
            let Some(resume) = profile_chunks(path, &names, &data_start, file_len, chunk_bytes, profile, reading)?
            else {
                return Ok(());
            };
            reader.seek(resume).map_err(|err| csv_error(path, err))?;
        }
    }
    profile_records(&mut reader, path, file_len, first_header, profile, Some(reading)).map(|_| ())
}

/// Profiles the records of `path` after `data_start` in chunks, a wave of chunks at a time on
/// all cores, merging them into `profile` in file order. Chunk boundaries are guessed at line
/// ends; a guess that falls inside a quoted field is caught (a record runs over the boundary)
/// and the rest of the file is then left to the sequential reader: the position to resume at
/// is returned.
fn profile_chunks(
    path: &Path,
    names: &[String],
    data_start: &csv::Position,
    file_len: u64,
    chunk_bytes: u64,
    profile: &mut DatasetProfile,
    reading: &mut Reading<'_>,
) -> Result<Option<csv::Position>, EngineError> {
    let starts = chunk_starts(path, data_start.byte(), file_len, chunk_bytes)?;
    let regions: Vec<(u64, u64)> = starts
        .iter()
        .zip(starts.iter().skip(1).chain([&file_len]))
        .map(|(&s, &e)| (s, e))
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(regions.len());
    // Lines before the current chunk: its record lines are counted from 1 and shifted by this.
    let mut lines_before = data_start.line() - 1;
    for wave in regions.chunks(threads) {
        let results: Vec<Result<(DatasetProfile, ChunkEnd), EngineError>> = std::thread::scope(|scope| {
            let workers: Vec<_> = wave
                .iter()
                .map(|&(start, end)| {
                    let template = profile.empty_like();
                    scope.spawn(move || profile_chunk(path, names, template, start, end, file_len))
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| {
                    worker.join().unwrap_or_else(|_| {
                        Err(EngineError::Csv {
                            path: path.to_path_buf(),
                            line: 0,
                            message: "a worker failed".into(),
                        })
                    })
                })
                .collect()
        });
        for result in results {
            let (mut part, end) = result?;
            shift_example_lines(&mut part, path, lines_before);
            profile.merge(&part)?;
            match end {
                ChunkEnd::Boundary { next_line } => lines_before += next_line - 1,
                ChunkEnd::EndOfFile => {}
                ChunkEnd::Straddled { byte, line } => {
                    let mut resume = csv::Position::new();
                    resume.set_byte(byte).set_line(lines_before + line);
                    return Ok(Some(resume));
                }
            }
        }
        reading.report(wave.last().map_or(0, |&(_, end)| end), profile.records.read);
    }
    Ok(None)
}

/// Where each chunk starts: `first`, then the line start after every `chunk_bytes`.
fn chunk_starts(path: &Path, first: u64, file_len: u64, chunk_bytes: u64) -> Result<Vec<u64>, EngineError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path).map_err(|e| EngineError::io(path, e))?;
    let mut starts = vec![first];
    let mut buffer = vec![0u8; 1 << 16];
    let mut at = first + chunk_bytes;
    'chunks: while at < file_len {
        file.seek(SeekFrom::Start(at)).map_err(|e| EngineError::io(path, e))?;
        loop {
            let n = file.read(&mut buffer).map_err(|e| EngineError::io(path, e))?;
            if n == 0 {
                break 'chunks;
            }
            if let Some(i) = buffer[..n].iter().position(|&b| b == b'\n') {
                let start = at + i as u64 + 1;
                if start >= file_len {
                    break 'chunks;
                }
                starts.push(start);
                at = start + chunk_bytes;
                continue 'chunks;
            }
            at += n as u64;
        }
    }
    Ok(starts)
}

/// How a chunk's reading stopped.
enum ChunkEnd {
    /// At the chunk's end; the next record starts on this line (counted from the chunk's start).
    Boundary {
        next_line: u64,
    },
    EndOfFile,
    /// A record starting at this byte and line runs over the chunk's end: the boundary was
    /// inside a quoted field, and that record was not profiled.
    Straddled {
        byte: u64,
        line: u64,
    },
}

fn profile_chunk(
    path: &Path,
    names: &[String],
    mut profile: DatasetProfile,
    start: u64,
    end: u64,
    file_len: u64,
) -> Result<(DatasetProfile, ChunkEnd), EngineError> {
    let file = File::open(path).map_err(|e| EngineError::io(path, e))?;
    let mut reader = csv_reader(file);
    let mut position = csv::Position::new();
    position.set_byte(start).set_line(1);
    reader
        .seek_raw(std::io::SeekFrom::Start(start), position)
        .map_err(|err| csv_error(path, err))?;
    ensure_columns(&mut profile, names);
    let mut header = Some((path.to_path_buf(), names.to_vec()));
    let stop = Stop { end, file_len };
    let chunk_end = profile_region(&mut reader, path, stop, &mut header, &mut profile, None)?;
    Ok((profile, chunk_end))
}

/// Chunk profiles number lines from their chunk's start; `lines_before` makes them the file's.
fn shift_example_lines(profile: &mut DatasetProfile, path: &Path, lines_before: u64) {
    let prefix = format!("{}:", path.display());
    for tally in profile.records.rejected.values_mut() {
        for example in &mut tally.examples {
            let Some(rest) = example.strip_prefix(&prefix) else {
                continue;
            };
            let Some((line, message)) = rest.split_once(':') else {
                continue;
            };
            if let Ok(line) = line.parse::<u64>() {
                *example = format!("{prefix}{}:{message}", line + lines_before);
            }
        }
    }
}

fn csv_reader(file: File) -> csv::Reader<File> {
    ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(file)
}

/// The whole rest of the file, record by record.
fn profile_records(
    reader: &mut csv::Reader<File>,
    path: &Path,
    file_len: u64,
    first_header: &mut Option<(PathBuf, Vec<String>)>,
    profile: &mut DatasetProfile,
    reading: Option<&mut Reading<'_>>,
) -> Result<ChunkEnd, EngineError> {
    profile_region(
        reader,
        path,
        Stop {
            end: file_len,
            file_len,
        },
        first_header,
        profile,
        reading,
    )
}

/// Where a region of the file ends.
#[derive(Clone, Copy)]
struct Stop {
    end: u64,
    file_len: u64,
}

fn profile_region(
    reader: &mut csv::Reader<File>,
    path: &Path,
    stop: Stop,
    first_header: &mut Option<(PathBuf, Vec<String>)>,
    profile: &mut DatasetProfile,
    mut reading: Option<&mut Reading<'_>>,
) -> Result<ChunkEnd, EngineError> {
    let mut record = StringRecord::new();
    let display = path.display();
    let mut column_count = first_header.as_ref().map(|(_, names)| names.len());
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(ChunkEnd::EndOfFile),
            Ok(true) => {}
            Err(err) => match err.kind() {
                ErrorKind::Utf8 { pos, err: utf8 } => {
                    if pos.as_ref().is_some_and(|p| p.byte() >= stop.end) {
                        // The next chunk's first record: it is that chunk's to reject.
                        return Ok(ChunkEnd::Boundary {
                            next_line: pos.as_ref().map_or(1, |p| p.line()),
                        });
                    }
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
        let (record_byte, line) = record.position().map_or((0, 0), |p| (p.byte(), p.line()));
        if record_byte >= stop.end {
            return Ok(ChunkEnd::Boundary { next_line: line });
        }
        let record_end = reader.position().byte();
        if record_end > stop.end {
            return Ok(ChunkEnd::Straddled {
                byte: record_byte,
                line,
            });
        }
        let expected = *column_count.get_or_insert_with(|| {
            let names: Vec<String> = (0..record.len()).map(|i| profile.positional_name(i)).collect();
            ensure_columns(profile, &names);
            *first_header = Some((path.to_path_buf(), names));
            record.len()
        });
        // The csv crate ends a quoted field at end of file without complaint: a quote opened and
        // never closed would silently swallow the rest of the file into one record.
        if record_end >= stop.file_len && has_unclosed_quote(path, record_byte)? {
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
        if let Some(reading) = reading.as_deref_mut() {
            if profile.records.read.is_multiple_of(PROGRESS_EVERY) {
                reading.report(record_byte, profile.records.read);
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Reading;

    fn profile_with_chunks(path: &Path, chunk_bytes: u64) -> DatasetProfile {
        let mut profile = DatasetProfile::default();
        let mut header = None;
        let mut progress = |_| {};
        let mut reading = Reading::new(&[], &mut progress);
        profile_csv_file_in_chunks(path, true, &mut header, &mut profile, &mut reading, chunk_bytes).unwrap();
        profile
    }

    /// Rows with quoted commas and line breaks (some land on chunk boundaries), ragged rows,
    /// invalid UTF-8 and an unclosed quote at the end.
    fn tricky_csv() -> Vec<u8> {
        let mut bytes = b"id,name,score\n".to_vec();
        for i in 0..3000u32 {
            let row = match i % 97 {
                5 => format!("{i},\"two\nlines, and a comma\",{}\n", i % 13),
                17 => format!("{i},ragged\n"),
                29 => format!("{i},\"say \"\"hi\"\"\",{}.5\n", i % 7),
                _ => format!("{i},name{},{}\n", i % 50, (i * 7919) % 1000),
            };
            bytes.extend_from_slice(row.as_bytes());
            if i == 1234 {
                bytes.extend_from_slice(b"1234,\xff\xfe,1\n");
            }
        }
        bytes.extend_from_slice(b"3000,\"never closed,1\n3001,x,2\n");
        bytes
    }

    #[test]
    fn chunked_profiles_equal_the_sequential_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tricky.csv");
        std::fs::write(&path, tricky_csv()).unwrap();
        let sequential = profile_with_chunks(&path, u64::MAX);
        assert_eq!(
            sequential.records.rejected_total(),
            31 + 1 + 1,
            "{:?}",
            sequential.records
        );
        for chunk_bytes in [1_000, 4_096, 20_000] {
            let chunked = profile_with_chunks(&path, chunk_bytes);
            assert_eq!(
                chunked.records, sequential.records,
                "chunk size {chunk_bytes}: same account and examples"
            );
            let (a, b) = (chunked.to_statistics(), sequential.to_statistics());
            assert_eq!(a.dataset, b.dataset);
            for (x, y) in a.features.iter().zip(&b.features) {
                assert_eq!(
                    (x.inferred_type, x.common()),
                    (y.inferred_type, y.common()),
                    "{}",
                    x.name
                );
                if let (Some(p), Some(q)) = (&x.numerical_statistics, &y.numerical_statistics) {
                    assert_eq!((p.min, p.max), (q.min, q.max));
                    assert!((p.sum - q.sum).abs() <= 1e-9 * q.sum.abs(), "{} vs {}", p.sum, q.sum);
                }
                if let (Some(p), Some(q)) = (&x.string_statistics, &y.string_statistics) {
                    assert_eq!(p.distribution, q.distribution, "{}", x.name);
                }
            }
        }
    }

    #[test]
    fn a_boundary_inside_a_quoted_field_falls_back_to_reading_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long-quote.csv");
        // One field spans far more than a chunk: every guessed boundary inside it is caught.
        let mut text = String::from("a,b\n1,x\n");
        text.push_str(&format!("2,\"{}\"\n", "line\n".repeat(2_000)));
        for i in 3..500 {
            text.push_str(&format!("{i},y\n"));
        }
        std::fs::write(&path, &text).unwrap();
        let sequential = profile_with_chunks(&path, u64::MAX);
        let chunked = profile_with_chunks(&path, 1_000);
        assert_eq!(chunked.records, sequential.records);
        assert_eq!(chunked.records.analysed, 499);
        assert_eq!(chunked.to_statistics().dataset, sequential.to_statistics().dataset);
    }
}
