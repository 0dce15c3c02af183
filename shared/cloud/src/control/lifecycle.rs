//! Exactly one success for requests that race: how a record is created, changed and deleted so
//! that of concurrent requests for the same change one succeeds and the others are told they
//! lost, on every home alike.
//!
//! Every write is conditional on what the request read ([`Table`]'s versions: a DynamoDB
//! condition expression, the local table's compare under its lock):
//! - a change (Update, Stop, Start) writes version + 1; a request that lost answers
//!   `ConflictException`, or `ResourceNotFound` if the record is gone;
//! - a Delete first marks the record deleting (version + 1): that conditional write is the one
//!   point where of concurrent Deletes one wins; the others find the mark and answer
//!   `ResourceNotFound`. The winner then removes what hangs on the record (a schedule's timer)
//!   and the record itself (conditional on the marked version). A marked record is gone for
//!   every caller: Describe and List leave it out, a schedule naming a marked job definition is
//!   refused. If the process dies between mark and removal, whoever meets the mark next (a
//!   Delete, a Create of the name, `modelmon serve`'s start-up check) finishes the deletion.
//!
//! The mark also makes the answer trustworthy when an answer is lost on the way: the SDK's retry
//! of the marking write meets its own first attempt, which the adapter recognises by its write
//! token, where a bare conditional delete retried would find nothing and say "not found".
//!
//! The same mechanism serves any record with a status that requests race to change (a
//! processing job's Stop: a conditional update from InProgress to Stopping, the losers told it
//! was changed meanwhile).

use super::records::INTERNAL_MEMBER;
use super::timers::Wanted;
use super::ControlPlane;
use crate::ports::{Item, ItemKey};
use crate::CloudError;

/// How often a Delete reads again after another request changed the record under it, before it
/// gives up with `ConflictException`.
pub(super) const ATTEMPTS: usize = 5;

/// Whether a stored body carries the deleting mark.
pub fn is_deleting(body: &serde_json::Value) -> bool {
    body.get(INTERNAL_MEMBER).and_then(|internal| internal.get("deleting")) == Some(&serde_json::Value::Bool(true))
}

impl ControlPlane {
    /// The record under `key` unless there is none or it is being deleted.
    pub(super) async fn live(&self, key: &ItemKey) -> Result<Option<Item>, CloudError> {
        Ok(self.table.get(key).await?.filter(|item| !is_deleting(&item.body)))
    }

    /// Inserts a new record; a deletion of the name that was cut short is finished first.
    /// `in_use` is the error when the name is taken.
    pub(super) async fn insert_new(&self, item: &Item, in_use: impl Fn() -> CloudError) -> Result<(), CloudError> {
        for _ in 0..ATTEMPTS {
            match self.table.insert(item).await {
                Err(CloudError::AlreadyExists { .. }) => match self.table.get(&item.key).await? {
                    Some(found) if is_deleting(&found.body) => self.finish_deletion(&found).await?,
                    Some(_) => return Err(in_use()),
                    // Removed meanwhile: the name is free again.
                    None => {}
                },
                other => return other,
            }
        }
        Err(in_use())
    }

    /// Deletes the record under `key` exactly once: of concurrent callers one gets `Ok`, the
    /// others `not_found()` (having helped the winner finish, in case it was cut short).
    /// `check` may refuse the deletion of the record as read (a job definition still in use).
    pub(super) async fn delete_once<C>(
        &self,
        key: &ItemKey,
        not_found: impl Fn() -> CloudError,
        check: impl Fn(Item) -> C,
    ) -> Result<(), CloudError>
    where
        C: std::future::Future<Output = Result<Item, CloudError>>,
    {
        for _ in 0..ATTEMPTS {
            let item = match self.table.get(key).await? {
                None => return Err(not_found()),
                Some(item) if is_deleting(&item.body) => {
                    self.finish_deletion(&item).await?;
                    return Err(not_found());
                }
                Some(item) => check(item).await?,
            };
            if self.delete_marked(&item).await? {
                return Ok(());
            }
            // Changed or deleted meanwhile: the next read tells which.
        }
        Err(CloudError::Conflict(format!(
            "{key} was changed by other requests while it was being deleted; try again"
        )))
    }

    /// One attempt at deleting `item` as it was read: marks it deleting (conditional on its
    /// version), then finishes the deletion. `Ok(false)`: another request changed or deleted it
    /// first (read it again to tell which). If what hangs on the record cannot be removed, the
    /// mark is taken back and the error returned: the record stays as it was.
    async fn delete_marked(&self, item: &Item) -> Result<bool, CloudError> {
        let mut body = item.body.clone();
        body[INTERNAL_MEMBER]["deleting"] = serde_json::Value::Bool(true);
        let marked = Item {
            key: item.key.clone(),
            version: item.version + 1,
            body,
        };
        match self.table.update(&marked).await {
            Ok(()) => {}
            Err(CloudError::VersionConflict { .. } | CloudError::ItemNotFound { .. }) => return Ok(false),
            Err(err) => return Err(err),
        }
        if let Err(err) = self.finish_deletion(&marked).await {
            self.put_back(Item {
                key: item.key.clone(),
                version: marked.version + 1,
                body: item.body.clone(),
            })
            .await;
            return Err(err);
        }
        Ok(true)
    }

    /// Finishes the deletion `marked` (as stored, with the mark) started: first what hangs on
    /// the record (a schedule's timer, so that no timer outlives its record), then the record,
    /// conditional on the marked version.
    pub(super) async fn finish_deletion(&self, marked: &Item) -> Result<(), CloudError> {
        if let ItemKey::Schedule(name) = &marked.key {
            self.sync_timer(name, Wanted::Known(None), true).await?;
        }
        match self.table.delete(&marked.key, marked.version).await {
            // Gone: another request finished it, or this request's own retried call did.
            Ok(()) | Err(CloudError::ItemNotFound { .. }) => Ok(()),
            // The mark was taken back, or the name holds a new record: not this deletion's.
            Err(CloudError::VersionConflict { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Writes `previous` back (conditional on the version before `previous.version`) after a
    /// request failed half-way, and lets what hangs on it follow again; best effort, logged.
    pub(super) async fn put_back(&self, previous: Item) {
        if let Err(err) = self.table.update(&previous).await {
            tracing::error!(item = %previous.key, error = %err, "could not put a record back after a request failed half-way");
            return;
        }
        if let ItemKey::Schedule(name) = &previous.key {
            if let Err(err) = self.sync_timer(name, Wanted::FromRecord, true).await {
                tracing::error!(schedule = %name, error = %err, "could not put the timer of a restored schedule back");
            }
        }
    }
}
