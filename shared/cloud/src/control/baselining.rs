//! What a CreateProcessingJob request for the model-monitor analyzer asks for: the analyzer
//! container's contract (its `Environment`), with the container's local paths resolved to the
//! S3 URIs of the job's inputs and outputs. Read when the job is created (to refuse what cannot
//! run) and again by whoever runs it, so both read it the same way.

use std::collections::BTreeMap;

use modelmon_engine::dataset::DatasetFormat;
use modelmon_formats::constraints::CategoricalDriftMethod;
use modelmon_formats::dataset_format::DatasetFormatSpec;
use serde::Deserialize;
use serde_json::Value;

use crate::{AllowedBuckets, CloudError, ObjectUri};

/// The repository of SageMaker's model-monitor analyzer, in every region:
/// `image_uris.retrieve("model-monitor", region)` is `<account>.dkr.ecr.<region>.<domain>/` and this.
pub const ANALYZER_REPOSITORY: &str = "sagemaker-model-monitor-analyzer";

/// The other image name modelmon answers to.
pub const MODELMON_IMAGE: &str = "modelmon";

/// SageMaker's default `StoppingCondition.MaxRuntimeInSeconds`: one day.
pub const DEFAULT_MAX_RUNTIME_SECONDS: u32 = 86_400;

/// A baselining job as the analyzer would run it.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseliningSpec {
    /// `Environment.dataset_source`, in S3: one object, or a prefix whose objects are the dataset.
    pub dataset_source: ObjectUri,
    /// `Environment.dataset_format`, the SDK's JSON string.
    pub dataset_format: String,
    /// `Environment.output_path`, in S3: the folder for statistics.json and constraints.json.
    pub output: ObjectUri,
    /// `Environment.categorical_drift_method` (`ChiSquared` or `LInfinity`) for the suggested constraints.
    pub categorical_drift_method: Option<CategoricalDriftMethod>,
    /// `Environment.record_preprocessor_script`, in S3.
    pub record_preprocessor_script: Option<ObjectUri>,
    /// `Environment.post_analytics_processor_script`, in S3.
    pub post_analytics_processor_script: Option<ObjectUri>,
    pub max_runtime_seconds: u32,
    /// `ProcessingResources.ClusterConfig.InstanceCount`: more than one asks for the fan-out.
    pub instance_count: u32,
    /// The job's `Environment`, which its scripts see (as the container exports it).
    pub environment: std::collections::BTreeMap<String, String>,
}

impl BaseliningSpec {
    /// Reads a CreateProcessingJob request (or the record that echoes it), refusing what the
    /// analyzer would not run, with the member at fault named.
    pub fn from_request(request: &Value) -> Result<BaseliningSpec, CloudError> {
        let job: Request = serde_json::from_value(request.clone())
            .map_err(|err| CloudError::Validation(format!("CreateProcessingJob: {err}")))?;
        let image = &job.app_specification.image_uri;
        if !is_analyzer_image(image) {
            return Err(CloudError::Validation(format!(
                "AppSpecification.ImageUri '{image}' is not the model-monitor analyzer: modelmon runs only \
                 SageMaker's model-monitor analyzer (image_uris.retrieve(\"model-monitor\", region), \
                 <account>.dkr.ecr.<region>.amazonaws.com/{ANALYZER_REPOSITORY}) or ImageUri \"{MODELMON_IMAGE}\""
            )));
        }
        let environment = job.environment.unwrap_or_default();
        if let Some(analysis) = environment.get("analysis_type").filter(|a| *a != "DATA_QUALITY") {
            return Err(CloudError::Validation(format!(
                "Environment.analysis_type {analysis} is not supported: modelmon baselines data quality only"
            )));
        }
        let required = |key: &str, what: &str| {
            environment.get(key).ok_or_else(|| {
                CloudError::Validation(format!(
                    "Environment.{key} is required: {what} (the model-monitor analyzer's contract)"
                ))
            })
        };
        let dataset_format = required(
            "dataset_format",
            "the dataset's format as JSON, such as {\"csv\": {\"header\": true}}",
        )?;
        baseline_format(dataset_format, "Environment.dataset_format").map_err(CloudError::Validation)?;
        let inputs = input_mounts(job.processing_inputs.as_deref().unwrap_or_default())?;
        let outputs = output_mounts(job.processing_output_config.as_ref())?;
        let dataset_source = resolve(
            required(
                "dataset_source",
                "the LocalPath of the ProcessingInput that holds the dataset",
            )?,
            &inputs,
            "Environment.dataset_source",
            "ProcessingInputs",
        )?;
        let output = resolve(
            required("output_path", "the LocalPath of the ProcessingOutput for the baseline")?,
            &outputs,
            "Environment.output_path",
            "ProcessingOutputConfig.Outputs",
        )?;
        let categorical_drift_method = match environment.get("categorical_drift_method").map(String::as_str) {
            None => None,
            Some("ChiSquared") => Some(CategoricalDriftMethod::ChiSquared),
            Some("LInfinity") => Some(CategoricalDriftMethod::LInfinity),
            Some(other) => {
                return Err(CloudError::Validation(format!(
                    "Environment.categorical_drift_method '{other}' must be ChiSquared or LInfinity"
                )))
            }
        };
        let script = |key: &str| {
            environment
                .get(key)
                .map(|path| resolve(path, &inputs, &format!("Environment.{key}"), "ProcessingInputs"))
                .transpose()
        };
        Ok(BaseliningSpec {
            dataset_source,
            dataset_format: dataset_format.clone(),
            output,
            categorical_drift_method,
            record_preprocessor_script: script("record_preprocessor_script")?,
            post_analytics_processor_script: script("post_analytics_processor_script")?,
            max_runtime_seconds: job
                .stopping_condition
                .map_or(DEFAULT_MAX_RUNTIME_SECONDS, |s| s.max_runtime_in_seconds),
            instance_count: job
                .processing_resources
                .and_then(|r| r.cluster_config)
                .map_or(1, |c| c.instance_count),
            environment: environment.clone(),
        })
    }

    /// Refuses the job if a location it names is outside `allowed`.
    pub fn check_buckets(&self, allowed: &AllowedBuckets) -> Result<(), CloudError> {
        allowed.check(&self.dataset_source, "Environment.dataset_source")?;
        allowed.check(&self.output, "Environment.output_path")?;
        for (script, key) in [
            (&self.record_preprocessor_script, "record_preprocessor_script"),
            (&self.post_analytics_processor_script, "post_analytics_processor_script"),
        ] {
            if let Some(uri) = script {
                allowed.check(uri, &format!("Environment.{key}"))?;
            }
        }
        Ok(())
    }
}

/// Whether `image` is the model-monitor analyzer of some region (`<registry>/sagemaker-model-
/// monitor-analyzer`, with or without a tag or digest), or `modelmon`.
pub fn is_analyzer_image(image: &str) -> bool {
    if image == MODELMON_IMAGE {
        return true;
    }
    let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
    let Some((registry, repository)) = without_digest.rsplit_once('/') else {
        return false;
    };
    let repository = repository.split_once(':').map_or(repository, |(name, _)| name);
    repository == ANALYZER_REPOSITORY && registry.contains(".dkr.ecr.") && !registry.contains('/')
}

/// The format a baseline is computed from, or why there is none.
pub fn baseline_format(text: &str, source: &str) -> Result<DatasetFormat, String> {
    match DatasetFormatSpec::parse(text, source).map_err(|err| err.to_string())? {
        DatasetFormatSpec::Csv(csv) => Ok(DatasetFormat::Csv { header: csv.header }),
        DatasetFormatSpec::Json(json) if json.lines != Some(false) => Ok(DatasetFormat::JsonLines),
        DatasetFormatSpec::Json(_) => Err(format!("{source}: only JSON Lines is supported")),
        DatasetFormatSpec::Parquet(_) => Ok(DatasetFormat::Parquet),
        DatasetFormatSpec::SagemakerCaptureJson(_) => Err(format!(
            "{source}: a baseline is computed from a dataset (csv, json or parquet), not from capture"
        )),
    }
}

/// A container path and the S3 location mounted there.
struct Mount {
    local_path: String,
    s3: ObjectUri,
}

fn input_mounts(inputs: &[ProcessingInput]) -> Result<Vec<Mount>, CloudError> {
    inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let what = format!("ProcessingInputs[{index}] ({})", input.input_name);
            let s3 = input.s3_input.as_ref().ok_or_else(|| {
                CloudError::Validation(format!(
                    "{what}: modelmon reads S3Input inputs only (not DatasetDefinition)"
                ))
            })?;
            if s3.s3_data_type.as_deref() == Some("ManifestFile") {
                return Err(CloudError::Validation(format!(
                    "{what}: S3DataType ManifestFile is not supported; name the dataset's S3Prefix"
                )));
            }
            mount(s3.local_path.as_deref(), &s3.s3_uri, &what)
        })
        .collect()
}

fn output_mounts(config: Option<&OutputConfig>) -> Result<Vec<Mount>, CloudError> {
    let outputs = config.map(|c| c.outputs.as_slice()).unwrap_or_default();
    outputs
        .iter()
        .enumerate()
        .map(|(index, output)| {
            let what = format!("ProcessingOutputConfig.Outputs[{index}] ({})", output.output_name);
            let s3 = output.s3_output.as_ref().ok_or_else(|| {
                CloudError::Validation(format!(
                    "{what}: modelmon writes S3Output outputs only (not FeatureStoreOutput)"
                ))
            })?;
            mount(s3.local_path.as_deref(), &s3.s3_uri, &what)
        })
        .collect()
}

fn mount(local_path: Option<&str>, s3_uri: &str, what: &str) -> Result<Mount, CloudError> {
    let local_path = local_path
        .ok_or_else(|| CloudError::Validation(format!("{what}: LocalPath is required")))?
        .trim_end_matches('/')
        .to_string();
    let s3 = ObjectUri::parse(s3_uri).map_err(|err| CloudError::Validation(format!("{what}: {err}")))?;
    Ok(Mount { local_path, s3 })
}

/// The S3 location of container path `path`: the mount whose LocalPath is `path` or holds it.
/// An S3Prefix that is one object's whole key is downloaded as `LocalPath/<its last segment>`,
/// which is how the SDK names a script it was given as an S3 URI (`s3://code/pre.py` mounted at
/// `.../record_preprocessor_script_input`, the script at `.../record_preprocessor_script_input/pre.py`).
fn resolve(path: &str, mounts: &[Mount], member: &str, list: &str) -> Result<ObjectUri, CloudError> {
    let path = path.trim_end_matches('/');
    let found = mounts.iter().find_map(|mount| {
        if path == mount.local_path {
            return Some(mount.s3.clone());
        }
        let rest = path.strip_prefix(&mount.local_path)?.strip_prefix('/')?;
        let own_name = mount.s3.key.rsplit('/').next().filter(|name| !name.is_empty());
        if own_name == Some(rest) {
            Some(mount.s3.clone())
        } else {
            Some(mount.s3.join(rest))
        }
    });
    found.ok_or_else(|| {
        let paths: Vec<&str> = mounts.iter().map(|m| m.local_path.as_str()).collect();
        CloudError::Validation(format!(
            "{member} '{path}' is not the LocalPath of any of the {list} (nor inside one): [{}]",
            paths.join(", ")
        ))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    processing_inputs: Option<Vec<ProcessingInput>>,
    processing_output_config: Option<OutputConfig>,
    app_specification: AppSpecification,
    environment: Option<BTreeMap<String, String>>,
    stopping_condition: Option<StoppingCondition>,
    processing_resources: Option<ProcessingResources>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessingResources {
    cluster_config: Option<ClusterConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ClusterConfig {
    instance_count: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AppSpecification {
    image_uri: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessingInput {
    input_name: String,
    s3_input: Option<S3Input>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct S3Input {
    s3_uri: String,
    local_path: Option<String>,
    s3_data_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OutputConfig {
    outputs: Vec<ProcessingOutput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessingOutput {
    output_name: String,
    s3_output: Option<S3Output>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct S3Output {
    s3_uri: String,
    local_path: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StoppingCondition {
    max_runtime_in_seconds: u32,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A request as the SDK's `suggest_baseline` sends it.
    fn request() -> Value {
        json!({
            "ProcessingJobName": "baseline-suggestion-job-2026-11-25-13-00-00-000",
            "ProcessingInputs": [{
                "InputName": "baseline_dataset_input", "AppManaged": false,
                "S3Input": {"S3Uri": "s3://models/churn/train.csv",
                            "LocalPath": "/opt/ml/processing/input/baseline_dataset_input",
                            "S3DataType": "S3Prefix", "S3InputMode": "File",
                            "S3DataDistributionType": "FullyReplicated"}}],
            "ProcessingOutputConfig": {"Outputs": [{
                "OutputName": "monitoring_output", "AppManaged": false,
                "S3Output": {"S3Uri": "s3://models/churn/baseline",
                             "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]},
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
            "AppSpecification": {"ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"},
            "Environment": {
                "dataset_format": "{\"csv\": {\"header\": true, \"output_columns_position\": \"START\"}}",
                "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
                "output_path": "/opt/ml/processing/output",
                "publish_cloudwatch_metrics": "Disabled"},
            "RoleArn": "arn:aws:iam::123456789012:role/monitoring"
        })
    }

    #[test]
    fn the_sdks_request_resolves_to_s3() {
        let spec = BaseliningSpec::from_request(&request()).unwrap();
        assert_eq!(spec.dataset_source.to_string(), "s3://models/churn/train.csv");
        assert_eq!(spec.output.to_string(), "s3://models/churn/baseline");
        assert_eq!(spec.max_runtime_seconds, DEFAULT_MAX_RUNTIME_SECONDS);
        assert_eq!(spec.instance_count, 1);
        assert_eq!(spec.categorical_drift_method, None);
    }

    #[test]
    fn paths_inside_a_mount_and_scripts_resolve() {
        let mut request = request();
        request["Environment"]["dataset_source"] = json!("/opt/ml/processing/input/baseline_dataset_input/part-1.csv");
        request["ProcessingInputs"].as_array_mut().unwrap().push(json!({
            "InputName": "post_analytics_processor_script_input",
            "S3Input": {"S3Uri": "s3://models/scripts", "LocalPath": "/opt/ml/processing/input/post",
                        "S3DataType": "S3Prefix"}}));
        request["Environment"]["post_analytics_processor_script"] = json!("/opt/ml/processing/input/post/post.py");
        request["Environment"]["categorical_drift_method"] = json!("ChiSquared");
        request["StoppingCondition"] = json!({"MaxRuntimeInSeconds": 60});
        request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = json!(4);
        let spec = BaseliningSpec::from_request(&request).unwrap();
        assert_eq!(spec.instance_count, 4);
        assert_eq!(
            spec.dataset_source.to_string(),
            "s3://models/churn/train.csv/part-1.csv"
        );
        assert_eq!(
            spec.post_analytics_processor_script.unwrap().to_string(),
            "s3://models/scripts/post.py"
        );
        assert_eq!(spec.categorical_drift_method, Some(CategoricalDriftMethod::ChiSquared));
        assert_eq!(spec.max_runtime_seconds, 60);
    }

    #[test]
    fn a_script_input_is_its_own_object_or_a_prefix_holding_it() {
        let mut request = request();
        for (name, uri) in [
            ("record_preprocessor_script_input", "s3://code/pre.py"),
            (
                "post_analytics_processor_script_input",
                "s3://models/churn/input/post_analytics_processor_script_input",
            ),
        ] {
            request["ProcessingInputs"].as_array_mut().unwrap().push(json!({
                "InputName": name,
                "S3Input": {"S3Uri": uri, "LocalPath": format!("/opt/ml/processing/input/{name}"), "S3DataType": "S3Prefix"}}));
        }
        request["Environment"]["record_preprocessor_script"] =
            json!("/opt/ml/processing/input/record_preprocessor_script_input/pre.py");
        request["Environment"]["post_analytics_processor_script"] =
            json!("/opt/ml/processing/input/post_analytics_processor_script_input/post.py");
        let spec = BaseliningSpec::from_request(&request).unwrap();
        assert_eq!(spec.record_preprocessor_script.unwrap().to_string(), "s3://code/pre.py");
        assert_eq!(
            spec.post_analytics_processor_script.unwrap().to_string(),
            "s3://models/churn/input/post_analytics_processor_script_input/post.py"
        );
    }

    fn refused(request: &Value) -> String {
        match BaseliningSpec::from_request(request) {
            Err(CloudError::Validation(message)) => message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn what_the_analyzer_would_not_run_is_refused_by_name() {
        let mut other_image = request();
        other_image["AppSpecification"]["ImageUri"] =
            json!("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1");
        assert!(refused(&other_image).starts_with(
            "AppSpecification.ImageUri '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1' \
             is not the model-monitor analyzer: modelmon runs only SageMaker's model-monitor analyzer"
        ));

        let mut no_source = request();
        no_source["Environment"]
            .as_object_mut()
            .unwrap()
            .remove("dataset_source");
        assert!(refused(&no_source).starts_with("Environment.dataset_source is required"));

        let mut elsewhere = request();
        elsewhere["Environment"]["output_path"] = json!("/opt/ml/processing/elsewhere");
        assert_eq!(
            refused(&elsewhere),
            "Environment.output_path '/opt/ml/processing/elsewhere' is not the LocalPath of any of the \
             ProcessingOutputConfig.Outputs (nor inside one): [/opt/ml/processing/output]"
        );

        let mut capture = request();
        capture["Environment"]["dataset_format"] = json!("{\"sagemakerCaptureJson\": {}}");
        assert!(refused(&capture).contains("not from capture"));

        let mut drift = request();
        drift["Environment"]["categorical_drift_method"] = json!("Wasserstein");
        assert!(refused(&drift).contains("must be ChiSquared or LInfinity"));

        let mut model_quality = request();
        model_quality["Environment"]["analysis_type"] = json!("MODEL_QUALITY");
        assert!(refused(&model_quality).contains("data quality only"));
    }

    #[test]
    fn analyzer_images_of_every_region() {
        for image in [
            "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer",
            "453000072557.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-model-monitor-analyzer:latest",
            "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer@sha256:0123",
            "modelmon",
        ] {
            assert!(is_analyzer_image(image), "{image}");
        }
        for image in [
            "sagemaker-model-monitor-analyzer",
            "docker.io/library/sagemaker-model-monitor-analyzer",
            "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer-fork",
            "modelmon:latest",
        ] {
            assert!(!is_analyzer_image(image), "{image}");
        }
    }
}
