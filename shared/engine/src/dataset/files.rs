//! Finding data files and reading them line by line: shared by the dataset and capture readers.

use std::fs::Metadata;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use super::parts::{open_at_first_line, Part, PartContext};
use crate::EngineError;

/// A path's metadata, or an error that says the path does not exist.
pub(crate) fn metadata(path: &Path) -> Result<Metadata, EngineError> {
    std::fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => EngineError::MissingPath {
            path: path.to_path_buf(),
        },
        _ => EngineError::io(path, source),
    })
}

/// The files of `paths`: each file as given, each directory's files through [`walk`]. A directory
/// without any file is what `empty_dir` says: an error, or nothing to read.
pub(crate) fn list(
    paths: &[PathBuf],
    enter: &dyn Fn(&[String]) -> bool,
    empty_dir: &dyn Fn(&Path) -> Option<EngineError>,
) -> Result<Vec<PathBuf>, EngineError> {
    let mut files = Vec::new();
    for path in paths {
        if metadata(path)?.is_dir() {
            let before = files.len();
            walk(path, enter, &mut files)?;
            if let (true, Some(err)) = (files.len() == before, empty_dir(path)) {
                return Err(err);
            }
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// The files under `dir`, recursively in name order, skipping hidden files and Spark/Hadoop
/// markers (`.x`, `_SUCCESS`). `enter` sees the folder names from `dir` down and may prune.
fn walk(dir: &Path, enter: &dyn Fn(&[String]) -> bool, files: &mut Vec<PathBuf>) -> Result<(), EngineError> {
    walk_below(dir, &mut Vec::new(), enter, files)
}

fn walk_below(
    dir: &Path,
    trail: &mut Vec<String>,
    enter: &dyn Fn(&[String]) -> bool,
    files: &mut Vec<PathBuf>,
) -> Result<(), EngineError> {
    if !enter(trail) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| EngineError::io(dir, e))?
        .map(|entry| entry.map(|e| e.path()).map_err(|e| EngineError::io(dir, e)))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        let name = entry
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if entry.is_dir() {
            trail.push(name);
            walk_below(&entry, trail, enter, files)?;
            trail.pop();
        } else {
            files.push(entry);
        }
    }
    Ok(())
}

/// Calls `each(line_number, line, bytes_read)` for every non-blank line of `part` (a UTF-8
/// byte-order mark at the start of its source and its line break removed), lines numbered from 1
/// at the part's first line, `bytes_read` counted from the beginning of the part's range.
/// Returns the number of lines the part spans.
///
/// Lines are handed out where they lie in the read buffer; only a line that spans two reads is
/// copied (copying every line cost an analysis run several percent of its time).
pub(crate) fn for_each_line(
    context: &PartContext<'_>,
    part: &Part,
    mut each: impl FnMut(u64, &[u8], u64) -> Result<(), EngineError>,
) -> Result<u64, EngineError> {
    let source = &context.sources[part.source];
    let name = source.name();
    let limit = part.limit();
    let Some((mut reader, start)) = open_at_first_line(context, part, 1 << 20, limit.unwrap_or(source.size()))? else {
        return Ok(0);
    };
    let begin = part.begin();
    let mut spanning = Vec::new();
    let mut line_number = 0u64;
    let mut offset = start;
    let mut line_done = |line: &[u8], line_number: &mut u64, offset: &mut u64| {
        *offset += line.len() as u64;
        *line_number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let bytes = if *line_number == 1 && start == 0 {
            line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
        } else {
            line
        };
        // Without its line break: a parser's "column" then lies on this line, and a line cut
        // inside a string ends in "EOF while parsing a string", not a control character.
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        each(*line_number, bytes, *offset - begin)
    };
    loop {
        // The next line starts in the next part's range: it is that part's.
        if spanning.is_empty() && limit.is_some_and(|limit| offset >= limit) {
            return Ok(line_number);
        }
        let buffer = reader.fill_buf().map_err(|e| EngineError::io(name, e))?;
        if buffer.is_empty() {
            if !spanning.is_empty() {
                line_done(&spanning, &mut line_number, &mut offset)?;
            }
            return Ok(line_number);
        }
        let taken = match memchr::memchr(b'\n', buffer) {
            Some(end) if spanning.is_empty() => {
                line_done(&buffer[..=end], &mut line_number, &mut offset)?;
                end + 1
            }
            Some(end) => {
                spanning.extend_from_slice(&buffer[..=end]);
                line_done(&spanning, &mut line_number, &mut offset)?;
                spanning.clear();
                end + 1
            }
            None => {
                spanning.extend_from_slice(buffer);
                buffer.len()
            }
        };
        reader.consume(taken);
    }
}
