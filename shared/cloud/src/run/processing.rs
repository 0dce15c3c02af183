//! Running a baselining job of CreateProcessingJob: claim its record, keep a lease on it while
//! the baseline runs, end it when asked to stop, when its MaxRuntimeInSeconds or the runner's own
//! time limit comes, and write its end state and its own log lines. If the runner dies instead,
//! the lease runs out and the job is seen as Failed ([`ProcessingJobRecord::seen_at`]), so no
//! job stays InProgress forever.
//!
//! A job whose dataset is more than one function should take (its InstanceCount is above one, or
//! it holds more than [`FanoutSettings::threshold_bytes`]) is handed to the `BaselineFanOut`
//! state machine instead: its lease then lasts until its MaxRuntimeInSeconds, and the workflow's
//! merge step ([`ProcessingJobRunner::end_fanned_out`]) or failure step ends it.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::baseline::{dataset_objects, run_baseline_with, BaselineJob, BaselineOptions, BaselineOutputs};
use super::fanout::FanoutJob;
use super::truncate;
use crate::control::baselining::BaseliningSpec;
use crate::control::job::JobScripts;
use crate::control::processing_jobs::{edit_job, Edit};
use crate::control::records::{epoch_seconds, from_epoch_seconds, ProcessingJobRecord, ProcessingJobStatus};
use crate::ports::{FanoutStarter, JobLog, LogLine, ObjectInfo, ObjectStore, ScriptRunner, Table};
use crate::{AllowedBuckets, CloudError};

#[derive(Debug, Clone)]
pub struct JobRunSettings {
    /// How long the runner's lease on a job lasts. It renews it, and looks for a Stop, every
    /// sixth of this; a job whose runner has not renewed it for this long is taken to be lost.
    pub lease: Duration,
    /// Where inputs are copied for the engine (the system's temporary folder when `None`).
    pub scratch: Option<PathBuf>,
}

/// Where big datasets go: the fan-out's state machine, and from what size on.
#[derive(Clone)]
pub struct FanoutSettings {
    pub starter: Arc<dyn FanoutStarter>,
    /// A job whose dataset holds more bytes than this is fanned out (the baseline function's
    /// `FANOUT_THRESHOLD_BYTES`, [`DEFAULT_FANOUT_THRESHOLD_BYTES`] when unset).
    pub threshold_bytes: u64,
}

/// Two of the fan-out's batches ([`super::fanout::BATCH_BYTES`]): below this one function is
/// about as fast (BENCHMARKS.md: about 40 s at the measured rate) and the fan-out would only add
/// its start-up and merge.
pub const DEFAULT_FANOUT_THRESHOLD_BYTES: u64 = 2 * super::fanout::BATCH_BYTES;

/// Where a job's baseline runs, once its dataset is listed.
enum FanoutDecision {
    /// On the fan-out's execution (its ARN).
    Started(String),
    /// In this function, on these objects of the dataset.
    OneFunction(Vec<ObjectInfo>),
}

/// How a delivery of a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobRunResult {
    /// The job ran; the record says how it ended.
    Finished(Box<ProcessingJobRecord>),
    /// Nothing to do: another runner has it, it has ended, or it does not exist.
    Skipped(String),
}

pub struct ProcessingJobRunner {
    table: Arc<dyn Table>,
    store: Arc<dyn ObjectStore>,
    job_log: Arc<dyn JobLog>,
    settings: JobRunSettings,
    allowed_buckets: AllowedBuckets,
    scripts: Option<Arc<dyn ScriptRunner>>,
    fanout: Option<FanoutSettings>,
}

/// How the work ended, before it is written down.
enum Outcome {
    Completed(String),
    Failed(String),
    Stopped,
    /// Handed to the fan-out's execution (its ARN), which ends the job; the lease lasts `until`.
    FannedOut {
        execution: String,
        until: DateTime<Utc>,
    },
}

impl Outcome {
    fn status(&self) -> ProcessingJobStatus {
        match self {
            Outcome::Completed(_) => ProcessingJobStatus::Completed,
            Outcome::Failed(_) => ProcessingJobStatus::Failed,
            Outcome::Stopped => ProcessingJobStatus::Stopped,
            Outcome::FannedOut { .. } => ProcessingJobStatus::InProgress,
        }
    }

    fn log_line(&self) -> String {
        match self {
            Outcome::Completed(message) => format!("Completed: {message}"),
            Outcome::Failed(reason) => format!("Failed: {reason}"),
            Outcome::Stopped => format!("Stopped: {STOPPED_MESSAGE}"),
            Outcome::FannedOut { execution, .. } => {
                format!("Handed to the fan-out {execution}, whose merge step ends the job.")
            }
        }
    }
}

const STOPPED_MESSAGE: &str = "Stopped by StopProcessingJob.";

impl ProcessingJobRunner {
    pub fn new(
        table: Arc<dyn Table>,
        store: Arc<dyn ObjectStore>,
        job_log: Arc<dyn JobLog>,
        settings: JobRunSettings,
    ) -> Self {
        ProcessingJobRunner {
            table,
            store,
            job_log,
            settings,
            allowed_buckets: AllowedBuckets::any(),
            scripts: None,
            fanout: None,
        }
    }

    /// Hands jobs with big datasets (or an InstanceCount above one) to the fan-out.
    pub fn with_fanout(mut self, fanout: FanoutSettings) -> Self {
        self.fanout = Some(fanout);
        self
    }

    /// Runs jobs' record preprocessors and post-analytics processors on `scripts`.
    pub fn with_scripts(mut self, scripts: Arc<dyn ScriptRunner>) -> Self {
        self.scripts = Some(scripts);
        self
    }

    /// Refuses jobs that name buckets outside `allowed` (every bucket is allowed by default).
    pub fn with_allowed_buckets(mut self, allowed: AllowedBuckets) -> Self {
        self.allowed_buckets = allowed;
        self
    }

    /// Runs the job `job_name` to its end state, unless another runner has it or it has ended.
    /// `deadline` is when this runner must be done (a Lambda function's time limit): the job is
    /// ended Failed just before it rather than left to the lease.
    pub async fn run(&self, job_name: &str, deadline: Option<DateTime<Utc>>) -> Result<JobRunResult, CloudError> {
        let claimed = match self.claim(job_name).await {
            Err(CloudError::ResourceNotFound(reason)) => return Ok(JobRunResult::Skipped(reason)),
            other => other?,
        };
        let record = match claimed {
            Ok(record) => record,
            Err(reason) => return Ok(JobRunResult::Skipped(reason)),
        };
        let started = record
            .processing_start_time
            .map(from_epoch_seconds)
            .unwrap_or_else(Utc::now);
        let mut log = Log::new(log_stream(&record.processing_job_name, started), self.job_log.as_ref());
        tracing::info!(job = %job_name, "baselining job started");
        let outcome = self.execute(&record, started, deadline, &mut log).await;
        if let Outcome::FannedOut { execution, until } = &outcome {
            log.line(outcome.log_line());
            log.flush().await;
            let handed = self.hand_off(job_name, execution, *until).await?;
            tracing::info!(job = %job_name, %execution, "baselining job handed to the fan-out");
            return Ok(JobRunResult::Finished(Box::new(handed)));
        }
        // The last line is written before the end state, so a reader that sees the job ended
        // (the SDK's `wait(logs=True)` reads once more then) finds it.
        let expected = outcome.status();
        log.line(outcome.log_line());
        log.flush().await;
        let ended = self.end(job_name, outcome).await?;
        if ended.processing_job_status != expected {
            // A Stop came first, or another runner ended the job.
            log.line(ended_line(&ended));
        }
        log.flush().await;
        tracing::info!(job = %job_name, status = ?ended.processing_job_status, "baselining job ended");
        Ok(JobRunResult::Finished(Box::new(ended)))
    }

    /// Takes the job if nobody has: sets its start time and the first lease. A job whose earlier
    /// runner was lost is written down as the Failed job it is seen as.
    async fn claim(&self, job_name: &str) -> Result<Result<ProcessingJobRecord, String>, CloudError> {
        let lease = self.settings.lease;
        edit_job(self.table.as_ref(), job_name, |record| {
            let now = Utc::now();
            let seen = record.seen_at(now);
            if seen != *record {
                *record = seen;
                return Ok(Edit::Write(Err(format!(
                    "the job was lost before this delivery: it is {:?}",
                    record.processing_job_status
                ))));
            }
            match (record.processing_job_status, record.processing_start_time) {
                (ProcessingJobStatus::InProgress, None) => {
                    record.processing_start_time = Some(epoch_seconds(now));
                    record.last_modified_time = epoch_seconds(now);
                    record.lease_expires_at = Some(epoch_seconds(now + lease));
                    Ok(Edit::Write(Ok(record.clone())))
                }
                (status, Some(start)) if !status.is_finished() => Ok(Edit::Leave(Err(format!(
                    "another runner has had the job since {}",
                    from_epoch_seconds(start).to_rfc3339()
                )))),
                (status, _) => Ok(Edit::Leave(Err(format!("the job is {status:?}")))),
            }
        })
        .await
    }

    /// The baseline, raced against a Stop, the job's MaxRuntimeInSeconds and `deadline`, with the
    /// lease renewed meanwhile.
    async fn execute(
        &self,
        record: &ProcessingJobRecord,
        started: DateTime<Utc>,
        deadline: Option<DateTime<Utc>>,
        log: &mut Log<'_>,
    ) -> Outcome {
        let spec = match serde_json::to_value(record)
            .map_err(|err| CloudError::Internal(err.to_string()))
            .and_then(|request| BaseliningSpec::from_request(&request))
            .and_then(|spec| spec.check_buckets(&self.allowed_buckets).map(|()| spec))
        {
            Ok(spec) => spec,
            Err(err) => return Outcome::Failed(err.to_string()),
        };
        let job = BaselineJob {
            dataset_source: spec.dataset_source.to_string(),
            dataset_format: spec.dataset_format.clone(),
            output_path: spec.output.to_string(),
        };
        let options = BaselineOptions {
            categorical_drift_method: spec.categorical_drift_method,
            scripts: JobScripts {
                record_preprocessor: spec.record_preprocessor_script.clone(),
                post_analytics_processor: spec.post_analytics_processor_script.clone(),
            },
            environment: spec.environment.clone(),
            runner: self.scripts.clone(),
        };
        log.line(format!(
            "modelmon {}: baselining job {}",
            env!("CARGO_PKG_VERSION"),
            record.processing_job_name
        ));
        log.line(format!(
            "dataset_source {} ({})",
            job.dataset_source, job.dataset_format
        ));
        log.line(format!("output_path {}", job.output_path));
        log.flush().await;

        let max_runtime = Duration::seconds(i64::from(spec.max_runtime_seconds));
        // With a fan-out, the dataset is listed to decide; the listing is then the baseline's.
        let listed = match &self.fanout {
            Some(fanout) => match self
                .fan_out(fanout, &spec, &job, &record.processing_job_name, log)
                .await
            {
                Ok(FanoutDecision::Started(execution)) => {
                    return Outcome::FannedOut {
                        execution,
                        until: started + max_runtime,
                    }
                }
                Ok(FanoutDecision::OneFunction(objects)) => Some(objects),
                Err(err) => return Outcome::Failed(err.to_string()),
            },
            None => None,
        };
        let scratch = self.settings.scratch.as_deref();
        let work = run_baseline_with(&self.store, &job, &options, &self.allowed_buckets, scratch, listed);
        tokio::pin!(work);
        let mut beat = tokio::time::interval(
            (self.settings.lease / 6)
                .to_std()
                .unwrap_or(std::time::Duration::from_secs(1)),
        );
        beat.tick().await;
        loop {
            tokio::select! {
                result = &mut work => return match result {
                    Ok(outputs) => Outcome::Completed(exit_message(&outputs)),
                    Err(err) => Outcome::Failed(err.to_string()),
                },
                _ = beat.tick() => match self.renew(&record.processing_job_name).await {
                    Ok(true) => {}
                    Ok(false) => return Outcome::Stopped,
                    // The lease may lapse if this lasts; the end state is still written after.
                    Err(err) => tracing::warn!(job = %record.processing_job_name, error = %err, "could not renew the lease"),
                },
                _ = sleep_until(started + max_runtime) => return Outcome::Failed(format!(
                    "The job exceeded its StoppingCondition.MaxRuntimeInSeconds of {} s and was ended before it \
                     finished; its output at {} may be missing or incomplete",
                    spec.max_runtime_seconds, job.output_path
                )),
                _ = sleep_until_some(deadline) => return Outcome::Failed(format!(
                    "The job did not finish within the baseline function's time limit and was ended; its \
                     output at {} may be missing or incomplete. Baseline a smaller dataset, or split it",
                    job.output_path
                )),
            }
        }
    }

    /// Starts the fan-out for the job if its dataset asks for it.
    async fn fan_out(
        &self,
        fanout: &FanoutSettings,
        spec: &BaseliningSpec,
        job: &BaselineJob,
        job_name: &str,
        log: &mut Log<'_>,
    ) -> Result<FanoutDecision, CloudError> {
        let FanoutSettings {
            starter,
            threshold_bytes,
        } = fanout;
        let (_, objects) = dataset_objects(&self.store, &spec.dataset_source, &job.dataset_source).await?;
        let bytes: u64 = objects.iter().map(|o| o.size).sum();
        let why = if spec.instance_count > 1 {
            format!("InstanceCount {}", spec.instance_count)
        } else if bytes > *threshold_bytes {
            format!("more than the threshold of {threshold_bytes} bytes")
        } else {
            return Ok(FanoutDecision::OneFunction(objects));
        };
        if spec.record_preprocessor_script.is_some() || spec.post_analytics_processor_script.is_some() {
            log.line(format!(
                "{why} asks for the fan-out, but its batches do not run scripts: the job runs in one function"
            ));
            return Ok(FanoutDecision::OneFunction(objects));
        }
        let input = FanoutJob {
            job: job.clone(),
            processing_job: Some(job_name.to_string()),
            categorical_drift_method: spec.categorical_drift_method,
        };
        let input = serde_json::to_value(&input).map_err(|err| CloudError::Internal(err.to_string()))?;
        let execution = starter.start(job_name, &input).await?;
        log.line(format!(
            "The dataset ({} objects, {bytes} bytes; {why}) is baselined by the fan-out",
            objects.len()
        ));
        Ok(FanoutDecision::Started(execution))
    }

    /// Writes down the fan-out that has the job, and the lease it has until the job's
    /// MaxRuntimeInSeconds.
    async fn hand_off(
        &self,
        job_name: &str,
        execution: &str,
        until: DateTime<Utc>,
    ) -> Result<ProcessingJobRecord, CloudError> {
        edit_job(self.table.as_ref(), job_name, |record| {
            if record.processing_job_status.is_finished() {
                return Ok(Edit::Leave(record.clone()));
            }
            record.fanout_execution = Some(execution.to_string());
            record.lease_expires_at = Some(epoch_seconds(until));
            record.last_modified_time = epoch_seconds(Utc::now());
            Ok(Edit::Write(record.clone()))
        })
        .await
    }

    /// For the fan-out's merge step: whether the job is still to be finished. A job stopped
    /// meanwhile is ended Stopped here, and one past its MaxRuntimeInSeconds written down Failed;
    /// neither gets a baseline.
    pub async fn fanned_out_job_open(&self, job_name: &str) -> Result<bool, CloudError> {
        let (open, record) = edit_job(self.table.as_ref(), job_name, |record| {
            let now = Utc::now();
            let seen = record.seen_at(now);
            if seen != *record {
                *record = seen;
                return Ok(Edit::Write((false, record.clone())));
            }
            match record.processing_job_status {
                ProcessingJobStatus::InProgress => Ok(Edit::Leave((true, record.clone()))),
                ProcessingJobStatus::Stopping => {
                    let now = epoch_seconds(now);
                    record.processing_job_status = ProcessingJobStatus::Stopped;
                    record.exit_message = Some(STOPPED_MESSAGE.into());
                    record.processing_end_time = Some(now);
                    record.last_modified_time = now;
                    record.lease_expires_at = None;
                    Ok(Edit::Write((false, record.clone())))
                }
                _ => Ok(Edit::Leave((false, record.clone()))),
            }
        })
        .await?;
        if !open {
            let mut log = Log::of(&record, self.job_log.as_ref());
            log.line(ended_line(&record));
            log.flush().await;
        }
        Ok(open)
    }

    /// Ends a fanned-out job with the workflow's result: the merge step's outputs, or the
    /// failure step's reason (the failed batch's own).
    pub async fn end_fanned_out(
        &self,
        job_name: &str,
        result: Result<&BaselineOutputs, &str>,
    ) -> Result<ProcessingJobRecord, CloudError> {
        let record = edit_job(self.table.as_ref(), job_name, |record| Ok(Edit::Leave(record.clone()))).await?;
        let outcome = match result {
            Ok(outputs) => Outcome::Completed(exit_message(outputs)),
            Err(reason) => Outcome::Failed(reason.to_string()),
        };
        let mut log = Log::of(&record, self.job_log.as_ref());
        log.line(outcome.log_line());
        log.flush().await;
        let ended = self.end(job_name, outcome).await?;
        tracing::info!(job = %job_name, status = ?ended.processing_job_status, "fanned-out baselining job ended");
        Ok(ended)
    }

    /// Renews the lease; `false` when a Stop has been asked for.
    async fn renew(&self, job_name: &str) -> Result<bool, CloudError> {
        let lease = self.settings.lease;
        edit_job(self.table.as_ref(), job_name, |record| {
            match record.processing_job_status {
                ProcessingJobStatus::InProgress => {
                    record.lease_expires_at = Some(epoch_seconds(Utc::now() + lease));
                    Ok(Edit::Write(true))
                }
                _ => Ok(Edit::Leave(false)),
            }
        })
        .await
    }

    /// Writes the end state: the outcome, or Stopped if a Stop came first.
    async fn end(&self, job_name: &str, outcome: Outcome) -> Result<ProcessingJobRecord, CloudError> {
        edit_job(self.table.as_ref(), job_name, |record| {
            let now = epoch_seconds(Utc::now());
            match (record.processing_job_status, &outcome) {
                (ProcessingJobStatus::Stopping, _) | (ProcessingJobStatus::InProgress, Outcome::Stopped) => {
                    record.processing_job_status = ProcessingJobStatus::Stopped;
                    record.exit_message = Some(STOPPED_MESSAGE.into());
                }
                (ProcessingJobStatus::InProgress, Outcome::Completed(message)) => {
                    record.processing_job_status = ProcessingJobStatus::Completed;
                    record.exit_message = Some(truncate(message));
                }
                (ProcessingJobStatus::InProgress, Outcome::Failed(reason)) => {
                    record.processing_job_status = ProcessingJobStatus::Failed;
                    record.failure_reason = Some(truncate(reason));
                }
                // Someone else ended it (its lease had run out).
                _ => return Ok(Edit::Leave(record.clone())),
            }
            record.processing_end_time = Some(now);
            record.last_modified_time = now;
            record.lease_expires_at = None;
            Ok(Edit::Write(record.clone()))
        })
        .await
    }
}

/// The job's lines, written to its log stream in batches. A failure to write them is logged
/// and does not fail the job.
struct Log<'a> {
    stream: String,
    job_log: &'a dyn JobLog,
    pending: Vec<LogLine>,
}

impl<'a> Log<'a> {
    fn new(stream: String, job_log: &'a dyn JobLog) -> Self {
        Log {
            stream,
            job_log,
            pending: Vec::new(),
        }
    }

    /// The log of a claimed job: its stream is named after its start.
    fn of(record: &ProcessingJobRecord, job_log: &'a dyn JobLog) -> Self {
        let started = record
            .processing_start_time
            .map(from_epoch_seconds)
            .unwrap_or_else(Utc::now);
        Log::new(log_stream(&record.processing_job_name, started), job_log)
    }

    fn line(&mut self, message: String) {
        self.pending.push(LogLine {
            time: Utc::now(),
            message,
        });
    }

    async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let lines = std::mem::take(&mut self.pending);
        if let Err(err) = self.job_log.append(&self.stream, &lines).await {
            tracing::warn!(stream = %self.stream, error = %err, "could not write the job's log lines");
        }
    }
}

/// The line that says how an ended job ended: `Stopped: ...`, `Failed: ...`.
fn ended_line(record: &ProcessingJobRecord) -> String {
    let message = record.exit_message.as_deref().or(record.failure_reason.as_deref());
    format!("{:?}: {}", record.processing_job_status, message.unwrap_or_default())
}

/// The job's log stream, as SageMaker names a processing job's: `{job}/algo-1-{start epoch}`.
fn log_stream(job_name: &str, started: DateTime<Utc>) -> String {
    format!("{job_name}/algo-1-{}", started.timestamp())
}

/// `Completed`'s ExitMessage: what was baselined, and the account of the records.
fn exit_message(outputs: &BaselineOutputs) -> String {
    let records = &outputs.records;
    let mut message = format!(
        "Baselined {} records into {} and {}: {}.",
        records.analysed,
        outputs.statistics,
        outputs.constraints,
        records.summary()
    );
    for (reason, tally) in &records.rejected {
        if let Some(first) = tally.examples.first() {
            message.push_str(&format!(" First {}: {first}.", reason.as_str()));
        }
    }
    if !outputs.post_analytics_files.is_empty() {
        message.push_str(&format!(
            " The post-analytics processor ran and wrote {}.",
            outputs.post_analytics_files.join(", ")
        ));
    }
    message
}

async fn sleep_until(at: DateTime<Utc>) {
    let wait = (at - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
}

async fn sleep_until_some(at: Option<DateTime<Utc>>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}
