//! Copies objects into a scratch folder for the engine, which reads local files, and says the
//! engine's errors in terms of the objects rather than the scratch paths.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::task::JoinSet;

use modelmon_engine::profile::RecordAccount;

use crate::ports::ObjectStore;
use crate::{CloudError, ObjectUri};

/// Downloads at most this many objects at a time.
const PARALLEL_DOWNLOADS: usize = 16;

/// Downloads each object to its path.
pub async fn download(store: &Arc<dyn ObjectStore>, targets: &[(ObjectUri, PathBuf)]) -> Result<(), CloudError> {
    let mut tasks = JoinSet::new();
    for (uri, path) in targets {
        if tasks.len() >= PARALLEL_DOWNLOADS {
            joined(tasks.join_next().await)?;
        }
        let (store, uri, path) = (Arc::clone(store), uri.clone(), path.clone());
        tasks.spawn(async move {
            let bytes = store.get(&uri).await?;
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| CloudError::io(parent, e))?;
            }
            tokio::fs::write(&path, bytes)
                .await
                .map_err(|e| CloudError::io(&path, e))
        });
    }
    while let Some(done) = tasks.join_next().await {
        joined(Some(done))?;
    }
    Ok(())
}

fn joined(done: Option<Result<Result<(), CloudError>, tokio::task::JoinError>>) -> Result<(), CloudError> {
    match done {
        Some(Ok(result)) => result,
        Some(Err(join)) => Err(CloudError::Internal(format!("a download task failed: {join}"))),
        None => Ok(()),
    }
}

/// `message` with the scratch folder's path replaced by the URI prefix it mirrors (`root` ends
/// in `/`), so a failure names `s3://bucket/capture/.../file.jsonl: line 3`, not a temporary path.
pub fn in_terms_of(message: &str, dir: &Path, root: &str) -> String {
    let dir = dir.display().to_string();
    message
        .replace(&format!("{dir}/"), root)
        .replace(&dir, root.trim_end_matches('/'))
}

/// The record account's examples and empty files, in terms of the objects.
pub fn account_in_terms_of(account: &mut RecordAccount, dir: &Path, root: &str) {
    let rejections = account
        .rejected
        .values_mut()
        .flat_map(|tally| tally.examples.iter_mut());
    for text in rejections.chain(account.empty_files.iter_mut()) {
        *text = in_terms_of(text, dir, root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_objects() {
        let root = "s3://bucket/capture/ep/";
        let message = "/tmp/scratch1/AllTraffic/2026/a.jsonl: line 3: bad";
        assert_eq!(
            in_terms_of(message, Path::new("/tmp/scratch1"), root),
            "s3://bucket/capture/ep/AllTraffic/2026/a.jsonl: line 3: bad"
        );
    }
}
