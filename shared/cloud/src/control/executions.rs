//! ListMonitoringExecutions: the executions the analysis runs record.

use serde::Deserialize;
use serde_json::{json, Value};

use super::listing::{in_time_range, page, time_key, Row};
use super::records::{decode, ExecutionRecord, ExecutionStatus};
use super::{parse, with_token, ControlPlane};
use crate::ports::ItemKind;
use crate::CloudError;

impl ControlPlane {
    pub(super) async fn list_executions(&self, request: &Value) -> Result<Value, CloudError> {
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
            status_equals: Option<ExecutionStatus>,
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
}
