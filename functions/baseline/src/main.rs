//! baseline: a baselining job. Invoked (asynchronously, by create-schedule) with
//! `{"processing_job_name": ...}` it runs that processing job of CreateProcessingJob: claims its
//! record, keeps its lease, writes its end state and its log lines. Invoked with
//! `{"dataset_source", "dataset_format", "output_path"}` (S3 URIs) it baselines that dataset and
//! answers with where statistics.json and the suggested constraints.json went. The steps of the
//! `BaselineFanOut` state machine (template.yaml) invoke it with `{"fanout_plan": ...}`,
//! `{"fanout_batch": ...}`, `{"fanout_merge": ...}` and `{"fanout_failed": ...}`
//! (`modelmon_cloud::run::fanout`). A processing job too big for one function is handed to that
//! state machine (`FANOUT_STATE_MACHINE_ARN`), whose merge and failure steps end it.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{run, service_fn, Context, Diagnostic, Error, LambdaEvent};
use modelmon_cloud::aws::{
    load_sdk_config, CloudWatchJobLog, DynamoTable, LambdaScripts, S3Store, StepFunctionsFanout,
};
use modelmon_cloud::config::{number, optional, required};
use modelmon_cloud::ports::ObjectStore;
use modelmon_cloud::run::fanout::{self, Batch, FanoutFailure, FanoutJob, FanoutPlan};
use modelmon_cloud::run::{
    run_baseline, BaselineJob, FanoutSettings, JobRunResult, JobRunSettings, ProcessingJobRunner,
    DEFAULT_FANOUT_THRESHOLD_BYTES,
};
use modelmon_cloud::{AllowedBuckets, CloudError};
use serde::Deserialize;
use serde_json::{json, Value};

/// Time kept back from the function's limit to write the job's end state.
const END_STATE_MARGIN_SECONDS: i64 = 20;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum BaselineEvent {
    ProcessingJob { processing_job_name: String },
    FanoutPlan { fanout_plan: PlanRequest },
    FanoutBatch { fanout_batch: Batch },
    FanoutMerge { fanout_merge: FanoutPlan },
    FanoutFailed { fanout_failed: FanoutFailure },
    Direct(BaselineJob),
}

/// The plan step's input: the state machine's input (a baselining job, and the processing job
/// it runs if any) and its execution's name.
#[derive(Debug, Deserialize)]
struct PlanRequest {
    job: FanoutJob,
    execution: String,
}

fn answer<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).expect("the answers are plain data")
}

struct Function {
    store: Arc<dyn ObjectStore>,
    allowed: AllowedBuckets,
    runner: ProcessingJobRunner,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = load_sdk_config().await;
    let store: Arc<dyn ObjectStore> = Arc::new(S3Store::new(&sdk));
    let allowed = AllowedBuckets::from_env()?;
    let runner = ProcessingJobRunner::new(
        Arc::new(DynamoTable::new(&sdk, required("TABLE_NAME")?)),
        Arc::clone(&store),
        Arc::new(CloudWatchJobLog::new(&sdk)),
        JobRunSettings::from_env()?,
    )
    .with_allowed_buckets(allowed.clone());
    // Jobs' record preprocessors and post-analytics processors run in the scripts function.
    let runner = match optional("SCRIPTS_FUNCTION_NAME") {
        Some(function) => runner.with_scripts(Arc::new(LambdaScripts::new(&sdk, function))),
        None => runner,
    };
    // Jobs too big for one function go to the fan-out's state machine.
    let runner = match optional("FANOUT_STATE_MACHINE_ARN") {
        Some(arn) => runner.with_fanout(FanoutSettings {
            starter: Arc::new(StepFunctionsFanout::new(&sdk, arn)),
            threshold_bytes: number("FANOUT_THRESHOLD_BYTES", DEFAULT_FANOUT_THRESHOLD_BYTES)?,
        }),
        None => runner,
    };
    let function = &Function { store, allowed, runner };
    run(service_fn(move |event: LambdaEvent<BaselineEvent>| async move {
        handle(function, event.payload, &event.context).await
    }))
    .await
}

async fn handle(function: &Function, event: BaselineEvent, context: &Context) -> Result<Value, JobFailed> {
    match event {
        BaselineEvent::ProcessingJob { processing_job_name } => {
            let deadline = deadline(context.deadline, Utc::now());
            let result = function
                .runner
                .run(&processing_job_name, deadline)
                .await
                .map_err(JobFailed)?;
            Ok(match result {
                JobRunResult::Finished(record) => json!({
                    "processing_job_name": record.processing_job_name,
                    "status": record.processing_job_status,
                    "exit_message": record.exit_message,
                    "failure_reason": record.failure_reason,
                }),
                JobRunResult::Skipped(reason) => {
                    tracing::info!(job = %processing_job_name, %reason, "nothing to run");
                    json!({ "skipped": reason })
                }
            })
        }
        BaselineEvent::Direct(job) => {
            let outputs = run_baseline(&function.store, &job, &function.allowed, None)
                .await
                .map_err(JobFailed)?;
            Ok(answer(outputs))
        }
        BaselineEvent::FanoutPlan { fanout_plan } => {
            let plan = fanout::plan_fanout(
                &function.store,
                &fanout_plan.job,
                &fanout_plan.execution,
                &function.allowed,
            )
            .await
            .map_err(JobFailed)?;
            Ok(answer(plan))
        }
        BaselineEvent::FanoutBatch { fanout_batch } => {
            let outcome = fanout::profile_batch(&function.store, &fanout_batch, &function.allowed)
                .await
                .map_err(JobFailed)?;
            Ok(answer(outcome))
        }
        BaselineEvent::FanoutMerge { fanout_merge: plan } => {
            let job = plan.input.processing_job.as_deref();
            if let Some(job) = job {
                if !function.runner.fanned_out_job_open(job).await.map_err(JobFailed)? {
                    // Stopped, or out of time, while the Map ran: no baseline.
                    fanout::discard_partials(&function.store, &plan)
                        .await
                        .map_err(JobFailed)?;
                    return Ok(json!({ "skipped": format!("the processing job {job} has ended") }));
                }
            }
            // A failure here goes to the failure step, which ends the job.
            let outputs = fanout::merge_partials(&function.store, &plan, &function.allowed)
                .await
                .map_err(JobFailed)?;
            if let Some(job) = job {
                function
                    .runner
                    .end_fanned_out(job, Ok(&outputs))
                    .await
                    .map_err(JobFailed)?;
            }
            Ok(answer(outputs))
        }
        BaselineEvent::FanoutFailed { fanout_failed } => {
            let failure = fanout::fail_fanout(&function.store, &fanout_failed).await;
            if let Some(job) = &fanout_failed.processing_job {
                let reason = failure.to_string();
                function
                    .runner
                    .end_fanned_out(job, Err(&reason))
                    .await
                    .map_err(JobFailed)?;
            }
            Err(JobFailed(failure))
        }
    }
}

/// When the job must be ended so its end state is written within the invocation's time limit.
/// A limit already past when the invocation starts is not a real one (`cargo lambda watch`
/// sends 600000, ten minutes after 1970): such a run has no limit of its own.
fn deadline(deadline_ms: u64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let limit = DateTime::from_timestamp_millis(i64::try_from(deadline_ms).ok()?)?;
    (limit > now).then(|| limit - Duration::seconds(END_STATE_MARGIN_SECONDS))
}

#[derive(Debug)]
struct JobFailed(CloudError);

impl From<JobFailed> for Diagnostic {
    fn from(failed: JobFailed) -> Diagnostic {
        let error_type = match failed.0 {
            CloudError::Aws { .. } | CloudError::Io { .. } => "Retryable",
            _ => "JobFailed",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: failed.0.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use modelmon_cloud::local::{FileJobLog, FileTable, FsObjectStore};

    use super::*;

    fn function(dir: &std::path::Path, allowed: AllowedBuckets) -> Function {
        let store: Arc<dyn ObjectStore> = Arc::new(FsObjectStore::new(dir));
        let settings = JobRunSettings {
            lease: Duration::seconds(60),
            scratch: None,
        };
        let runner = ProcessingJobRunner::new(
            Arc::new(FileTable::new(dir.join("table"))),
            Arc::clone(&store),
            Arc::new(FileJobLog::new(dir.join("logs"))),
            settings,
        );
        Function { store, allowed, runner }
    }

    fn direct_event() -> BaselineEvent {
        serde_json::from_str(include_str!("../../../infra/events/baseline.json")).unwrap()
    }

    #[tokio::test]
    async fn the_event_of_infra_events_baselines_its_dataset() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("modelmon-models/churn/training/train.csv");
        std::fs::create_dir_all(data.parent().unwrap()).unwrap();
        std::fs::write(&data, "age,plan\n31,basic\n45,pro\n,basic\n").unwrap();
        let outputs = handle(
            &function(dir.path(), AllowedBuckets::any()),
            direct_event(),
            &Context::default(),
        )
        .await
        .unwrap();
        assert_eq!(
            outputs["statistics"],
            "s3://modelmon-models/churn/baseline/statistics.json"
        );
        assert_eq!(
            (
                outputs["records"]["read"].as_u64(),
                outputs["records"]["analysed"].as_u64()
            ),
            (Some(3), Some(3))
        );
        let constraints =
            std::fs::read_to_string(dir.path().join("modelmon-models/churn/baseline/constraints.json")).unwrap();
        assert!(constraints.contains("\"name\" : \"age\""), "{constraints}");
    }

    #[tokio::test]
    async fn buckets_outside_the_allowed_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let function = function(dir.path(), AllowedBuckets::only(["reports"]));
        let failed = handle(&function, direct_event(), &Context::default())
            .await
            .unwrap_err();
        assert_eq!(
            Diagnostic::from(failed).error_message,
            "dataset_source s3://modelmon-models/churn/training/train.csv is outside the buckets this deployment may use (reports)"
        );
    }

    #[tokio::test]
    async fn a_failed_job_says_why_and_whether_to_retry() {
        let dir = tempfile::tempdir().unwrap();
        let failed = handle(
            &function(dir.path(), AllowedBuckets::any()),
            direct_event(),
            &Context::default(),
        )
        .await
        .unwrap_err();
        let diagnostic = Diagnostic::from(failed);
        assert_eq!(diagnostic.error_type, "JobFailed");
        assert_eq!(
            diagnostic.error_message,
            "s3://modelmon-models/churn/training/train.csv: no objects to baseline"
        );
    }

    #[tokio::test]
    async fn the_processing_job_event_of_infra_events_names_its_job() {
        let event: BaselineEvent =
            serde_json::from_str(include_str!("../../../infra/events/baseline-processing-job.json")).unwrap();
        let name = "baseline-suggestion-job-2026-11-25-13-00-00-000";
        assert!(matches!(&event, BaselineEvent::ProcessingJob { processing_job_name } if processing_job_name == name));
        let dir = tempfile::tempdir().unwrap();
        let answer = handle(&function(dir.path(), AllowedBuckets::any()), event, &Context::default())
            .await
            .unwrap();
        assert_eq!(
            answer,
            json!({ "skipped": format!("Processing job '{name}' does not exist") })
        );
    }

    #[test]
    fn a_deadline_in_the_past_is_no_deadline() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T13:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(deadline(600_000, now), None);
        let limit = now + Duration::seconds(900);
        assert_eq!(
            deadline(limit.timestamp_millis() as u64, now),
            Some(limit - Duration::seconds(END_STATE_MARGIN_SECONDS))
        );
    }
}
