//! What the control plane stores: schedules, job definitions, executions and processing jobs,
//! each in the shape SageMaker's Describe and List operations return (PascalCase), so a response
//! is the record (less the members modelmon keeps for itself).

use std::collections::BTreeMap;

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
    /// The execution's processing job (`arn:...:processing-job/<name>`), which the SDK describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_job_arn: Option<String>,
}

/// An execution: SageMaker's summary, plus what modelmon adds (where the reports are, the
/// run's exit message and its record account, its processing job), which the List operation
/// leaves out.
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
    /// Where the run's time went (`crate::run::RunTimings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<crate::run::RunTimings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_job: Option<ExecutionJob>,
    /// The post-analytics processor's run, when the job has one and the analysis completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_analytics_processor: Option<PostAnalyticsRun>,
}

/// What a post-analytics processor did: the files it wrote (uploaded beside the reports), or
/// why it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostAnalyticsRun {
    pub script: String,
    pub files: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What DescribeProcessingJob tells of an execution's processing job besides its status: the
/// job SageMaker would have run for it, fixed when the run is claimed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecutionJob {
    pub processing_job_name: String,
    pub processing_inputs: Vec<Value>,
    /// `Outputs[0].S3Output.S3Uri` is the run's report folder.
    pub processing_output_config: Value,
    pub processing_resources: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopping_condition: Option<Value>,
    pub app_specification: Value,
    /// What the analyzer container would have been given (`start_time`, `end_time`,
    /// `sagemaker_monitoring_schedule_name`, ...).
    pub environment: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_config: Option<Value>,
    pub role_arn: String,
    pub monitoring_schedule_arn: String,
    pub processing_start_time: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcessingJobStatus {
    InProgress,
    Completed,
    Failed,
    Stopping,
    Stopped,
}

impl ProcessingJobStatus {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            ProcessingJobStatus::Completed | ProcessingJobStatus::Failed | ProcessingJobStatus::Stopped
        )
    }
}

/// A processing job of CreateProcessingJob (a baselining job): the request's members echoed,
/// its state, and modelmon's own members (`Tags`, `LeaseExpiresAt`, `FanoutExecution`), which
/// Describe leaves out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessingJobRecord {
    pub processing_job_name: String,
    pub processing_job_arn: String,
    pub processing_job_status: ProcessingJobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_inputs: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_output_config: Option<Value>,
    pub processing_resources: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopping_condition: Option<Value>,
    pub app_specification: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_config: Option<Value>,
    pub role_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_start_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_end_time: Option<f64>,
    pub last_modified_time: f64,
    pub creation_time: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Value>,
    /// Until when the job's runner holds it (before it is claimed: until when it must be). A job
    /// still InProgress or Stopping after this has lost its runner (a crash, a kill, a timeout
    /// the runner could not report), and is seen as Failed or Stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_expires_at: Option<f64>,
    /// The `BaselineFanOut` execution the job was handed to (its ARN), whose merge or failure
    /// step ends the job; its lease then lasts until the job's MaxRuntimeInSeconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fanout_execution: Option<String>,
}

/// The members of a processing job record that are modelmon's own, not SageMaker's.
const PRIVATE_MEMBERS: [&str; 3] = ["Tags", "LeaseExpiresAt", "FanoutExecution"];

impl ProcessingJobRecord {
    /// The job as it stands at `now`: a job whose lease ran out without an end state is Failed
    /// (Stopped if it was stopping), with a reason that says so.
    pub fn seen_at(&self, now: DateTime<Utc>) -> ProcessingJobRecord {
        let mut seen = self.clone();
        let Some(expired) = self.lease_expires_at.filter(|at| *at < epoch_seconds(now)) else {
            return seen;
        };
        let at = from_epoch_seconds(expired).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match self.processing_job_status {
            ProcessingJobStatus::InProgress if self.processing_start_time.is_none() => {
                seen.processing_job_status = ProcessingJobStatus::Failed;
                seen.failure_reason = Some(format!(
                    "The job never started: nothing ran it by {at} (the baseline function was not invoked, \
                     or could not start). Nothing was written to its output."
                ));
            }
            ProcessingJobStatus::InProgress if self.fanout_execution.is_some() => {
                seen.processing_job_status = ProcessingJobStatus::Failed;
                seen.failure_reason = Some(format!(
                    "The job exceeded its StoppingCondition.MaxRuntimeInSeconds: its fan-out {} had not \
                     ended it by {at}. Its output may be missing or incomplete; the execution's history in \
                     Step Functions says where it stands.",
                    self.fanout_execution.as_deref().unwrap_or_default()
                ));
            }
            ProcessingJobStatus::InProgress => {
                seen.processing_job_status = ProcessingJobStatus::Failed;
                seen.failure_reason = Some(format!(
                    "The job's runner stopped without finishing: it last renewed its lease until {at} \
                     (the baseline function crashed, ran out of memory or was killed). Its output may be \
                     missing or incomplete; run the job again."
                ));
            }
            ProcessingJobStatus::Stopping => seen.processing_job_status = ProcessingJobStatus::Stopped,
            _ => return seen,
        }
        seen.processing_end_time = Some(expired);
        seen.last_modified_time = expired;
        seen.lease_expires_at = None;
        seen
    }

    /// DescribeProcessingJob's answer at `now`.
    pub fn describe(&self, now: DateTime<Utc>) -> Value {
        let mut value = serde_json::to_value(self.seen_at(now)).expect("records serialize to JSON");
        if let Some(object) = value.as_object_mut() {
            for member in PRIVATE_MEMBERS {
                object.remove(member);
            }
        }
        value
    }
}

/// What the table holds under a processing job's key: a baselining job of CreateProcessingJob,
/// or the name of a monitoring execution's job, pointing at the execution that is its record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProcessingJobItem {
    Execution(ExecutionPointer),
    Baselining(Box<ProcessingJobRecord>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecutionPointer {
    pub processing_job_name: String,
    pub processing_job_arn: String,
    pub execution_of: ExecutionOf,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecutionOf {
    pub monitoring_schedule_name: String,
    pub scheduled_time: f64,
}

impl ExecutionOf {
    pub fn key(&self) -> ItemKey {
        ItemKey::Execution {
            schedule: self.monitoring_schedule_name.clone(),
            scheduled_time: from_epoch_seconds(self.scheduled_time),
        }
    }
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
