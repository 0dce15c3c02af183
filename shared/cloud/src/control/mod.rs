//! The SageMaker-compatible control plane: the monitoring-schedule, data-quality job definition,
//! processing-job and tag operations, written once against the ports. `api` turns HTTP requests
//! into calls of [`ControlPlane::call`] and errors into SageMaker's error responses.

pub mod api;
pub mod baselining;
mod executions;
pub mod expression;
pub mod job;
mod job_definitions;
pub mod lifecycle;
mod listing;
pub mod processing_jobs;
pub mod records;
mod schedules;
mod tags;
mod timers;

use std::sync::Arc;

use chrono::{DateTime, Duration, Timelike, Utc};
use serde_json::Value;

use self::expression::{check_offsets, parse_expression, parse_offset, period, Expression};
use self::job::JobSpec;
use crate::ports::{Cadence, ItemKey, JobLauncher, Scheduler, Table};
use crate::{AllowedBuckets, CloudError};

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
    allowed_buckets: AllowedBuckets,
    /// Starts baselining jobs (CreateProcessingJob); without one, the deployment runs none.
    launcher: Option<Arc<dyn JobLauncher>>,
}

/// What a schedule's configuration resolves to.
pub struct Plan {
    pub expression: Expression,
    /// A NOW schedule's `DataAnalysisStartTime` and `DataAnalysisEndTime`.
    pub now_window: Option<(Duration, Duration)>,
    pub job: JobSpec,
}

impl ControlPlane {
    pub fn new(table: Arc<dyn Table>, scheduler: Arc<dyn Scheduler>, settings: ControlSettings) -> Self {
        ControlPlane {
            table,
            scheduler,
            settings,
            allowed_buckets: AllowedBuckets::any(),
            launcher: None,
        }
    }

    /// Runs CreateProcessingJob's baselining jobs through `launcher`.
    pub fn with_job_launcher(mut self, launcher: Arc<dyn JobLauncher>) -> Self {
        self.launcher = Some(launcher);
        self
    }

    /// Refuses jobs that name buckets outside `allowed` (every bucket is allowed by default).
    pub fn with_allowed_buckets(mut self, allowed: AllowedBuckets) -> Self {
        self.allowed_buckets = allowed;
        self
    }

    /// The schedule's plan, refused if it names a bucket this deployment may not use.
    async fn checked_plan(&self, config: &Value) -> Result<Plan, CloudError> {
        let plan = plan(self.table.as_ref(), config).await?;
        plan.job.check_buckets(&self.allowed_buckets)?;
        Ok(plan)
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
            "CreateProcessingJob" => self.create_processing_job(request).await,
            "DescribeProcessingJob" => self.describe_processing_job(&name(request, "ProcessingJobName")?).await,
            "ListProcessingJobs" => self.list_processing_jobs(request).await,
            "StopProcessingJob" => self.stop_processing_job(&name(request, "ProcessingJobName")?).await,
            "AddTags" => self.add_tags(request).await,
            "ListTags" => self.list_tags(request).await,
            "DeleteTags" => self.delete_tags(request).await,
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
    let job = match (
        config.get("MonitoringJobDefinition"),
        config.get("MonitoringJobDefinitionName"),
    ) {
        (Some(inline), None) => JobSpec::from_inline(inline)?,
        (None, Some(Value::String(name))) => {
            let item = table.get(&ItemKey::JobDefinition(name.clone())).await?;
            let item = item
                .filter(|item| !lifecycle::is_deleting(&item.body))
                .ok_or_else(|| job_definitions::not_found(name))?;
            JobSpec::from_job_definition(&item.body)?
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
