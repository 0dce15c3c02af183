//! The processing-job operations. A job of CreateProcessingJob is a baselining job for the
//! model-monitor analyzer: recorded here, started through the [`JobLauncher`], run and ended by
//! [`crate::run::ProcessingJobRunner`]. Every monitoring execution is a processing job too: its
//! name points at the execution, and Describe answers from the execution record.

use std::collections::HashMap;

use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::baselining::BaseliningSpec;
use super::listing::{in_time_range, name_contains, page, time_key, Row};
use super::records::{
    decode, encode, epoch_seconds, ExecutionPointer, ExecutionRecord, ExecutionStatus, ProcessingJobItem,
    ProcessingJobRecord, ProcessingJobStatus,
};
use super::{name, parse, with_token, ControlPlane};
use crate::ports::{ItemKey, ItemKind, Table};
use crate::CloudError;

/// How often a read-modify-write of a job's record is tried when other writers keep changing it.
const EDIT_ATTEMPTS: usize = 8;

impl ControlPlane {
    pub(super) async fn create_processing_job(&self, request: &Value) -> Result<Value, CloudError> {
        let job_name = name(request, "ProcessingJobName")?;
        BaseliningSpec::from_request(request)?.check_buckets(&self.allowed_buckets)?;
        let launcher = self.launcher.as_ref().ok_or_else(|| {
            CloudError::Validation(
                "This modelmon deployment runs no processing jobs (its create-schedule function has no \
                 BASELINE_FUNCTION_NAME)"
                    .into(),
            )
        })?;
        let now = Utc::now();
        let member = |key: &str| request.get(key).cloned();
        let record = ProcessingJobRecord {
            processing_job_name: job_name.clone(),
            processing_job_arn: self.arn("processing-job", &job_name),
            processing_job_status: ProcessingJobStatus::InProgress,
            processing_inputs: member("ProcessingInputs"),
            processing_output_config: member("ProcessingOutputConfig"),
            processing_resources: member("ProcessingResources").unwrap_or(Value::Null),
            stopping_condition: member("StoppingCondition"),
            app_specification: member("AppSpecification").unwrap_or(Value::Null),
            environment: member("Environment").map(|e| parse(&e)).transpose()?,
            network_config: member("NetworkConfig"),
            role_arn: name(request, "RoleArn")?,
            experiment_config: member("ExperimentConfig"),
            exit_message: None,
            failure_reason: None,
            processing_start_time: None,
            processing_end_time: None,
            last_modified_time: epoch_seconds(now),
            creation_time: epoch_seconds(now),
            tags: member("Tags").and_then(|t| t.as_array().cloned()).unwrap_or_default(),
            lease_expires_at: Some(epoch_seconds(now + launcher.start_timeout())),
            fanout_execution: None,
        };
        let key = ItemKey::processing_job(&job_name);
        self.table
            .insert(&encode(
                key.clone(),
                1,
                &ProcessingJobItem::Baselining(Box::new(record.clone())),
            ))
            .await
            .map_err(|err| match err {
                CloudError::AlreadyExists { .. } => {
                    CloudError::ResourceInUse(format!("Processing job '{job_name}' already exists"))
                }
                other => other,
            })?;
        // The job is accepted once recorded: a launch that fails ends it Failed with the reason,
        // which the caller's Describe (the SDK's wait) reports.
        if let Err(err) = launcher.launch(&record).await {
            tracing::error!(job = %job_name, error = %err, "could not start a processing job");
            let reason = format!("modelmon could not start the job: {err}");
            let failed = edit_job(self.table.as_ref(), &job_name, |stored| {
                // A runner may have got it after all.
                if stored.processing_start_time.is_some() || stored.processing_job_status.is_finished() {
                    return Ok(Edit::Leave(()));
                }
                let at = epoch_seconds(Utc::now());
                stored.processing_job_status = ProcessingJobStatus::Failed;
                stored.failure_reason = Some(reason.clone());
                stored.processing_end_time = Some(at);
                stored.last_modified_time = at;
                stored.lease_expires_at = None;
                Ok(Edit::Write(()))
            });
            if let Err(err) = failed.await {
                tracing::error!(job = %job_name, error = %err, "could not record a processing job's failed start");
            }
        }
        Ok(json!({ "ProcessingJobArn": record.processing_job_arn }))
    }

    pub(super) async fn describe_processing_job(&self, job_name: &str) -> Result<Value, CloudError> {
        match self.load_processing_job(job_name).await? {
            ProcessingJobItem::Baselining(record) => Ok(record.describe(Utc::now())),
            ProcessingJobItem::Execution(pointer) => {
                let execution = self.table.get(&pointer.execution_of.key()).await?;
                let execution = execution.ok_or_else(|| not_found(job_name))?;
                Ok(execution_view(&pointer, &decode(&execution)?))
            }
        }
    }

    /// Stop: a job not yet claimed is Stopped at once; a running one is Stopping until its
    /// runner notices (within a sixth of its lease) and ends it Stopped. The write is
    /// conditional, so of concurrent Stops exactly one succeeds; the others find it Stopping.
    pub(super) async fn stop_processing_job(&self, job_name: &str) -> Result<Value, CloudError> {
        if let ProcessingJobItem::Execution(pointer) = self.load_processing_job(job_name).await? {
            return Err(CloudError::Validation(format!(
                "Processing job '{job_name}' is the monitoring execution of schedule '{}': modelmon does not \
                 stop a running execution (StopMonitoringSchedule stops the schedule's next runs)",
                pointer.execution_of.monitoring_schedule_name
            )));
        }
        edit_job(self.table.as_ref(), job_name, |record| {
            let now = Utc::now();
            let status = record.seen_at(now).processing_job_status;
            if status != ProcessingJobStatus::InProgress {
                return Err(CloudError::Validation(format!(
                    "Processing job '{job_name}' is {status:?}: only a job InProgress can be stopped"
                )));
            }
            record.last_modified_time = epoch_seconds(now);
            if record.processing_start_time.is_none() {
                record.processing_job_status = ProcessingJobStatus::Stopped;
                record.exit_message = Some("Stopped by StopProcessingJob before it started.".into());
                record.processing_end_time = Some(epoch_seconds(now));
                record.lease_expires_at = None;
            } else {
                record.processing_job_status = ProcessingJobStatus::Stopping;
            }
            Ok(Edit::Write(()))
        })
        .await?;
        Ok(json!({}))
    }

    pub(super) async fn list_processing_jobs(&self, request: &Value) -> Result<Value, CloudError> {
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "PascalCase", default)]
        struct Filters {
            creation_time_after: Option<f64>,
            creation_time_before: Option<f64>,
            last_modified_time_after: Option<f64>,
            last_modified_time_before: Option<f64>,
            name_contains: Option<String>,
            status_equals: Option<ProcessingJobStatus>,
            sort_by: Option<String>,
        }
        let filters: Filters = parse(request)?;
        let now = Utc::now();
        let executions: HashMap<ItemKey, ExecutionRecord> = self
            .table
            .list(ItemKind::Execution)
            .await?
            .iter()
            .map(|item| Ok((item.key.clone(), decode(item)?)))
            .collect::<Result<_, CloudError>>()?;
        let mut rows = Vec::new();
        for item in self.table.list(ItemKind::ProcessingJob).await? {
            let described = match decode(&item)? {
                ProcessingJobItem::Baselining(record) => record.describe(now),
                ProcessingJobItem::Execution(pointer) => match executions.get(&pointer.execution_of.key()) {
                    Some(execution) => execution_view(&pointer, execution),
                    None => continue,
                },
            };
            let number = |member: &str| described[member].as_f64();
            let text = |member: &str| described[member].as_str().unwrap_or_default().to_string();
            let (job_name, status) = (text("ProcessingJobName"), text("ProcessingJobStatus"));
            let creation_time = number("CreationTime").unwrap_or_default();
            let last_modified_time = number("LastModifiedTime").unwrap_or(creation_time);
            let keep = name_contains(&job_name, filters.name_contains.as_deref())
                && in_time_range(creation_time, filters.creation_time_before, filters.creation_time_after)
                && in_time_range(
                    last_modified_time,
                    filters.last_modified_time_before,
                    filters.last_modified_time_after,
                )
                && filters
                    .status_equals
                    .is_none_or(|s| json!(s).as_str() == Some(status.as_str()));
            if !keep {
                continue;
            }
            let sort = match filters.sort_by.as_deref() {
                Some("Name") => job_name.clone(),
                Some("Status") => status.clone(),
                _ => time_key(creation_time),
            };
            let mut summary = json!({});
            for member in [
                "ProcessingJobName",
                "ProcessingJobArn",
                "CreationTime",
                "ProcessingEndTime",
                "LastModifiedTime",
                "ProcessingJobStatus",
                "FailureReason",
                "ExitMessage",
            ] {
                if !described[member].is_null() {
                    summary[member] = described[member].clone();
                }
            }
            rows.push(Row {
                sort,
                name: job_name,
                item: summary,
            });
        }
        let (summaries, next_token) = page(rows, &parse(request)?)?;
        Ok(with_token(json!({ "ProcessingJobSummaries": summaries }), next_token))
    }

    async fn load_processing_job(&self, job_name: &str) -> Result<ProcessingJobItem, CloudError> {
        let item = self.table.get(&ItemKey::processing_job(job_name)).await?;
        decode(&item.ok_or_else(|| not_found(job_name))?)
    }
}

pub(super) fn not_found(job_name: &str) -> CloudError {
    CloudError::ResourceNotFound(format!("Processing job '{job_name}' does not exist"))
}

/// What an [`edit_job`] step decided: write the changed record, or leave the stored one as it is.
pub enum Edit<T> {
    Write(T),
    Leave(T),
}

/// Applies `edit` to the latest stored version of a baselining job's record and writes it on
/// that version; when another writer got there first, reads the new version and applies `edit`
/// again. Every change of a job's state goes through here, so a change never overwrites
/// another's (a Stop, a renewed lease, new tags) and two changes cannot both win.
pub async fn edit_job<T>(
    table: &dyn Table,
    job_name: &str,
    mut edit: impl FnMut(&mut ProcessingJobRecord) -> Result<Edit<T>, CloudError>,
) -> Result<T, CloudError> {
    let key = ItemKey::processing_job(job_name);
    for _ in 0..EDIT_ATTEMPTS {
        let item = table.get(&key).await?.ok_or_else(|| not_found(job_name))?;
        let ProcessingJobItem::Baselining(mut record) = decode(&item)? else {
            return Err(CloudError::Validation(format!(
                "Processing job '{job_name}' is a monitoring execution's, not a baselining job"
            )));
        };
        let done = match edit(&mut record)? {
            Edit::Leave(done) => return Ok(done),
            Edit::Write(done) => done,
        };
        let stored = ProcessingJobItem::Baselining(record);
        match table.update(&encode(key.clone(), item.version + 1, &stored)).await {
            Ok(()) => return Ok(done),
            Err(CloudError::VersionConflict { .. }) => continue,
            Err(CloudError::ItemNotFound { .. }) => return Err(not_found(job_name)),
            Err(err) => return Err(err),
        }
    }
    Err(CloudError::Conflict(format!(
        "Processing job '{job_name}' kept being changed by other requests; try again"
    )))
}

/// DescribeProcessingJob of a monitoring execution's job: the execution's state in a
/// processing job's terms, and the job SageMaker would have run for it.
pub fn execution_view(pointer: &ExecutionPointer, execution: &ExecutionRecord) -> Value {
    let summary = &execution.summary;
    let status = match summary.monitoring_execution_status {
        ExecutionStatus::Pending | ExecutionStatus::InProgress => ProcessingJobStatus::InProgress,
        ExecutionStatus::Completed | ExecutionStatus::CompletedWithViolations => ProcessingJobStatus::Completed,
        ExecutionStatus::Failed => ProcessingJobStatus::Failed,
        ExecutionStatus::Stopping => ProcessingJobStatus::Stopping,
        ExecutionStatus::Stopped => ProcessingJobStatus::Stopped,
    };
    let mut view = json!({
        "ProcessingJobName": pointer.processing_job_name,
        "ProcessingJobArn": pointer.processing_job_arn,
        "ProcessingJobStatus": status,
        "CreationTime": summary.creation_time,
        "LastModifiedTime": summary.last_modified_time,
        "ProcessingInputs": [],
        "ProcessingOutputConfig": {"Outputs": []},
        "ProcessingResources": {},
        "AppSpecification": {},
    });
    if let Some(job) = &execution.processing_job {
        let facts = serde_json::to_value(job).expect("records serialize to JSON");
        for (member, value) in facts.as_object().into_iter().flatten() {
            view[member] = value.clone();
        }
    }
    if status.is_finished() {
        view["ProcessingEndTime"] = json!(summary.last_modified_time);
    }
    if let Some(message) = &execution.exit_message {
        view["ExitMessage"] = json!(message);
    }
    if let Some(reason) = &summary.failure_reason {
        view["FailureReason"] = json!(reason);
    }
    view
}
