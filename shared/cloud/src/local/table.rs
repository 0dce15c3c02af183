//! [`Table`] on a folder: one JSON file per item.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::fsutil::{blocking, create_atomic, read_optional, remove_stale_temps, sync_dir, Lock, Staged};
use super::StateCheck;
use crate::ports::{Item, ItemKey, ItemKind, Table};
use crate::CloudError;

/// Items as JSON files (`{"version", "key": {"partition", "sort"}, "body"}`) in `dir/<kind>/`,
/// named after their key (see [`FileTable::path_of`]).
///
/// The conditional writes hold across the tasks of one process and across processes:
/// - insert writes a temp file and hard-links it to the item's name, which fails atomically when
///   the name is taken (like `O_EXCL`, but readers never see a half-written item);
/// - update and delete hold an exclusive lock on `dir/<kind>/.lock` (in-process, then `flock`)
///   while they read the stored version, compare it and rename the new file into place or
///   remove the old one. The OS drops the lock if the process dies, so a crash leaves no stale
///   lock.
///
/// Every write is durable before it returns (see `fsutil`): the new file is fsynced before the
/// lock is taken and the folder after it is released, so the lock covers only the compare and
/// the rename, and concurrent writers' flushes overlap.
///
/// Reads take no lock: every file is replaced whole, so a reader sees one version or the next.
#[derive(Debug, Clone)]
pub struct FileTable {
    pub dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u64,
    key: StoredKey,
    body: serde_json::Value,
}

/// Just the version of a stored item (serde skips the rest).
#[derive(Deserialize)]
struct StoredVersion {
    version: u64,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    partition: String,
    sort: String,
}

impl FileTable {
    pub fn new(dir: impl Into<PathBuf>) -> FileTable {
        FileTable { dir: dir.into() }
    }

    /// The item's file: `dir/<kind>/<partition>.<sort>.json`, with each key encoded to
    /// `[a-z0-9-]` plus `_xx` (the hex of any other byte, upper-case letters included, so
    /// names that differ only in case stay apart on case-insensitive file systems).
    pub fn path_of(&self, key: &ItemKey) -> PathBuf {
        self.kind_dir(key.kind())
            .join(format!("{}.json", file_stem(&key.partition(), &key.sort())))
    }

    fn kind_dir(&self, kind: ItemKind) -> PathBuf {
        self.dir.join(kind.as_str())
    }

    fn lock_path(&self, kind: ItemKind) -> PathBuf {
        self.kind_dir(kind).join(".lock")
    }

    fn read_item(path: &Path) -> Result<Option<Item>, CloudError> {
        let Some(bytes) = read_optional(path)? else {
            return Ok(None);
        };
        decode(path, &bytes).map(Some)
    }

    /// The stored version of the item at `path`, `None` when there is none.
    fn read_version(path: &Path) -> Result<Option<u64>, CloudError> {
        let Some(bytes) = read_optional(path)? else {
            return Ok(None);
        };
        let stored: StoredVersion = serde_json::from_slice(&bytes).map_err(|e| {
            CloudError::io(
                path,
                io::Error::new(io::ErrorKind::InvalidData, format!("not a table item: {e}")),
            )
        })?;
        Ok(Some(stored.version))
    }

    /// Holds the kind's lock while `change` compares the stored version of `key`'s item with
    /// `expected` and, if they match, replaces or removes the file; then makes it durable.
    fn change_if_version(
        &self,
        key: &ItemKey,
        expected: u64,
        change: impl FnOnce(&Path) -> Result<(), CloudError>,
    ) -> Result<(), CloudError> {
        let path = self.path_of(key);
        let what = key.to_string();
        {
            let _lock = Lock::acquire(&self.lock_path(key.kind()))?;
            match Self::read_version(&path)? {
                None => return Err(CloudError::ItemNotFound { what }),
                Some(stored) if stored != expected => return Err(CloudError::VersionConflict { what }),
                Some(_) => change(&path)?,
            }
        }
        sync_dir(&self.kind_dir(key.kind()))
    }

    /// Checks every item file at start-up: counts the readable items by kind, lists the ones
    /// that cannot be read back (left in place: requests that read them fail, naming them, until
    /// they are fixed or removed) and removes the temp files of writes a crash interrupted.
    /// Blocking.
    pub fn check(&self) -> Result<StateCheck, CloudError> {
        let mut check = StateCheck::default();
        let kinds = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(check),
            Err(e) => return Err(CloudError::io(&self.dir, e)),
        };
        for kind in kinds {
            let kind = kind.map_err(|e| CloudError::io(&self.dir, e))?;
            if !kind.file_type().map_err(|e| CloudError::io(kind.path(), e))?.is_dir() {
                continue;
            }
            let dir = kind.path();
            check.temps_removed += remove_stale_temps(&dir)?;
            let mut names: Vec<PathBuf> = Vec::new();
            for entry in fs::read_dir(&dir).map_err(|e| CloudError::io(&dir, e))? {
                let path = entry.map_err(|e| CloudError::io(&dir, e))?.path();
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if !name.starts_with('.') && name.ends_with(".json") {
                    names.push(path);
                }
            }
            names.sort();
            let label = kind.file_name().to_string_lossy().into_owned();
            for path in names {
                match Self::read_item(&path) {
                    Ok(Some(_)) => *check.counts.entry(label.clone()).or_default() += 1,
                    Ok(None) => {}
                    Err(err) => check.unreadable.push(err),
                }
            }
        }
        Ok(check)
    }

    /// Every item of `kind` whose file name starts with `name_prefix`, in key order.
    fn read_all(&self, kind: ItemKind, name_prefix: &str) -> Result<Vec<Item>, CloudError> {
        let dir = self.kind_dir(kind);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(CloudError::io(dir, e)),
        };
        let mut items = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| CloudError::io(&dir, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            // Skips the lock file and temp files (both start with '.').
            if name.starts_with('.') || !name.ends_with(".json") || !name.starts_with(name_prefix) {
                continue;
            }
            // A file deleted since the listing is simply gone.
            if let Some(item) = Self::read_item(&entry.path())? {
                items.push(item);
            }
        }
        items.sort_by_cached_key(|item| (item.key.partition(), item.key.sort()));
        Ok(items)
    }
}

/// `partition.sort` with both encoded; '.' is never in an encoding, so the pair is unambiguous.
fn file_stem(partition: &str, sort: &str) -> String {
    format!("{}.{}", encode(partition), encode(sort))
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("_{byte:02x}"));
        }
    }
    out
}

fn encode_item(item: &Item) -> Result<Vec<u8>, CloudError> {
    let stored = Stored {
        version: item.version,
        key: StoredKey {
            partition: item.key.partition(),
            sort: item.key.sort(),
        },
        body: item.body.clone(),
    };
    serde_json::to_vec_pretty(&stored).map_err(|e| CloudError::Validation(format!("item body: {e}")))
}

fn decode(path: &Path, bytes: &[u8]) -> Result<Item, CloudError> {
    let corrupt = |message: String| CloudError::io(path, io::Error::new(io::ErrorKind::InvalidData, message));
    let stored: Stored = serde_json::from_slice(bytes).map_err(|e| corrupt(format!("not a table item: {e}")))?;
    let key = ItemKey::parse(&stored.key.partition, &stored.key.sort).ok_or_else(|| {
        corrupt(format!(
            "bad item key {:?} / {:?}",
            stored.key.partition, stored.key.sort
        ))
    })?;
    Ok(Item {
        key,
        version: stored.version,
        body: stored.body,
    })
}

#[async_trait]
impl Table for FileTable {
    async fn insert(&self, item: &Item) -> Result<(), CloudError> {
        let path = self.path_of(&item.key);
        let lock_path = self.lock_path(item.key.kind());
        let bytes = encode_item(item)?;
        let what = item.key.to_string();
        blocking(move || match create_atomic(&path, &bytes, &lock_path)? {
            true => Ok(()),
            false => Err(CloudError::AlreadyExists { what }),
        })
        .await
    }

    async fn get(&self, key: &ItemKey) -> Result<Option<Item>, CloudError> {
        let path = self.path_of(key);
        blocking(move || Self::read_item(&path)).await
    }

    async fn update(&self, item: &Item) -> Result<(), CloudError> {
        let (table, key) = (self.clone(), item.key.clone());
        let bytes = encode_item(item)?;
        let Some(expected) = item.version.checked_sub(1) else {
            return Err(CloudError::VersionConflict { what: key.to_string() });
        };
        blocking(move || {
            // Written and flushed before the lock: only the compare and the rename are inside.
            let staged = Staged::write(&table.path_of(&key), &bytes)?;
            table.change_if_version(&key, expected, |path| staged.rename_to(path))
        })
        .await
    }

    async fn delete(&self, key: &ItemKey, version: u64) -> Result<(), CloudError> {
        let (table, key) = (self.clone(), key.clone());
        blocking(move || {
            table.change_if_version(&key, version, |path| {
                fs::remove_file(path).map_err(|e| CloudError::io(path, e))
            })
        })
        .await
    }

    async fn list(&self, kind: ItemKind) -> Result<Vec<Item>, CloudError> {
        let table = self.clone();
        blocking(move || table.read_all(kind, "")).await
    }

    async fn list_executions(&self, schedule: &str) -> Result<Vec<Item>, CloudError> {
        let partition = format!("schedule#{schedule}");
        let name_prefix = format!("{}.", encode(&partition));
        let table = self.clone();
        blocking(move || {
            let mut items = table.read_all(ItemKind::Execution, &name_prefix)?;
            items.retain(|item| item.key.partition() == partition);
            Ok(items)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};
    use serde_json::json;

    use super::*;

    fn table() -> (tempfile::TempDir, FileTable) {
        let dir = tempfile::tempdir().unwrap();
        let table = FileTable::new(dir.path());
        (dir, table)
    }

    fn time(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn execution(schedule: &str, at: &str) -> ItemKey {
        ItemKey::Execution {
            schedule: schedule.to_string(),
            scheduled_time: time(at),
        }
    }

    fn item(key: ItemKey, version: u64, body: serde_json::Value) -> Item {
        Item { key, version, body }
    }

    #[tokio::test]
    async fn insert_get_round_trip_for_every_kind() {
        let (_dir, table) = table();
        let items = [
            item(
                ItemKey::Schedule("my-sched".into()),
                1,
                json!({"a": [1, 2.5, "x"], "b": null}),
            ),
            item(ItemKey::JobDefinition("My-Job".into()), 1, json!("text")),
            item(
                execution("my-sched", "2026-03-01T10:00:00Z"),
                1,
                json!({"status": "InProgress"}),
            ),
        ];
        for item in &items {
            table.insert(item).await.unwrap();
        }
        for item in &items {
            assert_eq!(table.get(&item.key).await.unwrap().as_ref(), Some(item));
        }
        assert_eq!(table.get(&ItemKey::Schedule("other".into())).await.unwrap(), None);
    }

    #[tokio::test]
    async fn file_names_are_safe_and_tell_keys_apart() {
        let (dir, table) = table();
        let key = execution("my-sched", "2026-03-01T10:00:00Z");
        let path = table.path_of(&key);
        assert!(path.starts_with(dir.path().join("execution")));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            name,
            "schedule_23my-sched.execution_232026-03-01_5410_3a00_3a00_5a.json"
        );
        let stem = name.strip_suffix(".json").unwrap();
        assert!(stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
        // Case and the escape character itself stay distinct.
        let names: std::collections::HashSet<_> = ["ab", "AB", "Ab", "a_41b", "a-b"]
            .into_iter()
            .map(|n| {
                table
                    .path_of(&ItemKey::Schedule(n.into()))
                    .to_string_lossy()
                    .to_lowercase()
            })
            .collect();
        assert_eq!(names.len(), 5);
    }

    #[tokio::test]
    async fn insert_of_a_taken_key_is_already_exists() {
        let (_dir, table) = table();
        let key = ItemKey::Schedule("s1".into());
        table.insert(&item(key.clone(), 1, json!(1))).await.unwrap();
        match table.insert(&item(key.clone(), 1, json!(2))).await {
            Err(CloudError::AlreadyExists { what }) => assert_eq!(what, "schedule s1"),
            other => panic!("{other:?}"),
        }
        assert_eq!(table.get(&key).await.unwrap().unwrap().body, json!(1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn of_sixteen_concurrent_inserts_exactly_one_succeeds() {
        let (_dir, table) = table();
        let table = Arc::new(table);
        let key = execution("race", "2026-03-01T10:00:00Z");
        let tasks: Vec<_> = (0..16)
            .map(|n| {
                let (table, key) = (table.clone(), key.clone());
                tokio::spawn(async move { table.insert(&item(key, 1, json!({ "writer": n }))).await })
            })
            .collect();
        let mut winners = vec![];
        for (n, task) in tasks.into_iter().enumerate() {
            match task.await.unwrap() {
                Ok(()) => winners.push(n),
                Err(CloudError::AlreadyExists { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(winners.len(), 1);
        let stored = table.get(&key).await.unwrap().unwrap();
        assert_eq!(stored.body, json!({ "writer": winners[0] }));
        // No temp file is left behind.
        let files = fs::read_dir(table.dir.join("execution")).unwrap().count();
        assert_eq!(files, 1);
    }

    #[tokio::test]
    async fn update_checks_the_version() {
        let (_dir, table) = table();
        let key = ItemKey::JobDefinition("jd".into());
        table.insert(&item(key.clone(), 1, json!("v1"))).await.unwrap();
        table.update(&item(key.clone(), 2, json!("v2"))).await.unwrap();
        assert_eq!(table.get(&key).await.unwrap(), Some(item(key.clone(), 2, json!("v2"))));
        // Another writer read version 1 too: its update is stale.
        for stale in [2, 1, 0, 4] {
            match table.update(&item(key.clone(), stale, json!("lost"))).await {
                Err(CloudError::VersionConflict { what }) => assert_eq!(what, "job definition jd"),
                other => panic!("{stale}: {other:?}"),
            }
        }
        table.update(&item(key.clone(), 3, json!("v3"))).await.unwrap();
        assert_eq!(table.get(&key).await.unwrap().unwrap().body, json!("v3"));
    }

    #[tokio::test]
    async fn update_of_a_missing_item_is_item_not_found() {
        let (_dir, table) = table();
        let key = execution("s", "2026-03-01T10:00:00Z");
        match table.update(&item(key.clone(), 2, json!({}))).await {
            Err(CloudError::ItemNotFound { what }) => {
                assert_eq!(what, "execution of schedule s at 2026-03-01T10:00:00Z")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(table.get(&key).await.unwrap(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_read_modify_write_loses_no_update() {
        let (_dir, table) = table();
        let table = Arc::new(table);
        let key = ItemKey::Schedule("counter".into());
        table.insert(&item(key.clone(), 1, json!(0))).await.unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (table, key) = (table.clone(), key.clone());
                tokio::spawn(async move {
                    loop {
                        let current = table.get(&key).await.unwrap().unwrap();
                        let next = item(
                            key.clone(),
                            current.version + 1,
                            json!(current.body.as_u64().unwrap() + 1),
                        );
                        match table.update(&next).await {
                            Ok(()) => return,
                            Err(CloudError::VersionConflict { .. }) => tokio::task::yield_now().await,
                            Err(e) => panic!("{e}"),
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(table.get(&key).await.unwrap(), Some(item(key, 17, json!(16))));
    }

    #[tokio::test]
    async fn delete_checks_the_version() {
        let (_dir, table) = table();
        let key = ItemKey::Schedule("gone".into());
        assert!(matches!(
            table.delete(&key, 1).await,
            Err(CloudError::ItemNotFound { .. })
        ));
        table.insert(&item(key.clone(), 1, json!(1))).await.unwrap();
        table.update(&item(key.clone(), 2, json!(2))).await.unwrap();
        // A writer that read version 1 is too late.
        match table.delete(&key, 1).await {
            Err(CloudError::VersionConflict { what }) => assert_eq!(what, "schedule gone"),
            other => panic!("{other:?}"),
        }
        assert!(table.get(&key).await.unwrap().is_some());
        table.delete(&key, 2).await.unwrap();
        assert_eq!(table.get(&key).await.unwrap(), None);
        assert!(matches!(
            table.delete(&key, 2).await,
            Err(CloudError::ItemNotFound { .. })
        ));
        // The name is free again.
        table.insert(&item(key.clone(), 1, json!(2))).await.unwrap();
        assert_eq!(table.get(&key).await.unwrap().unwrap().body, json!(2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn of_sixteen_concurrent_deletes_exactly_one_succeeds() {
        let (_dir, table) = table();
        let table = Arc::new(table);
        let key = ItemKey::JobDefinition("race".into());
        table.insert(&item(key.clone(), 1, json!(1))).await.unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (table, key) = (table.clone(), key.clone());
                tokio::spawn(async move { table.delete(&key, 1).await })
            })
            .collect();
        let mut deleted = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => deleted += 1,
                Err(CloudError::ItemNotFound { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(deleted, 1);
        assert_eq!(table.get(&key).await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_start_up_check_counts_items_names_unreadable_ones_and_removes_stale_temps() {
        let (dir, table) = table();
        table
            .insert(&item(ItemKey::Schedule("a".into()), 1, json!(1)))
            .await
            .unwrap();
        table
            .insert(&item(ItemKey::Schedule("b".into()), 1, json!(1)))
            .await
            .unwrap();
        table
            .insert(&item(execution("a", "2026-03-01T10:00:00Z"), 1, json!(1)))
            .await
            .unwrap();
        let bad = table.path_of(&ItemKey::Schedule("bad".into()));
        fs::write(&bad, b"{\"version\": 1, \"key\"").unwrap();
        // A temp file of a writer that is gone (pid 0), as a crash leaves it.
        let temp = dir
            .path()
            .join("schedule")
            .join(format!("{}0-1", super::super::fsutil::TEMP_PREFIX));
        fs::write(&temp, b"{\"half").unwrap();
        let check = table.check().unwrap();
        assert_eq!(check.counts["schedule"], 2);
        assert_eq!(check.counts["execution"], 1);
        assert_eq!(check.unreadable.len(), 1);
        let message = check.unreadable[0].to_string();
        assert!(message.starts_with(&bad.display().to_string()), "{message}");
        assert!(message.contains("not a table item"), "{message}");
        assert!(bad.exists(), "left in place");
        if cfg!(target_os = "linux") {
            assert_eq!(check.temps_removed, 1);
            assert!(!temp.exists());
        }
    }

    #[tokio::test]
    async fn list_by_kind_and_executions_by_schedule() {
        let (_dir, table) = table();
        assert!(table.list(ItemKind::Execution).await.unwrap().is_empty());
        assert!(table.list_executions("a").await.unwrap().is_empty());
        let keys = [
            ItemKey::Schedule("a".into()),
            ItemKey::Schedule("a-b".into()),
            ItemKey::JobDefinition("a".into()),
            execution("a", "2026-03-01T11:00:00Z"),
            execution("a", "2026-03-01T10:00:00Z"),
            execution("a-b", "2026-03-01T10:00:00Z"),
            execution("ab", "2026-03-01T10:00:00Z"),
        ];
        for key in &keys {
            table.insert(&item(key.clone(), 1, json!(null))).await.unwrap();
        }
        let listed = |items: Vec<Item>| items.into_iter().map(|item| item.key).collect::<Vec<_>>();
        assert_eq!(
            listed(table.list(ItemKind::Schedule).await.unwrap()),
            [keys[0].clone(), keys[1].clone()]
        );
        assert_eq!(
            listed(table.list(ItemKind::JobDefinition).await.unwrap()),
            [keys[2].clone()]
        );
        assert_eq!(
            listed(table.list(ItemKind::Execution).await.unwrap()),
            [keys[4].clone(), keys[3].clone(), keys[5].clone(), keys[6].clone()]
        );
        assert_eq!(
            listed(table.list_executions("a").await.unwrap()),
            [keys[4].clone(), keys[3].clone()]
        );
        assert_eq!(listed(table.list_executions("a-b").await.unwrap()), [keys[5].clone()]);
        assert!(table.list_executions("b").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_corrupt_file_is_an_error_not_a_panic() {
        let (_dir, table) = table();
        let key = ItemKey::Schedule("bad".into());
        let path = table.path_of(&key);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, b"{not json").unwrap();
        assert!(matches!(table.get(&key).await, Err(CloudError::Io { .. })));
    }
}
