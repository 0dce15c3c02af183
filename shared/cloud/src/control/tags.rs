//! AddTags, ListTags and DeleteTags for the resources modelmon keeps: monitoring schedules,
//! data-quality job definitions and processing jobs (baselining jobs and executions' jobs alike).
//! Each keeps its tags in its own record (`Tags`, which Describe leaves out).

use serde_json::{json, Value};

use super::name;
use super::ControlPlane;
use crate::ports::{Item, ItemKey, ItemKind};
use crate::CloudError;

/// SageMaker's limit of tags per resource.
const MAX_TAGS: usize = 50;

/// How often a tag change is tried when other writers keep changing the record.
const ATTEMPTS: usize = 8;

impl ControlPlane {
    pub(super) async fn add_tags(&self, request: &Value) -> Result<Value, CloudError> {
        let arn = name(request, "ResourceArn")?;
        let added = request
            .get("Tags")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        self.edit_tags(&arn, |tags| {
            for tag in &added {
                match tags.iter_mut().find(|t| t["Key"] == tag["Key"]) {
                    Some(existing) => *existing = tag.clone(),
                    None => tags.push(tag.clone()),
                }
            }
            if tags.len() > MAX_TAGS {
                return Err(CloudError::Validation(format!(
                    "{arn} would have {} tags; a resource has at most {MAX_TAGS}",
                    tags.len()
                )));
            }
            Ok(())
        })
        .await?;
        Ok(json!({ "Tags": added }))
    }

    pub(super) async fn delete_tags(&self, request: &Value) -> Result<Value, CloudError> {
        let arn = name(request, "ResourceArn")?;
        let keys = request
            .get("TagKeys")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        self.edit_tags(&arn, |tags| {
            tags.retain(|tag| !keys.contains(&tag["Key"]));
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    /// All of a resource's tags: at most 50, so always one page (ListTags' MaxResults is at least 50).
    pub(super) async fn list_tags(&self, request: &Value) -> Result<Value, CloudError> {
        if let Some(token) = request.get("NextToken").and_then(Value::as_str) {
            return Err(CloudError::Validation(format!(
                "Invalid NextToken '{token}': ListTags returns every tag in one page"
            )));
        }
        let item = self.tagged_item(&name(request, "ResourceArn")?).await?;
        Ok(json!({ "Tags": tags_of(&item) }))
    }

    /// Changes a resource's tags on the latest version of its record (again on the next version
    /// when another request changed the record meanwhile).
    async fn edit_tags(
        &self,
        arn: &str,
        edit: impl Fn(&mut Vec<Value>) -> Result<(), CloudError>,
    ) -> Result<(), CloudError> {
        for _ in 0..ATTEMPTS {
            let item = self.tagged_item(arn).await?;
            let mut tags = tags_of(&item);
            edit(&mut tags)?;
            let mut body = item.body.clone();
            if let Some(object) = body.as_object_mut() {
                match tags.is_empty() {
                    true => object.remove("Tags"),
                    false => object.insert("Tags".into(), Value::Array(tags)),
                };
            }
            let updated = Item {
                key: item.key.clone(),
                version: item.version + 1,
                body,
            };
            match self.table.update(&updated).await {
                Ok(()) => return Ok(()),
                Err(CloudError::VersionConflict { .. }) => continue,
                Err(CloudError::ItemNotFound { .. }) => return Err(unknown(arn)),
                Err(err) => return Err(err),
            }
        }
        Err(CloudError::Conflict(format!(
            "{arn} kept being changed by other requests; try again"
        )))
    }

    /// The record of the resource `arn` names (`arn:aws:sagemaker:<region>:<account>:<type>/<name>`).
    async fn tagged_item(&self, arn: &str) -> Result<Item, CloudError> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, _, _, region, account, resource] = parts[..] else {
            return Err(unknown(arn));
        };
        if region != self.settings.region || account != self.settings.account_id {
            return Err(CloudError::ResourceNotFound(format!(
                "{arn} is not a resource of this deployment (region {}, account {})",
                self.settings.region, self.settings.account_id
            )));
        }
        let (kind, resource_name) = resource.split_once('/').ok_or_else(|| unknown(arn))?;
        let (key, kind, arn_member) = match kind {
            "monitoring-schedule" => (
                ItemKey::Schedule(resource_name.to_string()),
                ItemKind::Schedule,
                "MonitoringScheduleArn",
            ),
            "data-quality-job-definition" => (
                ItemKey::JobDefinition(resource_name.to_string()),
                ItemKind::JobDefinition,
                "JobDefinitionArn",
            ),
            "processing-job" => (
                ItemKey::processing_job(resource_name),
                ItemKind::ProcessingJob,
                "ProcessingJobArn",
            ),
            other => {
                return Err(CloudError::Validation(format!(
                    "{arn}: modelmon keeps the tags of monitoring schedules, data-quality job definitions \
                     and processing jobs, not of {other} resources"
                )))
            }
        };
        let names_it = |item: &Item| {
            item.body[arn_member]
                .as_str()
                .is_some_and(|stored| stored.eq_ignore_ascii_case(arn))
        };
        if let Some(item) = self.table.get(&key).await?.filter(names_it) {
            return Ok(item);
        }
        // ARNs carry names in lower case: a schedule or job definition named with capitals is
        // found by its ARN.
        let mut named: Vec<Item> = self.table.list(kind).await?.into_iter().filter(names_it).collect();
        match named.len() {
            1 => Ok(named.remove(0)),
            0 => Err(unknown(arn)),
            _ => Err(CloudError::Validation(format!(
                "{arn} names more than one resource: their names differ only in case"
            ))),
        }
    }
}

fn tags_of(item: &Item) -> Vec<Value> {
    item.body["Tags"].as_array().cloned().unwrap_or_default()
}

fn unknown(arn: &str) -> CloudError {
    CloudError::ResourceNotFound(format!("{arn} does not exist"))
}
