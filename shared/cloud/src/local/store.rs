//! [`ObjectStore`] on a folder: `s3://bucket/key` is the file `root/bucket/key`.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use super::fsutil::{blocking, write_atomic, TEMP_PREFIX};
use crate::ports::{ByteChunks, ObjectInfo, ObjectStore};
use crate::uri::ObjectUri;
use crate::CloudError;

/// Objects as files under `root`: `s3://bucket/a/b.json` is `root/bucket/a/b.json`. A put writes
/// a temp file beside the target and renames it into place, so a reader sees the old object or
/// the new one, never a part. The content type is not kept.
///
/// A file system cannot hold every S3 key: keys with empty, `.` or `..` segments, a trailing `/`,
/// or a segment starting with `.modelmon-tmp-` (the temp files) are refused as
/// `CloudError::InvalidUri`, and no key maps to a path outside `root`.
#[derive(Debug, Clone)]
pub struct FsObjectStore {
    pub root: PathBuf,
}

impl FsObjectStore {
    pub fn new(root: impl Into<PathBuf>) -> FsObjectStore {
        FsObjectStore { root: root.into() }
    }

    /// The file that holds the object at `uri`.
    pub fn path_of(&self, uri: &ObjectUri) -> Result<PathBuf, CloudError> {
        let invalid = |reason: &str| CloudError::InvalidUri {
            uri: uri.to_string(),
            reason: reason.to_string(),
        };
        if uri.key.is_empty() || uri.key.ends_with('/') {
            return Err(invalid("an object key must not be empty or end with '/'"));
        }
        self.folder_path(&uri.bucket, &uri.key).ok_or_else(|| {
            invalid("the local store cannot hold a key with empty, '.' or '..' segments, or temp file names")
        })
    }

    /// `root/bucket/key` when every segment of `key` is a plain file name (so the path stays under
    /// `root/bucket`); `key` may be empty (the bucket's folder).
    fn folder_path(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        let mut path = self.root.join(plain_name(bucket)?);
        if !key.is_empty() {
            for segment in key.split('/') {
                if segment.starts_with(TEMP_PREFIX) {
                    return None;
                }
                path.push(plain_name(segment)?);
            }
        }
        Some(path)
    }
}

/// `segment` if it is exactly one ordinary path component (not empty, `.`, `..`, a drive or a
/// name holding a separator of this platform).
fn plain_name(segment: &str) -> Option<&str> {
    let mut components = Path::new(segment).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(name)), None) if name == segment => Some(segment),
        _ => None,
    }
}

fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory
    )
}

#[async_trait]
impl ObjectStore for FsObjectStore {
    async fn get(&self, uri: &ObjectUri) -> Result<Vec<u8>, CloudError> {
        let path = self.path_of(uri)?;
        let uri = uri.clone();
        blocking(move || match fs::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if is_missing(&e) => Err(CloudError::ObjectNotFound { uri: uri.to_string() }),
            Err(e) => Err(CloudError::io(path, e)),
        })
        .await
    }

    async fn read_range(&self, uri: &ObjectUri, start: u64, end: u64) -> Result<Box<dyn ByteChunks>, CloudError> {
        let path = self.path_of(uri)?;
        let uri = uri.clone();
        let file = blocking(move || {
            let mut file = match File::open(&path) {
                Ok(file) if !path.is_dir() => file,
                Ok(_) => return Err(CloudError::ObjectNotFound { uri: uri.to_string() }),
                Err(e) if is_missing(&e) => return Err(CloudError::ObjectNotFound { uri: uri.to_string() }),
                Err(e) => return Err(CloudError::io(path, e)),
            };
            file.seek(SeekFrom::Start(start))
                .map_err(|e| CloudError::io(&path, e))?;
            Ok((file, path))
        })
        .await?;
        Ok(Box::new(FileChunks {
            file: Some(file),
            left: end.saturating_sub(start),
        }))
    }

    fn local_path(&self, uri: &ObjectUri) -> Option<PathBuf> {
        self.path_of(uri).ok()
    }

    async fn put(&self, uri: &ObjectUri, body: Vec<u8>, _content_type: &str) -> Result<(), CloudError> {
        let path = self.path_of(uri)?;
        blocking(move || write_atomic(&path, &body)).await
    }

    async fn delete(&self, uri: &ObjectUri) -> Result<(), CloudError> {
        let path = self.path_of(uri)?;
        blocking(move || match fs::remove_file(&path) {
            Err(e) if !is_missing(&e) => Err(CloudError::io(path, e)),
            _ => Ok(()),
        })
        .await
    }

    async fn list(&self, prefix: &ObjectUri) -> Result<Vec<ObjectInfo>, CloudError> {
        // Walk the deepest folder the prefix names; its last part filters names.
        let dir_key = prefix.key.rsplit_once('/').map_or("", |(dir, _)| dir);
        let Some(dir) = self.folder_path(&prefix.bucket, dir_key) else {
            // A folder no key can be in (an empty or '.' segment): nothing matches.
            return Ok(Vec::new());
        };
        let (dir_key, prefix) = (dir_key.to_string(), prefix.clone());
        blocking(move || {
            let mut found = Vec::new();
            walk(&dir, &dir_key, &prefix, &mut found)?;
            found.sort_by(|a, b| a.uri.key.cmp(&b.uri.key));
            Ok(found)
        })
        .await
    }
}

/// A range of a file, read a MiB at a time off the async threads.
struct FileChunks {
    /// The file and its path; `None` while a read is under way (or after one failed).
    file: Option<(File, PathBuf)>,
    left: u64,
}

#[async_trait]
impl ByteChunks for FileChunks {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, CloudError> {
        if self.left == 0 {
            return Ok(None);
        }
        let (mut file, path) = self
            .file
            .take()
            .ok_or_else(|| CloudError::Internal("a file range was read on after an error".into()))?;
        let want = self.left.min(1 << 20) as usize;
        let (file, path, chunk) = blocking(move || {
            let mut chunk = Vec::with_capacity(want);
            (&mut file)
                .take(want as u64)
                .read_to_end(&mut chunk)
                .map_err(|e| CloudError::io(&path, e))?;
            Ok((file, path, chunk))
        })
        .await?;
        if chunk.is_empty() {
            // The file is shorter than the range: it ends here.
            self.left = 0;
            return Ok(None);
        }
        self.left -= chunk.len() as u64;
        self.file = Some((file, path));
        Ok(Some(Bytes::from(chunk)))
    }
}

/// Adds the files under `dir` (whose key is `dir_key`) whose keys start with `prefix.key`.
fn walk(dir: &Path, dir_key: &str, prefix: &ObjectUri, found: &mut Vec<ObjectInfo>) -> Result<(), CloudError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if is_missing(&e) => return Ok(()),
        Err(e) => return Err(CloudError::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| CloudError::io(dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with(TEMP_PREFIX) {
            continue;
        }
        let key = if dir_key.is_empty() {
            name
        } else {
            format!("{dir_key}/{name}")
        };
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| CloudError::io(&path, e))?;
        if file_type.is_dir() {
            let folder = format!("{key}/");
            if folder.starts_with(&prefix.key) || prefix.key.starts_with(&folder) {
                walk(&path, &key, prefix, found)?;
            }
        } else if key.starts_with(&prefix.key) {
            // Follows a symbolic link to a file; one to nothing is skipped.
            match fs::metadata(&path) {
                Ok(meta) if meta.is_file() => {
                    let uri = ObjectUri {
                        bucket: prefix.bucket.clone(),
                        key,
                    };
                    found.push(ObjectInfo { uri, size: meta.len() });
                }
                Ok(_) => {}
                Err(e) if is_missing(&e) => {}
                Err(e) => return Err(CloudError::io(path, e)),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn uri(s: &str) -> ObjectUri {
        ObjectUri::parse(s).unwrap()
    }

    fn store() -> (tempfile::TempDir, FsObjectStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path());
        (dir, store)
    }

    async fn keys(store: &FsObjectStore, prefix: &str) -> Vec<(String, u64)> {
        let listed = store.list(&uri(prefix)).await.unwrap();
        listed
            .into_iter()
            .map(|info| (info.uri.to_string(), info.size))
            .collect()
    }

    #[tokio::test]
    async fn put_get_round_trip_and_overwrite() {
        let (dir, store) = store();
        let object = uri("s3://bucket-1/deep/er/object.json");
        store
            .put(&object, b"{\"a\":1}".to_vec(), "application/json")
            .await
            .unwrap();
        assert_eq!(store.get(&object).await.unwrap(), b"{\"a\":1}");
        assert!(dir.path().join("bucket-1/deep/er/object.json").is_file());
        store.put(&object, b"second".to_vec(), "text/plain").await.unwrap();
        assert_eq!(store.get(&object).await.unwrap(), b"second");
        store.put(&object, Vec::new(), "text/plain").await.unwrap();
        assert_eq!(store.get(&object).await.unwrap(), b"");
    }

    #[tokio::test]
    async fn ranges_are_read_in_pieces_and_objects_are_files() {
        let (dir, store) = store();
        let object = uri("s3://bucket-1/big.bin");
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        store.put(&object, body.clone(), "").await.unwrap();
        for (start, end) in [(0, 3_000_000), (5, 2_500_003), (100, 100), (2_999_999, 3_000_000)] {
            let mut chunks = store.read_range(&object, start, end).await.unwrap();
            let mut got = Vec::new();
            while let Some(chunk) = chunks.next_chunk().await.unwrap() {
                assert!(chunk.len() <= 1 << 20);
                got.extend_from_slice(&chunk);
            }
            assert_eq!(got, body[start as usize..end as usize], "{start}..{end}");
        }
        assert!(matches!(
            store.read_range(&uri("s3://bucket-1/none"), 0, 1).await,
            Err(CloudError::ObjectNotFound { .. })
        ));
        assert_eq!(store.local_path(&object), Some(dir.path().join("bucket-1/big.bin")));
    }

    #[tokio::test]
    async fn missing_object_is_object_not_found() {
        let (_dir, store) = store();
        for missing in ["s3://bucket-1/nothing", "s3://nobucket/a/b"] {
            match store.get(&uri(missing)).await {
                Err(CloudError::ObjectNotFound { uri }) => assert_eq!(uri, missing),
                other => panic!("{other:?}"),
            }
        }
        // A folder, or a path through a file, is not an object either.
        store.put(&uri("s3://bucket-1/a/b"), b"x".to_vec(), "").await.unwrap();
        assert!(matches!(
            store.get(&uri("s3://bucket-1/a")).await,
            Err(CloudError::ObjectNotFound { .. })
        ));
        assert!(matches!(
            store.get(&uri("s3://bucket-1/a/b/c")).await,
            Err(CloudError::ObjectNotFound { .. })
        ));
    }

    #[tokio::test]
    async fn list_filters_by_prefix_through_nested_folders_in_key_order() {
        let (_dir, store) = store();
        for (key, size) in [
            ("a/b/1", 1),
            ("a/b/c/d/2", 2),
            ("a/bc/3", 3),
            ("a/bz", 4),
            ("a/x", 5),
            ("a/B/6", 6),
            ("z", 7),
        ] {
            store
                .put(&uri(&format!("s3://bkt/{key}")), vec![b'.'; size], "")
                .await
                .unwrap();
        }
        store.put(&uri("s3://other/a/b/1"), b"o".to_vec(), "").await.unwrap();
        let expect = |items: &[(&str, u64)]| -> Vec<(String, u64)> {
            items
                .iter()
                .map(|(key, size)| (format!("s3://bkt/{key}"), *size))
                .collect()
        };
        assert_eq!(
            keys(&store, "s3://bkt/a/b").await,
            expect(&[("a/b/1", 1), ("a/b/c/d/2", 2), ("a/bc/3", 3), ("a/bz", 4)])
        );
        assert_eq!(
            keys(&store, "s3://bkt/a/b/").await,
            expect(&[("a/b/1", 1), ("a/b/c/d/2", 2)])
        );
        assert_eq!(keys(&store, "s3://bkt/a/b/c").await, expect(&[("a/b/c/d/2", 2)]));
        assert_eq!(keys(&store, "s3://bkt/a/b/1").await, expect(&[("a/b/1", 1)]));
        assert_eq!(
            keys(&store, "s3://bkt").await,
            expect(&[
                ("a/B/6", 6),
                ("a/b/1", 1),
                ("a/b/c/d/2", 2),
                ("a/bc/3", 3),
                ("a/bz", 4),
                ("a/x", 5),
                ("z", 7)
            ])
        );
        assert_eq!(keys(&store, "s3://bkt/").await.len(), 7);
        assert_eq!(keys(&store, "s3://bkt/a/B").await, expect(&[("a/B/6", 6)]));
    }

    #[tokio::test]
    async fn list_of_a_missing_folder_or_bucket_is_empty() {
        let (_dir, store) = store();
        store.put(&uri("s3://bkt/a/file"), b"x".to_vec(), "").await.unwrap();
        assert!(keys(&store, "s3://bkt/nothing/here/").await.is_empty());
        assert!(keys(&store, "s3://nobucket/").await.is_empty());
        assert!(keys(&store, "s3://bkt/a/file/under/").await.is_empty());
        assert!(keys(&store, "s3://bkt/a//").await.is_empty());
        assert!(keys(&store, "s3://bkt/./a/").await.is_empty());
    }

    #[tokio::test]
    async fn list_skips_temp_files() {
        let (dir, store) = store();
        store.put(&uri("s3://bkt/a/real"), b"x".to_vec(), "").await.unwrap();
        fs::write(dir.path().join(format!("bkt/a/{TEMP_PREFIX}123-4")), b"half").unwrap();
        assert_eq!(keys(&store, "s3://bkt/a/").await, [("s3://bkt/a/real".to_string(), 1)]);
    }

    #[test]
    fn keys_a_file_system_cannot_hold_are_refused_and_paths_stay_under_root() {
        let store = FsObjectStore::new("/srv/state");
        assert_eq!(
            store.path_of(&uri("s3://bkt/a/b.json")).unwrap(),
            Path::new("/srv/state/bkt/a/b.json")
        );
        for bad in [
            "s3://bkt",
            "s3://bkt/",
            "s3://bkt/a/",
            "s3://bkt/a//b",
            "s3://bkt/./a",
            "s3://bkt/a/.",
            "s3://bkt//a",
        ] {
            assert!(
                matches!(store.path_of(&uri(bad)), Err(CloudError::InvalidUri { .. })),
                "{bad}"
            );
        }
        let temp = uri(&format!("s3://bkt/a/{TEMP_PREFIX}1-2"));
        assert!(matches!(store.path_of(&temp), Err(CloudError::InvalidUri { .. })));
        // `..` never gets this far (the parser refuses it), but a hand-made URI is refused too.
        let sneaky = ObjectUri {
            bucket: "bkt".into(),
            key: "../../etc/passwd".into(),
        };
        assert!(matches!(store.path_of(&sneaky), Err(CloudError::InvalidUri { .. })));
        let sneaky_bucket = ObjectUri {
            bucket: "..".into(),
            key: "x".into(),
        };
        assert!(matches!(
            store.path_of(&sneaky_bucket),
            Err(CloudError::InvalidUri { .. })
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readers_never_see_half_an_object() {
        let (_dir, store) = store();
        let store = Arc::new(store);
        let object = uri("s3://bkt/big");
        store.put(&object, vec![b'a'; 1 << 20], "").await.unwrap();
        let writer = {
            let (store, object) = (store.clone(), object.clone());
            tokio::spawn(async move {
                for i in 0..20 {
                    let byte = if i % 2 == 0 { b'b' } else { b'a' };
                    store.put(&object, vec![byte; 1 << 20], "").await.unwrap();
                }
            })
        };
        while !writer.is_finished() {
            let bytes = store.get(&object).await.unwrap();
            assert_eq!(bytes.len(), 1 << 20);
            assert!(bytes.iter().all(|b| *b == bytes[0]));
        }
        writer.await.unwrap();
    }
}
