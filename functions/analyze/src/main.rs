//! analyze: fired by EventBridge Scheduler with `{"schedule_name", "scheduled_time"}`; one
//! analysis run of that schedule's window.

use std::sync::Arc;

use lambda_runtime::{run, service_fn, Diagnostic, Error, LambdaEvent};
use modelmon_cloud::aws::{load_sdk_config, CloudWatchMetrics, DynamoTable, LambdaScripts, S3Store};
use modelmon_cloud::config::{optional, required};
use modelmon_cloud::run::{AnalysisRunner, RunResult, RunSettings, ScheduledRun};
use modelmon_cloud::{AllowedBuckets, CloudError};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = load_sdk_config().await;
    let runner = AnalysisRunner::new(
        Arc::new(DynamoTable::new(&sdk, required("TABLE_NAME")?)),
        Arc::new(S3Store::new(&sdk)),
        Arc::new(CloudWatchMetrics::new(&sdk)),
        RunSettings::from_env()?,
    )
    .with_allowed_buckets(AllowedBuckets::from_env()?);
    // Jobs' record preprocessors and post-analytics processors run in the scripts function.
    let runner = match optional("SCRIPTS_FUNCTION_NAME") {
        Some(function) => runner.with_scripts(Arc::new(LambdaScripts::new(&sdk, function))),
        None => runner,
    };
    let runner = &runner;
    run(service_fn(move |event: LambdaEvent<ScheduledRun>| async move {
        handle(runner, event.payload).await
    }))
    .await
}

/// The run's outcome as the invocation's result. A failure a retry may cure is returned as an
/// error, so the scheduler's retry policy and dead-letter queue see it; the execution record
/// says Failed and why in every case.
async fn handle(runner: &AnalysisRunner, event: ScheduledRun) -> Result<Value, RetryableFailure> {
    match runner.run(&event).await.map_err(RetryableFailure)? {
        RunResult::Finished(record) => Ok(json!({
            "status": record.summary.monitoring_execution_status,
            "failure_reason": record.summary.failure_reason,
            "report_uri": record.report_uri,
            "exit_message": record.exit_message,
            "timings": record.timings,
        })),
        RunResult::Skipped(reason) => {
            tracing::info!(%reason, "nothing to run");
            Ok(json!({ "skipped": reason }))
        }
    }
}

#[derive(Debug)]
struct RetryableFailure(CloudError);

impl From<RetryableFailure> for Diagnostic {
    fn from(failure: RetryableFailure) -> Diagnostic {
        Diagnostic {
            error_type: "Retryable".into(),
            error_message: failure.0.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use modelmon_cloud::local::{FileMetrics, FileTable, FsObjectStore};

    use super::*;

    fn runner(dir: &std::path::Path) -> AnalysisRunner {
        let settings = RunSettings {
            capture_destination: None,
            claim_timeout: Duration::minutes(15),
            scratch: None,
            read: Default::default(),
        };
        AnalysisRunner::new(
            Arc::new(FileTable::new(dir.join("table"))),
            Arc::new(FsObjectStore::new(dir.join("s3"))),
            Arc::new(FileMetrics::new(dir.join("metrics.jsonl"))),
            settings,
        )
    }

    #[tokio::test]
    async fn the_scheduler_event_of_infra_events_is_read_and_answered() {
        let dir = tempfile::tempdir().unwrap();
        let event: ScheduledRun = serde_json::from_str(include_str!("../../../infra/events/analyze.json")).unwrap();
        assert_eq!(event.scheduled_time.to_rfc3339(), "2026-11-25T14:00:00+00:00");
        let answer = handle(&runner(dir.path()), event).await.unwrap();
        assert_eq!(
            answer,
            json!({"skipped": "monitoring schedule 'churn-hourly' does not exist"})
        );
    }
}
