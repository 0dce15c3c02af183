//! The narrow interfaces between the control plane / analysis run and the services they use.
//! Each port has an AWS adapter (`crate::aws`) and a local one (`crate::local`); the service code
//! in `crate::control` and `crate::run` is written once against these traits.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::uri::ObjectUri;
use crate::CloudError;

/// Objects by `s3://bucket/key` URI: baselines, captured traffic, reports.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// The object's bytes; `CloudError::ObjectNotFound` when there is none.
    async fn get(&self, uri: &ObjectUri) -> Result<Vec<u8>, CloudError>;
    async fn put(&self, uri: &ObjectUri, body: Vec<u8>, content_type: &str) -> Result<(), CloudError>;
    /// Every object whose key starts with `prefix.key` (all pages), in key order.
    async fn list(&self, prefix: &ObjectUri) -> Result<Vec<ObjectInfo>, CloudError>;
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
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Schedule => "schedule",
            ItemKind::JobDefinition => "job-definition",
            ItemKind::Execution => "execution",
        }
    }
}

/// The key of a table item. Executions live beside their schedule: one per (schedule, scheduled
/// time), which is what makes a repeated delivery of a scheduler event harmless.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemKey {
    Schedule(String),
    JobDefinition(String),
    Execution {
        schedule: String,
        scheduled_time: DateTime<Utc>,
    },
}

impl ItemKey {
    pub fn kind(&self) -> ItemKind {
        match self {
            ItemKey::Schedule(_) => ItemKind::Schedule,
            ItemKey::JobDefinition(_) => ItemKind::JobDefinition,
            ItemKey::Execution { .. } => ItemKind::Execution,
        }
    }

    /// Partition key: `schedule#<name>` (a schedule and its executions) or `job-definition#<name>`.
    pub fn partition(&self) -> String {
        match self {
            ItemKey::Schedule(name) | ItemKey::Execution { schedule: name, .. } => format!("schedule#{name}"),
            ItemKey::JobDefinition(name) => format!("job-definition#{name}"),
        }
    }

    /// Sort key: the kind, and for executions the scheduled time (RFC 3339, so it sorts by time).
    pub fn sort(&self) -> String {
        match self {
            ItemKey::Schedule(_) => "schedule".to_string(),
            ItemKey::JobDefinition(_) => "job-definition".to_string(),
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

/// A stored record: its key, a version for optimistic concurrency (1 on insert, +1 per update)
/// and the record itself as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: ItemKey,
    pub version: u64,
    pub body: serde_json::Value,
}

/// Schedules, job definitions and executions, with conditional writes.
#[async_trait]
pub trait Table: Send + Sync {
    /// Writes a new item; `CloudError::AlreadyExists` if the key is taken. Of concurrent inserts
    /// of one key exactly one succeeds.
    async fn insert(&self, item: &Item) -> Result<(), CloudError>;
    async fn get(&self, key: &ItemKey) -> Result<Option<Item>, CloudError>;
    /// Replaces the item if its stored version is `item.version - 1`; otherwise
    /// `CloudError::VersionConflict` (or `ItemNotFound` when it is gone).
    async fn update(&self, item: &Item) -> Result<(), CloudError>;
    /// Deletes the item; deleting a missing item is not an error.
    async fn delete(&self, key: &ItemKey) -> Result<(), CloudError>;
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
    pub value: f64,
    pub timestamp: DateTime<Utc>,
}

#[async_trait]
pub trait MetricsSink: Send + Sync {
    /// Publishes all data points (the adapter batches them as its service requires).
    async fn publish(&self, namespace: &str, data: &[MetricDatum]) -> Result<(), CloudError>;
}
