//! [`Scheduler`] for `modelmon serve`: the timers live in a JSON file and the serve loop asks
//! [`LocalScheduler::due`] which of them fire.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::fsutil::{blocking, read_optional, remove_stale_temps, sync_dir, Lock, Staged};
use super::StateCheck;
use crate::ports::{Cadence, ScheduleSpec, Scheduler};
use crate::CloudError;

/// Timers in a JSON file (`state_file`), changed only under an exclusive lock on
/// `<state_file>.lock` (in-process, then `flock`), which orders concurrent calls of this
/// process's tasks and of other processes alike, so no update is lost. The file is replaced
/// whole and durably (temp file fsynced, renamed, folder fsynced) before a change returns.
///
/// Changes are committed in groups: while one batch is being written, the changes that arrive
/// queue up and go to disk together in the next write, so one file write and one pair of
/// fsyncs serve every change that waited for it (the file is one, its writes cannot overlap).
///
/// Firing follows EventBridge Scheduler: a timer fires at the fire times of its cadence strictly
/// after it was created (or re-armed, see [`Scheduler::update`]), each fire time once, recorded
/// in the file so a restart does not fire it again. Missed fire times (the laptop slept) fire
/// once, as the latest of them. `Once { at }` fires at `at`, even when `at` is up to a minute
/// before the timer was created (SageMaker's `NOW`).
#[derive(Debug, Clone)]
pub struct LocalScheduler {
    pub state_file: PathBuf,
    commits: Arc<GroupCommit>,
}

/// A change waiting to be committed: it changes the state (returning whether it did) and
/// returns how to answer its caller once the batch is written (or failed to be).
type Change = Box<dyn FnOnce(&mut State) -> (bool, Reply) + Send>;
type Reply = Box<dyn FnOnce(Option<&CloudError>) + Send>;

/// A batch applied (and written, if it changed anything), still to be answered.
struct Committed {
    replies: Vec<Reply>,
    /// Whether the state file was replaced (its folder is still to be flushed), or why not.
    outcome: Result<bool, CloudError>,
}

/// The queue of changes and the one writer that takes them.
#[derive(Default)]
struct GroupCommit {
    queue: Mutex<Vec<Change>>,
    writer: Mutex<()>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupCommit")
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    schedules: BTreeMap<String, Timer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Timer {
    cadence: Cadence,
    enabled: bool,
    /// The timer fires at fire times strictly after this: its creation, its last re-arming (an
    /// update that changed the cadence or enabled it), or its last fire.
    armed_at: DateTime<Utc>,
    last_fired: Option<DateTime<Utc>>,
}

/// How far before its creation a `Once` timer still fires: SageMaker's `NOW` is the creation
/// time, which the API stamps a moment before the timer exists.
const ONCE_GRACE: TimeDelta = TimeDelta::minutes(1);

impl Timer {
    fn new(spec: &ScheduleSpec, now: DateTime<Utc>) -> Timer {
        Timer {
            cadence: spec.cadence,
            enabled: spec.enabled,
            armed_at: now,
            last_fired: None,
        }
    }

    /// The first fire time still to come, whether or not it has been reached.
    fn next_fire(&self) -> Option<DateTime<Utc>> {
        match self.cadence {
            Cadence::Once { at } => {
                let fresh = self.last_fired.is_none_or(|last| last < at);
                (fresh && at >= self.armed_at - ONCE_GRACE).then_some(at)
            }
            cadence => cadence.next_after(self.armed_at),
        }
    }

    /// The latest fire time reached by `now`, if one is still to fire.
    fn due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut fire = self.next_fire().filter(|first| *first <= now)?;
        // Every valid repeating cadence fires at least daily, so after a long sleep the latest
        // missed fire time is found from a day back rather than by stepping through all of them.
        if let Some(recent) = self.cadence.next_after(now - TimeDelta::hours(25)) {
            if recent > fire && recent <= now {
                fire = recent;
            }
        }
        while let Some(next) = self.cadence.next_after(fire).filter(|next| *next <= now) {
            fire = next;
        }
        Some(fire)
    }
}

impl LocalScheduler {
    pub fn new(state_file: impl Into<PathBuf>) -> LocalScheduler {
        LocalScheduler {
            state_file: state_file.into(),
            commits: Arc::default(),
        }
    }

    /// The schedules that fire by `now`: (schedule name, scheduled time), by name. Each fire is
    /// recorded before this returns, so a scheduled time is returned once, even across
    /// restarts. Blocking (file I/O under a lock): from async code, call it in
    /// `tokio::task::spawn_blocking`.
    pub fn due(&self, now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>, CloudError> {
        self.change(move |state| {
            let mut fired = Vec::new();
            for (name, timer) in state.schedules.iter_mut().filter(|(_, timer)| timer.enabled) {
                if let Some(fire) = timer.due(now) {
                    timer.armed_at = fire;
                    timer.last_fired = Some(fire);
                    fired.push((name.clone(), fire));
                }
            }
            let changed = !fired.is_empty();
            Ok((fired, changed))
        })
    }

    /// The timers as specs, by name. (No lock: the file is replaced whole.)
    pub fn specs(&self) -> Result<Vec<ScheduleSpec>, CloudError> {
        let state = self.load()?;
        Ok(state
            .schedules
            .into_iter()
            .map(|(name, timer)| ScheduleSpec {
                name,
                cadence: timer.cadence,
                enabled: timer.enabled,
            })
            .collect())
    }

    fn lock_path(&self) -> PathBuf {
        let mut path = OsString::from(self.state_file.as_os_str());
        path.push(".lock");
        PathBuf::from(path)
    }

    fn load(&self) -> Result<State, CloudError> {
        let Some(bytes) = read_optional(&self.state_file)? else {
            return Ok(State::default());
        };
        serde_json::from_slice(&bytes).map_err(|e| {
            let message = format!("not a scheduler state file: {e}");
            CloudError::io(&self.state_file, io::Error::new(io::ErrorKind::InvalidData, message))
        })
    }

    /// Checks the timers' file at start-up: counts the timers, or names the file if it cannot
    /// be read back (left in place: timer changes fail, naming it, until it is fixed or removed),
    /// and removes the temp files of writes a crash interrupted. Blocking.
    pub fn check(&self) -> Result<StateCheck, CloudError> {
        let mut check = StateCheck::default();
        if let Some(dir) = self.state_file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            check.temps_removed = remove_stale_temps(dir)?;
        }
        match self.load() {
            Ok(state) => {
                check.counts.insert("timer".into(), state.schedules.len());
            }
            Err(err) => check.unreadable.push(err),
        }
        Ok(check)
    }

    /// Lets `f` change the state and returns once the change is on disk (if `f` says it
    /// changed anything). `f` must leave the state as it found it when it fails. Changes that
    /// wait while another batch is written are applied in order to one loaded state and written
    /// once.
    fn change<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut State) -> Result<(T, bool), CloudError> + Send + 'static,
    ) -> Result<T, CloudError> {
        let (answer, answered) = mpsc::channel();
        let change: Change = Box::new(move |state| {
            let outcome = f(state);
            let changed = matches!(outcome, Ok((_, true)));
            let reply: Reply = Box::new(move |failed| {
                let result = match failed {
                    Some(err) => Err(copy_error(err)),
                    None => outcome.map(|(value, _)| value),
                };
                let _ = answer.send(result);
            });
            (changed, reply)
        });
        self.commits
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(change);
        let committed = {
            // Whoever holds the writer takes everything queued so far, this change included
            // unless an earlier writer already took it.
            let _writer = self.commits.writer.lock().unwrap_or_else(|e| e.into_inner());
            let batch = std::mem::take(&mut *self.commits.queue.lock().unwrap_or_else(|e| e.into_inner()));
            (!batch.is_empty()).then(|| self.commit(batch))
        };
        // The folder's flush happens after the writer is free, so it overlaps with the next
        // batch's flush of its file (and the file system commits the two together).
        if let Some(committed) = committed {
            self.finish(committed);
        }
        answered.recv().expect("every batch answers each of its changes")
    }

    /// Applies a batch to the state under the lock and, if any change changed it, writes it
    /// once (flushed, renamed into place); the folder is flushed by [`LocalScheduler::finish`].
    fn commit(&self, batch: Vec<Change>) -> Committed {
        let loaded = Lock::acquire(&self.lock_path()).and_then(|lock| Ok((lock, self.load()?)));
        let (_lock, mut state) = match loaded {
            Ok(loaded) => loaded,
            Err(err) => {
                // Each change is run on a throwaway state only to get its reply.
                let replies = batch
                    .into_iter()
                    .map(|change| change(&mut State::default()).1)
                    .collect();
                return Committed {
                    replies,
                    outcome: Err(err),
                };
            }
        };
        let mut changed = false;
        let mut replies = Vec::with_capacity(batch.len());
        for change in batch {
            let (this_changed, reply) = change(&mut state);
            changed |= this_changed;
            replies.push(reply);
        }
        let outcome = match changed {
            false => Ok(false),
            true => {
                let bytes = serde_json::to_vec_pretty(&state).expect("the scheduler state serializes");
                Staged::write(&self.state_file, &bytes)
                    .and_then(|staged| staged.rename_to(&self.state_file))
                    .map(|()| true)
            }
        };
        Committed { replies, outcome }
    }

    /// Makes a committed batch's rename durable and answers each of its changes: with its own
    /// outcome, or, if the batch could not be loaded or written, with that error.
    fn finish(&self, committed: Committed) {
        let outcome = committed.outcome.and_then(|renamed| match renamed {
            true => sync_dir(self.state_file.parent().unwrap_or(Path::new("."))),
            false => Ok(()),
        });
        let failed = outcome.err();
        for reply in committed.replies {
            reply(failed.as_ref());
        }
    }

    fn create_at(&self, spec: &ScheduleSpec, now: DateTime<Utc>) -> Result<(), CloudError> {
        let spec = spec.clone();
        self.change(move |state| {
            if state.schedules.contains_key(&spec.name) {
                return Err(CloudError::AlreadyExists {
                    what: format!("timer {}", spec.name),
                });
            }
            state.schedules.insert(spec.name.clone(), Timer::new(&spec, now));
            Ok(((), true))
        })
    }

    fn update_at(&self, spec: &ScheduleSpec, now: DateTime<Utc>) -> Result<(), CloudError> {
        let spec = spec.clone();
        self.change(move |state| {
            let timer = state
                .schedules
                .get_mut(&spec.name)
                .ok_or_else(|| CloudError::ItemNotFound {
                    what: format!("timer {}", spec.name),
                })?;
            // A new cadence, or enabling, starts afresh from now: what was missed meanwhile
            // does not fire. An update that changes nothing writes nothing.
            let rearm = timer.cadence != spec.cadence || (spec.enabled && !timer.enabled);
            let changed = rearm || timer.enabled != spec.enabled;
            if rearm {
                timer.armed_at = now;
            }
            timer.cadence = spec.cadence;
            timer.enabled = spec.enabled;
            Ok(((), changed))
        })
    }

    fn delete_now(&self, name: &str) -> Result<(), CloudError> {
        let name = name.to_string();
        self.change(move |state| {
            let removed = state.schedules.remove(&name).is_some();
            Ok(((), removed))
        })
    }
}

/// The same error again, for each change of a batch that failed (errors are not `Clone`).
fn copy_error(err: &CloudError) -> CloudError {
    match err {
        CloudError::Io { path, source } => CloudError::io(path, io::Error::new(source.kind(), source.to_string())),
        other => CloudError::Internal(other.to_string()),
    }
}

#[async_trait]
impl Scheduler for LocalScheduler {
    async fn create(&self, spec: &ScheduleSpec) -> Result<(), CloudError> {
        let (this, spec) = (self.clone(), spec.clone());
        blocking(move || this.create_at(&spec, Utc::now())).await
    }

    /// Replaces the cadence and the enabled state; a timer whose cadence changes, or that is
    /// enabled, is re-armed: it fires at fire times after now, not at ones missed meanwhile.
    /// `CloudError::ItemNotFound` when there is no timer of this name.
    async fn update(&self, spec: &ScheduleSpec) -> Result<(), CloudError> {
        let (this, spec) = (self.clone(), spec.clone());
        blocking(move || this.update_at(&spec, Utc::now())).await
    }

    async fn delete(&self, name: &str) -> Result<(), CloudError> {
        let (this, name) = (self.clone(), name.to_string());
        blocking(move || this.delete_now(&name)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn spec(name: &str, cadence: Cadence, enabled: bool) -> ScheduleSpec {
        ScheduleSpec {
            name: name.to_string(),
            cadence,
            enabled,
        }
    }

    fn scheduler() -> (tempfile::TempDir, LocalScheduler) {
        let dir = tempfile::tempdir().unwrap();
        let scheduler = LocalScheduler::new(dir.path().join("state/schedules.json"));
        (dir, scheduler)
    }

    fn fires(fired: Vec<(String, DateTime<Utc>)>) -> Vec<(String, String)> {
        fired.into_iter().map(|(name, at)| (name, at.to_rfc3339())).collect()
    }

    fn fire(name: &str, at: &str) -> (String, String) {
        (name.to_string(), t(at).to_rfc3339())
    }

    const HOURLY: Cadence = Cadence::Hours {
        first_hour: 0,
        every_hours: 1,
    };

    #[test]
    fn fires_each_time_once_even_across_a_restart() {
        let (_dir, scheduler) = scheduler();
        scheduler
            .create_at(&spec("hourly", HOURLY, true), t("2026-03-01T10:20:00Z"))
            .unwrap();
        assert!(scheduler.due(t("2026-03-01T10:59:59Z")).unwrap().is_empty());
        assert_eq!(
            fires(scheduler.due(t("2026-03-01T11:00:00Z")).unwrap()),
            [fire("hourly", "2026-03-01T11:00:00Z")]
        );
        assert!(scheduler.due(t("2026-03-01T11:00:00Z")).unwrap().is_empty());
        assert!(scheduler.due(t("2026-03-01T11:30:00Z")).unwrap().is_empty());
        // A new scheduler on the same file (a restart) knows what fired.
        let restarted = LocalScheduler::new(&scheduler.state_file);
        assert!(restarted.due(t("2026-03-01T11:59:00Z")).unwrap().is_empty());
        assert_eq!(
            fires(restarted.due(t("2026-03-01T12:00:05Z")).unwrap()),
            [fire("hourly", "2026-03-01T12:00:00Z")]
        );
        assert!(scheduler.due(t("2026-03-01T12:10:00Z")).unwrap().is_empty());
    }

    #[test]
    fn first_fire_is_strictly_after_creation() {
        let (_dir, scheduler) = scheduler();
        scheduler
            .create_at(&spec("on-the-hour", HOURLY, true), t("2026-03-01T11:00:00Z"))
            .unwrap();
        assert!(scheduler.due(t("2026-03-01T11:00:00Z")).unwrap().is_empty());
        assert!(scheduler.due(t("2026-03-01T11:59:59Z")).unwrap().is_empty());
        assert_eq!(
            fires(scheduler.due(t("2026-03-01T12:00:00Z")).unwrap()),
            [fire("on-the-hour", "2026-03-01T12:00:00Z")]
        );
    }

    #[test]
    fn missed_fires_catch_up_once_with_the_latest() {
        let (_dir, scheduler) = scheduler();
        let daily = Cadence::Hours {
            first_hour: 17,
            every_hours: 24,
        };
        scheduler
            .create_at(&spec("hourly", HOURLY, true), t("2026-03-01T10:20:00Z"))
            .unwrap();
        scheduler
            .create_at(&spec("daily", daily, true), t("2026-03-01T10:20:00Z"))
            .unwrap();
        scheduler
            .create_at(
                &spec("quarter", Cadence::Minutes { minutes: 15 }, true),
                t("2026-03-01T10:20:00Z"),
            )
            .unwrap();
        // Asleep for ten days.
        assert_eq!(
            fires(scheduler.due(t("2026-03-11T15:10:00Z")).unwrap()),
            [
                fire("daily", "2026-03-10T17:00:00Z"),
                fire("hourly", "2026-03-11T15:00:00Z"),
                fire("quarter", "2026-03-11T15:00:00Z")
            ]
        );
        assert!(scheduler.due(t("2026-03-11T15:14:59Z")).unwrap().is_empty());
        assert_eq!(
            fires(scheduler.due(t("2026-03-11T15:15:00Z")).unwrap()),
            [fire("quarter", "2026-03-11T15:15:00Z")]
        );
        // Asleep for an hour and a half: one catch-up fire each.
        assert_eq!(
            fires(scheduler.due(t("2026-03-11T16:50:00Z")).unwrap()),
            [
                fire("hourly", "2026-03-11T16:00:00Z"),
                fire("quarter", "2026-03-11T16:45:00Z")
            ]
        );
        assert_eq!(fires(scheduler.due(t("2026-03-11T17:00:00Z")).unwrap()).len(), 3);
    }

    #[test]
    fn once_fires_once_at_its_time() {
        let (_dir, scheduler) = scheduler();
        let created = t("2026-03-01T10:20:30Z");
        // SageMaker's NOW: `at` is the creation time, or a moment before it.
        scheduler
            .create_at(&spec("now", Cadence::Once { at: created }, true), created)
            .unwrap();
        let just_before = Cadence::Once {
            at: t("2026-03-01T10:19:40Z"),
        };
        scheduler
            .create_at(&spec("just-before", just_before, true), created)
            .unwrap();
        let too_old = Cadence::Once {
            at: t("2026-03-01T10:19:00Z"),
        };
        scheduler.create_at(&spec("too-old", too_old, true), created).unwrap();
        let later = Cadence::Once {
            at: t("2026-03-01T12:00:00Z"),
        };
        scheduler.create_at(&spec("later", later, true), created).unwrap();
        assert_eq!(
            fires(scheduler.due(created).unwrap()),
            [
                fire("just-before", "2026-03-01T10:19:40Z"),
                fire("now", "2026-03-01T10:20:30Z")
            ]
        );
        assert!(scheduler.due(t("2026-03-01T11:59:59Z")).unwrap().is_empty());
        assert_eq!(
            fires(scheduler.due(t("2026-03-01T12:00:00Z")).unwrap()),
            [fire("later", "2026-03-01T12:00:00Z")]
        );
        let restarted = LocalScheduler::new(&scheduler.state_file);
        assert!(restarted.due(t("2027-01-01T00:00:00Z")).unwrap().is_empty());
        // An update that changes nothing does not fire it again.
        scheduler
            .update_at(
                &spec("now", Cadence::Once { at: created }, true),
                t("2026-03-01T13:00:00Z"),
            )
            .unwrap();
        assert!(scheduler.due(t("2027-01-01T00:00:00Z")).unwrap().is_empty());
    }

    #[test]
    fn disabled_timers_do_not_fire_and_enabling_skips_what_was_missed() {
        let (_dir, scheduler) = scheduler();
        scheduler
            .create_at(&spec("off", HOURLY, false), t("2026-03-01T10:20:00Z"))
            .unwrap();
        let now = Cadence::Once {
            at: t("2026-03-01T10:20:00Z"),
        };
        scheduler
            .create_at(&spec("off-once", now, false), t("2026-03-01T10:20:00Z"))
            .unwrap();
        assert!(scheduler.due(t("2026-03-05T00:00:00Z")).unwrap().is_empty());
        scheduler
            .update_at(&spec("off", HOURLY, true), t("2026-03-05T00:30:00Z"))
            .unwrap();
        assert!(scheduler.due(t("2026-03-05T00:59:00Z")).unwrap().is_empty());
        assert_eq!(
            fires(scheduler.due(t("2026-03-05T01:00:00Z")).unwrap()),
            [fire("off", "2026-03-05T01:00:00Z")]
        );
        scheduler
            .update_at(&spec("off", HOURLY, false), t("2026-03-05T01:30:00Z"))
            .unwrap();
        assert!(scheduler.due(t("2026-03-06T00:00:00Z")).unwrap().is_empty());
    }

    #[test]
    fn a_new_cadence_fires_from_the_update_on() {
        let (_dir, scheduler) = scheduler();
        scheduler
            .create_at(&spec("s", HOURLY, true), t("2026-03-01T10:20:00Z"))
            .unwrap();
        let daily = Cadence::Hours {
            first_hour: 17,
            every_hours: 24,
        };
        scheduler
            .update_at(&spec("s", daily, true), t("2026-03-01T10:40:00Z"))
            .unwrap();
        assert!(scheduler.due(t("2026-03-01T16:59:00Z")).unwrap().is_empty());
        assert_eq!(
            fires(scheduler.due(t("2026-03-01T17:00:00Z")).unwrap()),
            [fire("s", "2026-03-01T17:00:00Z")]
        );
        assert_eq!(scheduler.specs().unwrap(), [spec("s", daily, true)]);
    }

    #[tokio::test]
    async fn create_update_delete_through_the_port() {
        let (_dir, scheduler) = scheduler();
        let every_15 = spec("s", Cadence::Minutes { minutes: 15 }, true);
        scheduler.create(&every_15).await.unwrap();
        match scheduler.create(&every_15).await {
            Err(CloudError::AlreadyExists { what }) => assert_eq!(what, "timer s"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            scheduler.update(&spec("nope", HOURLY, true)).await,
            Err(CloudError::ItemNotFound { .. })
        ));
        scheduler.update(&spec("s", HOURLY, false)).await.unwrap();
        assert_eq!(scheduler.specs().unwrap(), [spec("s", HOURLY, false)]);
        scheduler.update(&spec("s", HOURLY, true)).await.unwrap();
        let fired = scheduler.due(Utc::now() + TimeDelta::hours(2)).unwrap();
        assert_eq!(fired.len(), 1);
        scheduler.delete("s").await.unwrap();
        scheduler.delete("s").await.unwrap();
        assert!(scheduler.specs().unwrap().is_empty());
        assert!(scheduler.due(Utc::now() + TimeDelta::days(2)).unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_calls_lose_no_update_and_fire_once() {
        let (_dir, scheduler) = scheduler();
        let scheduler = Arc::new(scheduler);
        let tasks: Vec<_> = (0..16)
            .map(|n| {
                let scheduler = scheduler.clone();
                tokio::spawn(async move { scheduler.create(&spec(&format!("s{n:02}"), HOURLY, true)).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(scheduler.specs().unwrap().len(), 16);
        let later = Utc::now() + TimeDelta::hours(3);
        let pollers: Vec<_> = (0..8)
            .map(|_| {
                let scheduler = scheduler.clone();
                tokio::task::spawn_blocking(move || scheduler.due(later).unwrap())
            })
            .collect();
        let mut fired = vec![];
        for poller in pollers {
            fired.extend(poller.await.unwrap());
        }
        fired.sort();
        let names: Vec<_> = fired.iter().map(|(name, _)| name.clone()).collect();
        let expected: Vec<_> = (0..16).map(|n| format!("s{n:02}")).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn the_start_up_check_counts_timers_or_names_an_unreadable_file() {
        let (_dir, scheduler) = scheduler();
        assert_eq!(scheduler.check().unwrap().counts["timer"], 0);
        scheduler
            .create_at(&spec("a", HOURLY, true), t("2026-03-01T10:00:00Z"))
            .unwrap();
        assert_eq!(scheduler.check().unwrap().counts["timer"], 1);
        std::fs::write(&scheduler.state_file, b"{\"schedules\": {").unwrap();
        let check = scheduler.check().unwrap();
        assert!(check.counts.is_empty());
        assert_eq!(check.unreadable.len(), 1);
        let message = check.unreadable[0].to_string();
        assert!(
            message.starts_with(&scheduler.state_file.display().to_string()),
            "{message}"
        );
        assert!(message.contains("not a scheduler state file"), "{message}");
    }

    #[test]
    fn every_change_of_a_batch_that_cannot_be_loaded_fails_naming_the_file() {
        let (_dir, scheduler) = scheduler();
        std::fs::create_dir_all(scheduler.state_file.parent().unwrap()).unwrap();
        std::fs::write(&scheduler.state_file, b"not json").unwrap();
        let threads: Vec<_> = (0..8)
            .map(|n| {
                let scheduler = scheduler.clone();
                std::thread::spawn(move || scheduler.create_at(&spec(&format!("s{n}"), HOURLY, true), Utc::now()))
            })
            .collect();
        for thread in threads {
            match thread.join().unwrap() {
                Err(CloudError::Io { path, .. }) => assert_eq!(path, scheduler.state_file),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(std::fs::read(&scheduler.state_file).unwrap(), b"not json");
    }

    #[test]
    fn a_corrupt_state_file_is_an_error() {
        let (_dir, scheduler) = scheduler();
        std::fs::create_dir_all(scheduler.state_file.parent().unwrap()).unwrap();
        std::fs::write(&scheduler.state_file, b"[]").unwrap();
        assert!(matches!(scheduler.due(Utc::now()), Err(CloudError::Io { .. })));
    }
}
