//! A monitoring execution as a processing job, the way the SDK sees it: a name and ARN in
//! SageMaker's form (`model-monitoring-<yyyymmddhhmm>-<24 hex>`), the job SageMaker would have
//! run (the inputs mounted, the report folder as its output, the environment its analyzer would
//! have had), and the item under the job's name that DescribeProcessingJob follows to the
//! execution.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use modelmon_engine::capture::Window;
use modelmon_engine::dataset::DatasetFormat;
use serde_json::{json, Value};
use xxhash_rust::xxh3::xxh3_128;

use crate::control::job::{JobInput, JobSpec};
use crate::control::records::{
    encode, epoch_seconds, ExecutionJob, ExecutionOf, ExecutionPointer, ProcessingJobItem, ScheduleRecord,
};
use crate::ports::{ItemKey, Table};
use crate::{CloudError, ObjectUri};

/// Where the analyzer finds the baseline (as AWS's own samples mount it).
const STATISTICS_PATH: &str = "/opt/ml/processing/baseline/stats";
const CONSTRAINTS_PATH: &str = "/opt/ml/processing/baseline/constraints";

/// The job's name: the scheduled time and a hash of (schedule, scheduled time), so every
/// delivery of one run gives the same name, and the runs of two schedules never share one.
pub fn job_name(schedule: &str, scheduled_time: DateTime<Utc>) -> String {
    let time = scheduled_time.to_rfc3339_opts(SecondsFormat::Secs, true);
    let digest = xxh3_128(format!("{schedule}\n{time}").as_bytes()) >> 32;
    format!("model-monitoring-{}-{digest:024x}", scheduled_time.format("%Y%m%d%H%M"))
}

/// The job's ARN, in the schedule's region and account.
pub fn job_arn(schedule_arn: &str, job_name: &str) -> String {
    let prefix = schedule_arn.rsplit_once(':').map_or(schedule_arn, |(prefix, _)| prefix);
    format!("{prefix}:processing-job/{job_name}")
}

/// Records the job's name, pointing at the execution. A repeated delivery finds it there.
pub async fn register(
    table: &dyn Table,
    job_name: &str,
    job_arn: &str,
    schedule: &str,
    scheduled_time: DateTime<Utc>,
) -> Result<(), CloudError> {
    let pointer = ProcessingJobItem::Execution(ExecutionPointer {
        processing_job_name: job_name.to_string(),
        processing_job_arn: job_arn.to_string(),
        execution_of: ExecutionOf {
            monitoring_schedule_name: schedule.to_string(),
            scheduled_time: epoch_seconds(scheduled_time),
        },
        tags: Vec::new(),
    });
    match table
        .insert(&encode(ItemKey::processing_job(job_name), 1, &pointer))
        .await
    {
        Ok(()) | Err(CloudError::AlreadyExists { .. }) => Ok(()),
        Err(err) => Err(err),
    }
}

/// What the run of `schedule` at `scheduled_time` is as a processing job.
pub struct ExecutionFacts<'a> {
    pub schedule: &'a ScheduleRecord,
    pub job: &'a JobSpec,
    /// The endpoint's capture destination, when there is one.
    pub capture: Option<&'a ObjectUri>,
    pub window: Window,
    pub report_folder: &'a ObjectUri,
    pub job_name: &'a str,
    pub started: DateTime<Utc>,
}

impl ExecutionFacts<'_> {
    pub fn job(&self) -> ExecutionJob {
        let job = self.job;
        let container = &job.container;
        let mut inputs = Vec::new();
        let (dataset_format, dataset_source) = match &job.input {
            JobInput::Endpoint { endpoint_name } => {
                let source = format!("{}/{endpoint_name}", container.input_local_path.trim_end_matches('/'));
                if let Some(capture) = self.capture {
                    inputs.push(input("endpoint_input_1", &capture.join(endpoint_name), &source));
                }
                let format =
                    json!({"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}});
                (format, container.input_local_path.clone())
            }
            JobInput::BatchTransform { destination, format } => {
                inputs.push(input(
                    "batch_transform_input_1",
                    destination,
                    &container.input_local_path,
                ));
                (analyzer_format(*format), container.input_local_path.clone())
            }
        };
        inputs.push(input("baseline", &job.baseline_statistics, STATISTICS_PATH));
        inputs.push(input("constraints", &job.baseline_constraints, CONSTRAINTS_PATH));

        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut environment: BTreeMap<String, String> = job.environment.clone();
        let publish = job
            .environment
            .get("publish_cloudwatch_metrics")
            .cloned()
            .unwrap_or_else(|| "Enabled".into());
        let schedule_name = &self.schedule.monitoring_schedule_name;
        environment.extend([
            ("dataset_format".to_string(), dataset_format.to_string()),
            ("dataset_source".to_string(), dataset_source),
            ("output_path".to_string(), container.output_local_path.clone()),
            ("publish_cloudwatch_metrics".to_string(), publish),
            ("sagemaker_monitoring_schedule_name".to_string(), schedule_name.clone()),
            ("start_time".to_string(), time(self.window.start)),
            ("end_time".to_string(), time(self.window.end)),
            ("metric_time".to_string(), time(self.window.end)),
            (
                "baseline_statistics".to_string(),
                format!("{STATISTICS_PATH}/statistics.json"),
            ),
            (
                "baseline_constraints".to_string(),
                format!("{CONSTRAINTS_PATH}/constraints.json"),
            ),
        ]);
        if let Some(endpoint) = job.endpoint_name() {
            environment.insert("sagemaker_endpoint_name".into(), endpoint.to_string());
        }

        let report_folder = self.report_folder.to_string();
        let mut output_config = json!({"Outputs": [{
            "OutputName": "result",
            "AppManaged": false,
            "S3Output": {
                "S3Uri": report_folder.trim_end_matches('/'),
                "LocalPath": container.output_local_path,
                "S3UploadMode": container.s3_upload_mode.as_deref().unwrap_or("Continuous"),
            },
        }]});
        if let Some(key) = &container.output_kms_key {
            output_config["KmsKeyId"] = json!(key);
        }
        ExecutionJob {
            processing_job_name: self.job_name.to_string(),
            processing_inputs: inputs,
            processing_output_config: output_config,
            processing_resources: container.resources.clone(),
            stopping_condition: job
                .max_runtime_seconds
                .map(|seconds| json!({ "MaxRuntimeInSeconds": seconds })),
            app_specification: json!({ "ImageUri": container.image_uri }),
            environment,
            network_config: container.network_config.clone(),
            role_arn: container.role_arn.clone(),
            monitoring_schedule_arn: self.schedule.monitoring_schedule_arn.clone(),
            processing_start_time: epoch_seconds(self.started),
        }
    }
}

fn input(name: &str, uri: &ObjectUri, local_path: &str) -> Value {
    json!({
        "InputName": name,
        "AppManaged": false,
        "S3Input": {
            "S3Uri": uri.to_string(),
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    })
}

/// The analyzer's `dataset_format` of a batch input.
fn analyzer_format(format: DatasetFormat) -> Value {
    match format {
        DatasetFormat::Csv { header } => json!({ "csv": { "header": header } }),
        DatasetFormat::JsonLines => json!({ "json": { "lines": true } }),
        DatasetFormat::Parquet => json!({ "parquet": {} }),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn names_and_arns_in_sagemakers_form() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap();
        let name = job_name("churn-hourly", at);
        assert!(name.starts_with("model-monitoring-202611251400-"), "{name}");
        assert_eq!(name.len(), "model-monitoring-202611251400-".len() + 24);
        assert_eq!(name, job_name("churn-hourly", at), "the same run, the same name");
        assert_ne!(name, job_name("churn-daily", at));
        assert_ne!(name, job_name("churn-hourly", at + chrono::Duration::hours(1)));
        assert_eq!(
            job_arn(
                "arn:aws:sagemaker:eu-west-1:123456789012:monitoring-schedule/churn-hourly",
                &name
            ),
            format!("arn:aws:sagemaker:eu-west-1:123456789012:processing-job/{name}")
        );
    }
}
