//! The monitoring-schedule operations: a record in the table and a timer in the scheduler each.

use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::listing::{in_time_range, name_contains, page, time_key, Row};
use super::records::{decode, encode, epoch_seconds, from_epoch_seconds, without_tags, ScheduleRecord, ScheduleStatus};
use super::{cadence, conflict, name, parse, plan, with_token, ControlPlane};
use crate::ports::{Item, ItemKey, ItemKind, ScheduleSpec};
use crate::CloudError;

impl ControlPlane {
    pub(super) async fn create_schedule(&self, request: &Value) -> Result<Value, CloudError> {
        let schedule_name = name(request, "MonitoringScheduleName")?;
        let config = request.get("MonitoringScheduleConfig").cloned().unwrap_or(Value::Null);
        let plan = self.checked_plan(&config).await?;
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

    pub(super) async fn describe_schedule(&self, schedule_name: &str) -> Result<Value, CloudError> {
        let (item, _) = self.load_schedule(schedule_name).await?;
        Ok(without_tags(item.body))
    }

    pub(super) async fn update_schedule(&self, request: &Value) -> Result<Value, CloudError> {
        let schedule_name = name(request, "MonitoringScheduleName")?;
        let config = request.get("MonitoringScheduleConfig").cloned().unwrap_or(Value::Null);
        let plan = self.checked_plan(&config).await?;
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
    pub(super) async fn set_enabled(&self, schedule_name: &str, enabled: bool) -> Result<Value, CloudError> {
        let (item, mut record) = self.load_schedule(schedule_name).await?;
        let previous = record.clone();
        let plan = plan(self.table.as_ref(), &record.monitoring_schedule_config).await?;
        let created = from_epoch_seconds(record.creation_time);
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

    pub(super) async fn delete_schedule(&self, schedule_name: &str) -> Result<Value, CloudError> {
        let (item, _) = self.load_schedule(schedule_name).await?;
        // Timer first: if the record's deletion then fails, a second Delete finishes the job,
        // and no timer is left firing for a schedule nobody can see.
        self.scheduler.delete(schedule_name).await?;
        self.table.delete(&item.key).await?;
        Ok(json!({}))
    }

    pub(super) async fn list_schedules(&self, request: &Value) -> Result<Value, CloudError> {
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
}
