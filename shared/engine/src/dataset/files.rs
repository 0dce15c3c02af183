//! Finding data files and reading them line by line: shared by the dataset and capture readers.

use std::fs::{File, Metadata};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

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

/// The size of `path` in bytes (0 if it cannot be read: reading it will then say why).
pub(crate) fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
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

/// Calls `each(line_number, line, bytes_read_so_far)` for every non-blank line of a file (a
/// UTF-8 byte-order mark at its start and its line break removed). Returns the number of lines.
///
/// Lines are handed out where they lie in the read buffer; only a line that spans two reads is
/// copied (copying every line cost an analysis run several percent of its time).
pub(crate) fn for_each_line(
    path: &Path,
    mut each: impl FnMut(u64, &[u8], u64) -> Result<(), EngineError>,
) -> Result<u64, EngineError> {
    let file = File::open(path).map_err(|e| EngineError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut spanning = Vec::new();
    let mut line_number = 0u64;
    let mut bytes_read = 0u64;
    let mut line_done = |line: &[u8], line_number: &mut u64, bytes_read: &mut u64| {
        *bytes_read += line.len() as u64;
        *line_number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let bytes = if *line_number == 1 {
            line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
        } else {
            line
        };
        // Without its line break: a parser's "column" then lies on this line, and a line cut
        // inside a string ends in "EOF while parsing a string", not a control character.
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        each(*line_number, bytes, *bytes_read)
    };
    loop {
        let buffer = reader.fill_buf().map_err(|e| EngineError::io(path, e))?;
        if buffer.is_empty() {
            if !spanning.is_empty() {
                line_done(&spanning, &mut line_number, &mut bytes_read)?;
            }
            return Ok(line_number);
        }
        let taken = match memchr::memchr(b'\n', buffer) {
            Some(end) if spanning.is_empty() => {
                line_done(&buffer[..=end], &mut line_number, &mut bytes_read)?;
                end + 1
            }
            Some(end) => {
                spanning.extend_from_slice(&buffer[..=end]);
                line_done(&spanning, &mut line_number, &mut bytes_read)?;
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
