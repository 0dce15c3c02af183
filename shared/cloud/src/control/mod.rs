//! The SageMaker-compatible control plane: the monitoring-schedule and data-quality job
//! definition operations, written once against the ports. `api` turns HTTP requests into calls
//! of [`ControlPlane::call`] and errors into SageMaker's error responses.

pub mod api;
pub mod expression;
pub mod job;
mod listing;
pub mod records;

use std::sync::Arc;

use chrono::{DateTime, Duration, Timelike, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use self::expression::{check_offsets, parse_expression, parse_offset, period, Expression};
use self::job::JobSpec;
use self::listing::{in_time_range, name_contains, page, time_key, Row};
use self::records::{decode, encode, epoch_seconds, without_tags, ExecutionRecord, ScheduleRecord, ScheduleStatus};
use crate::ports::{Cadence, Item, ItemKey, ItemKind, ScheduleSpec, Scheduler, Table};
use crate::CloudError;

/// Deployment facts the API needs for ARNs and limits.
#[derive(Debug, Clone)]
pub struct ControlSettings {
    pub region: String,
    pub account_id: String,
    /// Monitoring schedules per account and region; more gives ResourceLimitExceeded.
    pub max_schedules: usize,
}

pub struct ControlPlane {
    table: Arc<dyn Table>,
    scheduler: Arc<dyn Scheduler>,
    settings: ControlSettings,
}

/// What a schedule's configuration resolves to.
pub struct Plan {
    pub expression: Expression,
    /// A NOW schedule's `DataAnalysisStartTime` and `DataAnalysisEndTime`.
    pub now_window: Option<(Duration, Duration)>,
    pub job: JobSpec,
    pub job_definition_name: Option<String>,
}

impl ControlPlane {
    pub fn new(table: Arc<dyn Table>, scheduler: Arc<dyn Scheduler>, settings: ControlSettings) -> Self {
        ControlPlane {
            table,
            scheduler,
            settings,
        }
    }

    /// Runs one operation on a request that passed the API model's validation.
    pub async fn call(&self, operation: &str, request: &Value) -> Result<Value, CloudError> {
        match operation {
            "CreateMonitoringSchedule" => self.create_schedule(request).await,
            "DescribeMonitoringSchedule" => self.describe_schedule(&name(request, "MonitoringScheduleName")?).await,
            "ListMonitoringSchedules" => self.list_schedules(request).await,
            "UpdateMonitoringSchedule" => self.update_schedule(request).await,
            "DeleteMonitoringSchedule" => self.delete_schedule(&name(request, "MonitoringScheduleName")?).await,
            "StartMonitoringSchedule" => self.set_enabled(&name(request, "MonitoringScheduleName")?, true).await,
            "StopMonitoringSchedule" => self.set_enabled(&name(request, "MonitoringScheduleName")?, false).await,
            "ListMonitoringExecutions" => self.list_executions(request).await,
            "CreateDataQualityJobDefinition" => self.create_job_definition(request).await,
            "DescribeDataQualityJobDefinition" => {
                self.describe_job_definition(&name(request, "JobDefinitionName")?).await
            }
            "ListDataQualityJobDefinitions" => self.list_job_definitions(request).await,
            "DeleteDataQualityJobDefinition" => self.delete_job_definition(&name(request, "JobDefinitionName")?).await,
            other => Err(CloudError::Validation(format!("Operation {other} is not supported"))),
        }
    }

    fn arn(&self, resource: &str, name: &str) -> String {
        // SageMaker writes resource names lower-case in ARNs.
        format!(
            "arn:aws:sagemaker:{}:{}:{resource}/{}",
            self.settings.region,
            self.settings.account_id,
            name.to_lowercase()
        )
    }

    async fn create_schedule(&self, request: &Value) -> Result<Value, CloudError> {
        let schedule_name = name(request, "MonitoringScheduleName")?;
        let config = request.get("MonitoringScheduleConfig").cloned().unwrap_or(Value::Null);
        let plan = plan(self.table.as_ref(), &config).await?;
        let existing = self.table.list(ItemKind::Schedule).await?;
        if existing.len() >= self.settings.max_schedules {
            return Err(CloudError::ResourceLimitExceeded(format!(
                "The account already has {} monitoring schedules, the limit of this deployment",
                existing.len()
            )));
        }
        let now = Utc::now();
        let mut record = ScheduleRecord {
            monitoring_schedule_arn: self.arn("monitoring-schedule", &schedule_name),
            monitoring_schedule_name: schedule_name.clone(),
            monitoring_schedule_status: ScheduleStatus::Pending,
            monitoring_type: Some("DataQuality".into()),
            failure_reason: None,
            creation_time: epoch_seconds(now),
            last_modified_time: epoch_seconds(now),
            monitoring_schedule_config: config,
            endpoint_name: plan.job.endpoint_name().map(str::to_string),
            last_monitoring_execution_summary: None,
            tags: request
                .get("Tags")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        };
        let key = ItemKey::Schedule(schedule_name.clone());
        self.table
            .insert(&encode(key.clone(), 1, &record))
            .await
            .map_err(|err| match err {
                CloudError::AlreadyExists { .. } => {
                    CloudError::ResourceInUse(format!("Monitoring schedule '{schedule_name}' already exists"))
                }
                other => other,
            })?;
        // The record exists before the timer, and the record goes again if the timer cannot be
        // made: a failure half-way leaves neither a timer without a record nor the reverse.
        let spec = ScheduleSpec {
            name: schedule_name.clone(),
            cadence: cadence(&plan.expression, now),
            enabled: true,
        };
        let created = match self.scheduler.create(&spec).await {
            // A timer of a free name is an orphan of an earlier failure: adopt it.
            Err(CloudError::AlreadyExists { .. }) => self.scheduler.update(&spec).await,
            other => other,
        };
        if let Err(err) = created {
            if let Err(cleanup) = self.table.delete(&key).await {
                tracing::error!(schedule = %schedule_name, error = %cleanup, "could not remove the record of a schedule whose timer failed");
            }
            return Err(err);
        }
        record.monitoring_schedule_status = ScheduleStatus::Scheduled;
        if let Err(err) = self.table.update(&encode(key, 2, &record)).await {
            // The schedule works while Pending; only the status shown is late.
            tracing::warn!(schedule = %schedule_name, error = %err, "schedule created but its status stayed Pending");
        }
        Ok(json!({ "MonitoringScheduleArn": record.monitoring_schedule_arn }))
    }

    async fn load_schedule(&self, schedule_name: &str) -> Result<(Item, ScheduleRecord), CloudError> {
        let item = self
            .table
            .get(&ItemKey::Schedule(schedule_name.to_string()))
            .await?
            .ok_or_else(|| {
                CloudError::ResourceNotFound(format!("Monitoring schedule '{schedule_name}' does not exist"))
            })?;
        let record = decode(&item)?;
        Ok((item, record))
    }

    async fn describe_schedule(&self, schedule_name: &str) -> Result<Value, CloudError> {
        let (item, _) = self.load_schedule(schedule_name).await?;
        Ok(without_tags(item.body))
    }

    async fn update_schedule(&self, request: &Value) -> Result<Value, CloudError> {
        let schedule_name = name(request, "MonitoringScheduleName")?;
        let config = request.get("MonitoringScheduleConfig").cloned().unwrap_or(Value::Null);
        let plan = plan(self.table.as_ref(), &config).await?;
        let (item, mut record) = self.load_schedule(&schedule_name).await?;
        let previous = record.clone();
        let now = Utc::now();
        record.monitoring_schedule_config = config;
        record.endpoint_name = plan.job.endpoint_name().map(str::to_string);
        record.last_modified_time = epoch_seconds(now);
        let spec = ScheduleSpec {
            name: schedule_name.clone(),
            cadence: cadence(&plan.expression, now),
            enabled: record.monitoring_schedule_status != ScheduleStatus::Stopped,
        };
        self.store_then_schedule(&item, &previous, &record, &spec).await?;
        Ok(json!({ "MonitoringScheduleArn": record.monitoring_schedule_arn }))
    }

    /// Stop and Start: the timer is disabled or enabled, the record says Stopped or Scheduled.
    async fn set_enabled(&self, schedule_name: &str, enabled: bool) -> Result<Value, CloudError> {
        let (item, mut record) = self.load_schedule(schedule_name).await?;
        let previous = record.clone();
        let plan = plan(self.table.as_ref(), &record.monitoring_schedule_config).await?;
        let created = records::from_epoch_seconds(record.creation_time);
        record.monitoring_schedule_status = if enabled {
            ScheduleStatus::Scheduled
        } else {
            ScheduleStatus::Stopped
        };
        record.last_modified_time = epoch_seconds(Utc::now());
        let spec = ScheduleSpec {
            name: schedule_name.to_string(),
            cadence: cadence(&plan.expression, created),
            enabled,
        };
        self.store_then_schedule(&item, &previous, &record, &spec).await?;
        Ok(json!({}))
    }

    /// Writes the record (conditionally on the version read), then the timer; if the timer
    /// cannot be changed, the record is put back as it was.
    async fn store_then_schedule(
        &self,
        item: &Item,
        previous: &ScheduleRecord,
        record: &ScheduleRecord,
        spec: &ScheduleSpec,
    ) -> Result<(), CloudError> {
        self.table
            .update(&encode(item.key.clone(), item.version + 1, record))
            .await
            .map_err(conflict)?;
        if let Err(err) = self.scheduler.update(spec).await {
            if let Err(revert) = self
                .table
                .update(&encode(item.key.clone(), item.version + 2, previous))
                .await
            {
                tracing::error!(schedule = %spec.name, error = %revert, "could not put a schedule record back after its timer failed");
            }
            return Err(err);
        }
        Ok(())
    }

    async fn delete_schedule(&self, schedule_name: &str) -> Result<Value, CloudError> {
        let (item, _) = self.load_schedule(schedule_name).await?;
        // Timer first: if the record's deletion then fails, a second Delete finishes the job,
        // and no timer is left firing for a schedule nobody can see.
        self.scheduler.delete(schedule_name).await?;
        self.table.delete(&item.key).await?;
        Ok(json!({}))
    }

    async fn list_schedules(&self, request: &Value) -> Result<Value, CloudError> {
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "PascalCase", default)]
        struct Filters {
            endpoint_name: Option<String>,
            sort_by: Option<String>,
            name_contains: Option<String>,
            creation_time_before: Option<f64>,
            creation_time_after: Option<f64>,
            last_modified_time_before: Option<f64>,
            last_modified_time_after: Option<f64>,
            status_equals: Option<ScheduleStatus>,
            monitoring_job_definition_name: Option<String>,
            monitoring_type_equals: Option<String>,
        }
        let filters: Filters = parse(request)?;
        let mut rows = Vec::new();
        for item in self.table.list(ItemKind::Schedule).await? {
            let record: ScheduleRecord = decode(&item)?;
            let keep = filters
                .endpoint_name
                .as_ref()
                .is_none_or(|e| record.endpoint_name.as_ref() == Some(e))
                && name_contains(&record.monitoring_schedule_name, filters.name_contains.as_deref())
                && in_time_range(
                    record.creation_time,
                    filters.creation_time_before,
                    filters.creation_time_after,
                )
                && in_time_range(
                    record.last_modified_time,
                    filters.last_modified_time_before,
                    filters.last_modified_time_after,
                )
                && filters
                    .status_equals
                    .is_none_or(|s| s == record.monitoring_schedule_status)
                && filters
                    .monitoring_job_definition_name
                    .as_deref()
                    .is_none_or(|n| record.job_definition_name() == Some(n))
                && filters
                    .monitoring_type_equals
                    .as_ref()
                    .is_none_or(|t| record.monitoring_type.as_ref() == Some(t));
            if !keep {
                continue;
            }
            let sort = match filters.sort_by.as_deref() {
                Some("Name") => record.monitoring_schedule_name.clone(),
                Some("Status") => format!("{:?}", record.monitoring_schedule_status),
                _ => time_key(record.creation_time),
            };
            let mut summary = json!({
                "MonitoringScheduleName": record.monitoring_schedule_name,
                "MonitoringScheduleArn": record.monitoring_schedule_arn,
                "CreationTime": record.creation_time,
                "LastModifiedTime": record.last_modified_time,
                "MonitoringScheduleStatus": record.monitoring_schedule_status,
            });
            let optional = [
                ("EndpointName", record.endpoint_name.clone()),
                (
                    "MonitoringJobDefinitionName",
                    record.job_definition_name().map(str::to_string),
                ),
                ("MonitoringType", record.monitoring_type.clone()),
            ];
            for (member, value) in optional {
                if let Some(value) = value {
                    summary[member] = Value::String(value);
                }
            }
            rows.push(Row {
                sort,
                name: record.monitoring_schedule_name,
                item: summary,
            });
        }
        let (summaries, next_token) = page(rows, &parse(request)?)?;
        Ok(with_token(
            json!({ "MonitoringScheduleSummaries": summaries }),
            next_token,
        ))
    }

    async fn list_executions(&self, request: &Value) -> Result<Value, CloudError> {
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "PascalCase", default)]
        struct Filters {
            monitoring_schedule_name: Option<String>,
            endpoint_name: Option<String>,
            sort_by: Option<String>,
            scheduled_time_before: Option<f64>,
            scheduled_time_after: Option<f64>,
            creation_time_before: Option<f64>,
            creation_time_after: Option<f64>,
            last_modified_time_before: Option<f64>,
            last_modified_time_after: Option<f64>,
            status_equals: Option<records::ExecutionStatus>,
            monitoring_job_definition_name: Option<String>,
            monitoring_type_equals: Option<String>,
        }
        let filters: Filters = parse(request)?;
        let items = match &filters.monitoring_schedule_name {
            Some(schedule) => self.table.list_executions(schedule).await?,
            None => self.table.list(ItemKind::Execution).await?,
        };
        let mut rows = Vec::new();
        for item in items {
            let summary = decode::<ExecutionRecord>(&item)?.summary;
            let keep = filters
                .endpoint_name
                .as_ref()
                .is_none_or(|e| summary.endpoint_name.as_ref() == Some(e))
                && in_time_range(
                    summary.scheduled_time,
                    filters.scheduled_time_before,
                    filters.scheduled_time_after,
                )
                && in_time_range(
                    summary.creation_time,
                    filters.creation_time_before,
                    filters.creation_time_after,
                )
                && in_time_range(
                    summary.last_modified_time,
                    filters.last_modified_time_before,
                    filters.last_modified_time_after,
                )
                && filters
                    .status_equals
                    .is_none_or(|s| s == summary.monitoring_execution_status)
                && filters
                    .monitoring_job_definition_name
                    .as_ref()
                    .is_none_or(|n| summary.monitoring_job_definition_name.as_ref() == Some(n))
                && filters
                    .monitoring_type_equals
                    .as_ref()
                    .is_none_or(|t| summary.monitoring_type.as_ref() == Some(t));
            if !keep {
                continue;
            }
            let sort = match filters.sort_by.as_deref() {
                Some("ScheduledTime") => time_key(summary.scheduled_time),
                Some("Status") => format!("{:?}", summary.monitoring_execution_status),
                _ => time_key(summary.creation_time),
            };
            let name = format!(
                "{}#{}",
                summary.monitoring_schedule_name,
                time_key(summary.scheduled_time)
            );
            rows.push(Row {
                sort,
                name,
                item: summary,
            });
        }
        let (summaries, next_token) = page(rows, &parse(request)?)?;
        Ok(with_token(
            json!({ "MonitoringExecutionSummaries": summaries }),
            next_token,
        ))
    }

    async fn create_job_definition(&self, request: &Value) -> Result<Value, CloudError> {
        let definition_name = name(request, "JobDefinitionName")?;
        JobSpec::from_job_definition(request)?;
        let arn = self.arn("data-quality-job-definition", &definition_name);
        let mut record = request.clone();
        record["JobDefinitionArn"] = Value::String(arn.clone());
        record["CreationTime"] = json!(epoch_seconds(Utc::now()));
        let item = Item {
            key: ItemKey::JobDefinition(definition_name.clone()),
            version: 1,
            body: record,
        };
        self.table.insert(&item).await.map_err(|err| match err {
            CloudError::AlreadyExists { .. } => CloudError::ResourceInUse(format!(
                "Data quality job definition '{definition_name}' already exists"
            )),
            other => other,
        })?;
        Ok(json!({ "JobDefinitionArn": arn }))
    }

    async fn describe_job_definition(&self, definition_name: &str) -> Result<Value, CloudError> {
        let item = self
            .table
            .get(&ItemKey::JobDefinition(definition_name.to_string()))
            .await?;
        let item = item.ok_or_else(|| not_found_definition(definition_name))?;
        Ok(without_tags(item.body))
    }

    async fn delete_job_definition(&self, definition_name: &str) -> Result<Value, CloudError> {
        let key = ItemKey::JobDefinition(definition_name.to_string());
        self.table
            .get(&key)
            .await?
            .ok_or_else(|| not_found_definition(definition_name))?;
        for item in self.table.list(ItemKind::Schedule).await? {
            let record: ScheduleRecord = decode(&item)?;
            if record.job_definition_name() == Some(definition_name) {
                return Err(CloudError::ResourceInUse(format!(
                    "Data quality job definition '{definition_name}' is used by monitoring schedule '{}'; delete the schedule first",
                    record.monitoring_schedule_name
                )));
            }
        }
        self.table.delete(&key).await?;
        Ok(json!({}))
    }

    async fn list_job_definitions(&self, request: &Value) -> Result<Value, CloudError> {
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "PascalCase", default)]
        struct Filters {
            endpoint_name: Option<String>,
            sort_by: Option<String>,
            name_contains: Option<String>,
            creation_time_before: Option<f64>,
            creation_time_after: Option<f64>,
        }
        let filters: Filters = parse(request)?;
        let mut rows = Vec::new();
        for item in self.table.list(ItemKind::JobDefinition).await? {
            let body = &item.body;
            let definition_name = body["JobDefinitionName"].as_str().unwrap_or_default().to_string();
            let creation_time = body["CreationTime"].as_f64().unwrap_or_default();
            let endpoint = body["DataQualityJobInput"]["EndpointInput"]["EndpointName"]
                .as_str()
                .unwrap_or_default();
            let keep = filters.endpoint_name.as_deref().is_none_or(|e| e == endpoint)
                && name_contains(&definition_name, filters.name_contains.as_deref())
                && in_time_range(creation_time, filters.creation_time_before, filters.creation_time_after);
            if !keep {
                continue;
            }
            let sort = match filters.sort_by.as_deref() {
                Some("Name") => definition_name.clone(),
                _ => time_key(creation_time),
            };
            let summary = json!({
                "MonitoringJobDefinitionName": definition_name,
                "MonitoringJobDefinitionArn": body["JobDefinitionArn"],
                "CreationTime": creation_time,
                "EndpointName": endpoint,
            });
            rows.push(Row {
                sort,
                name: definition_name,
                item: summary,
            });
        }
        let (summaries, next_token) = page(rows, &parse(request)?)?;
        Ok(with_token(json!({ "JobDefinitionSummaries": summaries }), next_token))
    }
}

/// Checks a MonitoringScheduleConfig beyond the model's rules and resolves its job.
pub async fn plan(table: &dyn Table, config: &Value) -> Result<Plan, CloudError> {
    let monitoring_type = config
        .get("MonitoringType")
        .and_then(Value::as_str)
        .unwrap_or("DataQuality");
    if monitoring_type != "DataQuality" {
        return Err(CloudError::Validation(format!(
            "MonitoringType {monitoring_type} is not supported: modelmon monitors data quality"
        )));
    }
    let (job, job_definition_name) = match (
        config.get("MonitoringJobDefinition"),
        config.get("MonitoringJobDefinitionName"),
    ) {
        (Some(inline), None) => (JobSpec::from_inline(inline)?, None),
        (None, Some(Value::String(name))) => {
            let item = table.get(&ItemKey::JobDefinition(name.clone())).await?.ok_or_else(|| {
                CloudError::ResourceNotFound(format!("Data quality job definition '{name}' does not exist"))
            })?;
            (JobSpec::from_job_definition(&item.body)?, Some(name.clone()))
        }
        _ => {
            return Err(CloudError::Validation(
                "MonitoringScheduleConfig must hold exactly one of MonitoringJobDefinition and \
                 MonitoringJobDefinitionName"
                    .into(),
            ))
        }
    };
    let schedule = config.get("ScheduleConfig");
    let text = |member: &str| schedule.and_then(|s| s.get(member)).and_then(Value::as_str);
    // Without a ScheduleConfig SageMaker picks a daily time; modelmon picks midnight UTC.
    let expression = match text("ScheduleExpression") {
        Some(text) => parse_expression(text)?,
        None => Expression::Repeating(Cadence::Hours {
            first_hour: 0,
            every_hours: 24,
        }),
    };
    let now_window = match (&expression, text("DataAnalysisStartTime"), text("DataAnalysisEndTime")) {
        (Expression::Now, Some(start), Some(end)) => {
            let start = parse_offset(start, "DataAnalysisStartTime")?;
            let end = parse_offset(end, "DataAnalysisEndTime")?;
            check_offsets(start, end, ("DataAnalysisStartTime", "DataAnalysisEndTime"))?;
            Some((start, end))
        }
        (Expression::Now, _, _) => {
            return Err(CloudError::Validation(
                "A NOW schedule needs both DataAnalysisStartTime and DataAnalysisEndTime (such as -PT1H and -PT0H)"
                    .into(),
            ))
        }
        (Expression::Repeating(_), None, None) => None,
        (Expression::Repeating(_), _, _) => {
            return Err(CloudError::Validation(
                "DataAnalysisStartTime and DataAnalysisEndTime apply to NOW schedules only; a repeating \
                 schedule takes StartTimeOffset and EndTimeOffset in its input"
                    .into(),
            ))
        }
    };
    if let (Expression::Repeating(cadence), Some(max_runtime)) = (&expression, job.max_runtime_seconds) {
        if i64::from(max_runtime) > period(cadence).num_seconds() {
            return Err(CloudError::Validation(format!(
                "StoppingCondition.MaxRuntimeInSeconds {max_runtime} exceeds the schedule's period of {} seconds",
                period(cadence).num_seconds()
            )));
        }
    }
    Ok(Plan {
        expression,
        now_window,
        job,
        job_definition_name,
    })
}

/// When the timer of an expression fires: NOW is once, at the time of the request.
fn cadence(expression: &Expression, now: DateTime<Utc>) -> Cadence {
    match *expression {
        Expression::Repeating(cadence) => cadence,
        Expression::Now => Cadence::Once {
            at: now.with_nanosecond(0).unwrap_or(now),
        },
    }
}

fn name(request: &Value, member: &str) -> Result<String, CloudError> {
    request
        .get(member)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| CloudError::Validation(format!("{member} is required")))
}

fn parse<T: serde::de::DeserializeOwned>(request: &Value) -> Result<T, CloudError> {
    serde_json::from_value(request.clone()).map_err(|err| CloudError::Validation(err.to_string()))
}

fn with_token(mut response: Value, next_token: Option<String>) -> Value {
    if let Some(token) = next_token {
        response["NextToken"] = Value::String(token);
    }
    response
}

fn not_found_definition(definition_name: &str) -> CloudError {
    CloudError::ResourceNotFound(format!(
        "Data quality job definition '{definition_name}' does not exist"
    ))
}

/// A lost race on a record is the caller's to retry.
fn conflict(err: CloudError) -> CloudError {
    match err {
        CloudError::VersionConflict { what } => CloudError::Conflict(format!(
            "{what} was changed by another request at the same time; try again"
        )),
        CloudError::ItemNotFound { what } => CloudError::ResourceNotFound(format!("{what} was deleted meanwhile")),
        other => other,
    }
}
