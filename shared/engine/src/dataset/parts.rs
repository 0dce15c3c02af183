//! A dataset in parts, on every core: each source is one part, or one per chunk of
//! [`ReadOptions::chunk_bytes`] when it is bigger; the parts are profiled on several threads and
//! merged in their order. Neither the parts nor the order depend on the number of threads (one
//! thread profiles the same parts and merges them the same way), so the result is the same on
//! any machine.
//!
//! A chunk is the lines that *start* in its byte range: a reader of chunk `j > 0` skips to the
//! first line start at or after `j * chunk_bytes`, and reads on past the range's end to finish
//! its last line. So no boundary is looked for ahead of time (a source in a store costs no
//! extra requests), and two neighbouring chunks agree on their boundary without talking.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};
use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use super::source::{SourceRef, Timed};
use super::{Progress, ProgressFn};
use crate::profile::DatasetProfile;
use crate::EngineError;

/// Sources with more bytes than this are profiled in chunks of this size. It is fixed, so the
/// same file gives the same statistics whatever the machine.
pub const CHUNK_BYTES: u64 = 64 << 20;

/// How a dataset is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Threads that profile parts at the same time; `None`: one per core. The result does not
    /// depend on it.
    pub threads: Option<NonZeroUsize>,
    /// The chunk size ([`CHUNK_BYTES`]). The result does depend on this one (it decides what is
    /// merged); tests set small chunks to have many.
    pub chunk_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            threads: None,
            chunk_bytes: CHUNK_BYTES,
        }
    }
}

impl ReadOptions {
    /// The default options on `threads` threads.
    pub fn with_threads(threads: usize) -> Self {
        ReadOptions {
            threads: NonZeroUsize::new(threads),
            ..ReadOptions::default()
        }
    }

    fn thread_count(&self) -> usize {
        self.threads
            .or_else(|| std::thread::available_parallelism().ok())
            .map_or(1, NonZeroUsize::get)
    }
}

/// What reading took, beside the profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// The parts profiled (sources, and chunks of the big ones).
    pub parts: usize,
    /// The threads that profiled them.
    pub threads: usize,
    /// Time the profiling threads spent waiting for input bytes, summed over the threads.
    pub waited: Duration,
}

/// Chunk `chunk` of the `chunks` of source `source`: the lines that start in
/// `[chunk * chunk_bytes, (chunk + 1) * chunk_bytes)`, the last chunk's to the source's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Part {
    pub source: usize,
    pub chunk: u64,
    pub chunks: u64,
    pub chunk_bytes: u64,
}

impl Part {
    /// Where the part's byte range begins.
    pub fn begin(&self) -> u64 {
        self.chunk * self.chunk_bytes
    }

    /// Where the next part's range begins; `None` for a source's last part, which reads to its end.
    pub fn limit(&self) -> Option<u64> {
        (self.chunk + 1 < self.chunks).then(|| (self.chunk + 1) * self.chunk_bytes)
    }

    /// The bytes of the part's range, of a source of `size` bytes.
    fn range_bytes(&self, size: u64) -> u64 {
        self.limit().unwrap_or(size).min(size).saturating_sub(self.begin())
    }
}

/// The parts of `sources` in order: one per source, or (`chunked`) one per chunk of the big ones.
pub(crate) fn plan(sources: &[SourceRef], chunked: bool, chunk_bytes: u64) -> Vec<Part> {
    let chunk_bytes = chunk_bytes.max(1);
    let mut parts = Vec::new();
    for (source, s) in sources.iter().enumerate() {
        let chunks = if chunked {
            s.size().div_ceil(chunk_bytes).max(1)
        } else {
            1
        };
        parts.extend((0..chunks).map(|chunk| Part {
            source,
            chunk,
            chunks,
            chunk_bytes,
        }));
    }
    parts
}

/// What profiling one part gave.
pub(crate) struct PartResult<X> {
    /// The part's records, their lines numbered from 1 at the part's start.
    pub profile: DatasetProfile,
    /// The lines the part spans: the next part's lines are numbered on from here.
    pub lines: u64,
    /// CSV only: the record starting at this (byte, line) runs over the part's end, so the
    /// boundary fell inside a quoted field; the rest of the source is read on from it.
    pub straddled: Option<(u64, u64)>,
    /// What the format reports beside the profile (a CSV header, a capture summary).
    pub extra: X,
}

impl<X> PartResult<X> {
    pub fn new(profile: DatasetProfile, lines: u64, extra: X) -> Self {
        PartResult {
            profile,
            lines,
            straddled: None,
            extra,
        }
    }
}

/// Profiles one part of a format; shared by the profiling threads.
pub(crate) trait PartReader: Sync {
    type Extra: Send;

    /// Profiles `part` into `profile` (an empty profile with the dataset's settings).
    fn read(
        &self,
        part: &Part,
        profile: DatasetProfile,
        context: &PartContext<'_>,
    ) -> Result<PartResult<Self::Extra>, EngineError>;

    /// Profiles the rest of `part`'s source from `byte`, where a record ran over the part's end
    /// (see [`PartResult::straddled`]); lines numbered from 1 at `byte`.
    fn read_rest(
        &self,
        _part: &Part,
        _byte: u64,
        _profile: DatasetProfile,
        _context: &PartContext<'_>,
    ) -> Result<PartResult<Self::Extra>, EngineError> {
        Err(EngineError::Internal(
            "this format has no records that span lines".into(),
        ))
    }
}

/// Tells the merger that a part's reader has got further.
type Wake<'a> = &'a (dyn Fn() + Sync);

/// A stream of a source, buffered.
pub(crate) type Buffered<'a> = BufReader<Box<dyn Read + Send + 'a>>;

/// Sees each part's extra as the part is merged, in order.
pub(crate) type OnMerged<'a, X> = dyn FnMut(&Part, X) -> Result<(), EngineError> + 'a;

/// What the merger is handed: a part's result in order, or `None` for news of progress.
type Event<T> = Option<(usize, Result<T, EngineError>)>;

/// A part's reader's link to the run: its sources, progress and wait time.
pub(crate) struct PartContext<'a> {
    pub sources: &'a [SourceRef],
    counters: &'a PartCounters,
    wake: Wake<'a>,
    waited_nanos: &'a AtomicU64,
}

impl PartContext<'_> {
    /// A stream of source `source` from `start`, expected to be read to about `until`, whose
    /// waits count as waiting for input.
    pub fn open(&self, source: usize, start: u64, until: u64) -> Result<Box<dyn Read + Send + '_>, EngineError> {
        let s = &self.sources[source];
        let inner = s.open(start, until).map_err(|e| EngineError::io(s.name(), e))?;
        Ok(Box::new(Timed {
            inner,
            waited_nanos: self.waited_nanos,
        }))
    }

    /// The part has read `bytes` of its range and `records` records so far.
    pub fn progress(&self, bytes: u64, records: u64) {
        self.counters.bytes.store(bytes, Ordering::Relaxed);
        self.counters.records.store(records, Ordering::Relaxed);
        (self.wake)();
    }
}

/// Progress of a part being read.
#[derive(Default)]
struct PartCounters {
    bytes: AtomicU64,
    records: AtomicU64,
}

/// Opens `part` at its first line: for a chunk after the first, the first line that starts at or
/// after its range's beginning. Returns the stream there and that line's byte offset; an empty
/// chunk (one line covers its whole range) gives `None`.
pub(crate) fn open_at_first_line<'a>(
    context: &'a PartContext<'_>,
    part: &Part,
    buffer: usize,
    until: u64,
) -> Result<Option<(Buffered<'a>, u64)>, EngineError> {
    let name = context.sources[part.source].name();
    if part.chunk == 0 {
        let reader = BufReader::with_capacity(buffer, context.open(part.source, 0, until)?);
        return Ok(Some((reader, 0)));
    }
    // A line starts at `begin` if the byte before it ends a line.
    let from = part.begin() - 1;
    let mut reader = BufReader::with_capacity(buffer, context.open(part.source, from, until)?);
    // Through the next line break (to the end, without one).
    let skipped = reader.skip_until(b'\n').map_err(|e| EngineError::io(name, e))?;
    let start = from + skipped as u64;
    match part.limit() {
        Some(limit) if start >= limit => Ok(None),
        _ => Ok(Some((reader, start))),
    }
}

/// Where a chunk ends: the first line start at or after `limit`, i.e. one past the first `\n`
/// at or after `limit - 1`. Fed the stream's bytes in order (from `offset`), it finds it as the
/// bytes go by, so a reader that buffers ahead knows the boundary before it parses up to it.
pub(crate) struct Boundary<R> {
    inner: R,
    offset: u64,
    watch_from: u64,
    found: std::rc::Rc<std::cell::Cell<Option<u64>>>,
}

impl<R> Boundary<R> {
    /// Watches `inner`, whose first byte is at `offset`, for the first line start at or after
    /// `limit` (never found without a limit). The cell says where, once seen.
    pub fn new(inner: R, offset: u64, limit: Option<u64>) -> (Self, std::rc::Rc<std::cell::Cell<Option<u64>>>) {
        let found = std::rc::Rc::new(std::cell::Cell::new(None));
        let watch = Boundary {
            inner,
            offset,
            watch_from: limit.map_or(u64::MAX, |l| l.saturating_sub(1)),
            found: found.clone(),
        };
        (watch, found)
    }
}

impl<R: Read> Read for Boundary<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buffer)?;
        let end = self.offset + n as u64;
        if self.found.get().is_none() && end > self.watch_from {
            let skip = self.watch_from.saturating_sub(self.offset) as usize;
            if let Some(i) = memchr::memchr(b'\n', &buffer[skip..n]) {
                self.found.set(Some(self.offset + (skip + i) as u64 + 1));
            }
        }
        self.offset = end;
        Ok(n)
    }
}

/// Profiles `parts` of `sources` with `reader` and merges them into `profile` in order;
/// `merged` sees each part's extra in order too (to check a CSV header against the first, say).
pub(crate) fn profile_parts<P: PartReader>(
    sources: &[SourceRef],
    parts: &[Part],
    options: ReadOptions,
    reader: &P,
    profile: &mut DatasetProfile,
    progress: ProgressFn<'_>,
    merged: &mut OnMerged<'_, P::Extra>,
) -> Result<ReadStats, EngineError> {
    let threads = options.thread_count().clamp(1, parts.len().max(1));
    let counters: Vec<PartCounters> = parts.iter().map(|_| PartCounters::default()).collect();
    // A source whose chunking failed (a boundary inside a quoted field) is read on from there in
    // one go: its later chunks are not profiled, or their results are dropped.
    let skipped: Vec<AtomicBool> = sources.iter().map(|_| AtomicBool::new(false)).collect();
    let waited_nanos = AtomicU64::new(0);
    let template = profile.empty_like();
    let bytes_total: u64 = sources.iter().map(|s| s.size()).sum();

    let work = |i: usize, wake: Wake<'_>| -> Result<Option<PartResult<P::Extra>>, EngineError> {
        let part = &parts[i];
        if skipped[part.source].load(Ordering::Relaxed) {
            return Ok(None);
        }
        let context = PartContext {
            sources,
            counters: &counters[i],
            wake,
            waited_nanos: &waited_nanos,
        };
        reader.read(part, template.empty_like(), &context).map(Some)
    };

    // The merger's state: where the current source's lines stand, bytes of the parts merged.
    let mut lines_before = 0u64;
    let mut bytes_merged = 0u64;
    let mut next_to_merge = 0usize;
    let mut shown = Progress {
        bytes_done: 0,
        bytes_total,
        records: 0,
    };
    let idle_wake = || {};
    let mut handle = |event: Event<Option<PartResult<P::Extra>>>| {
        if let Some((i, result)) = event {
            let part = &parts[i];
            let source = &sources[part.source];
            if part.chunk == 0 {
                lines_before = 0;
            }
            bytes_merged += part.range_bytes(source.size());
            next_to_merge = i + 1;
            // A skipped part's result (or error: it may have started inside a quoted field) is dropped.
            let result = match skipped[part.source].load(Ordering::Relaxed) {
                true => None,
                false => result.map_err(|err| shift_error_line(err, source.name(), lines_before))?,
            };
            if let Some(mut result) = result {
                shift_example_lines(&mut result.profile, source.name(), lines_before);
                profile.merge(&result.profile)?;
                merged(part, result.extra)?;
                match result.straddled {
                    None => lines_before += result.lines,
                    Some((byte, line)) => {
                        skipped[part.source].store(true, Ordering::Relaxed);
                        let rest_before = lines_before + line - 1;
                        let context = PartContext {
                            sources,
                            counters: &counters[i],
                            wake: &idle_wake,
                            waited_nanos: &waited_nanos,
                        };
                        let mut rest = reader
                            .read_rest(part, byte, template.empty_like(), &context)
                            .map_err(|err| shift_error_line(err, source.name(), rest_before))?;
                        shift_example_lines(&mut rest.profile, source.name(), rest_before);
                        profile.merge(&rest.profile)?;
                        merged(part, rest.extra)?;
                    }
                }
            }
        }
        // Progress: the parts merged, exactly, and those being read as far as they have got.
        let mut done = Progress {
            bytes_done: bytes_merged,
            bytes_total,
            records: profile.records.read,
        };
        for (part, counter) in parts.iter().zip(&counters).skip(next_to_merge).take(2 * threads) {
            if !skipped[part.source].load(Ordering::Relaxed) {
                let range = part.range_bytes(sources[part.source].size());
                done.bytes_done += counter.bytes.load(Ordering::Relaxed).min(range);
                done.records += counter.records.load(Ordering::Relaxed);
            }
        }
        done.bytes_done = done.bytes_done.min(bytes_total);
        if next_to_merge == parts.len() {
            shown = done;
            progress(shown);
        } else if done.bytes_done > shown.bytes_done || done.records > shown.records {
            shown.bytes_done = shown.bytes_done.max(done.bytes_done);
            shown.records = shown.records.max(done.records);
            progress(shown);
        }
        Ok(())
    };
    if parts.is_empty() {
        handle(None)?;
    }
    run_in_order(parts.len(), threads, &work, &mut handle)?;
    Ok(ReadStats {
        parts: parts.len(),
        threads,
        waited: Duration::from_nanos(waited_nanos.load(Ordering::Relaxed)),
    })
}

/// Numbers a part's rejection examples (`name:line: what`) on from the lines before it.
fn shift_example_lines(profile: &mut DatasetProfile, name: &str, lines_before: u64) {
    if lines_before == 0 {
        return;
    }
    let prefix = format!("{name}:");
    for tally in profile.records.rejected.values_mut() {
        for example in &mut tally.examples {
            let Some((line, message)) = example.strip_prefix(&prefix).and_then(|rest| rest.split_once(':')) else {
                continue;
            };
            if let Ok(line) = line.parse::<u64>() {
                *example = format!("{prefix}{}:{message}", line + lines_before);
            }
        }
    }
}

/// A part's error about one of its lines, numbered on from the lines before the part.
fn shift_error_line(err: EngineError, name: &str, lines_before: u64) -> EngineError {
    let shift = |path: PathBuf, line: u64| {
        let line = if path.as_os_str() == name && line > 0 {
            line + lines_before
        } else {
            line
        };
        (path, line)
    };
    match err {
        EngineError::Csv { path, line, message } => {
            let (path, line) = shift(path, line);
            EngineError::Csv { path, line, message }
        }
        EngineError::Capture { path, line, message } => {
            let (path, line) = shift(path, line);
            EngineError::Capture { path, line, message }
        }
        other => other,
    }
}

/// What a profiling thread sends the merger.
enum Message<T> {
    /// A part's reader has got further.
    Progress,
    Done(usize, std::thread::Result<Result<T, EngineError>>),
}

/// Runs `work(i)` for `i` in `0..count` on `threads` threads and hands the results to `handle`
/// in order of `i` (and `None` now and then, when a part reports progress). At most `2 *
/// threads` results are ahead of the next one to hand over, so memory stays bounded however
/// many parts there are. The first error (of `work`, of `handle`, or a panic) stops the run.
fn run_in_order<T: Send>(
    count: usize,
    threads: usize,
    work: &(dyn Fn(usize, Wake<'_>) -> Result<T, EngineError> + Sync),
    handle: &mut dyn FnMut(Event<T>) -> Result<(), EngineError>,
) -> Result<(), EngineError> {
    let window = 2 * threads;
    let next = AtomicUsize::new(0);
    let handed_over = Mutex::new(0usize);
    let advanced = Condvar::new();
    let stop = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel::<Message<T>>();
    std::thread::scope(|scope| {
        for _ in 0..threads.min(count) {
            let sender = sender.clone();
            let (next, handed_over, advanced, stop) = (&next, &handed_over, &advanced, &stop);
            scope.spawn(move || {
                let wake = || {
                    let _ = sender.send(Message::Progress);
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return;
                    }
                    let mut done = handed_over.lock().unwrap_or_else(PoisonError::into_inner);
                    while i >= *done + window && !stop.load(Ordering::Relaxed) {
                        done = advanced.wait(done).unwrap_or_else(PoisonError::into_inner);
                    }
                    drop(done);
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let result = catch_unwind(AssertUnwindSafe(|| work(i, &wake)));
                    if sender.send(Message::Done(i, result)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(sender);
        let outcome = (|| {
            let mut pending = BTreeMap::new();
            let mut wanted = 0;
            while wanted < count {
                match receiver.recv() {
                    Ok(Message::Progress) => handle(None)?,
                    Ok(Message::Done(i, result)) => {
                        pending.insert(i, result);
                        while let Some(result) = pending.remove(&wanted) {
                            let result = result.unwrap_or_else(|panic| Err(EngineError::Internal(panic_text(&panic))));
                            handle(Some((wanted, result)))?;
                            wanted += 1;
                            *handed_over.lock().unwrap_or_else(PoisonError::into_inner) = wanted;
                            advanced.notify_all();
                        }
                    }
                    Err(_) => return Err(EngineError::Internal("the profiling threads stopped early".into())),
                }
            }
            Ok(())
        })();
        {
            // Under the lock: a thread about to wait sees `stop`, or is waiting and is woken.
            let _done = handed_over.lock().unwrap_or_else(PoisonError::into_inner);
            stop.store(true, Ordering::Relaxed);
        }
        advanced.notify_all();
        drop(receiver);
        outcome
    })
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    format!("a profiling thread panicked: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_order_whatever_the_threads() {
        for threads in [1, 2, 3, 8] {
            let mut seen = Vec::new();
            let work = |i: usize, wake: Wake<'_>| {
                wake();
                // Later items finish first, so order comes from the merger, not the threads.
                std::thread::sleep(Duration::from_micros(((50 - i) * 20) as u64));
                Ok(i * 10)
            };
            run_in_order(50, threads, &work, &mut |event| {
                if let Some((i, value)) = event {
                    seen.push((i, value.unwrap()));
                }
                Ok(())
            })
            .unwrap();
            assert_eq!(
                seen,
                (0..50).map(|i| (i, i * 10)).collect::<Vec<_>>(),
                "{threads} threads"
            );
        }
    }

    #[test]
    fn the_first_error_stops_the_run_and_a_panic_is_an_error() {
        let work = |i: usize, _: Wake<'_>| {
            if i == 7 {
                panic!("part {i} is broken");
            }
            Ok(i)
        };
        let mut handed = 0;
        let err = run_in_order(1000, 2, &work, &mut |event| {
            if let Some((_, result)) = event {
                result?;
                handed += 1;
            }
            Ok(())
        })
        .unwrap_err();
        assert_eq!(handed, 7);
        assert_eq!(
            err.to_string(),
            "internal error: a profiling thread panicked: part 7 is broken"
        );
    }

    #[test]
    fn the_boundary_is_the_first_line_start_at_or_after_the_limit() {
        let text = b"aaaa\nbbbb\ncccc\n";
        for (limit, expected) in [(5, Some(5)), (6, Some(10)), (10, Some(10)), (11, Some(15)), (16, None)] {
            for piece in [1, 3, 64] {
                let (mut watch, found) = Boundary::new(&text[..], 0, Some(limit));
                let mut buffer = vec![0u8; piece];
                while watch.read(&mut buffer).unwrap() > 0 {}
                assert_eq!(found.get(), expected, "limit {limit}, reads of {piece}");
            }
        }
        let (mut watch, found) = Boundary::new(&b"cc\ndd\n"[..], 9, Some(11));
        std::io::copy(&mut watch, &mut std::io::sink()).unwrap();
        assert_eq!(found.get(), Some(12), "offsets count from where the stream starts");
    }
}
