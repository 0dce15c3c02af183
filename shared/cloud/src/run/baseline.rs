//! A baselining job: the analyzer container's contract (`dataset_source`, `dataset_format` as
//! SageMaker's JSON string, `output_path`) with S3 URIs: statistics.json and the suggested
//! constraints.json of the dataset. A processing job of CreateProcessingJob becomes one of these
//! (with [`BaselineOptions`]); the baseline function also takes one directly as its event.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use modelmon_engine::analysis::InputFormat;
use modelmon_engine::dataset::{profile_sources_through, DatasetFormat, ReadOptions};
use modelmon_engine::preprocess::RecordPreprocessor;
use modelmon_engine::profile::{DatasetProfile, RecordAccount};
use modelmon_engine::suggest::suggest_constraints;
use modelmon_formats::constraints::CategoricalDriftMethod;
use modelmon_report::BaselineReport;
use serde::{Deserialize, Serialize};

use super::objects::{data_objects, engine_failure, object_sources};
use super::scripts::{load_script, record_format, BlockingPreprocessor, PostAnalyticsProcessor, Preprocessor};
use crate::control::baselining::baseline_format;
use crate::control::job::JobScripts;
use crate::ports::{ObjectInfo, ObjectStore, ScriptRunner};
use crate::{AllowedBuckets, CloudError, ObjectUri};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineJob {
    /// One object, or a prefix whose objects together are the dataset.
    pub dataset_source: String,
    /// e.g. `{"csv": {"header": true}}`, `{"json": {"lines": true}}`, `{"parquet": {}}`.
    pub dataset_format: String,
    /// The folder for statistics.json and constraints.json.
    pub output_path: String,
}

/// What a processing job may ask for beyond the dataset (its `Environment`).
#[derive(Clone, Default)]
pub struct BaselineOptions {
    /// The suggested constraints' `categorical_drift_method` (`LInfinity` when not given).
    pub categorical_drift_method: Option<CategoricalDriftMethod>,
    /// The user's scripts (`record_preprocessor_script`, `post_analytics_processor_script`),
    /// the job's environment they see, and where they run.
    pub scripts: JobScripts,
    pub environment: BTreeMap<String, String>,
    pub runner: Option<Arc<dyn ScriptRunner>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineOutputs {
    pub statistics: String,
    pub constraints: String,
    /// The baseline's page (report.html; its report.json is beside it).
    pub report: String,
    /// Records read = analysed + rejected (+ dropped by a preprocessor), with examples of each
    /// rejection.
    pub records: RecordAccount,
    /// The files a post-analytics processor wrote beside the baseline.
    pub post_analytics_files: Vec<String>,
}

/// Baselines the job's dataset; `allowed` refuses sources and outputs in other buckets.
pub async fn run_baseline(
    store: &Arc<dyn ObjectStore>,
    job: &BaselineJob,
    allowed: &AllowedBuckets,
    scratch: Option<&Path>,
) -> Result<BaselineOutputs, CloudError> {
    run_baseline_with(store, job, &BaselineOptions::default(), allowed, scratch, None).await
}

/// [`run_baseline`] with a processing job's options; `listed`: the dataset's objects, when the
/// caller has listed them already ([`dataset_objects`]).
pub async fn run_baseline_with(
    store: &Arc<dyn ObjectStore>,
    job: &BaselineJob,
    options: &BaselineOptions,
    allowed: &AllowedBuckets,
    scratch: Option<&Path>,
    listed: Option<Vec<ObjectInfo>>,
) -> Result<BaselineOutputs, CloudError> {
    let source = ObjectUri::parse(&job.dataset_source)?;
    let output = ObjectUri::parse(&job.output_path)?;
    allowed.check(&source, "dataset_source")?;
    allowed.check(&output, "output_path")?;
    let format = baseline_format(&job.dataset_format, "dataset_format").map_err(CloudError::Data)?;
    let objects = match listed {
        Some(objects) => objects,
        None => dataset_objects(store, &source, &job.dataset_source).await?.1,
    };
    let profile = profile_objects(store, &objects, format, options, scratch).await?;
    if profile.item_count() == 0 {
        return Err(no_records(&job.dataset_source, &profile));
    }
    write_baseline(store, &profile, job, format, options, &output).await
}

/// The profile of `objects`, one dataset in this order, streamed (only Parquet objects are copied
/// to `scratch`, one at a time per thread), through the options' record preprocessor if any.
pub(crate) async fn profile_objects(
    store: &Arc<dyn ObjectStore>,
    objects: &[ObjectInfo],
    format: DatasetFormat,
    options: &BaselineOptions,
    scratch: Option<&Path>,
) -> Result<DatasetProfile, CloudError> {
    let preprocessor = match &options.scripts.record_preprocessor {
        Some(uri) => {
            let script = load_script(store.as_ref(), uri).await?;
            let records = record_format(InputFormat::Dataset(format));
            let preprocessor = Preprocessor::new(runner(options, uri)?, script, options.environment.clone(), records);
            Some(BlockingPreprocessor::new(
                preprocessor,
                tokio::runtime::Handle::current(),
            ))
        }
        None => None,
    };
    let sources = object_sources(store, objects, scratch)?;
    tokio::task::spawn_blocking(move || {
        let mut profile = DatasetProfile::default();
        let preprocessor = preprocessor.as_ref().map(|p| p as &dyn RecordPreprocessor);
        profile_sources_through(
            &sources,
            format,
            preprocessor,
            ReadOptions::default(),
            &mut profile,
            &mut |_| {},
        )
        .map(|_| profile)
    })
    .await
    .map_err(|join| CloudError::Internal(format!("the baseline task failed: {join}")))?
    .map_err(engine_failure)
}

/// A dataset with nothing to baseline.
pub(crate) fn no_records(dataset: &str, profile: &DatasetProfile) -> CloudError {
    CloudError::Data(format!(
        "{dataset}: the dataset has no records to baseline ({})",
        profile.records.summary()
    ))
}

/// The objects of a dataset and the folder they are named from: `s3://b/data` names that object
/// if it exists, else the objects of the folder `s3://b/data/` (not those whose names start with
/// `.` or `_`), in key order. No objects is an error.
pub(crate) async fn dataset_objects(
    store: &Arc<dyn ObjectStore>,
    source: &ObjectUri,
    named: &str,
) -> Result<(ObjectUri, Vec<ObjectInfo>), CloudError> {
    let objects = store.list(source).await?;
    let exact: Vec<_> = objects.iter().filter(|o| o.uri.key == source.key).cloned().collect();
    let (root, objects) = if exact.is_empty() {
        let prefix = source.as_prefix();
        let inside = objects
            .into_iter()
            .filter(|o| o.uri.key.starts_with(&prefix.key))
            .collect();
        (prefix, inside)
    } else {
        (folder_of(source), exact)
    };
    let objects = data_objects(objects, &root);
    if objects.is_empty() {
        return Err(CloudError::Data(format!("{named}: no objects to baseline")));
    }
    Ok((root, objects))
}

/// The folder an object is in, as a prefix.
fn folder_of(object: &ObjectUri) -> ObjectUri {
    let folder = object.key.rsplit_once('/').map_or("", |(folder, _)| folder);
    ObjectUri {
        bucket: object.bucket.clone(),
        key: folder.to_string(),
    }
    .as_prefix()
}

/// Writes the statistics.json and the suggested constraints.json of the `job`'s dataset's
/// `profile` into `output`, with modelmon's report.json and report.html, then runs the options'
/// post-analytics processor, whose files go beside them.
pub(crate) async fn write_baseline(
    store: &Arc<dyn ObjectStore>,
    profile: &DatasetProfile,
    job: &BaselineJob,
    format: DatasetFormat,
    options: &BaselineOptions,
    output: &ObjectUri,
) -> Result<BaselineOutputs, CloudError> {
    let statistics = profile.to_statistics();
    let mut constraints = suggest_constraints(&statistics);
    if let Some(method) = options.categorical_drift_method {
        constraints
            .monitoring_config
            .distribution_constraints
            .categorical_drift_method = method;
    }
    let report = BaselineReport::new(
        vec![job.dataset_source.clone()],
        Some(format.name().to_string()),
        profile.records.clone(),
    );
    for file in modelmon_report::baseline_files(&statistics, &constraints, &report) {
        store
            .put(&output.join(file.name), file.bytes, file.content_type)
            .await?;
    }
    let statistics_uri = output.join("statistics.json");
    let constraints_uri = output.join("constraints.json");
    let mut post_analytics_files = Vec::new();
    if let Some(uri) = &options.scripts.post_analytics_processor {
        let script = load_script(store.as_ref(), uri).await?;
        let mut environment = options.environment.clone();
        environment.insert("dataset_format".into(), job.dataset_format.clone());
        let processor = PostAnalyticsProcessor::new(runner(options, uri)?, script, environment);
        let inputs = [
            ("output/statistics.json".to_string(), statistics_uri.clone()),
            ("output/constraints.json".to_string(), constraints_uri.clone()),
        ];
        let paths = BTreeMap::from([("output_path".to_string(), "output".to_string())]);
        for (path, bytes) in processor.run(store.as_ref(), &inputs, paths).await? {
            store
                .put(&output.join(&path), bytes, "application/octet-stream")
                .await?;
            post_analytics_files.push(path);
        }
    }
    Ok(BaselineOutputs {
        statistics: statistics_uri.to_string(),
        constraints: constraints_uri.to_string(),
        report: output.join("report.html").to_string(),
        records: report.records,
        post_analytics_files,
    })
}

fn runner(options: &BaselineOptions, uri: &ObjectUri) -> Result<Arc<dyn ScriptRunner>, CloudError> {
    options.runner.clone().ok_or_else(|| {
        CloudError::Config(format!(
            "the job names the script {uri}, but this deployment has no script runner \
             (set SCRIPTS_FUNCTION_NAME to the scripts function)"
        ))
    })
}
