//! A schedule's timer follows its record: the record says which timer it asks for (none when
//! it is gone or being deleted), and every request that writes a record then makes the timer so
//! and reads the record again, until a read finds what it applied. Whatever other requests did
//! meanwhile, the last timer write of all is then followed by a read that found its own state,
//! so records and timers agree after any interleaving of Create, Update, Stop, Start and Delete
//! (on either home: the scheduler's calls need no conditions of their own).

use std::collections::BTreeMap;

use chrono::TimeZone;

use super::expression::{parse_expression, Expression};
use super::lifecycle::is_deleting;
use super::records::{decode, ScheduleRecord, ScheduleStatus};
use super::ControlPlane;
use crate::ports::{Cadence, Item, ItemKey, ItemKind, ScheduleSpec};
use crate::CloudError;

/// Rounds of apply-and-read a sync makes before it gives up (each round means that another
/// request changed the record meanwhile).
const SYNC_ROUNDS: usize = 8;

/// Where a sync starts.
pub(super) enum Wanted {
    /// Read the record.
    FromRecord,
    /// The caller just wrote the record, asking for this timer (`None`: no timer).
    Known(Option<ScheduleSpec>),
}

/// The timer the stored record `item` asks for: none if it is being deleted.
pub(super) fn wanted_timer(item: &Item) -> Result<Option<ScheduleSpec>, CloudError> {
    if is_deleting(&item.body) {
        return Ok(None);
    }
    let record: ScheduleRecord = decode(item)?;
    Ok(Some(timer_of(&record)?))
}

/// The timer of a live schedule record: its cadence, enabled unless it is Stopped.
pub(super) fn timer_of(record: &ScheduleRecord) -> Result<ScheduleSpec, CloudError> {
    let cadence = match record.internal.cadence {
        Some(cadence) => cadence,
        // Written before records kept their cadence: from the configuration (NOW at creation).
        None => {
            let expression = record
                .monitoring_schedule_config
                .pointer("/ScheduleConfig/ScheduleExpression")
                .and_then(serde_json::Value::as_str)
                .map(parse_expression)
                .transpose()?;
            match expression {
                Some(Expression::Repeating(cadence)) => cadence,
                None => Cadence::Hours {
                    first_hour: 0,
                    every_hours: 24,
                },
                Some(Expression::Now) => Cadence::Once {
                    at: chrono::Utc
                        .timestamp_opt(record.creation_time as i64, 0)
                        .single()
                        .unwrap_or_default(),
                },
            }
        }
    };
    Ok(ScheduleSpec {
        name: record.monitoring_schedule_name.clone(),
        cadence,
        enabled: record.monitoring_schedule_status != ScheduleStatus::Stopped,
    })
}

impl ControlPlane {
    /// Makes the timer of schedule `name` what its record asks for, then reads the record
    /// again, until a read finds what was applied. `timer_exists` is the guess of whether a
    /// timer is there (which call to try first).
    pub(super) async fn sync_timer(
        &self,
        name: &str,
        wanted: Wanted,
        mut timer_exists: bool,
    ) -> Result<(), CloudError> {
        let key = ItemKey::Schedule(name.to_string());
        let mut next = wanted;
        let mut applied: Option<Option<ScheduleSpec>> = None;
        for _ in 0..SYNC_ROUNDS {
            let wanted = match next {
                Wanted::Known(wanted) => wanted,
                Wanted::FromRecord => match self.table.get(&key).await? {
                    None => None,
                    Some(item) => wanted_timer(&item)?,
                },
            };
            if applied.as_ref() == Some(&wanted) {
                return Ok(());
            }
            match &wanted {
                None => self.scheduler.delete(name).await?,
                Some(spec) => self.put_timer(spec, timer_exists).await?,
            }
            timer_exists = wanted.is_some();
            applied = Some(wanted);
            next = Wanted::FromRecord;
        }
        Err(CloudError::Conflict(format!(
            "Monitoring schedule '{name}' was changed by other requests faster than its timer could follow; try again"
        )))
    }

    /// Creates or replaces the timer, whichever is needed, trying first what `exists` guesses.
    async fn put_timer(&self, spec: &ScheduleSpec, mut exists: bool) -> Result<(), CloudError> {
        for _ in 0..3 {
            let result = match exists {
                true => self.scheduler.update(spec).await,
                false => self.scheduler.create(spec).await,
            };
            match result {
                Err(CloudError::ItemNotFound { .. }) if exists => exists = false,
                Err(CloudError::AlreadyExists { .. }) if !exists => exists = true,
                other => return other,
            }
        }
        Err(CloudError::Conflict(format!(
            "The timer of monitoring schedule '{}' was created and deleted by other requests meanwhile; try again",
            spec.name
        )))
    }

    /// Brings every timer in line with its record, for a home whose timers can be listed
    /// (`modelmon serve` at start-up, with the timers it has): a crash can leave a record
    /// without its timer (a Create cut short), a timer without its record (a Create rolling
    /// back) or a deletion half done. Returns one line per repair, and per record that cannot be
    /// read back.
    pub async fn reconcile(&self, timers: Vec<ScheduleSpec>) -> Result<Vec<String>, CloudError> {
        let mut timers: BTreeMap<String, ScheduleSpec> = timers.into_iter().map(|t| (t.name.clone(), t)).collect();
        let mut notes = Vec::new();
        for kind in [ItemKind::Schedule, ItemKind::JobDefinition] {
            for item in self.table.list(kind).await? {
                let timer = match &item.key {
                    ItemKey::Schedule(name) => timers.remove(name),
                    _ => None,
                };
                if is_deleting(&item.body) {
                    self.finish_deletion(&item).await?;
                    notes.push(format!("{}: finished its interrupted deletion", item.key));
                    continue;
                }
                let ItemKey::Schedule(name) = &item.key else { continue };
                let wanted = match wanted_timer(&item) {
                    Ok(wanted) => wanted,
                    Err(err) => {
                        notes.push(format!("{}: cannot be read back: {err}", item.key));
                        continue;
                    }
                };
                if timer != wanted {
                    let had_timer = timer.is_some();
                    self.sync_timer(name, Wanted::FromRecord, had_timer).await?;
                    notes.push(match had_timer {
                        false => format!("{}: its timer was missing, created", item.key),
                        true => format!("{}: its timer differed from the record, set", item.key),
                    });
                }
            }
        }
        for name in timers.into_keys() {
            self.sync_timer(&name, Wanted::FromRecord, true).await?;
            notes.push(format!("timer {name}: had no schedule record, removed"));
        }
        Ok(notes)
    }
}
