//! The data-quality job definition operations: stored requests a schedule can name.

use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::job::JobSpec;
use super::lifecycle::is_deleting;
use super::listing::{in_time_range, name_contains, page, time_key, Row};
use super::records::{decode, epoch_seconds, first_version, public_view, ScheduleRecord};
use super::{name, parse, with_token, ControlPlane};
use crate::ports::{Item, ItemKey, ItemKind};
use crate::CloudError;

impl ControlPlane {
    pub(super) async fn create_job_definition(&self, request: &Value) -> Result<Value, CloudError> {
        let definition_name = name(request, "JobDefinitionName")?;
        JobSpec::from_job_definition(request)?.check_buckets(&self.allowed_buckets)?;
        let arn = self.arn("data-quality-job-definition", &definition_name);
        let now = Utc::now();
        let mut record = request.clone();
        record["JobDefinitionArn"] = Value::String(arn.clone());
        record["CreationTime"] = json!(epoch_seconds(now));
        let item = Item {
            key: ItemKey::JobDefinition(definition_name.clone()),
            version: first_version(now),
            body: record,
        };
        self.insert_new(&item, || {
            CloudError::ResourceInUse(format!(
                "Data quality job definition '{definition_name}' already exists"
            ))
        })
        .await?;
        Ok(json!({ "JobDefinitionArn": arn }))
    }

    pub(super) async fn describe_job_definition(&self, definition_name: &str) -> Result<Value, CloudError> {
        let item = self.live(&ItemKey::JobDefinition(definition_name.to_string())).await?;
        let item = item.ok_or_else(|| not_found(definition_name))?;
        Ok(public_view(item.body))
    }

    /// Of concurrent Deletes of a job definition one succeeds, the others get ResourceNotFound;
    /// one a schedule still names is refused.
    pub(super) async fn delete_job_definition(&self, definition_name: &str) -> Result<Value, CloudError> {
        let key = ItemKey::JobDefinition(definition_name.to_string());
        let unused = |item: Item| async move {
            for schedule in self.table.list(ItemKind::Schedule).await? {
                if is_deleting(&schedule.body) {
                    continue;
                }
                let record: ScheduleRecord = decode(&schedule)?;
                if record.job_definition_name() == Some(definition_name) {
                    return Err(CloudError::ResourceInUse(format!(
                        "Data quality job definition '{definition_name}' is used by monitoring schedule '{}'; delete the schedule first",
                        record.monitoring_schedule_name
                    )));
                }
            }
            Ok(item)
        };
        self.delete_once(&key, || not_found(definition_name), unused).await?;
        Ok(json!({}))
    }

    pub(super) async fn list_job_definitions(&self, request: &Value) -> Result<Value, CloudError> {
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
            if is_deleting(&item.body) {
                continue;
            }
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

pub(super) fn not_found(definition_name: &str) -> CloudError {
    CloudError::ResourceNotFound(format!(
        "Data quality job definition '{definition_name}' does not exist"
    ))
}
