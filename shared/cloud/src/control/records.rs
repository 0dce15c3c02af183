//! What the control plane stores: schedules, job definitions and executions, each in the shape
//! SageMaker's Describe and List operations return (PascalCase), so a response is the record.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ports::{Cadence, Item, ItemKey};
use crate::CloudError;

/// The member of a record's body that holds modelmon's own state of the record (see
/// [`Internal`]); the API never returns it ([`public_view`]).
pub const INTERNAL_MEMBER: &str = "modelmon";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScheduleStatus {
    Pending,
    Failed,
    Scheduled,
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecutionStatus {
    Pending,
    Completed,
    CompletedWithViolations,
    InProgress,
    Failed,
    Stopping,
    Stopped,
}

impl ExecutionStatus {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            ExecutionStatus::Completed
                | ExecutionStatus::CompletedWithViolations
                | ExecutionStatus::Failed
                | ExecutionStatus::Stopped
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleRecord {
    pub monitoring_schedule_arn: String,
    pub monitoring_schedule_name: String,
    pub monitoring_schedule_status: ScheduleStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub creation_time: f64,
    pub last_modified_time: f64,
    /// The configuration as the caller sent it (Describe returns it unchanged).
    pub monitoring_schedule_config: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_monitoring_execution_summary: Option<ExecutionSummary>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Value>,
    #[serde(rename = "modelmon", default, skip_serializing_if = "Internal::is_empty")]
    pub internal: Internal,
}

/// modelmon's own state of a record, in its body under [`INTERNAL_MEMBER`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Internal {
    /// Set by the Delete that won (`control::lifecycle`): from then on the record is gone for
    /// every caller, and whoever meets it finishes the deletion.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleting: bool,
    /// When the schedule's timer fires, written with its configuration, so that the timer a
    /// record asks for can be told from the record alone (`control::timers`). Records written
    /// before modelmon kept it derive it from the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cadence: Option<Cadence>,
}

impl Internal {
    fn is_empty(&self) -> bool {
        *self == Internal::default()
    }
}

impl ScheduleRecord {
    /// The job definition the schedule names, if it uses one rather than an inline definition.
    pub fn job_definition_name(&self) -> Option<&str> {
        self.monitoring_schedule_config
            .get("MonitoringJobDefinitionName")?
            .as_str()
    }
}

/// SageMaker's MonitoringExecutionSummary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecutionSummary {
    pub monitoring_schedule_name: String,
    pub scheduled_time: f64,
    pub creation_time: f64,
    pub last_modified_time: f64,
    pub monitoring_execution_status: ExecutionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring_job_definition_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring_type: Option<String>,
}

/// An execution: SageMaker's summary, plus what modelmon adds (where the reports are, the
/// run's exit message and its record account), which the List operation leaves out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecutionRecord {
    #[serde(flatten)]
    pub summary: ExecutionSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<Value>,
}

/// Epoch seconds with millisecond precision, as the JSON protocol carries timestamps.
pub fn epoch_seconds(time: DateTime<Utc>) -> f64 {
    time.timestamp_millis() as f64 / 1000.0
}

pub fn from_epoch_seconds(seconds: f64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt((seconds * 1000.0).round() as i64)
        .single()
        .unwrap_or_default()
}

/// A stored item's body as a record.
pub fn decode<T: serde::de::DeserializeOwned>(item: &Item) -> Result<T, CloudError> {
    serde_json::from_value(item.body.clone())
        .map_err(|err| CloudError::Internal(format!("stored item {:?} is not readable: {err}", item.key)))
}

/// A record as the item of `key` at `version`.
pub fn encode<T: Serialize>(key: ItemKey, version: u64, record: &T) -> Item {
    let body = serde_json::to_value(record).expect("records serialize to JSON");
    Item { key, version, body }
}

/// A record as Describe returns it: without `Tags` (SageMaker's Describe leaves them out) and
/// without modelmon's own state.
pub fn public_view(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        object.remove("Tags");
        object.remove(INTERNAL_MEMBER);
    }
    value
}

/// The first version of a new record that may be deleted and created again under its name:
/// the creation time in microseconds. Every version an earlier record of the name reached is
/// below it (each of its writes took longer than a microsecond), so a request that read the
/// earlier record cannot have its conditional write accepted by this one (the ABA problem of
/// versions that would start at 1 again).
pub fn first_version(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp_micros()).unwrap_or(1).max(1)
}
