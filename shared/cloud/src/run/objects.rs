//! A run's input objects as the engine's sources, streamed: the engine profiles the bytes as they
//! arrive, and a big object is read as several ranged GETs at once, a few parts ahead of the
//! reader, so memory stays bounded whatever the object's size and nothing is written to disk.
//! (Parquet is the exception: polars reads it with random access, so a Parquet object is copied
//! to a temporary file, one object per profiling thread at a time.)
//!
//! The engine is synchronous and runs on blocking threads; each ranged GET is a task on the async
//! runtime that hands its body's pieces to the reader through a channel.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Buf, Bytes};
use modelmon_engine::dataset::{FileSource, Source, SourceRef};
use modelmon_engine::EngineError;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::ports::{ObjectInfo, ObjectStore};
use crate::{CloudError, ObjectUri};

/// The bytes of one ranged GET: a big object is read in parts of this size.
pub const PART_BYTES: u64 = 8 << 20;
/// Ranged GETs under way at once for one reader: at most this many parts are held in memory.
pub const PARTS_AHEAD: usize = 4;
/// Past where a reader expects to stop (the end of its chunk), it fetches this much at a time.
const TAIL_BYTES: u64 = 256 << 10;

/// `objects` as sources for the engine, in this order, named by their URIs. An object that the
/// store holds as a local file is read in place; a Parquet object is copied to `scratch` (the
/// system's temporary folder when `None`). Call from within the async runtime that the reads
/// are to run on.
pub fn object_sources(
    store: &Arc<dyn ObjectStore>,
    objects: &[ObjectInfo],
    scratch: Option<&Path>,
) -> Result<Vec<SourceRef>, CloudError> {
    let runtime = Handle::try_current()
        .map_err(|_| CloudError::Internal("objects are read from within the async runtime".into()))?;
    Ok(objects
        .iter()
        .map(|object| match store.local_path(&object.uri) {
            Some(path) => Arc::new(FileSource::named(path, object.uri.to_string())) as SourceRef,
            None => Arc::new(ObjectSource {
                store: Arc::clone(store),
                name: object.uri.to_string(),
                uri: object.uri.clone(),
                size: object.size,
                runtime: runtime.clone(),
                scratch: scratch.map(Path::to_path_buf),
            }),
        })
        .collect())
}

/// The data objects among `objects` under `root`, in the order a local folder holding them is
/// read (segment by segment, as the engine walks folders): hidden objects and Spark/Hadoop
/// markers (a key segment below `root` that starts with `.` or `_`, such as `_SUCCESS`) and
/// folder markers (keys ending in `/`) are left out.
pub fn data_objects(mut objects: Vec<ObjectInfo>, root: &ObjectUri) -> Vec<ObjectInfo> {
    objects.retain(|object| {
        let below = object.uri.key.strip_prefix(&root.key).unwrap_or(&object.uri.key);
        !below.is_empty()
            && !below.ends_with('/')
            && !below
                .split('/')
                .any(|segment| segment.starts_with('.') || segment.starts_with('_'))
    });
    objects.sort_by(|a, b| a.uri.key.split('/').cmp(b.uri.key.split('/')));
    objects
}

/// The engine's error, as a run reports it: a read of an object that failed is the store's
/// error (an AWS call's may be cured by a retry), naming the object; a record preprocessor that
/// cannot run is the script's; anything else is the data's.
pub fn engine_failure(err: EngineError) -> CloudError {
    let EngineError::Io { path, source } = err else {
        return match err {
            // The user's record preprocessor cannot run: the script's fault, named as such.
            EngineError::Script(message) => CloudError::Script(message),
            other => CloudError::Data(other.to_string()),
        };
    };
    if !source.get_ref().is_some_and(|inner| inner.is::<CloudError>()) {
        return CloudError::Data(EngineError::Io { path, source }.to_string());
    }
    let inner = source.into_inner().map(|inner| inner.downcast::<CloudError>());
    let Some(Ok(cloud)) = inner else {
        return CloudError::Internal("a store error was lost".into());
    };
    match *cloud {
        CloudError::Aws {
            service,
            operation,
            message,
        } => CloudError::Aws {
            service,
            operation,
            message: format!("{}: {message}", path.display()),
        },
        CloudError::Data(message) => CloudError::Data(format!("{}: {message}", path.display())),
        other => other,
    }
}

/// An object of a store.
struct ObjectSource {
    store: Arc<dyn ObjectStore>,
    uri: ObjectUri,
    name: String,
    size: u64,
    runtime: Handle,
    scratch: Option<PathBuf>,
}

impl Source for ObjectSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn open(&self, start: u64, until: u64) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(ObjectReader {
            source: self,
            next: start.min(self.size),
            until: until.clamp(start, self.size),
            parts: VecDeque::new(),
            current: Bytes::new(),
        }))
    }

    fn local_file(&self) -> io::Result<Box<dyn AsRef<Path> + '_>> {
        let mut file = match &self.scratch {
            Some(dir) => tempfile::NamedTempFile::new_in(dir)?,
            None => tempfile::NamedTempFile::new()?,
        };
        io::copy(&mut self.open(0, self.size)?, file.as_file_mut())?;
        Ok(Box::new(file.into_temp_path()))
    }
}

/// A blocking stream of an object from some offset: ranged GETs of [`PART_BYTES`], up to
/// [`PARTS_AHEAD`] of them under way, as far as `until`; beyond it, [`TAIL_BYTES`] at a time, when
/// asked for. Dropping it cancels the GETs under way.
struct ObjectReader<'a> {
    source: &'a ObjectSource,
    /// Where the next GET starts.
    next: u64,
    until: u64,
    parts: VecDeque<PartDownload>,
    current: Bytes,
}

/// One ranged GET under way: its body's pieces, in order.
struct PartDownload {
    chunks: mpsc::UnboundedReceiver<Result<Bytes, CloudError>>,
    task: JoinHandle<()>,
    start: u64,
    left: u64,
}

impl Drop for PartDownload {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ObjectReader<'_> {
    fn ask_ahead(&mut self) {
        while self.parts.len() < PARTS_AHEAD && self.next < self.until {
            let end = (self.next + PART_BYTES).min(self.until);
            self.ask(end);
        }
    }

    /// Starts the GET of `self.next..end`.
    fn ask(&mut self, end: u64) {
        let (sender, chunks) = mpsc::unbounded_channel();
        let (store, uri, start) = (Arc::clone(&self.source.store), self.source.uri.clone(), self.next);
        let task = self.source.runtime.spawn(async move {
            let mut body = match store.read_range(&uri, start, end).await {
                Ok(body) => body,
                Err(err) => {
                    let _ = sender.send(Err(err));
                    return;
                }
            };
            loop {
                let piece = body.next_chunk().await.transpose();
                let last = !matches!(piece, Some(Ok(_)));
                // A send fails only when the reader has gone: nothing more to do.
                if let Some(piece) = piece {
                    if sender.send(piece).is_err() {
                        return;
                    }
                }
                if last {
                    return;
                }
            }
        });
        self.parts.push_back(PartDownload {
            chunks,
            task,
            start,
            left: end - start,
        });
        self.next = end;
    }
}

impl Read for ObjectReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.current.is_empty() {
                let n = buffer.len().min(self.current.len());
                buffer[..n].copy_from_slice(&self.current[..n]);
                self.current.advance(n);
                return Ok(n);
            }
            self.ask_ahead();
            if self.parts.is_empty() {
                if self.next >= self.source.size {
                    return Ok(0);
                }
                let end = (self.next + TAIL_BYTES).min(self.source.size);
                self.ask(end);
            }
            let part = self.parts.front_mut().expect("a part was just asked for");
            match part.chunks.blocking_recv() {
                Some(Ok(piece)) if piece.len() as u64 <= part.left => {
                    part.left -= piece.len() as u64;
                    self.current = piece;
                }
                Some(Ok(_)) => return Err(changed(part, "more")),
                Some(Err(err)) => return Err(io::Error::other(err)),
                None if part.left > 0 => return Err(changed(part, "fewer")),
                None => {
                    self.parts.pop_front();
                }
            }
        }
    }
}

/// A GET that gave another number of bytes than the listing promised.
fn changed(part: &PartDownload, what: &str) -> io::Error {
    io::Error::other(CloudError::Data(format!(
        "a read from byte {} gave {what} bytes than the object's listed size allows: the object changed while it was read",
        part.start
    )))
}
