//! The file-system plumbing the local adapters share: durable atomic replacement (a temp file
//! flushed to disk, renamed into place, the folder flushed too), an exclusive lock that holds
//! across tasks and processes, and running blocking work off the async runtime.
//!
//! Durability: a write is acknowledged only once it would survive a crash of the machine, not
//! only of the process. The temp file is fsynced before it takes the item's name (so the name
//! never points at a part of it), and the folder is fsynced after the rename, link or removal
//! (so the name change itself is on disk). Callers that hold a lock do the slow fsyncs outside
//! it: the temp file before taking the lock, the folder after releasing it, so concurrent
//! writers' flushes overlap and the file system commits them together.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::CloudError;

/// Temp files start with this; listings skip them.
pub(crate) const TEMP_PREFIX: &str = ".modelmon-tmp-";

/// How long a writer waits for a lock before giving up: the locked sections are a few file
/// operations, so a lock held this long belongs to a stuck process.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temp file name beside `path`, unique across the tasks of this process (counter) and
/// across processes (pid).
fn temp_path(path: &Path) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("{TEMP_PREFIX}{}-{n}", std::process::id());
    path.with_file_name(name)
}

fn parent_of(path: &Path) -> Result<&Path, CloudError> {
    path.parent()
        .ok_or_else(|| CloudError::io(path, io::Error::other("no parent folder")))
}

/// A file's new content, written and flushed to disk under a temp name beside its final name;
/// it takes that name with [`Staged::rename_to`] or [`Staged::link_to`], and is removed if
/// dropped before.
#[derive(Debug)]
pub(crate) struct Staged {
    temp: PathBuf,
}

impl Staged {
    /// Writes `bytes` beside `path` (its folder is created, durably, if missing) and fsyncs it.
    pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<Staged, CloudError> {
        create_dir_durable(parent_of(path)?)?;
        let staged = Staged { temp: temp_path(path) };
        let written = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&staged.temp)?;
            file.write_all(bytes)?;
            file.sync_data()
        })();
        written.map_err(|e| CloudError::io(&staged.temp, e))?;
        Ok(staged)
    }

    /// Replaces (or creates) `path`: readers see the old file or the new one, never a part. The
    /// rename is durable once the folder is synced ([`sync_dir`]).
    pub(crate) fn rename_to(self, path: &Path) -> Result<(), CloudError> {
        fs::rename(&self.temp, path).map_err(|e| CloudError::io(path, e))?;
        std::mem::forget(self);
        Ok(())
    }

    /// Creates `path` only if nothing is there (link(2) fails atomically with `AlreadyExists`,
    /// like `O_EXCL`, again never showing a part). `Ok(false)`: the name is taken. On a file
    /// system without hard links, falls back to check-then-rename under the lock at
    /// `lock_path`, which every other writer of that folder takes too. Durable once the folder
    /// is synced.
    pub(crate) fn link_to(self, path: &Path, lock_path: &Path) -> Result<bool, CloudError> {
        match fs::hard_link(&self.temp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(_) => {
                // No hard links here (FAT, some network shares): check and rename under the lock.
                let _guard = Lock::acquire(lock_path)?;
                if path.exists() {
                    Ok(false)
                } else {
                    self.rename_to(path).map(|()| true)
                }
            }
        }
        // Dropping `self` (when linked, or refused) removes the temp name.
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.temp);
    }
}

/// Flushes the folder's entries to disk: the renames, links and removals done in it so far
/// survive a crash once this returns. (A no-op where folders cannot be opened, as on Windows.)
pub(crate) fn sync_dir(dir: &Path) -> Result<(), CloudError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|folder| folder.sync_all())
        .map_err(|e| CloudError::io(dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Creates `dir` and any missing parents, each made durable in its own parent.
pub(crate) fn create_dir_durable(dir: &Path) -> Result<(), CloudError> {
    if dir.is_dir() {
        return Ok(());
    }
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.is_dir())
        .collect();
    fs::create_dir_all(dir).map_err(|e| CloudError::io(dir, e))?;
    for created in missing.iter().rev() {
        if let Some(parent) = created.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Replaces (or creates) `path` with `bytes`, durably: readers see the old file or the new
/// one, never a part, and once this returns the new one survives a crash.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CloudError> {
    Staged::write(path, bytes)?.rename_to(path)?;
    sync_dir(parent_of(path)?)
}

/// Creates `path` with `bytes` only if nothing is there, durably. `Ok(false)`: the name is
/// taken (see [`Staged::link_to`]).
pub(crate) fn create_atomic(path: &Path, bytes: &[u8], lock_path: &Path) -> Result<bool, CloudError> {
    let created = Staged::write(path, bytes)?.link_to(path, lock_path)?;
    if created {
        sync_dir(parent_of(path)?)?;
    }
    Ok(created)
}

/// Removes the temp files that writers which are no longer running left in `dir` (writes that
/// were never acknowledged: nothing is lost); returns how many.
pub(crate) fn remove_stale_temps(dir: &Path) -> Result<usize, CloudError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(CloudError::io(dir, e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| CloudError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(TEMP_PREFIX) && writer_is_gone(&name, &entry) {
            match fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(CloudError::io(entry.path(), e)),
            }
        }
    }
    Ok(removed)
}

/// Whether the process that wrote the temp file `name` (`<prefix><pid>-<n>`) is gone: not this
/// one, and not running (Linux: no `/proc/<pid>`); elsewhere, a temp file older than an hour.
fn writer_is_gone(name: &str, entry: &fs::DirEntry) -> bool {
    let pid = name[TEMP_PREFIX.len()..]
        .split('-')
        .next()
        .and_then(|pid| pid.parse::<u32>().ok());
    if pid == Some(std::process::id()) {
        return false;
    }
    if cfg!(target_os = "linux") {
        return pid.is_none_or(|pid| !Path::new(&format!("/proc/{pid}")).exists());
    }
    let age = entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok());
    age.is_some_and(|age| age > Duration::from_secs(3600))
}

/// Appends `bytes` to `path` (created with its folder if missing) in one write, so appends of
/// concurrent writers do not interleave.
pub(crate) fn append(path: &Path, bytes: &[u8]) -> Result<(), CloudError> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| CloudError::io(dir, e))?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| CloudError::io(path, e))?;
    file.write_all(bytes).map_err(|e| CloudError::io(path, e))
}

/// An exclusive lock on a lock file, released on drop. Threads of this process queue on an
/// in-process lock of that path first (woken as soon as it is free), and the holder then takes
/// the OS's advisory lock (`flock` / `LockFileEx`) against other processes. The OS releases
/// that when a process dies, so a crash leaves no stale lock behind. The lock file itself
/// stays: removing it would let two writers lock two different files of one name.
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
    local: Arc<LocalLock>,
}

/// The in-process half of a [`Lock`]: whether a thread of this process holds it.
#[derive(Debug, Default)]
struct LocalLock {
    held: Mutex<bool>,
    freed: Condvar,
}

impl LocalLock {
    /// The one in-process lock of `path`.
    fn of(path: &Path) -> Arc<LocalLock> {
        static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<LocalLock>>>> = OnceLock::new();
        let mut locks = LOCKS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        locks.entry(path.to_path_buf()).or_default().clone()
    }

    fn acquire(&self, deadline: Instant) -> bool {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        while *held {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            held = self.freed.wait_timeout(held, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        *held = true;
        true
    }

    fn release(&self) {
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = false;
        self.freed.notify_one();
    }
}

impl Lock {
    /// Waits (at most [`LOCK_TIMEOUT`]) for the lock on `path`, creating the file and its
    /// folder if needed. Blocking: call it from blocking code.
    pub(crate) fn acquire(path: &Path) -> Result<Lock, CloudError> {
        let timed_out = || {
            let message = format!("lock still held by another writer after {LOCK_TIMEOUT:?}");
            CloudError::io(path, io::Error::new(io::ErrorKind::TimedOut, message))
        };
        let deadline = Instant::now() + LOCK_TIMEOUT;
        let local = LocalLock::of(path);
        if !local.acquire(deadline) {
            return Err(timed_out());
        }
        // From here on, dropping `guard` releases the in-process lock, also on errors.
        let guard = LocalGuard(local);
        if let Some(dir) = path.parent() {
            create_dir_durable(dir)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| CloudError::io(path, e))?;
        // Only other processes contend here: back off while one of them holds it.
        let mut pause = Duration::from_micros(200);
        loop {
            // Fully qualified: std's own `File::try_lock` is newer than the workspace's MSRV.
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => {
                    let local = guard.0.clone();
                    std::mem::forget(guard);
                    return Ok(Lock { _file: file, local });
                }
                Err(fs4::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(fs4::TryLockError::WouldBlock) => return Err(timed_out()),
                Err(fs4::TryLockError::Error(e)) => return Err(CloudError::io(path, e)),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // The OS lock first, so the next thread of this process finds it free.
        let _ = fs4::FileExt::unlock(&self._file);
        self.local.release();
    }
}

/// Releases an in-process lock unless forgotten (handed to a [`Lock`]).
struct LocalGuard(Arc<LocalLock>);

impl Drop for LocalGuard {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Runs blocking file work on tokio's blocking pool; a panic in it resumes in the caller.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, CloudError>
where
    F: FnOnce() -> Result<T, CloudError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(CloudError::io(PathBuf::new(), io::Error::other(e))),
    }
}

/// Reads a file, `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, CloudError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CloudError::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file.json"]);
    }

    #[test]
    fn create_atomic_refuses_a_taken_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("item.json");
        let lock = dir.path().join(".lock");
        assert!(create_atomic(&path, b"first", &lock).unwrap());
        assert!(!create_atomic(&path, b"second", &lock).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"first");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["item.json"]);
    }

    #[test]
    fn lock_excludes_another_handle_of_this_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let held = Lock::acquire(&path).unwrap();
        let other = OpenOptions::new().write(true).open(&path).unwrap();
        assert!(matches!(
            fs4::FileExt::try_lock(&other),
            Err(fs4::TryLockError::WouldBlock)
        ));
        drop(held);
        assert!(fs4::FileExt::try_lock(&other).is_ok());
    }

    #[test]
    fn a_staged_file_dropped_before_taking_its_name_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/deeper/item.json");
        let staged = Staged::write(&path, b"never used").unwrap();
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
        drop(staged);
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 0);
        assert!(!path.exists());
    }

    #[test]
    fn only_temp_files_of_writers_that_are_gone_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // pid 0 is never a process of ours; this process's own temp file stays.
        let gone = dir.path().join(format!("{TEMP_PREFIX}0-7"));
        let ours = dir.path().join(format!("{TEMP_PREFIX}{}-7", std::process::id()));
        let item = dir.path().join("item.json");
        for path in [&gone, &ours, &item] {
            fs::write(path, b"x").unwrap();
        }
        let expected = if cfg!(target_os = "linux") { 1 } else { 0 };
        assert_eq!(remove_stale_temps(dir.path()).unwrap(), expected);
        assert_eq!(gone.exists(), expected == 0);
        assert!(ours.exists() && item.exists());
        assert_eq!(remove_stale_temps(&dir.path().join("missing")).unwrap(), 0);
    }

    #[test]
    fn threads_of_one_process_take_the_lock_in_turn() {
        let dir = tempfile::tempdir().unwrap();
        let lock_path = Arc::new(dir.path().join(".lock"));
        let counter = Arc::new(Mutex::new(0u32));
        let inside = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (lock_path, counter, inside) = (lock_path.clone(), counter.clone(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let _lock = Lock::acquire(&lock_path).unwrap();
                        // Nobody else is inside while this thread holds the lock.
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        *counter.lock().unwrap() += 1;
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(*counter.lock().unwrap(), 400);
    }
}
