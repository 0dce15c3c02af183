//! CSV files: streamed record by record; a malformed row is rejected with its line, never fatal.
//! A big file is read in chunks (see [`super::parts`]); a chunk boundary that falls inside a
//! quoted field is caught and the rest of that file is read on in one go.

use std::cell::Cell;
use std::io::Read;
use std::path::PathBuf;

use csv::{ErrorKind, ReaderBuilder, StringRecord};

use super::parts::{open_at_first_line, plan, profile_parts, Boundary, Part, PartContext, PartReader, PartResult};
use super::{ProgressFn, ReadOptions, ReadStats, SourceRef, PROGRESS_EVERY};
use crate::profile::{DatasetProfile, RejectReason};
use crate::EngineError;

/// Profiles CSV `sources` into `profile` as one dataset: with `header`, every file's first line
/// names the columns and must match the first file's; without, the columns are the profile's
/// positional names and the dataset's first record says how many there are.
pub(crate) fn profile_csv(
    sources: &[SourceRef],
    header: bool,
    options: ReadOptions,
    profile: &mut DatasetProfile,
    progress: ProgressFn<'_>,
) -> Result<ReadStats, EngineError> {
    let names = match header {
        true => None,
        false => Some(
            (0..first_record_width(sources)?.unwrap_or(0))
                .map(|i| profile.positional_name(i))
                .collect(),
        ),
    };
    let reader = CsvParts { header, names };
    let parts = plan(sources, true, options.chunk_bytes);
    let mut first_header: Option<(String, Vec<String>)> = None;
    profile_parts(
        sources,
        &parts,
        options,
        &reader,
        profile,
        progress,
        &mut |part, found| {
            let Some(names) = found else { return Ok(()) };
            let name = sources[part.source].name();
            match &first_header {
                Some((first_path, expected)) if *expected != names => Err(EngineError::HeaderMismatch {
                    path: name.into(),
                    first_path: first_path.into(),
                    expected: expected.clone(),
                    found: names,
                }),
                Some(_) => Ok(()),
                None => {
                    first_header = Some((name.to_string(), names));
                    Ok(())
                }
            }
        },
    )
}

/// The number of fields of the first record of `sources` (that is valid UTF-8).
fn first_record_width(sources: &[SourceRef]) -> Result<Option<usize>, EngineError> {
    let mut record = StringRecord::new();
    for source in sources.iter().filter(|s| s.size() > 0) {
        let stream = source.open(0, source.size().min(1 << 16));
        let mut reader = csv_reader(stream.map_err(|e| EngineError::io(source.name(), e))?);
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => return Ok(Some(record.len())),
                Err(err) if matches!(err.kind(), ErrorKind::Utf8 { .. }) => continue,
                Err(err) => return Err(csv_error(source.name(), err)),
            }
        }
    }
    Ok(None)
}

/// Reads the parts of CSV sources; the extra of a file's first part is its header.
struct CsvParts {
    header: bool,
    /// Header-less: the columns' names.
    names: Option<Vec<String>>,
}

/// A part's region of its source, as the record reader sees it.
struct Region<'a> {
    name: &'a str,
    source: usize,
    size: u64,
    /// The byte offset of the reader's first byte in the source.
    base: u64,
    /// Where the source's records begin (after its header).
    data_start: u64,
    /// The first line start at or after the part's limit, once the reader has seen it.
    boundary: &'a Cell<Option<u64>>,
    /// Where the part's range begins, for progress.
    begin: u64,
}

/// How a part's reading stopped.
enum RegionEnd {
    /// At the part's end; the next record starts on this line (counted from the part's start).
    Boundary {
        next_line: u64,
    },
    EndOfFile {
        lines: u64,
    },
    /// A record starting at this byte and line runs over the part's end: the boundary was inside
    /// a quoted field, and that record was not profiled.
    Straddled {
        byte: u64,
        line: u64,
    },
}

impl PartReader for CsvParts {
    type Extra = Option<Vec<String>>;

    fn read(
        &self,
        part: &Part,
        profile: DatasetProfile,
        context: &PartContext<'_>,
    ) -> Result<PartResult<Self::Extra>, EngineError> {
        let source = &context.sources[part.source];
        let (name, size) = (source.name(), source.size());
        let empty = |mut profile: DatasetProfile| {
            profile.records.empty_files.push(name.to_string());
            Ok(PartResult::new(profile, 0, None))
        };
        if size == 0 {
            return empty(profile);
        }
        let until = part.limit().unwrap_or(size);
        if part.chunk == 0 {
            // The header, if any, is read from the same stream as the records.
            let (watch, boundary) = Boundary::new(context.open(part.source, 0, until)?, 0, part.limit());
            let mut reader = csv_reader(watch);
            let (names, data_start, extra) = match (self.header, &self.names) {
                (true, _) => match read_header(&mut reader, name)? {
                    Some(names) => (names.clone(), reader.position().byte(), Some(names)),
                    None => return empty(profile),
                },
                (false, names) => (names.clone().unwrap_or_default(), 0, None),
            };
            let region = Region {
                name,
                source: part.source,
                size,
                base: 0,
                data_start,
                boundary: &boundary,
                begin: 0,
            };
            return finish(&mut reader, &region, &names, profile, context, extra);
        }
        let (names, data_start) = self.names_apart(context, part.source)?;
        let Some((mut stream, mut start)) = open_at_first_line(context, part, 1 << 16, until)? else {
            return Ok(PartResult::new(profile, 0, None));
        };
        if start < data_start {
            // Only when the header is longer than a chunk.
            std::io::copy(&mut (&mut stream).take(data_start - start), &mut std::io::sink())
                .map_err(|e| EngineError::io(name, e))?;
            start = data_start;
        }
        if part.limit().is_some_and(|limit| start >= limit) {
            return Ok(PartResult::new(profile, 0, None));
        }
        let (watch, boundary) = Boundary::new(stream, start, part.limit());
        let region = Region {
            name,
            source: part.source,
            size,
            base: start,
            data_start,
            boundary: &boundary,
            begin: part.begin(),
        };
        finish(&mut csv_reader(watch), &region, &names, profile, context, None)
    }

    fn read_rest(
        &self,
        part: &Part,
        byte: u64,
        profile: DatasetProfile,
        context: &PartContext<'_>,
    ) -> Result<PartResult<Self::Extra>, EngineError> {
        let source = &context.sources[part.source];
        let (names, data_start) = self.names_apart(context, part.source)?;
        let (watch, boundary) = Boundary::new(context.open(part.source, byte, source.size())?, byte, None);
        let region = Region {
            name: source.name(),
            source: part.source,
            size: source.size(),
            base: byte,
            data_start,
            boundary: &boundary,
            begin: part.begin(),
        };
        finish(&mut csv_reader(watch), &region, &names, profile, context, None)
    }
}

impl CsvParts {
    /// The column names and where the records begin, for a part that does not start at the
    /// file's beginning: the header is read apart (a few KB).
    fn names_apart(&self, context: &PartContext<'_>, source: usize) -> Result<(Vec<String>, u64), EngineError> {
        let s = &context.sources[source];
        if !self.header {
            return Ok((self.names.clone().unwrap_or_default(), 0));
        }
        let mut reader = csv_reader(context.open(source, 0, s.size().min(1 << 16))?);
        let names = read_header(&mut reader, s.name())?.unwrap_or_default();
        Ok((names, reader.position().byte()))
    }
}

/// Profiles the region's records and says where they ended.
fn finish<R: Read>(
    reader: &mut csv::Reader<R>,
    region: &Region<'_>,
    names: &[String],
    mut profile: DatasetProfile,
    context: &PartContext<'_>,
    extra: Option<Vec<String>>,
) -> Result<PartResult<Option<Vec<String>>>, EngineError> {
    ensure_columns(&mut profile, names);
    let (lines, straddled) = match profile_region(reader, region, names, &mut profile, context)? {
        RegionEnd::Boundary { next_line } => (next_line - 1, None),
        RegionEnd::EndOfFile { lines } => (lines, None),
        RegionEnd::Straddled { byte, line } => (0, Some((byte, line))),
    };
    Ok(PartResult {
        profile,
        lines,
        straddled,
        extra,
    })
}

fn csv_reader<R: Read>(stream: R) -> csv::Reader<R> {
    ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(stream)
}

fn profile_region<R: Read>(
    reader: &mut csv::Reader<R>,
    region: &Region<'_>,
    names: &[String],
    profile: &mut DatasetProfile,
    context: &PartContext<'_>,
) -> Result<RegionEnd, EngineError> {
    let mut record = StringRecord::new();
    let name = region.name;
    let expected = names.len();
    // The part ends at the first line start at or after its limit, clamped to the records'
    // start; unknown until the reader has read that far, and then no record can reach it yet.
    let end = || region.boundary.get().map(|b| b.max(region.data_start));
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => {
                return Ok(RegionEnd::EndOfFile {
                    lines: reader.position().line().saturating_sub(1),
                })
            }
            Ok(true) => {}
            Err(err) => match err.kind() {
                ErrorKind::Utf8 { pos, err: utf8 } => {
                    let (byte, line) = pos.as_ref().map_or((0, 0), |p| (region.base + p.byte(), p.line()));
                    if end().is_some_and(|end| byte >= end) {
                        // The next part's first record: it is that part's to reject.
                        return Ok(RegionEnd::Boundary { next_line: line });
                    }
                    let field = column_name(names, utf8.field());
                    profile.records.reject(RejectReason::InvalidUtf8, || {
                        format!("{name}:{line}: field `{field}` is not valid UTF-8")
                    });
                    continue;
                }
                _ => return Err(csv_error(name, err)),
            },
        }
        let (record_byte, line) = record
            .position()
            .map_or((region.base, 0), |p| (region.base + p.byte(), p.line()));
        if end().is_some_and(|end| record_byte >= end) {
            return Ok(RegionEnd::Boundary { next_line: line });
        }
        let record_end = region.base + reader.position().byte();
        if end().is_some_and(|end| record_end > end) {
            return Ok(RegionEnd::Straddled {
                byte: record_byte,
                line,
            });
        }
        // The csv crate ends a quoted field at end of file without complaint: a quote opened and
        // never closed would silently swallow the rest of the file into one record.
        if record_end >= region.size && has_unclosed_quote(context, region, record_byte)? {
            profile.records.reject(RejectReason::UnclosedQuote, || {
                format!("{name}:{line}: a quoted field opened in this record is never closed (it runs to the end of the file)")
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
                format!("{name}:{line}: expected {expected} fields, found {found}{hint}")
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
            context.progress(record_byte.saturating_sub(region.begin), profile.records.read);
        }
    }
}

/// Whether the bytes from `start` to the end of the source hold an odd number of quotes: in
/// well-formed CSV every quoted field opens and closes (an escaped quote is a pair).
fn has_unclosed_quote(context: &PartContext<'_>, region: &Region<'_>, start: u64) -> Result<bool, EngineError> {
    let mut stream = context.open(region.source, start, region.size)?;
    let mut quotes = 0usize;
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = stream.read(&mut buffer).map_err(|e| EngineError::io(region.name, e))?;
        if n == 0 {
            return Ok(quotes % 2 == 1);
        }
        quotes += memchr::memchr_iter(b'"', &buffer[..n]).count();
    }
}

/// The header's column names; `None` for a file with no lines at all.
fn read_header<R: Read>(reader: &mut csv::Reader<R>, path: &str) -> Result<Option<Vec<String>>, EngineError> {
    let mut record = StringRecord::new();
    match reader.read_record(&mut record) {
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
                        path: path.into(),
                        name,
                    });
                }
                names.push(name);
            }
            Ok(Some(names))
        }
        Err(err) => match err.kind() {
            ErrorKind::Utf8 { .. } => Err(EngineError::Csv {
                path: path.into(),
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

fn column_name(names: &[String], index: usize) -> String {
    names.get(index).cloned().unwrap_or_else(|| format!("_c{index}"))
}

fn csv_error(path: &str, err: csv::Error) -> EngineError {
    let line = err.position().map_or(0, |p| p.line());
    match err.into_kind() {
        ErrorKind::Io(source) => EngineError::io(path, source),
        other => EngineError::Csv {
            path: PathBuf::from(path),
            line,
            message: format!("{other:?}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::dataset::file_sources;

    fn profile_with_chunks(path: &Path, chunk_bytes: u64, threads: usize) -> DatasetProfile {
        let mut profile = DatasetProfile::default();
        let options = ReadOptions {
            threads: std::num::NonZeroUsize::new(threads),
            chunk_bytes,
        };
        let sources = file_sources(&[path.to_path_buf()]);
        profile_csv(&sources, true, options, &mut profile, &mut |_| {}).unwrap();
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
        let sequential = profile_with_chunks(&path, u64::MAX, 1);
        assert_eq!(
            sequential.records.rejected_total(),
            31 + 1 + 1,
            "{:?}",
            sequential.records
        );
        for (chunk_bytes, threads) in [(1_000, 1), (1_000, 3), (4_096, 2), (20_000, 1)] {
            let chunked = profile_with_chunks(&path, chunk_bytes, threads);
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
        let sequential = profile_with_chunks(&path, u64::MAX, 1);
        let chunked = profile_with_chunks(&path, 1_000, 2);
        assert_eq!(chunked.records, sequential.records);
        assert_eq!(chunked.records.analysed, 499);
        assert_eq!(chunked.to_statistics().dataset, sequential.to_statistics().dataset);
    }
}
