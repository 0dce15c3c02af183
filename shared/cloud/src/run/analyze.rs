//! One scheduled analysis: the scheduler's event names a schedule and a scheduled time; the run
//! claims the execution (once per pair), reads the window's capture, runs the engine, writes
//! the reports, publishes the metrics and records how it ended.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use modelmon_engine::analysis::{analyze, Analysis, AnalysisRequest, Input, InputFormat, Outcome};
use modelmon_engine::capture::Window;
use modelmon_engine::dataset::{parse_manifest, ReadOptions};
use modelmon_engine::preprocess::RecordPreprocessor;
use modelmon_formats::{from_json_slice, Constraints, Statistics};
use modelmon_report::RunContext;
use serde::{Deserialize, Serialize};

use super::execution_job::{self, ExecutionFacts};
use super::objects::{data_objects, engine_failure, object_sources};
use super::scripts::{
    dataset_format_variable, load_script, record_format, BlockingPreprocessor, PostAnalyticsProcessor, Preprocessor,
};
use super::truncate;
use crate::control::expression::{window, Expression};
use crate::control::job::{JobInput, JobSpec, CAPTURE_DESTINATION_KEY};
use crate::control::lifecycle::is_deleting;
use crate::control::records::{
    decode, encode, epoch_seconds, from_epoch_seconds, ExecutionRecord, ExecutionStatus, ExecutionSummary,
    PostAnalyticsRun, ScheduleRecord, ScheduleStatus,
};
use crate::control::{plan, Plan};
use crate::ports::{
    Cadence, ItemKey, MetricDatum, MetricValue, MetricsSink, ObjectInfo, ObjectStore, ScriptRunner, Table,
};
use crate::{AllowedBuckets, CloudError, ObjectUri};

/// The scheduler's event: `{"schedule_name": "...", "scheduled_time": "2026-11-25T14:00:00Z"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledRun {
    pub schedule_name: String,
    pub scheduled_time: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Where endpoints capture to (`DataCaptureConfig.DestinationS3Uri`) unless a job's
    /// environment names another in `capture_destination_s3_uri`.
    pub capture_destination: Option<ObjectUri>,
    /// An execution left InProgress longer than this is taken to have crashed, and is run again.
    pub claim_timeout: Duration,
    /// Where Parquet inputs are copied for the engine, which reads them with random access (the
    /// system's temporary folder when `None`); other inputs are streamed.
    pub scratch: Option<PathBuf>,
    /// The engine's threads (one per core by default) and chunks.
    pub read: ReadOptions,
}

/// Where a run's time went, measured by the run itself, in milliseconds: kept on the execution
/// record (and logged) beside the outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTimings {
    /// Reading the schedule and its job definition, and claiming the execution (the table).
    pub claim_ms: f64,
    /// Reading the baseline's statistics.json and constraints.json.
    pub baseline_ms: f64,
    /// Listing the window's capture objects (batch: reading the manifests, sizing their files).
    pub listing_ms: f64,
    /// Reading and profiling the objects, wall time: bytes are profiled as they arrive, so
    /// reading overlaps profiling.
    pub profiling_ms: f64,
    /// Of that, the time the profiling threads spent waiting for bytes, summed over the threads.
    pub reading_wait_ms: f64,
    pub threads: usize,
    /// Objects, and chunks of the big ones, profiled apart and merged.
    pub parts: usize,
    /// The six checks and the statistics to report.
    pub checks_ms: f64,
    /// Writing the reports.
    pub writes_ms: f64,
    /// Publishing the metrics.
    pub metrics_ms: f64,
    /// From the event's arrival to the last report written.
    pub reports_written_ms: f64,
    /// From the event's arrival to the metrics published.
    pub total_ms: f64,
}

fn millis(duration: std::time::Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// How a delivery of the scheduler's event ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunResult {
    /// The run happened; the record says how it ended (Completed, CompletedWithViolations, Failed).
    Finished(Box<ExecutionRecord>),
    /// Nothing to do: a repeated delivery, a stopped or deleted schedule.
    Skipped(String),
}

pub struct AnalysisRunner {
    table: Arc<dyn Table>,
    store: Arc<dyn ObjectStore>,
    metrics: Arc<dyn MetricsSink>,
    settings: RunSettings,
    allowed_buckets: AllowedBuckets,
    scripts: Option<Arc<dyn ScriptRunner>>,
}

/// What the engine made of the window, and where the reports went.
struct Executed {
    analysis: Analysis,
    report_uri: ObjectUri,
    post_analytics: Option<PostAnalyticsRun>,
}

const ENDPOINT_NAMESPACE: &str = "aws/sagemaker/Endpoints/data-metrics";
const BATCH_NAMESPACE: &str = "aws/sagemaker/ModelMonitoring/data-metrics";

impl AnalysisRunner {
    pub fn new(
        table: Arc<dyn Table>,
        store: Arc<dyn ObjectStore>,
        metrics: Arc<dyn MetricsSink>,
        settings: RunSettings,
    ) -> Self {
        AnalysisRunner {
            table,
            store,
            metrics,
            settings,
            allowed_buckets: AllowedBuckets::any(),
            scripts: None,
        }
    }

    /// Runs jobs' record preprocessors and post-analytics processors on `scripts` (without it,
    /// a job that names a script fails saying so).
    pub fn with_scripts(mut self, scripts: Arc<dyn ScriptRunner>) -> Self {
        self.scripts = Some(scripts);
        self
    }

    /// Refuses jobs that name buckets outside `allowed` (every bucket is allowed by default).
    pub fn with_allowed_buckets(mut self, allowed: AllowedBuckets) -> Self {
        self.allowed_buckets = allowed;
        self
    }

    /// Runs the analysis of `event` unless it already ran. An error is returned only when the
    /// run failed for a reason a retry may cure (an AWS call); the execution then says Failed
    /// with the reason, and a retried delivery runs it again.
    pub async fn run(&self, event: &ScheduledRun) -> Result<RunResult, CloudError> {
        let fired = Instant::now();
        let schedule_key = ItemKey::Schedule(event.schedule_name.clone());
        let schedule_item = self.table.get(&schedule_key).await?;
        // A schedule being deleted is gone already (its timer may fire once more meanwhile).
        let Some(schedule_item) = schedule_item.filter(|item| !is_deleting(&item.body)) else {
            return Ok(RunResult::Skipped(format!(
                "monitoring schedule '{}' does not exist",
                event.schedule_name
            )));
        };
        let schedule: ScheduleRecord = decode(&schedule_item)?;
        if schedule.monitoring_schedule_status == ScheduleStatus::Stopped {
            return Ok(RunResult::Skipped(format!(
                "monitoring schedule '{}' is stopped",
                event.schedule_name
            )));
        }
        let planned = plan(self.table.as_ref(), &schedule.monitoring_schedule_config)
            .await
            .map(|planned| {
                let window = run_window(&planned, event.scheduled_time);
                (planned, window)
            });
        let key = ItemKey::Execution {
            schedule: event.schedule_name.clone(),
            scheduled_time: event.scheduled_time,
        };
        // The execution is a processing job too: named before it is claimed, so its ARN never
        // points at nothing.
        let job_name = execution_job::job_name(&event.schedule_name, event.scheduled_time);
        let job_arn = execution_job::job_arn(&schedule.monitoring_schedule_arn, &job_name);
        execution_job::register(
            self.table.as_ref(),
            &job_name,
            &job_arn,
            &event.schedule_name,
            event.scheduled_time,
        )
        .await?;
        let started_at = Utc::now();
        let processing_job = planned.as_ref().ok().map(|(planned, window)| {
            let capture = self.capture_destination(&planned.job).ok();
            let report_folder = report_folder(&planned.job, &event.schedule_name, event.scheduled_time);
            ExecutionFacts {
                schedule: &schedule,
                job: &planned.job,
                capture: capture.as_ref(),
                window: *window,
                report_folder: &report_folder,
                job_name: &job_name,
                started: started_at,
            }
            .job()
        });
        let mut record = ExecutionRecord {
            summary: ExecutionSummary {
                monitoring_schedule_name: event.schedule_name.clone(),
                scheduled_time: epoch_seconds(event.scheduled_time),
                creation_time: epoch_seconds(started_at),
                last_modified_time: epoch_seconds(started_at),
                monitoring_execution_status: ExecutionStatus::InProgress,
                endpoint_name: schedule.endpoint_name.clone(),
                failure_reason: None,
                monitoring_job_definition_name: schedule.job_definition_name().map(str::to_string),
                monitoring_type: schedule.monitoring_type.clone(),
                processing_job_arn: Some(job_arn),
            },
            report_uri: None,
            exit_message: None,
            records: None,
            timings: None,
            processing_job,
            post_analytics_processor: None,
        };
        let version = match self.claim(&key, &mut record).await? {
            Ok(version) => version,
            Err(reason) => return Ok(RunResult::Skipped(reason)),
        };
        tracing::info!(schedule = %event.schedule_name, scheduled_time = %event.scheduled_time, "analysis started");
        let mut timings = RunTimings {
            claim_ms: millis(fired.elapsed()),
            ..RunTimings::default()
        };
        let executed = match planned {
            Ok((planned, window)) => {
                self.execute(
                    &schedule,
                    &planned.job,
                    event.scheduled_time,
                    window,
                    fired,
                    &mut timings,
                )
                .await
            }
            Err(err) => Err(err),
        };
        timings.total_ms = millis(fired.elapsed());
        tracing::info!(schedule = %event.schedule_name, timings = ?timings, "analysis timings");
        record.timings = Some(timings);
        let now = epoch_seconds(Utc::now());
        record.summary.last_modified_time = now;
        let retry = match executed {
            Ok(executed) => {
                let analysis = &executed.analysis;
                let (status, failure) = match analysis.outcome {
                    Outcome::Completed => (ExecutionStatus::Completed, None),
                    Outcome::CompletedWithViolations => (ExecutionStatus::CompletedWithViolations, None),
                    // SageMaker's words for an empty window, then modelmon's account of it.
                    Outcome::NoData => (
                        ExecutionStatus::Failed,
                        Some(format!("Job inputs had no data. {}", analysis.exit_message)),
                    ),
                };
                let mut exit_message = analysis.exit_message.clone();
                // A post-analytics processor that failed fails the execution; its reports stay.
                let (status, failure) = match &executed.post_analytics {
                    Some(PostAnalyticsRun { error: Some(error), .. }) => (ExecutionStatus::Failed, Some(error.clone())),
                    Some(run) => {
                        exit_message.push_str(&format!(" {}", post_analytics_message(run)));
                        (status, failure)
                    }
                    None => (status, failure),
                };
                record.summary.monitoring_execution_status = status;
                record.summary.failure_reason = failure.map(|f| truncate(&f));
                record.report_uri = Some(executed.report_uri.to_string());
                record.exit_message = Some(exit_message);
                record.records = serde_json::to_value(&analysis.records).ok();
                record.post_analytics_processor = executed.post_analytics;
                None
            }
            Err(err) => {
                // Data errors quote the input; the execution's FailureReason has them, the log not.
                let logged = match &err {
                    CloudError::Data(_) | CloudError::Engine(_) | CloudError::Format(_) => {
                        "the input or the baseline is unusable (the execution's FailureReason says where)".to_string()
                    }
                    other => other.to_string(),
                };
                tracing::error!(schedule = %event.schedule_name, error = %logged, "analysis failed");
                record.summary.monitoring_execution_status = ExecutionStatus::Failed;
                record.summary.failure_reason = Some(truncate(&err.to_string()));
                is_transient(&err).then_some(err)
            }
        };
        self.table.update(&encode(key, version + 1, &record)).await?;
        self.set_last_execution(&schedule_key, &record.summary).await;
        match retry {
            Some(err) => Err(err),
            None => Ok(RunResult::Finished(Box::new(record))),
        }
    }

    /// Writes the execution as InProgress if no delivery of this (schedule, time) ran before,
    /// or if the earlier one failed or crashed; returns the version written, or why not.
    async fn claim(&self, key: &ItemKey, record: &mut ExecutionRecord) -> Result<Result<u64, String>, CloudError> {
        match self.table.insert(&encode(key.clone(), 1, record)).await {
            Ok(()) => return Ok(Ok(1)),
            Err(CloudError::AlreadyExists { .. }) => {}
            Err(err) => return Err(err),
        }
        let Some(existing) = self.table.get(key).await? else {
            return Ok(Err("the execution was deleted while this delivery started".into()));
        };
        let earlier: ExecutionRecord = decode(&existing)?;
        let status = earlier.summary.monitoring_execution_status;
        let age = Utc::now() - from_epoch_seconds(earlier.summary.last_modified_time);
        let crashed = status == ExecutionStatus::InProgress && age > self.settings.claim_timeout;
        if status != ExecutionStatus::Failed && !crashed {
            return Ok(Err(format!(
                "a delivery for this scheduled time already ran or runs: it is {status:?}"
            )));
        }
        record.summary.creation_time = earlier.summary.creation_time;
        match self
            .table
            .update(&encode(key.clone(), existing.version + 1, record))
            .await
        {
            Ok(()) => Ok(Ok(existing.version + 1)),
            Err(CloudError::VersionConflict { .. }) => Ok(Err("another delivery took this run over first".into())),
            Err(err) => Err(err),
        }
    }

    async fn execute(
        &self,
        schedule: &ScheduleRecord,
        job: &JobSpec,
        scheduled_time: DateTime<Utc>,
        window: Window,
        started: Instant,
        timings: &mut RunTimings,
    ) -> Result<Executed, CloudError> {
        // Checked again here: a job definition may predate the deployment's allow-list.
        job.check_buckets(&self.allowed_buckets)?;
        let phase = Instant::now();
        let statistics: Statistics = self.read_json(&job.baseline_statistics).await?;
        let constraints: Constraints = self.read_json(&job.baseline_constraints).await?;
        let monitoring_config = constraints.monitoring_config.clone();
        timings.baseline_ms = millis(phase.elapsed());
        let phase = Instant::now();
        let (objects, format) = self.list_inputs(job, &window).await?;
        timings.listing_ms = millis(phase.elapsed());
        let sources = object_sources(&self.store, &objects, self.settings.scratch.as_deref())?;
        let read = self.settings.read;
        let preprocessor = match &job.scripts.record_preprocessor {
            Some(uri) => Some(self.preprocessor(uri, job, format).await?),
            None => None,
        };
        let analysis = tokio::task::spawn_blocking(move || {
            let request = AnalysisRequest {
                input: Input::Sources(&sources),
                format,
                window: Some(window),
                baseline: &statistics,
                constraints: &constraints,
                read,
                preprocessor: preprocessor.as_ref().map(|p| p as &dyn RecordPreprocessor),
            };
            analyze(&request, &mut |_| {})
        })
        .await
        .map_err(|join| CloudError::Internal(format!("the analysis task failed: {join}")))?
        .map_err(engine_failure)?;
        let engine = &analysis.timings;
        timings.profiling_ms = millis(engine.profiling);
        timings.reading_wait_ms = millis(engine.read.waited);
        timings.threads = engine.read.threads;
        timings.parts = engine.read.parts;
        timings.checks_ms = millis(engine.checks);

        let endpoint = job.endpoint_name();
        let report_uri = report_folder(job, &schedule.monitoring_schedule_name, scheduled_time);
        let (input, input_format) = match &job.input {
            JobInput::Endpoint { endpoint_name } => (
                self.capture_destination(job)?
                    .join(endpoint_name)
                    .as_prefix()
                    .to_string(),
                "capture".to_string(),
            ),
            JobInput::BatchTransform { destination, format } => (
                destination.to_string(),
                format!("{} from batch-transform manifests", format.name()),
            ),
        };
        let context = RunContext {
            schedule: Some(schedule.monitoring_schedule_name.clone()),
            endpoint: endpoint.map(str::to_string),
            scheduled_time: Some(scheduled_time),
            window: Some(window.into()),
            baseline_statistics: Some(job.baseline_statistics.to_string()),
            baseline_constraints: Some(job.baseline_constraints.to_string()),
            inputs: vec![input],
            input_format: Some(input_format),
        };
        let phase = Instant::now();
        for file in modelmon_report::run_files(&analysis, &monitoring_config, context) {
            self.store
                .put(&report_uri.join(file.name), file.bytes, file.content_type)
                .await?;
        }
        timings.writes_ms = millis(phase.elapsed());
        timings.reports_written_ms = millis(started.elapsed());
        if job.environment.get("publish_cloudwatch_metrics").map(String::as_str) != Some("Disabled") {
            let phase = Instant::now();
            self.publish(&schedule.monitoring_schedule_name, endpoint, window.end, &analysis)
                .await?;
            timings.metrics_ms = millis(phase.elapsed());
        }
        let post_analytics = match &job.scripts.post_analytics_processor {
            Some(uri) if analysis.outcome != Outcome::NoData => Some(
                self.post_analytics(uri, job, &schedule.monitoring_schedule_name, &report_uri, window)
                    .await?,
            ),
            _ => None,
        };
        Ok(Executed {
            analysis,
            report_uri,
            post_analytics,
        })
    }

    fn scripts(&self, uri: &ObjectUri) -> Result<Arc<dyn ScriptRunner>, CloudError> {
        self.scripts.clone().ok_or_else(|| {
            CloudError::Config(format!(
                "the job names the script {uri}, but this deployment has no script runner \
                 (set SCRIPTS_FUNCTION_NAME to the scripts function)"
            ))
        })
    }

    /// The job's record preprocessor, for the engine.
    async fn preprocessor(
        &self,
        uri: &ObjectUri,
        job: &JobSpec,
        format: InputFormat,
    ) -> Result<BlockingPreprocessor, CloudError> {
        let scripts = self.scripts(uri)?;
        let script = load_script(self.store.as_ref(), uri).await?;
        let preprocessor = Preprocessor::new(scripts, script, job.environment.clone(), record_format(format));
        Ok(BlockingPreprocessor::new(
            preprocessor,
            tokio::runtime::Handle::current(),
        ))
    }

    /// Runs the job's post-analytics processor on the run's reports, uploading the files it
    /// wrote beside them. Its failure is the run's outcome, not an error: the reports stay.
    async fn post_analytics(
        &self,
        uri: &ObjectUri,
        job: &JobSpec,
        schedule_name: &str,
        report_uri: &ObjectUri,
        window: Window,
    ) -> Result<PostAnalyticsRun, CloudError> {
        let scripts = self.scripts(uri)?;
        let failed = |error: String| PostAnalyticsRun {
            script: uri.to_string(),
            files: Vec::new(),
            error: Some(error),
        };
        let script = match load_script(self.store.as_ref(), uri).await {
            Ok(script) => script,
            Err(err @ CloudError::Script(_)) => return Ok(failed(err.to_string())),
            Err(err) => return Err(err),
        };
        let mut environment = job.environment.clone();
        environment.insert(
            "start_time".into(),
            window.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        environment.insert(
            "end_time".into(),
            window.end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        environment.insert("sagemaker_monitoring_schedule_name".into(), schedule_name.into());
        environment
            .entry("publish_cloudwatch_metrics".into())
            .or_insert_with(|| "Enabled".into());
        let format = match &job.input {
            JobInput::Endpoint { endpoint_name } => {
                environment.insert("sagemaker_endpoint_name".into(), endpoint_name.clone());
                InputFormat::Capture
            }
            JobInput::BatchTransform { format, .. } => InputFormat::Dataset(*format),
        };
        environment
            .entry("dataset_format".into())
            .or_insert_with(|| dataset_format_variable(format));
        let mut inputs = vec![
            ("output/report.json".to_string(), report_uri.join("report.json")),
            ("output/statistics.json".to_string(), report_uri.join("statistics.json")),
            (
                "output/constraint_violations.json".to_string(),
                report_uri.join("constraint_violations.json"),
            ),
        ];
        inputs.push(("baseline/statistics.json".into(), job.baseline_statistics.clone()));
        inputs.push(("baseline/constraints.json".into(), job.baseline_constraints.clone()));
        let paths = [
            ("output_path", "output"),
            ("baseline_statistics", "baseline/statistics.json"),
            ("baseline_constraints", "baseline/constraints.json"),
        ]
        .into_iter()
        .map(|(name, path)| (name.to_string(), path.to_string()))
        .collect();
        let processor = PostAnalyticsProcessor::new(scripts, script, environment);
        let files = match processor.run(self.store.as_ref(), &inputs, paths).await {
            Ok(files) => files,
            Err(err @ CloudError::Script(_)) => return Ok(failed(err.to_string())),
            Err(err) => return Err(err),
        };
        let mut names = Vec::new();
        for (path, bytes) in files {
            let content_type = if path.ends_with(".json") {
                "application/json"
            } else {
                "application/octet-stream"
            };
            self.store.put(&report_uri.join(&path), bytes, content_type).await?;
            names.push(path);
        }
        Ok(PostAnalyticsRun {
            script: uri.to_string(),
            files: names,
            error: None,
        })
    }

    /// The objects to analyse, in order: the window's capture (the hour folders of every
    /// variant that can hold its records), or the data files the window's manifests list.
    async fn list_inputs(&self, job: &JobSpec, window: &Window) -> Result<(Vec<ObjectInfo>, InputFormat), CloudError> {
        match &job.input {
            JobInput::Endpoint { endpoint_name } => {
                let root = self.capture_destination(job)?.join(endpoint_name).as_prefix();
                let mut objects = Vec::new();
                for variant in self.store.list_folders(&root).await? {
                    for hour in window.hour_folders() {
                        objects.extend(self.store.list(&variant.join(&hour).as_prefix()).await?);
                    }
                }
                Ok((data_objects(objects, &root), InputFormat::Capture))
            }
            JobInput::BatchTransform { destination, format } => {
                let mut objects = Vec::new();
                for uri in self.manifest_files(destination, window).await? {
                    // The manifests give names, not sizes: the listing of each name has them.
                    let listed = self.store.list(&uri).await?;
                    let object = listed.into_iter().find(|o| o.uri == uri);
                    objects.push(object.ok_or_else(|| CloudError::ObjectNotFound { uri: uri.to_string() })?);
                }
                Ok((objects, InputFormat::Dataset(*format)))
            }
        }
    }

    async fn read_json<T: serde::de::DeserializeOwned>(&self, uri: &ObjectUri) -> Result<T, CloudError> {
        let bytes = self.store.get(uri).await?;
        Ok(from_json_slice(&bytes, &uri.to_string())?)
    }

    fn capture_destination(&self, job: &JobSpec) -> Result<ObjectUri, CloudError> {
        match job.capture_destination()? {
            Some(uri) => Ok(uri),
            None => self.settings.capture_destination.clone().ok_or_else(|| {
                CloudError::Validation(format!(
                    "no capture destination: set CAPTURE_DESTINATION_S3_URI for the deployment, or \
                     {CAPTURE_DESTINATION_KEY} in the job's Environment, to the endpoint's DataCaptureConfig.DestinationS3Uri"
                ))
            }),
        }
    }

    /// The data files named by the manifests in the window's own hour folders (under `input/`
    /// when the destination has one, as batch transform writes them).
    async fn manifest_files(&self, destination: &ObjectUri, window: &Window) -> Result<Vec<ObjectUri>, CloudError> {
        let destination = destination.as_prefix();
        let input = destination.join("input").as_prefix();
        let folders = self.store.list_folders(&destination).await?;
        let base = if folders.contains(&input) {
            input
        } else {
            destination.clone()
        };
        let mut manifests: Vec<ObjectInfo> = Vec::new();
        for hour in window.own_hour_folders() {
            manifests.extend(self.store.list(&base.join(&hour).as_prefix()).await?);
        }
        let mut files = Vec::new();
        for manifest in manifests {
            let bytes = self.store.get(&manifest.uri).await?;
            let text = String::from_utf8_lossy(&bytes);
            let name = PathBuf::from(manifest.uri.to_string());
            let locate = |prefix: &str, file: &str| {
                ObjectUri::parse(prefix)
                    .map(|p| p.join(file))
                    .map_err(|err| err.to_string())
            };
            files.extend(parse_manifest(&text, &name, &locate)?);
        }
        for file in &files {
            self.allowed_buckets
                .check(file, &format!("a data file of a manifest under {destination}"))?;
        }
        Ok(files)
    }

    async fn publish(
        &self,
        schedule_name: &str,
        endpoint: Option<&str>,
        timestamp: DateTime<Utc>,
        analysis: &Analysis,
    ) -> Result<(), CloudError> {
        let mut dimensions = Vec::new();
        if let Some(endpoint) = endpoint {
            dimensions.push(("Endpoint".to_string(), endpoint.to_string()));
        }
        dimensions.push(("MonitoringSchedule".to_string(), schedule_name.to_string()));
        let data: Vec<MetricDatum> = analysis
            .checks
            .metrics
            .iter()
            .map(|metric| MetricDatum {
                name: metric.name.clone(),
                dimensions: dimensions.clone(),
                value: match metric.value {
                    modelmon_engine::checks::MetricData::Value(value) => MetricValue::Value(value),
                    modelmon_engine::checks::MetricData::StatisticSet {
                        sample_count,
                        sum,
                        min,
                        max,
                    } => MetricValue::Statistics {
                        sample_count,
                        sum,
                        min,
                        max,
                    },
                },
                timestamp,
            })
            .collect();
        let namespace = if endpoint.is_some() {
            ENDPOINT_NAMESPACE
        } else {
            BATCH_NAMESPACE
        };
        self.metrics.publish(namespace, &data).await
    }

    /// The schedule's LastMonitoringExecutionSummary, written with the schedule's version so a
    /// concurrent Update is not overwritten (retried a few times, then left: it is a summary).
    async fn set_last_execution(&self, key: &ItemKey, summary: &ExecutionSummary) {
        for _ in 0..5 {
            let Ok(Some(item)) = self.table.get(key).await else {
                return;
            };
            if is_deleting(&item.body) {
                return;
            }
            let Ok(mut schedule) = decode::<ScheduleRecord>(&item) else {
                return;
            };
            let newer = schedule
                .last_monitoring_execution_summary
                .as_ref()
                .is_some_and(|last| last.scheduled_time > summary.scheduled_time);
            if newer {
                return;
            }
            schedule.last_monitoring_execution_summary = Some(summary.clone());
            match self
                .table
                .update(&encode(key.clone(), item.version + 1, &schedule))
                .await
            {
                Err(CloudError::VersionConflict { .. }) => continue,
                Err(err) => {
                    tracing::warn!(error = %err, "could not record the last execution on the schedule");
                    return;
                }
                Ok(()) => return,
            }
        }
    }
}

/// `The post-analytics processor s3://... ran and wrote summary.txt.`
fn post_analytics_message(run: &PostAnalyticsRun) -> String {
    let wrote = match run.files.as_slice() {
        [] => "wrote no file".to_string(),
        files => format!("wrote {}", files.join(", ")),
    };
    format!("The post-analytics processor {} ran and {wrote}.", run.script)
}

/// The window of the run at `scheduled_time`.
fn run_window(planned: &Plan, scheduled_time: DateTime<Utc>) -> Window {
    let cadence = match planned.expression {
        Expression::Repeating(cadence) => cadence,
        Expression::Now => Cadence::Once { at: scheduled_time },
    };
    let offsets = planned.now_window.or(planned.job.offsets);
    let (start, end) = window(scheduled_time, &cadence, offsets);
    Window { start, end }
}

/// Where a run's reports go: `{output}/{endpoint}/{schedule}/yyyy/mm/dd/hh/` (no endpoint
/// folder for batch input), hh the scheduled hour.
fn report_folder(job: &JobSpec, schedule_name: &str, scheduled_time: DateTime<Utc>) -> ObjectUri {
    let mut folder = job.output.clone();
    if let Some(endpoint) = job.endpoint_name() {
        folder = folder.join(endpoint);
    }
    folder
        .join(schedule_name)
        .join(&scheduled_time.format("%Y/%m/%d/%H").to_string())
        .as_prefix()
}

/// Failures a later delivery may not meet again: the AWS services', the file system's.
fn is_transient(err: &CloudError) -> bool {
    matches!(err, CloudError::Aws { .. } | CloudError::Io { .. })
}
