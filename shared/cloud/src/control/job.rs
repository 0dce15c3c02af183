//! What a monitoring job needs to run, read from either an inline MonitoringJobDefinition or a
//! DataQualityJobDefinition: the input, the window offsets, the baseline, the output.

use std::collections::BTreeMap;

use chrono::Duration;
use modelmon_engine::dataset::DatasetFormat;
use serde::Deserialize;
use serde_json::Value;

use super::expression::{check_offsets, parse_offset};
use crate::{AllowedBuckets, CloudError, ObjectUri};

/// The resolved job of a schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub input: JobInput,
    /// Window offsets from the scheduled time (`StartTimeOffset`, `EndTimeOffset`).
    pub offsets: Option<(Duration, Duration)>,
    pub baseline_statistics: ObjectUri,
    pub baseline_constraints: ObjectUri,
    /// The reports go to `{output}/{endpoint}/{schedule}/yyyy/mm/dd/hh/`.
    pub output: ObjectUri,
    pub environment: BTreeMap<String, String>,
    pub max_runtime_seconds: Option<u32>,
    pub container: ContainerSpec,
    /// The user's scripts (`RecordPreprocessorSourceUri`, `PostAnalyticsProcessorSourceUri`).
    pub scripts: JobScripts,
}

/// A job's record preprocessor and post-analytics processor, in S3.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobScripts {
    pub record_preprocessor: Option<ObjectUri>,
    pub post_analytics_processor: Option<ObjectUri>,
}

impl JobScripts {
    fn from_app(app: &AppSpecification, member: &str) -> Result<JobScripts, CloudError> {
        let uri = |value: &Option<String>, name: &str| {
            value
                .as_deref()
                .map(|uri| {
                    ObjectUri::parse(uri).map_err(|err| CloudError::Validation(format!("{member}.{name}: {err}")))
                })
                .transpose()
        };
        Ok(JobScripts {
            record_preprocessor: uri(&app.record_preprocessor_source_uri, "RecordPreprocessorSourceUri")?,
            post_analytics_processor: uri(
                &app.post_analytics_processor_source_uri,
                "PostAnalyticsProcessorSourceUri",
            )?,
        })
    }
}

/// What the job's definition says of the container SageMaker would run for each execution,
/// which DescribeProcessingJob of an execution tells.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSpec {
    pub image_uri: String,
    /// The input's `LocalPath` (the capture or batch data is mounted there).
    pub input_local_path: String,
    /// The output's `LocalPath` and `S3UploadMode`, and the output config's `KmsKeyId`.
    pub output_local_path: String,
    pub s3_upload_mode: Option<String>,
    pub output_kms_key: Option<String>,
    /// `MonitoringResources` (`{"ClusterConfig": {...}}`).
    pub resources: Value,
    pub role_arn: String,
    pub network_config: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobInput {
    Endpoint {
        endpoint_name: String,
    },
    BatchTransform {
        destination: ObjectUri,
        format: DatasetFormat,
    },
}

/// The job environment's key for the endpoint's capture destination (its
/// `DataCaptureConfig.DestinationS3Uri`), when not the deployment's.
pub const CAPTURE_DESTINATION_KEY: &str = "capture_destination_s3_uri";

impl JobSpec {
    /// The capture destination the job's environment names, if any.
    pub fn capture_destination(&self) -> Result<Option<ObjectUri>, CloudError> {
        self.environment
            .get(CAPTURE_DESTINATION_KEY)
            .map(|uri| ObjectUri::parse(uri))
            .transpose()
    }

    /// Refuses the job if any location it names is outside `allowed`.
    pub fn check_buckets(&self, allowed: &AllowedBuckets) -> Result<(), CloudError> {
        allowed.check(&self.baseline_statistics, "BaselineConfig.StatisticsResource.S3Uri")?;
        allowed.check(&self.baseline_constraints, "BaselineConfig.ConstraintsResource.S3Uri")?;
        allowed.check(&self.output, "MonitoringOutputs S3Output.S3Uri")?;
        if let JobInput::BatchTransform { destination, .. } = &self.input {
            allowed.check(destination, "DataCapturedDestinationS3Uri")?;
        }
        if let Some(capture) = self.capture_destination()? {
            allowed.check(&capture, &format!("Environment.{CAPTURE_DESTINATION_KEY}"))?;
        }
        if let Some(script) = &self.scripts.record_preprocessor {
            allowed.check(script, "RecordPreprocessorSourceUri")?;
        }
        if let Some(script) = &self.scripts.post_analytics_processor {
            allowed.check(script, "PostAnalyticsProcessorSourceUri")?;
        }
        Ok(())
    }

    pub fn endpoint_name(&self) -> Option<&str> {
        match &self.input {
            JobInput::Endpoint { endpoint_name } => Some(endpoint_name),
            JobInput::BatchTransform { .. } => None,
        }
    }

    /// From CreateMonitoringSchedule's inline `MonitoringJobDefinition`.
    pub fn from_inline(definition: &Value) -> Result<JobSpec, CloudError> {
        let inline: InlineDefinition = read(definition, "MonitoringScheduleConfig.MonitoringJobDefinition")?;
        let input = match inline.monitoring_inputs.as_slice() {
            [input] => input,
            _ => {
                return Err(CloudError::Validation(
                    "MonitoringInputs must hold exactly one input".into(),
                ))
            }
        };
        let scripts = JobScripts::from_app(&inline.monitoring_app_specification, "MonitoringAppSpecification")?;
        let container = Container {
            image_uri: inline.monitoring_app_specification.image_uri,
            resources: inline.monitoring_resources,
            role_arn: inline.role_arn,
            network_config: inline.network_config,
        };
        resolve(
            input,
            inline.baseline_config.as_ref(),
            &inline.monitoring_output_config,
            inline.environment.unwrap_or_default(),
            inline.stopping_condition,
            container,
            scripts,
        )
    }

    /// From a stored CreateDataQualityJobDefinition request.
    pub fn from_job_definition(definition: &Value) -> Result<JobSpec, CloudError> {
        let job: DataQualityJobDefinition = read(definition, "DataQualityJobDefinition")?;
        let scripts = JobScripts::from_app(&job.data_quality_app_specification, "DataQualityAppSpecification")?;
        let container = Container {
            image_uri: job.data_quality_app_specification.image_uri,
            resources: job.job_resources,
            role_arn: job.role_arn,
            network_config: job.network_config,
        };
        resolve(
            &job.data_quality_job_input,
            job.data_quality_baseline_config.as_ref(),
            &job.data_quality_job_output_config,
            job.data_quality_app_specification.environment.unwrap_or_default(),
            job.stopping_condition,
            container,
            scripts,
        )
    }
}

fn resolve(
    input: &MonitoringInput,
    baseline: Option<&BaselineConfig>,
    output: &OutputConfig,
    environment: BTreeMap<String, String>,
    stopping: Option<StoppingCondition>,
    container: Container,
    scripts: JobScripts,
) -> Result<JobSpec, CloudError> {
    let (input, offsets, input_local_path) = match (&input.endpoint_input, &input.batch_transform_input) {
        (Some(endpoint), None) => (
            JobInput::Endpoint {
                endpoint_name: endpoint.endpoint_name.clone(),
            },
            offsets(&endpoint.start_time_offset, &endpoint.end_time_offset)?,
            endpoint.local_path.clone(),
        ),
        (None, Some(batch)) => (
            JobInput::BatchTransform {
                destination: ObjectUri::parse(&batch.data_captured_destination_s3_uri)?,
                format: batch.dataset_format.engine_format()?,
            },
            offsets(&batch.start_time_offset, &batch.end_time_offset)?,
            batch.local_path.clone(),
        ),
        _ => {
            return Err(CloudError::Validation(
                "a monitoring input must hold exactly one of EndpointInput and BatchTransformInput".into(),
            ))
        }
    };
    let resource = |resource: Option<&Resource>, name: &str| {
        let uri = resource.and_then(|r| r.s3_uri.as_deref()).ok_or_else(|| {
            CloudError::Validation(format!(
                "BaselineConfig.{name}.S3Uri is required: data-quality checks compare against a baseline \
                 (run `modelmon baseline` or the baseline function to make one)"
            ))
        })?;
        ObjectUri::parse(uri)
    };
    let s3_output = match output.monitoring_outputs.as_slice() {
        [only] => &only.s3_output,
        _ => {
            return Err(CloudError::Validation(
                "MonitoringOutputs must hold exactly one output".into(),
            ))
        }
    };
    let output_uri = ObjectUri::parse(&s3_output.s3_uri)?;
    Ok(JobSpec {
        input,
        offsets,
        baseline_statistics: resource(
            baseline.and_then(|b| b.statistics_resource.as_ref()),
            "StatisticsResource",
        )?,
        baseline_constraints: resource(
            baseline.and_then(|b| b.constraints_resource.as_ref()),
            "ConstraintsResource",
        )?,
        output: output_uri,
        environment,
        max_runtime_seconds: stopping.map(|s| s.max_runtime_in_seconds),
        container: ContainerSpec {
            image_uri: container.image_uri,
            input_local_path,
            output_local_path: s3_output.local_path.clone(),
            s3_upload_mode: s3_output.s3_upload_mode.clone(),
            output_kms_key: output.kms_key_id.clone(),
            resources: container.resources,
            role_arn: container.role_arn,
            network_config: container.network_config,
        },
        scripts,
    })
}

/// The container members of either kind of definition.
struct Container {
    image_uri: String,
    resources: Value,
    role_arn: String,
    network_config: Option<Value>,
}

fn offsets(start: &Option<String>, end: &Option<String>) -> Result<Option<(Duration, Duration)>, CloudError> {
    match (start, end) {
        (None, None) => Ok(None),
        (Some(start), Some(end)) => {
            let start = parse_offset(start, "StartTimeOffset")?;
            let end = parse_offset(end, "EndTimeOffset")?;
            check_offsets(start, end, ("StartTimeOffset", "EndTimeOffset"))?;
            Ok(Some((start, end)))
        }
        _ => Err(CloudError::Validation(
            "StartTimeOffset and EndTimeOffset must be given together".into(),
        )),
    }
}

fn read<T: serde::de::DeserializeOwned>(value: &Value, what: &str) -> Result<T, CloudError> {
    serde_json::from_value(value.clone()).map_err(|err| CloudError::Validation(format!("{what}: {err}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InlineDefinition {
    baseline_config: Option<BaselineConfig>,
    monitoring_inputs: Vec<MonitoringInput>,
    monitoring_output_config: OutputConfig,
    environment: Option<BTreeMap<String, String>>,
    stopping_condition: Option<StoppingCondition>,
    // The members below are required by the API model; defaults keep older records readable.
    #[serde(default)]
    monitoring_app_specification: AppSpecification,
    #[serde(default)]
    monitoring_resources: Value,
    #[serde(default)]
    role_arn: String,
    network_config: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataQualityJobDefinition {
    data_quality_baseline_config: Option<BaselineConfig>,
    data_quality_app_specification: AppSpecification,
    data_quality_job_input: MonitoringInput,
    data_quality_job_output_config: OutputConfig,
    stopping_condition: Option<StoppingCondition>,
    #[serde(default)]
    job_resources: Value,
    #[serde(default)]
    role_arn: String,
    network_config: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct AppSpecification {
    #[serde(default)]
    image_uri: String,
    environment: Option<BTreeMap<String, String>>,
    record_preprocessor_source_uri: Option<String>,
    post_analytics_processor_source_uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BaselineConfig {
    constraints_resource: Option<Resource>,
    statistics_resource: Option<Resource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Resource {
    s3_uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MonitoringInput {
    endpoint_input: Option<EndpointInput>,
    batch_transform_input: Option<BatchTransformInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EndpointInput {
    endpoint_name: String,
    #[serde(default)]
    local_path: String,
    start_time_offset: Option<String>,
    end_time_offset: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchTransformInput {
    #[serde(rename = "DataCapturedDestinationS3Uri")]
    data_captured_destination_s3_uri: String,
    dataset_format: MonitoringDatasetFormat,
    #[serde(default)]
    local_path: String,
    start_time_offset: Option<String>,
    end_time_offset: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MonitoringDatasetFormat {
    csv: Option<CsvFormat>,
    json: Option<JsonFormat>,
    parquet: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CsvFormat {
    header: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JsonFormat {
    line: Option<bool>,
}

impl MonitoringDatasetFormat {
    fn engine_format(&self) -> Result<DatasetFormat, CloudError> {
        match (&self.csv, &self.json, &self.parquet) {
            (Some(csv), None, None) => Ok(DatasetFormat::Csv {
                header: csv.header.unwrap_or(false),
            }),
            (None, Some(json), None) if json.line != Some(false) => Ok(DatasetFormat::JsonLines),
            (None, Some(_), None) => Err(CloudError::Validation(
                "DatasetFormat.Json: only JSON Lines (Line: true) is supported".into(),
            )),
            (None, None, Some(_)) => Ok(DatasetFormat::Parquet),
            _ => Err(CloudError::Validation(
                "DatasetFormat must hold exactly one of Csv, Json and Parquet".into(),
            )),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OutputConfig {
    monitoring_outputs: Vec<MonitoringOutput>,
    kms_key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MonitoringOutput {
    s3_output: S3Output,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct S3Output {
    s3_uri: String,
    #[serde(default)]
    local_path: String,
    s3_upload_mode: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "PascalCase")]
struct StoppingCondition {
    max_runtime_in_seconds: u32,
}
