//! The narrow interfaces between the control plane / analysis run and the services they use.
//! Each port has an AWS adapter (`crate::aws`) and a local one (`crate::local`); the service code
//! in `crate::control` and `crate::run` is written once against these traits.

use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::uri::ObjectUri;
use crate::CloudError;

/// Objects by `s3://bucket/key` URI: baselines, captured traffic, reports.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// The object's bytes; `CloudError::ObjectNotFound` when there is none.
    async fn get(&self, uri: &ObjectUri) -> Result<Vec<u8>, CloudError>;
    /// Bytes `start..end` of the object as they arrive (`end` at most its size); the runs read
    /// their inputs this way, several ranges of a big object at once (`run::object_sources`).
    async fn read_range(&self, uri: &ObjectUri, start: u64, end: u64) -> Result<Box<dyn ByteChunks>, CloudError>;
    /// The local file that holds the object, for an adapter whose objects are files: readers
    /// read it in place rather than through [`ObjectStore::read_range`].
    fn local_path(&self, _uri: &ObjectUri) -> Option<PathBuf> {
        None
    }
    async fn put(&self, uri: &ObjectUri, body: Vec<u8>, content_type: &str) -> Result<(), CloudError>;
    /// Removes the object; removing one that does not exist is no error.
    async fn delete(&self, uri: &ObjectUri) -> Result<(), CloudError>;
    /// Every object whose key starts with `prefix.key` (all pages), in key order.
    async fn list(&self, prefix: &ObjectUri) -> Result<Vec<ObjectInfo>, CloudError>;
    /// The folders directly under `prefix` (which ends in `/`), each as a prefix ending in `/`,
    /// in key order. Adapters with a cheaper way than listing every object override this.
    async fn list_folders(&self, prefix: &ObjectUri) -> Result<Vec<ObjectUri>, CloudError> {
        let mut folders: Vec<ObjectUri> = Vec::new();
        for object in self.list(prefix).await? {
            let rest = &object.uri.key[prefix.key.len().min(object.uri.key.len())..];
            if let Some((folder, _)) = rest.split_once('/') {
                let folder = prefix.join(folder).as_prefix();
                if folders.last() != Some(&folder) {
                    folders.push(folder);
                }
            }
        }
        Ok(folders)
    }

    /// A URL that lets its holder GET this one object for `expires`, for code that must read
    /// an object without any permission of its own (users' scripts); `None` when the store has
    /// no such URLs, and the caller hands the bytes over itself.
    async fn presigned_get(
        &self,
        _uri: &ObjectUri,
        _expires: std::time::Duration,
    ) -> Result<Option<String>, CloudError> {
        Ok(None)
    }
}

/// An object's bytes, in the pieces they arrive in.
#[async_trait]
pub trait ByteChunks: Send {
    /// The next piece; `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, CloudError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub uri: ObjectUri,
    pub size: u64,
}

/// What a table item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ItemKind {
    Schedule,
    JobDefinition,
    Execution,
    ProcessingJob,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Schedule => "schedule",
            ItemKind::JobDefinition => "job-definition",
            ItemKind::Execution => "execution",
            ItemKind::ProcessingJob => "processing-job",
        }
    }
}

/// The key of a table item. Executions live beside their schedule: one per (schedule, scheduled
/// time), which is what makes a repeated delivery of a scheduler event harmless. Processing jobs
/// are keyed by their name in lower case ([`ItemKey::processing_job`]): SageMaker's ARNs, and
/// the SDK that reads names out of them, carry names in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemKey {
    Schedule(String),
    JobDefinition(String),
    Execution {
        schedule: String,
        scheduled_time: DateTime<Utc>,
    },
    ProcessingJob(String),
}

impl ItemKey {
    /// The key of the processing job of this name (any case).
    pub fn processing_job(name: &str) -> ItemKey {
        ItemKey::ProcessingJob(name.to_lowercase())
    }

    pub fn kind(&self) -> ItemKind {
        match self {
            ItemKey::Schedule(_) => ItemKind::Schedule,
            ItemKey::JobDefinition(_) => ItemKind::JobDefinition,
            ItemKey::Execution { .. } => ItemKind::Execution,
            ItemKey::ProcessingJob(_) => ItemKind::ProcessingJob,
        }
    }

    /// Partition key: `schedule#<name>` (a schedule and its executions), `job-definition#<name>`
    /// or `processing-job#<name>`.
    pub fn partition(&self) -> String {
        match self {
            ItemKey::Schedule(name) | ItemKey::Execution { schedule: name, .. } => format!("schedule#{name}"),
            ItemKey::JobDefinition(name) => format!("job-definition#{name}"),
            ItemKey::ProcessingJob(name) => format!("processing-job#{name}"),
        }
    }

    /// Sort key: the kind, and for executions the scheduled time (RFC 3339, so it sorts by time).
    pub fn sort(&self) -> String {
        match self {
            ItemKey::Schedule(_) => "schedule".to_string(),
            ItemKey::JobDefinition(_) => "job-definition".to_string(),
            ItemKey::ProcessingJob(_) => "processing-job".to_string(),
            ItemKey::Execution { scheduled_time, .. } => format!(
                "execution#{}",
                scheduled_time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }

    /// The inverse of (`partition`, `sort`).
    pub fn parse(partition: &str, sort: &str) -> Option<ItemKey> {
        let (prefix, name) = partition.split_once('#')?;
        match (prefix, sort) {
            ("schedule", "schedule") => Some(ItemKey::Schedule(name.to_string())),
            ("job-definition", "job-definition") => Some(ItemKey::JobDefinition(name.to_string())),
            ("processing-job", "processing-job") => Some(ItemKey::ProcessingJob(name.to_string())),
            ("schedule", sort) => {
                let time = sort.strip_prefix("execution#")?;
                let scheduled_time = DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc);
                Some(ItemKey::Execution {
                    schedule: name.to_string(),
                    scheduled_time,
                })
            }
            _ => None,
        }
    }
}

/// The item in messages: "schedule x", "job definition x", "execution of schedule x at <time>",
/// "processing job x".
impl std::fmt::Display for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ItemKey::Schedule(name) => write!(f, "schedule {name}"),
            ItemKey::JobDefinition(name) => write!(f, "job definition {name}"),
            ItemKey::ProcessingJob(name) => write!(f, "processing job {name}"),
            ItemKey::Execution {
                schedule,
                scheduled_time,
            } => write!(
                f,
                "execution of schedule {schedule} at {}",
                scheduled_time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }
}

/// A stored record: its key, a version for optimistic concurrency (1 on insert, +1 per update)
/// and the record itself as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: ItemKey,
    pub version: u64,
    pub body: serde_json::Value,
}

/// Schedules, job definitions, executions and processing jobs, with conditional writes: every write names the
/// state it expects (no item, or the version it read), so of concurrent writers that read the
/// same state exactly one succeeds and the others learn that they lost. An adapter recognises
/// its own write when a retried call (after a lost answer) meets it, so a write that took
/// effect never reports that it lost (deletes excepted: a retried delete finds nothing, and
/// says `ItemNotFound`; callers that must tell apart mark the item first, see
/// `control::lifecycle`).
#[async_trait]
pub trait Table: Send + Sync {
    /// Writes a new item; `CloudError::AlreadyExists` if the key is taken. Of concurrent inserts
    /// of one key exactly one succeeds. `item.version` is the first version: 1, or a number
    /// above every version an earlier item of this key had (see `control::records::first_version`).
    async fn insert(&self, item: &Item) -> Result<(), CloudError>;
    async fn get(&self, key: &ItemKey) -> Result<Option<Item>, CloudError>;
    /// Replaces the item if its stored version is `item.version - 1`; otherwise
    /// `CloudError::VersionConflict` (or `ItemNotFound` when it is gone).
    async fn update(&self, item: &Item) -> Result<(), CloudError>;
    /// Deletes the item if its stored version is `version`; otherwise
    /// `CloudError::VersionConflict` (or `ItemNotFound` when there is none).
    async fn delete(&self, key: &ItemKey, version: u64) -> Result<(), CloudError>;
    /// All items of a kind (executions: of every schedule).
    async fn list(&self, kind: ItemKind) -> Result<Vec<Item>, CloudError>;
    /// The executions of one schedule.
    async fn list_executions(&self, schedule: &str) -> Result<Vec<Item>, CloudError>;
}

/// When a schedule fires, independent of how a scheduler spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Cadence {
    /// At minute 0 of hours `first_hour, first_hour + every_hours, ...` (UTC) of each day; hourly
    /// is `every_hours = 1`, daily is `every_hours = 24`.
    Hours { first_hour: u32, every_hours: u32 },
    /// Every `minutes` minutes from the top of the hour (modelmon's sub-hourly extension).
    Minutes { minutes: u32 },
    /// Once, at this time (SageMaker's `NOW`).
    Once { at: DateTime<Utc> },
}

/// What the control plane asks of the scheduler for one monitoring schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec {
    pub name: String,
    pub cadence: Cadence,
    pub enabled: bool,
}

/// One timer per monitoring schedule that fires the analysis run with the schedule's name and
/// the scheduled time (see [`crate::run::ScheduledRun`]).
#[async_trait]
pub trait Scheduler: Send + Sync {
    /// Creates the timer; `CloudError::AlreadyExists` if one of this name exists.
    async fn create(&self, spec: &ScheduleSpec) -> Result<(), CloudError>;
    /// Replaces the timer's cadence and state.
    async fn update(&self, spec: &ScheduleSpec) -> Result<(), CloudError>;
    /// Removes the timer; a missing timer is not an error.
    async fn delete(&self, name: &str) -> Result<(), CloudError>;
}

/// One CloudWatch data point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricDatum {
    pub name: String,
    pub dimensions: Vec<(String, String)>,
    pub value: MetricValue,
    pub timestamp: DateTime<Utc>,
}

/// A single value, or CloudWatch's statistic set (`feature_data_<feature>`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricValue {
    Value(f64),
    Statistics {
        sample_count: f64,
        sum: f64,
        min: f64,
        max: f64,
    },
}

#[async_trait]
pub trait MetricsSink: Send + Sync {
    /// Publishes all data points (the adapter batches them as its service requires).
    async fn publish(&self, namespace: &str, data: &[MetricDatum]) -> Result<(), CloudError>;
}

/// Where users' Python scripts run (record preprocessors, post-analytics processors): one
/// request of the script runner's protocol (`modelmon_formats::scripts`) in, its answer out.
/// [`crate::run::scripts`] makes the requests and reads the answers.
#[async_trait]
pub trait ScriptRunner: Send + Sync {
    /// The largest request, and the largest answer, this runner carries, in bytes.
    fn payload_limit(&self) -> usize;
    /// How many requests are worth sending at once.
    fn parallelism(&self) -> usize;
    async fn answer(&self, request: Vec<u8>) -> Result<Vec<u8>, CloudError>;
}

/// Starts the processing jobs the control plane records. The job's record exists (InProgress)
/// before `launch` is called; whoever runs the job claims the record, keeps its lease and writes
/// its end state (see [`crate::run::ProcessingJobRunner`]). Only the request to start goes
/// through here, so where a job runs (a Lambda function, a task of `modelmon serve`) is chosen at
/// this one point; the runner may then hand a big dataset on to a [`FanoutStarter`].
#[async_trait]
pub trait JobLauncher: Send + Sync {
    /// Asks for the job to be run, without waiting for it.
    async fn launch(&self, job: &crate::control::records::ProcessingJobRecord) -> Result<(), CloudError>;
    /// How long a launched job may wait to be claimed; a job nobody claimed by then never started,
    /// and is reported Failed.
    fn start_timeout(&self) -> chrono::Duration;
}

/// Starts the `BaselineFanOut` state machine (template.yaml) for a baselining job too big for
/// one function. The processing-job runner hands such a job to it; the workflow's merge and
/// failure steps end the job.
#[async_trait]
pub trait FanoutStarter: Send + Sync {
    /// Starts an execution named `name` with `input`, and gives its ARN. Starting the same name
    /// with the same input again (a redelivered job) gives the same execution.
    async fn start(&self, name: &str, input: &serde_json::Value) -> Result<String, CloudError>;
}

/// One line of a processing job's log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub time: DateTime<Utc>,
    pub message: String,
}

/// Processing jobs' own log lines, where SageMaker keeps them: log group
/// `/aws/sagemaker/ProcessingJobs`, one stream per job and instance (`<job>/algo-1-<epoch>`),
/// which is where the SDK's `wait(logs=True)` reads them.
#[async_trait]
pub trait JobLog: Send + Sync {
    /// Appends the lines, in order, to the stream (created when it does not exist).
    async fn append(&self, stream: &str, lines: &[LogLine]) -> Result<(), CloudError>;
}

impl Cadence {
    /// The first fire time strictly after `time` (a time exactly on a boundary is not after it);
    /// `None` when the cadence never fires again (a past `Once`) or is malformed
    /// (`every_hours` or `minutes` of 0, `first_hour` past 23).
    pub fn next_after(&self, time: DateTime<Utc>) -> Option<DateTime<Utc>> {
        use chrono::{TimeDelta, Timelike};
        match *self {
            Cadence::Hours {
                first_hour,
                every_hours,
            } => {
                if every_hours == 0 || first_hour > 23 {
                    return None;
                }
                // Every day holds at least one fire hour, so today or tomorrow holds the answer.
                let midnight = time.date_naive().and_hms_opt(0, 0, 0)?.and_utc();
                (0..2)
                    .flat_map(|day| {
                        (first_hour..24)
                            .step_by(every_hours as usize)
                            .map(move |hour| midnight + TimeDelta::days(day) + TimeDelta::hours(i64::from(hour)))
                    })
                    .find(|fire| *fire > time)
            }
            Cadence::Minutes { minutes } => {
                if minutes == 0 {
                    return None;
                }
                let top = time.date_naive().and_hms_opt(time.hour(), 0, 0)?.and_utc();
                (0..2)
                    .flat_map(|hour| {
                        (0..60)
                            .step_by(minutes as usize)
                            .map(move |minute| top + TimeDelta::hours(hour) + TimeDelta::minutes(i64::from(minute)))
                    })
                    .find(|fire| *fire > time)
            }
            Cadence::Once { at } => (at > time).then_some(at),
        }
    }
}

#[cfg(test)]
mod cadence_tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(cadence: Cadence, time: &str) -> Option<DateTime<Utc>> {
        cadence.next_after(t(time))
    }

    const HOURLY: Cadence = Cadence::Hours {
        first_hour: 0,
        every_hours: 1,
    };
    const SIX_FROM_3: Cadence = Cadence::Hours {
        first_hour: 3,
        every_hours: 6,
    };
    const DAILY_17: Cadence = Cadence::Hours {
        first_hour: 17,
        every_hours: 24,
    };
    const QUARTER: Cadence = Cadence::Minutes { minutes: 15 };

    #[test]
    fn hourly() {
        assert_eq!(next(HOURLY, "2026-03-01T10:20:00Z"), Some(t("2026-03-01T11:00:00Z")));
        assert_eq!(next(HOURLY, "2026-03-01T10:00:00Z"), Some(t("2026-03-01T11:00:00Z")));
        assert_eq!(
            next(HOURLY, "2026-03-01T09:59:59.999Z"),
            Some(t("2026-03-01T10:00:00Z"))
        );
        assert_eq!(
            next(HOURLY, "2026-03-01T10:00:00.001Z"),
            Some(t("2026-03-01T11:00:00Z"))
        );
        assert_eq!(next(HOURLY, "2026-03-01T23:00:00Z"), Some(t("2026-03-02T00:00:00Z")));
        assert_eq!(next(HOURLY, "2026-12-31T23:30:00Z"), Some(t("2027-01-01T00:00:00Z")));
        assert_eq!(next(HOURLY, "2028-02-28T23:30:00Z"), Some(t("2028-02-29T00:00:00Z")));
    }

    #[test]
    fn every_six_hours_from_three() {
        assert_eq!(
            next(SIX_FROM_3, "2026-03-01T00:00:00Z"),
            Some(t("2026-03-01T03:00:00Z"))
        );
        assert_eq!(
            next(SIX_FROM_3, "2026-03-01T03:00:00Z"),
            Some(t("2026-03-01T09:00:00Z"))
        );
        assert_eq!(
            next(SIX_FROM_3, "2026-03-01T09:00:01Z"),
            Some(t("2026-03-01T15:00:00Z"))
        );
        assert_eq!(
            next(SIX_FROM_3, "2026-03-01T15:00:00Z"),
            Some(t("2026-03-01T21:00:00Z"))
        );
        assert_eq!(
            next(SIX_FROM_3, "2026-03-01T21:00:00Z"),
            Some(t("2026-03-02T03:00:00Z"))
        );
        assert_eq!(
            next(SIX_FROM_3, "2026-03-01T23:59:59Z"),
            Some(t("2026-03-02T03:00:00Z"))
        );
        assert_eq!(
            next(SIX_FROM_3, "2026-03-01T02:59:59Z"),
            Some(t("2026-03-01T03:00:00Z"))
        );
    }

    #[test]
    fn uneven_hours_restart_each_day() {
        // 5, 12, 19, then 5 the next day (not 26 - 24 = 2).
        let cadence = Cadence::Hours {
            first_hour: 5,
            every_hours: 7,
        };
        assert_eq!(
            cadence.next_after(t("2026-03-01T19:00:00Z")),
            Some(t("2026-03-02T05:00:00Z"))
        );
        assert_eq!(
            cadence.next_after(t("2026-03-01T05:00:00Z")),
            Some(t("2026-03-01T12:00:00Z"))
        );
    }

    #[test]
    fn daily_at_seventeen() {
        assert_eq!(next(DAILY_17, "2026-03-01T00:00:00Z"), Some(t("2026-03-01T17:00:00Z")));
        assert_eq!(next(DAILY_17, "2026-03-01T16:59:59Z"), Some(t("2026-03-01T17:00:00Z")));
        assert_eq!(next(DAILY_17, "2026-03-01T17:00:00Z"), Some(t("2026-03-02T17:00:00Z")));
        assert_eq!(next(DAILY_17, "2026-03-01T18:00:00Z"), Some(t("2026-03-02T17:00:00Z")));
        assert_eq!(next(DAILY_17, "2026-03-31T17:30:00Z"), Some(t("2026-04-01T17:00:00Z")));
    }

    #[test]
    fn every_fifteen_minutes() {
        assert_eq!(next(QUARTER, "2026-03-01T10:00:00Z"), Some(t("2026-03-01T10:15:00Z")));
        assert_eq!(next(QUARTER, "2026-03-01T10:07:30Z"), Some(t("2026-03-01T10:15:00Z")));
        assert_eq!(next(QUARTER, "2026-03-01T10:15:00Z"), Some(t("2026-03-01T10:30:00Z")));
        assert_eq!(next(QUARTER, "2026-03-01T10:44:59Z"), Some(t("2026-03-01T10:45:00Z")));
        assert_eq!(next(QUARTER, "2026-03-01T10:45:00Z"), Some(t("2026-03-01T11:00:00Z")));
        assert_eq!(next(QUARTER, "2026-03-01T23:50:00Z"), Some(t("2026-03-02T00:00:00Z")));
    }

    #[test]
    fn uneven_minutes_restart_each_hour() {
        let cadence = Cadence::Minutes { minutes: 45 };
        assert_eq!(
            cadence.next_after(t("2026-03-01T10:00:00Z")),
            Some(t("2026-03-01T10:45:00Z"))
        );
        assert_eq!(
            cadence.next_after(t("2026-03-01T10:45:00Z")),
            Some(t("2026-03-01T11:00:00Z"))
        );
        let hourly = Cadence::Minutes { minutes: 60 };
        assert_eq!(
            hourly.next_after(t("2026-03-01T10:00:00Z")),
            Some(t("2026-03-01T11:00:00Z"))
        );
    }

    #[test]
    fn once() {
        let once = Cadence::Once {
            at: t("2026-03-01T10:20:30Z"),
        };
        assert_eq!(next(once, "2026-03-01T10:20:29Z"), Some(t("2026-03-01T10:20:30Z")));
        assert_eq!(next(once, "2026-01-01T00:00:00Z"), Some(t("2026-03-01T10:20:30Z")));
        assert_eq!(next(once, "2026-03-01T10:20:30Z"), None);
        assert_eq!(next(once, "2026-03-01T10:20:31Z"), None);
    }

    #[test]
    fn malformed_cadences_never_fire() {
        let time = "2026-03-01T10:00:00Z";
        assert_eq!(
            next(
                Cadence::Hours {
                    first_hour: 0,
                    every_hours: 0
                },
                time
            ),
            None
        );
        assert_eq!(
            next(
                Cadence::Hours {
                    first_hour: 24,
                    every_hours: 1
                },
                time
            ),
            None
        );
        assert_eq!(next(Cadence::Minutes { minutes: 0 }, time), None);
    }

    #[test]
    fn successive_fires_are_the_whole_sequence() {
        let mut fires = vec![];
        let mut time = t("2026-03-01T00:00:00Z");
        while let Some(fire) = SIX_FROM_3.next_after(time) {
            if fire >= t("2026-03-03T00:00:00Z") {
                break;
            }
            fires.push(fire.format("%d %H:%M").to_string());
            time = fire;
        }
        assert_eq!(
            fires,
            ["01 03:00", "01 09:00", "01 15:00", "01 21:00", "02 03:00", "02 09:00", "02 15:00", "02 21:00"]
        );
    }
}
