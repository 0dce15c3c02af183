//! A baseline fanned out over many functions by the `BaselineFanOut` state machine of
//! template.yaml (a Step Functions Distributed Map): the baseline function's four steps.
//!
//! 1. [`plan_fanout`]: lists the dataset once and decides how many objects make one batch (one
//!    function's worth, [`BATCH_BYTES`]) and where the partial profiles go (a scratch prefix).
//! 2. [`profile_batch`], in each child of the Map: profiles its batch of objects (the Map's
//!    ItemReader lists the dataset, its ItemBatcher cuts the listing into batches) and writes the
//!    batch's profile, serialized, to the scratch prefix.
//! 3. [`merge_partials`]: merges the partial profiles in the dataset's order, checks that every
//!    object of the dataset was profiled exactly once, writes statistics.json and
//!    constraints.json, and removes the scratch prefix.
//! 4. [`fail_fanout`], when a step failed: removes the scratch prefix and fails with the failed
//!    batch's own reason.
//!
//! The merged profile is the single function's profile of the same objects up to the order of
//! floating-point additions and of sketch compactions; README "Fan-out" says which fields may
//! differ and by how much.

use std::sync::Arc;

use modelmon_engine::dataset::DatasetFormat;
use modelmon_engine::profile::DatasetProfile;
use modelmon_engine::EngineError;
use modelmon_formats::constraints::CategoricalDriftMethod;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::baseline::{dataset_objects, no_records, profile_objects, write_baseline};
use super::objects::data_objects;
use super::{BaselineJob, BaselineOptions, BaselineOutputs};
use crate::control::baselining::baseline_format;
use crate::ports::{ObjectInfo, ObjectStore};
use crate::{AllowedBuckets, CloudError, ObjectUri};

/// About one function's worth of input: the bytes a batch of the fan-out holds. At the baseline's
/// measured rate on two cores (BENCHMARKS.md, about 200 MiB/s) this is under half a minute of
/// profiling, leaving a wide margin in Lambda's 15 minutes for a slower read from S3.
pub const BATCH_BYTES: u64 = 4 << 30;

/// Where under the output folder the partial profiles are kept while the fan-out runs.
const SCRATCH_FOLDER: &str = "_modelmon-fanout";

/// The state machine's input: a baselining job, and the processing job it runs, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanoutJob {
    #[serde(flatten)]
    pub job: BaselineJob,
    /// The processing job of CreateProcessingJob this fan-out runs: the merge and failure steps
    /// end it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_job: Option<String>,
    /// The suggested constraints' `categorical_drift_method` (`LInfinity` when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical_drift_method: Option<CategoricalDriftMethod>,
}

impl From<BaselineJob> for FanoutJob {
    /// A fan-out of a dataset alone, for no processing job.
    fn from(job: BaselineJob) -> Self {
        FanoutJob {
            job,
            processing_job: None,
            categorical_drift_method: None,
        }
    }
}

/// What the plan step tells the Map and the merge step (the state machine passes it on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanoutPlan {
    /// The state machine's input, passed on (flattened: its members are the plan's).
    #[serde(flatten)]
    pub input: FanoutJob,
    /// The Map's ItemReader lists `prefix` in `bucket` (ListObjectsV2).
    pub bucket: String,
    pub prefix: String,
    /// The dataset is the one object `prefix`, not the data objects of the folder `prefix`.
    pub single_object: bool,
    pub objects: u64,
    pub bytes: u64,
    /// The ItemBatcher's MaxItemsPerBatch: objects of the dataset's mean size in [`BATCH_BYTES`].
    pub objects_per_batch: u64,
    /// Where the partial profiles go: `{output_path}/_modelmon-fanout/{execution}/`.
    pub scratch: String,
}

/// One item of the Map's ItemReader: an object of the listing (ListObjectsV2's `Contents`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedObject {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Size")]
    pub size: u64,
}

/// What a child of the Map is given: its batch of the listing, and the plan (ItemBatcher's
/// `BatchInput`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    #[serde(rename = "Items")]
    pub items: Vec<ListedObject>,
    #[serde(rename = "BatchInput")]
    pub batch_input: BatchInput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchInput {
    pub plan: FanoutPlan,
}

/// A batch's profile, as the scratch prefix keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialProfile {
    /// The keys of the batch's objects, in the dataset's order.
    pub objects: Vec<String>,
    pub profile: DatasetProfile,
}

/// What the child answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchOutcome {
    pub partial: String,
    pub objects: usize,
    pub records_read: u64,
    pub records_rejected: u64,
}

/// What the failure step is given: the state machine's data when a step failed (the plan, if
/// the plan step got that far, at `fanout.plan`, and the error Step Functions caught).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "FailureInput")]
pub struct FanoutFailure {
    pub plan: Option<FanoutPlan>,
    pub error: Option<CaughtError>,
    /// The processing job the fan-out runs (from the state machine's input, there even when the
    /// plan step failed).
    pub processing_job: Option<String>,
}

#[derive(Deserialize)]
struct FailureInput {
    #[serde(default)]
    fanout: Option<PlanResult>,
    #[serde(default)]
    error: Option<CaughtError>,
    #[serde(default)]
    processing_job: Option<String>,
}

/// The plan step's result, where the state machine keeps it (`$.fanout`).
#[derive(Deserialize)]
struct PlanResult {
    plan: FanoutPlan,
}

impl From<FailureInput> for FanoutFailure {
    fn from(input: FailureInput) -> Self {
        FanoutFailure {
            plan: input.fanout.map(|fanout| fanout.plan),
            error: input.error,
            processing_job: input.processing_job,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error", default)]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// A batch's failure, kept in the scratch prefix so the failure step can say which batch failed
/// and why (the Map itself only says that its tolerated failures were exceeded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct BatchFailure {
    first: String,
    objects: usize,
    reason: String,
}

/// Step 1: lists the dataset and plans the batches. `execution` names the scratch prefix (the
/// state machine's execution name, unique among its executions).
pub async fn plan_fanout(
    store: &Arc<dyn ObjectStore>,
    fanout: &FanoutJob,
    execution: &str,
    allowed: &AllowedBuckets,
) -> Result<FanoutPlan, CloudError> {
    let job = &fanout.job;
    let source = ObjectUri::parse(&job.dataset_source)?;
    let output = ObjectUri::parse(&job.output_path)?;
    allowed.check(&source, "dataset_source")?;
    allowed.check(&output, "output_path")?;
    baseline_format(&job.dataset_format, "dataset_format").map_err(CloudError::Data)?;
    if execution.is_empty() || execution.contains('/') {
        return Err(CloudError::Data(format!(
            "execution: {execution:?} cannot name a scratch folder"
        )));
    }
    let (root, objects) = dataset_objects(store, &source, &job.dataset_source).await?;
    let single_object = objects.len() == 1 && objects[0].uri.key == source.key;
    let bytes: u64 = objects.iter().map(|o| o.size).sum();
    let count = objects.len() as u64;
    let mean = bytes.div_ceil(count).max(1);
    Ok(FanoutPlan {
        input: fanout.clone(),
        bucket: root.bucket.clone(),
        prefix: if single_object {
            source.key.clone()
        } else {
            root.key.clone()
        },
        single_object,
        objects: count,
        bytes,
        objects_per_batch: (BATCH_BYTES / mean).clamp(1, count),
        scratch: output.join(SCRATCH_FOLDER).join(execution).as_prefix().to_string(),
    })
}

/// Step 2: profiles one batch and writes its partial profile. The listing's objects that are
/// not data (names starting with `.` or `_`, folder markers, other objects under a single
/// object's name) are left out, as the single function leaves them out. A failure is also
/// written down for [`fail_fanout`], and returned.
pub async fn profile_batch(
    store: &Arc<dyn ObjectStore>,
    batch: &Batch,
    allowed: &AllowedBuckets,
) -> Result<BatchOutcome, CloudError> {
    let plan = &batch.batch_input.plan;
    let scratch = ObjectUri::parse(&plan.scratch)?;
    let first = batch.items.first().map_or_else(String::new, |item| item.key.clone());
    let name = format!("{:016x}.json", xxhash_rust::xxh3::xxh3_64(first.as_bytes()));
    let failure_uri = scratch.join("failures").join(&name);
    match profile_and_write(
        store,
        plan,
        &batch.items,
        &scratch.join("partials").join(&name),
        allowed,
    )
    .await
    {
        Ok(outcome) => {
            // A retry that succeeded: an earlier attempt's failure no longer stands.
            store.delete(&failure_uri).await?;
            Ok(outcome)
        }
        Err(err) => {
            let failure = BatchFailure {
                first,
                objects: batch.items.len(),
                reason: err.to_string(),
            };
            let body = serde_json::to_vec(&failure).expect("plain data serializes");
            // The batch's own error matters more than a failure to note it.
            if let Err(note) = store.put(&failure_uri, body, "application/json").await {
                tracing::warn!(error = %note, "could not note the batch's failure");
            }
            Err(err)
        }
    }
}

async fn profile_and_write(
    store: &Arc<dyn ObjectStore>,
    plan: &FanoutPlan,
    items: &[ListedObject],
    partial_uri: &ObjectUri,
    allowed: &AllowedBuckets,
) -> Result<BatchOutcome, CloudError> {
    let root = ObjectUri {
        bucket: plan.bucket.clone(),
        key: plan.prefix.clone(),
    };
    allowed.check(&root, "dataset_source")?;
    let format = baseline_format(&plan.input.job.dataset_format, "dataset_format").map_err(CloudError::Data)?;
    let listed: Vec<ObjectInfo> = items
        .iter()
        .map(|item| ObjectInfo {
            uri: ObjectUri {
                bucket: plan.bucket.clone(),
                key: item.key.clone(),
            },
            size: item.size,
        })
        .collect();
    let objects = match plan.single_object {
        true => listed.into_iter().filter(|o| o.uri.key == plan.prefix).collect(),
        false => data_objects(listed, &root),
    };
    let profile = profile_objects(store, &objects, format, &BaselineOptions::default(), None).await?;
    let partial = PartialProfile {
        objects: objects.iter().map(|o| o.uri.key.clone()).collect(),
        profile,
    };
    let body = serde_json::to_vec(&partial).expect("profiles serialize to JSON");
    store.put(partial_uri, body, "application/json").await?;
    Ok(BatchOutcome {
        partial: partial_uri.to_string(),
        objects: partial.objects.len(),
        records_read: partial.profile.records.read,
        records_rejected: partial.profile.records.rejected_total(),
    })
}

/// Step 3: merges the partial profiles into the dataset's baseline, then removes the scratch
/// prefix. Refuses to write a baseline that is missing an object of the dataset, or has one twice.
pub async fn merge_partials(
    store: &Arc<dyn ObjectStore>,
    plan: &FanoutPlan,
    allowed: &AllowedBuckets,
) -> Result<BaselineOutputs, CloudError> {
    let source = ObjectUri::parse(&plan.input.job.dataset_source)?;
    let output = ObjectUri::parse(&plan.input.job.output_path)?;
    allowed.check(&source, "dataset_source")?;
    allowed.check(&output, "output_path")?;
    let format = baseline_format(&plan.input.job.dataset_format, "dataset_format").map_err(CloudError::Data)?;
    let scratch = ObjectUri::parse(&plan.scratch)?;
    let mut partials = Vec::new();
    for object in store.list(&scratch.join("partials").as_prefix()).await? {
        let body = store.get(&object.uri).await?;
        let partial: PartialProfile = serde_json::from_slice(&body)
            .map_err(|err| CloudError::Data(format!("{}: not a partial profile: {err}", object.uri)))?;
        partials.push(partial);
    }
    let (_, objects) = dataset_objects(store, &source, &plan.input.job.dataset_source).await?;
    let profile = merge_in_order(&plan.bucket, partials, &objects, format)?;
    if profile.item_count() == 0 {
        return Err(no_records(&plan.input.job.dataset_source, &profile));
    }
    let options = BaselineOptions {
        categorical_drift_method: plan.input.categorical_drift_method,
        ..BaselineOptions::default()
    };
    let outputs = write_baseline(store, &profile, &plan.input.job, format, &options, &output).await?;
    remove_all(store, &scratch).await?;
    Ok(outputs)
}

/// Merges `partials` in the order of their objects in the dataset, which `objects` lists; every
/// object must be in exactly one partial.
pub fn merge_in_order(
    bucket: &str,
    mut partials: Vec<PartialProfile>,
    objects: &[ObjectInfo],
    format: DatasetFormat,
) -> Result<DatasetProfile, CloudError> {
    let position: std::collections::HashMap<&str, usize> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| (o.uri.key.as_str(), i))
        .collect();
    let uri = |key: &str| format!("s3://{bucket}/{key}");
    let mut seen = vec![false; objects.len()];
    for partial in &partials {
        for key in &partial.objects {
            let Some(&i) = position.get(key.as_str()) else {
                return Err(CloudError::Data(format!(
                    "{} was profiled but is no longer in the dataset: the dataset changed during the baseline",
                    uri(key)
                )));
            };
            if std::mem::replace(&mut seen[i], true) {
                return Err(CloudError::Data(format!("{} was profiled twice", uri(key))));
            }
        }
    }
    if let Some(missing) = seen.iter().position(|seen| !seen) {
        let profiled = seen.iter().filter(|seen| **seen).count();
        return Err(CloudError::Data(format!(
            "{} was not profiled: the fan-out profiled {profiled} of the dataset's {} objects \
             (the Map's listing missed some, or the dataset changed during the baseline)",
            objects[missing].uri,
            objects.len()
        )));
    }
    partials.retain(|partial| !partial.objects.is_empty());
    partials.sort_by_key(|partial| position[partial.objects[0].as_str()]);
    let mut merged = DatasetProfile::default();
    let mut first_header: Option<(String, Vec<String>)> = None;
    for partial in &partials {
        if format == (DatasetFormat::Csv { header: true }) {
            let names: Vec<String> = partial.profile.columns.iter().map(|c| c.name.clone()).collect();
            match &first_header {
                None => first_header = Some((uri(&partial.objects[0]), names)),
                Some((first_path, expected)) if *expected != names => {
                    return Err(CloudError::Data(
                        EngineError::HeaderMismatch {
                            path: uri(&partial.objects[0]).into(),
                            first_path: first_path.into(),
                            expected: expected.clone(),
                            found: names,
                        }
                        .to_string(),
                    ))
                }
                Some(_) => {}
            }
        }
        merged
            .merge(&partial.profile)
            .map_err(|err| CloudError::Data(err.to_string()))?;
    }
    Ok(merged)
}

/// Step 4: removes the scratch prefix and returns the failure to end the execution with: the
/// failed batch's own reason when one noted it, else the error Step Functions caught.
pub async fn fail_fanout(store: &Arc<dyn ObjectStore>, failure: &FanoutFailure) -> CloudError {
    let caught = failure.error.clone().unwrap_or_default();
    let caught = match caught.cause.is_empty() {
        true => caught.error,
        false => format!("{}: {}", caught.error, lambda_message(&caught.cause)),
    };
    let Some(plan) = &failure.plan else {
        return CloudError::Data(caught);
    };
    let Ok(scratch) = ObjectUri::parse(&plan.scratch) else {
        return CloudError::Data(caught);
    };
    // The failure of the batch that comes first in the dataset, when several failed.
    let mut noted = Vec::new();
    for object in store
        .list(&scratch.join("failures").as_prefix())
        .await
        .unwrap_or_default()
    {
        if let Ok(body) = store.get(&object.uri).await {
            noted.extend(serde_json::from_slice::<BatchFailure>(&body).ok());
        }
    }
    let first_failed = noted
        .into_iter()
        .min_by(|a, b| a.first.split('/').cmp(b.first.split('/')));
    if let Err(err) = remove_all(store, &scratch).await {
        tracing::warn!(error = %err, scratch = %scratch, "could not remove the fan-out's scratch prefix");
    }
    match first_failed {
        Some(failed) => CloudError::Data(format!(
            "the batch of {} objects from s3://{}/{} failed: {}",
            failed.objects, plan.bucket, failed.first, failed.reason
        )),
        // The function's own errors say what failed; any other (a task's States.Timeout, the
        // Map's tolerated failures exceeded) came from a batch that could not say.
        None if failure
            .error
            .as_ref()
            .is_some_and(|e| !FUNCTION_ERRORS.contains(&e.error.as_str())) =>
        {
            CloudError::Data(format!(
                "{caught}: no batch noted a failure of its own, so one timed out or its function crashed \
                 (the execution's history in Step Functions names it)"
            ))
        }
        None => CloudError::Data(caught),
    }
}

/// The error types the baseline function answers with (its `Diagnostic`s).
const FUNCTION_ERRORS: [&str; 2] = ["JobFailed", "Retryable"];

/// A Lambda task's Cause is the function's error as JSON (`errorMessage`); other causes as they are.
fn lambda_message(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|value| value.get("errorMessage").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| cause.to_string())
}

/// Removes the partial profiles without merging them (the processing job was stopped, or ran
/// out of time, while the Map ran).
pub async fn discard_partials(store: &Arc<dyn ObjectStore>, plan: &FanoutPlan) -> Result<(), CloudError> {
    remove_all(store, &ObjectUri::parse(&plan.scratch)?).await
}

async fn remove_all(store: &Arc<dyn ObjectStore>, prefix: &ObjectUri) -> Result<(), CloudError> {
    for object in store.list(prefix).await? {
        store.delete(&object.uri).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lambda_cause_gives_its_message() {
        let cause = r#"{"errorType":"JobFailed","errorMessage":"s3://b/k: no objects to baseline"}"#;
        assert_eq!(lambda_message(cause), "s3://b/k: no objects to baseline");
        assert_eq!(lambda_message("Task timed out"), "Task timed out");
    }
}
