//! The file-system plumbing the local adapters share: atomic replacement by temp file and rename,
//! an exclusive lock that holds across tasks and processes, and running blocking work off the
//! async runtime.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Writes `bytes` to a temp file in `path`'s folder (created if missing) and returns its path;
/// the caller renames or links it into place.
pub(crate) fn write_temp(path: &Path, bytes: &[u8]) -> Result<PathBuf, CloudError> {
    let dir = path
        .parent()
        .ok_or_else(|| CloudError::io(path, io::Error::other("no parent folder")))?;
    fs::create_dir_all(dir).map_err(|e| CloudError::io(dir, e))?;
    let temp = temp_path(path);
    let written = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&temp)?;
        file.write_all(bytes)?;
        file.flush()
    })();
    match written {
        Ok(()) => Ok(temp),
        Err(e) => {
            let _ = fs::remove_file(&temp);
            Err(CloudError::io(&temp, e))
        }
    }
}

/// Replaces (or creates) `path` with `bytes` so that readers see the old file or the new one,
/// never a part.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CloudError> {
    let temp = write_temp(path, bytes)?;
    fs::rename(&temp, path).map_err(|e| {
        let _ = fs::remove_file(&temp);
        CloudError::io(path, e)
    })
}

/// Creates `path` with `bytes` only if nothing is there (link(2) fails atomically with
/// `AlreadyExists`, like `O_EXCL`), again never showing a part. `Ok(false)`: the name is taken.
/// On a file system without hard links, falls back to check-then-rename under the lock at
/// `lock_path`, which every other writer of that folder takes too.
pub(crate) fn create_atomic(path: &Path, bytes: &[u8], lock_path: &Path) -> Result<bool, CloudError> {
    let temp = write_temp(path, bytes)?;
    let result = match fs::hard_link(&temp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(_) => {
            // No hard links here (FAT, some network shares): check and rename under the lock.
            Lock::acquire(lock_path).and_then(|_guard| {
                if path.exists() {
                    Ok(false)
                } else {
                    fs::rename(&temp, path)
                        .map(|()| true)
                        .map_err(|e| CloudError::io(path, e))
                }
            })
        }
    };
    let _ = fs::remove_file(&temp);
    result
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

/// An exclusive advisory lock (`flock` / `LockFileEx`) on a lock file, released on drop. The OS
/// releases it when the process dies, so a crash leaves no stale lock behind; and it excludes
/// other handles of this process as well, so it also orders tasks of one process. The lock file
/// itself stays: removing it would let two writers lock two different files of one name.
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
}

impl Lock {
    /// Waits (with backoff, at most [`LOCK_TIMEOUT`]) for the lock on `path`, creating the file
    /// and its folder if needed. Blocking: call it from blocking code.
    pub(crate) fn acquire(path: &Path) -> Result<Lock, CloudError> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| CloudError::io(dir, e))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| CloudError::io(path, e))?;
        let start = Instant::now();
        let mut pause = Duration::from_micros(200);
        loop {
            // Fully qualified: std's own `File::try_lock` is newer than the workspace's MSRV.
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => return Ok(Lock { _file: file }),
                Err(fs4::TryLockError::WouldBlock) if start.elapsed() < LOCK_TIMEOUT => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(fs4::TryLockError::WouldBlock) => {
                    let message = format!("lock still held by another writer after {LOCK_TIMEOUT:?}");
                    return Err(CloudError::io(path, io::Error::new(io::ErrorKind::TimedOut, message)));
                }
                Err(fs4::TryLockError::Error(e)) => return Err(CloudError::io(path, e)),
            }
        }
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
}
