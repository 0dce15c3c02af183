//! The monitoring-schedule operations: a record in the table and a timer in the scheduler each.
//! How racing requests get exactly one success is `lifecycle`'s; how the timer follows the
//! record, `timers`'.

use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::lifecycle::{is_deleting, ATTEMPTS};
use super::listing::{in_time_range, name_contains, page, time_key, Row};
use super::records::{
    decode, encode, epoch_seconds, first_version, public_view, Internal, ScheduleRecord, ScheduleStatus,
};
use super::timers::{timer_of, Wanted};
use super::{cadence, name, parse, with_token, ControlPlane};
use crate::ports::{Item, ItemKey, ItemKind};
use crate::CloudError;

fn not_found(schedule_name: &str) -> CloudError {
    CloudError::ResourceNotFound(format!("Monitoring schedule '{schedule_name}' does not exist"))
}

fn changed_meanwhile(schedule_name: &str) -> CloudError {
    CloudError::Conflict(format!(
        "Monitoring schedule '{schedule_name}' was changed by another request at the same time; try again"
    ))
}

/// Whether two versions of a record differ only in what the service itself writes: a run's
/// LastMonitoringExecutionSummary, and Pending becoming Scheduled once the timer exists. A
/// request whose conditional write lost to such a change alone tries again.
fn same_but_bookkeeping(a: &ScheduleRecord, b: &ScheduleRecord) -> bool {
    let normal = |record: &ScheduleRecord| {
        let mut record = record.clone();
        record.last_monitoring_execution_summary = None;
        if record.monitoring_schedule_status == ScheduleStatus::Pending {
            record.monitoring_schedule_status = ScheduleStatus::Scheduled;
        }
        record
    };
    normal(a) == normal(b)
}

impl ControlPlane {
    pub(super) async fn create_schedule(&self, request: &Value) -> Result<Value, CloudError> {
        let schedule_name = name(request, "MonitoringScheduleName")?;
        let config = request.get("MonitoringScheduleConfig").cloned().unwrap_or(Value::Null);
        let plan = self.checked_plan(&config).await?;
        let existing = self.table.list(ItemKind::Schedule).await?;
        let live = existing.iter().filter(|item| !is_deleting(&item.body)).count();
        if live >= self.settings.max_schedules {
            return Err(CloudError::ResourceLimitExceeded(format!(
                "The account already has {live} monitoring schedules, the limit of this deployment"
            )));
        }
        let now = Utc::now();
        let record = ScheduleRecord {
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
            internal: Internal {
                deleting: false,
                cadence: Some(cadence(&plan.expression, now)),
            },
        };
        let key = ItemKey::Schedule(schedule_name.clone());
        let item = encode(key.clone(), first_version(now), &record);
        self.insert_new(&item, || {
            CloudError::ResourceInUse(format!("Monitoring schedule '{schedule_name}' already exists"))
        })
        .await?;
        // The record exists before the timer, and goes again if the timer cannot be made: a
        // failure half-way leaves neither a timer without a record nor the reverse.
        let timer = timer_of(&record)?;
        if let Err(err) = self.sync_timer(&schedule_name, Wanted::Known(Some(timer)), false).await {
            match self.table.delete(&key, item.version).await {
                // Changed meanwhile: the later request's record (and its timer) stand.
                Ok(()) | Err(CloudError::VersionConflict { .. } | CloudError::ItemNotFound { .. }) => {}
                Err(cleanup) => {
                    tracing::error!(schedule = %schedule_name, error = %cleanup, "could not remove the record of a schedule whose timer failed")
                }
            }
            // A timer call that failed may still have taken effect: the timer follows the record.
            if let Err(cleanup) = self.sync_timer(&schedule_name, Wanted::FromRecord, true).await {
                tracing::error!(schedule = %schedule_name, error = %cleanup, "could not remove the timer of a schedule whose creation failed");
            }
            return Err(err);
        }
        // Pending to Scheduled changes nothing the timer depends on; a lost race means a newer
        // state written by another request, which stands.
        let scheduled = ScheduleRecord {
            monitoring_schedule_status: ScheduleStatus::Scheduled,
            ..record
        };
        match self.table.update(&encode(key, item.version + 1, &scheduled)).await {
            Ok(()) | Err(CloudError::VersionConflict { .. } | CloudError::ItemNotFound { .. }) => {}
            // The schedule works while Pending; only the status shown is late.
            Err(err) => {
                tracing::warn!(schedule = %schedule_name, error = %err, "schedule created but its status stayed Pending")
            }
        }
        Ok(json!({ "MonitoringScheduleArn": scheduled.monitoring_schedule_arn }))
    }

    /// The live record of a schedule (not one being deleted), or ResourceNotFound.
    async fn load_schedule(&self, schedule_name: &str) -> Result<(Item, ScheduleRecord), CloudError> {
        let key = ItemKey::Schedule(schedule_name.to_string());
        let item = self.live(&key).await?.ok_or_else(|| not_found(schedule_name))?;
        let record = decode(&item)?;
        Ok((item, record))
    }

    pub(super) async fn describe_schedule(&self, schedule_name: &str) -> Result<Value, CloudError> {
        let (item, _) = self.load_schedule(schedule_name).await?;
        Ok(public_view(item.body))
    }

    pub(super) async fn update_schedule(&self, request: &Value) -> Result<Value, CloudError> {
        let schedule_name = name(request, "MonitoringScheduleName")?;
        let config = request.get("MonitoringScheduleConfig").cloned().unwrap_or(Value::Null);
        let plan = self.checked_plan(&config).await?;
        let record = self
            .change_schedule(&schedule_name, |record| {
                let now = Utc::now();
                record.monitoring_schedule_config = config.clone();
                record.endpoint_name = plan.job.endpoint_name().map(str::to_string);
                record.last_modified_time = epoch_seconds(now);
                record.internal.cadence = Some(cadence(&plan.expression, now));
            })
            .await?;
        Ok(json!({ "MonitoringScheduleArn": record.monitoring_schedule_arn }))
    }

    /// Stop and Start: the timer is disabled or enabled, the record says Stopped or Scheduled.
    pub(super) async fn set_enabled(&self, schedule_name: &str, enabled: bool) -> Result<Value, CloudError> {
        self.change_schedule(schedule_name, |record| {
            record.monitoring_schedule_status = match enabled {
                true => ScheduleStatus::Scheduled,
                false => ScheduleStatus::Stopped,
            };
            record.last_modified_time = epoch_seconds(Utc::now());
        })
        .await?;
        Ok(json!({}))
    }

    /// Changes the schedule's record with `change`, conditionally on the version read, and
    /// makes its timer follow. Of concurrent changes one succeeds; the others get
    /// ConflictException (ResourceNotFound if the schedule was deleted), unless they lost only
    /// to the service's bookkeeping, when they try again. If the timer cannot follow, the
    /// record is put back as it was.
    async fn change_schedule(
        &self,
        schedule_name: &str,
        change: impl Fn(&mut ScheduleRecord),
    ) -> Result<ScheduleRecord, CloudError> {
        let (mut item, mut record) = self.load_schedule(schedule_name).await?;
        for _ in 0..ATTEMPTS {
            let mut changed = record.clone();
            change(&mut changed);
            let written = encode(item.key.clone(), item.version + 1, &changed);
            match self.table.update(&written).await {
                Ok(()) => {}
                Err(CloudError::VersionConflict { .. } | CloudError::ItemNotFound { .. }) => {
                    let (stored_item, stored) = self.load_schedule(schedule_name).await?;
                    if !same_but_bookkeeping(&stored, &record) {
                        return Err(changed_meanwhile(schedule_name));
                    }
                    (item, record) = (stored_item, stored);
                    continue;
                }
                Err(err) => return Err(err),
            }
            let timer = timer_of(&changed)?;
            if let Err(err) = self.sync_timer(schedule_name, Wanted::Known(Some(timer)), true).await {
                self.put_back(encode(item.key.clone(), written.version + 1, &record))
                    .await;
                return Err(err);
            }
            return Ok(changed);
        }
        Err(changed_meanwhile(schedule_name))
    }

    /// Of concurrent Deletes of a schedule, one succeeds and the others get ResourceNotFound.
    /// The timer goes before the record: if that fails, the schedule stays as it was.
    pub(super) async fn delete_schedule(&self, schedule_name: &str) -> Result<Value, CloudError> {
        let key = ItemKey::Schedule(schedule_name.to_string());
        self.delete_once(&key, || not_found(schedule_name), |item| async { Ok(item) })
            .await?;
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
            if is_deleting(&item.body) {
                continue;
            }
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
