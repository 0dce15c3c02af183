//! Where a dataset's bytes come from: a [`Source`] is one file or one object, read as a stream
//! and named in errors by its path or URI. The engine reads local files through [`FileSource`];
//! the cloud layer gives it objects of a store, streamed as they arrive.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// One input file or object.
pub trait Source: Send + Sync {
    /// What errors and rejection examples call it: a file's path, an object's `s3://` URI.
    fn name(&self) -> &str;

    /// Its size in bytes.
    fn size(&self) -> u64;

    /// Its bytes from `start` to its end, as they arrive. `until` is where the reader expects to
    /// stop (the end of a chunk): a source that fetches ahead need fetch no further, though the
    /// reader may go on past it (to finish the last line of its chunk).
    fn open(&self, start: u64, until: u64) -> io::Result<Box<dyn Read + Send + '_>>;

    /// The bytes as a local file, for a reader that needs random access (Parquet): a local file is
    /// itself; another source copies itself to a temporary file, removed when the result drops.
    fn local_file(&self) -> io::Result<Box<dyn AsRef<Path> + '_>>;
}

/// A shared source: the parts of a big one are read on several threads.
pub type SourceRef = Arc<dyn Source>;

/// A local file.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
    name: String,
    size: u64,
}

impl FileSource {
    /// The file at `path`, named by its path. A file that cannot be read has size 0 here; reading
    /// it then says why.
    pub fn new(path: impl Into<PathBuf>) -> FileSource {
        let path = path.into();
        let name = path.display().to_string();
        FileSource::named(path, name)
    }

    /// The file at `path`, named `name` in errors: e.g. a copy of an object, named by its URI.
    pub fn named(path: impl Into<PathBuf>, name: impl Into<String>) -> FileSource {
        let path = path.into();
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        FileSource {
            path,
            name: name.into(),
            size,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Source for FileSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn open(&self, start: u64, _until: u64) -> io::Result<Box<dyn Read + Send + '_>> {
        let mut file = File::open(&self.path)?;
        if start > 0 {
            file.seek(SeekFrom::Start(start))?;
        }
        Ok(Box::new(file))
    }

    fn local_file(&self) -> io::Result<Box<dyn AsRef<Path> + '_>> {
        Ok(Box::new(self.path.as_path()))
    }
}

/// The local files `paths` as sources, in that order.
pub fn file_sources(paths: &[PathBuf]) -> Vec<SourceRef> {
    paths
        .iter()
        .map(|path| Arc::new(FileSource::new(path.clone())) as SourceRef)
        .collect()
}

/// A stream that adds the time spent waiting in `read` to a counter: how long profiling waited
/// for its input (a disk, a network), as opposed to working on it.
pub(crate) struct Timed<'a, R> {
    pub(crate) inner: R,
    pub(crate) waited_nanos: &'a AtomicU64,
}

impl<R: Read> Read for Timed<'_, R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let started = Instant::now();
        let result = self.inner.read(buffer);
        self.waited_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_source_reads_from_any_offset_and_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.csv");
        std::fs::write(&path, b"0123456789").unwrap();
        let source = FileSource::named(&path, "s3://bucket/data.csv");
        assert_eq!((source.name(), source.size()), ("s3://bucket/data.csv", 10));
        let mut rest = String::new();
        source.open(4, 10).unwrap().read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "456789");
        assert_eq!((*source.local_file().unwrap()).as_ref(), path.as_path());
        assert_eq!(FileSource::new(&path).name(), path.display().to_string());
    }
}
