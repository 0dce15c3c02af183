//! baseline: a baselining job, `{"dataset_source", "dataset_format", "output_path"}` with S3
//! URIs, writes statistics.json and the suggested constraints.json.

use std::sync::Arc;

use lambda_runtime::{run, service_fn, Diagnostic, Error, LambdaEvent};
use modelmon_cloud::aws::{load_sdk_config, S3Store};
use modelmon_cloud::ports::ObjectStore;
use modelmon_cloud::run::{run_baseline, BaselineJob, BaselineOutputs};
use modelmon_cloud::{AllowedBuckets, CloudError};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = load_sdk_config().await;
    let store: Arc<dyn ObjectStore> = Arc::new(S3Store::new(&sdk));
    let allowed = AllowedBuckets::from_env()?;
    let (store, allowed) = (&store, &allowed);
    run(service_fn(move |event: LambdaEvent<BaselineJob>| async move {
        handle(store, allowed, event.payload).await
    }))
    .await
}

async fn handle(
    store: &Arc<dyn ObjectStore>,
    allowed: &AllowedBuckets,
    job: BaselineJob,
) -> Result<BaselineOutputs, JobFailed> {
    run_baseline(store, &job, allowed, None).await.map_err(JobFailed)
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
    use modelmon_cloud::local::FsObjectStore;

    use super::*;

    #[tokio::test]
    async fn the_event_of_infra_events_baselines_its_dataset() {
        let dir = tempfile::tempdir().unwrap();
        let job: BaselineJob = serde_json::from_str(include_str!("../../../infra/events/baseline.json")).unwrap();
        let data = dir.path().join("modelmon-models/churn/training/train.csv");
        std::fs::create_dir_all(data.parent().unwrap()).unwrap();
        std::fs::write(&data, "age,plan\n31,basic\n45,pro\n,basic\n").unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(FsObjectStore::new(dir.path()));
        let outputs = handle(&store, &AllowedBuckets::any(), job).await.unwrap();
        assert_eq!(
            outputs.statistics,
            "s3://modelmon-models/churn/baseline/statistics.json"
        );
        assert_eq!((outputs.records.read, outputs.records.analysed), (3, 3));
        let constraints =
            std::fs::read_to_string(dir.path().join("modelmon-models/churn/baseline/constraints.json")).unwrap();
        assert!(constraints.contains("\"name\" : \"age\""), "{constraints}");
    }

    #[tokio::test]
    async fn buckets_outside_the_allowed_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(FsObjectStore::new(dir.path()));
        let job: BaselineJob = serde_json::from_str(include_str!("../../../infra/events/baseline.json")).unwrap();
        let allowed = AllowedBuckets::only(["reports"]);
        let diagnostic = Diagnostic::from(handle(&store, &allowed, job).await.unwrap_err());
        assert_eq!(
            diagnostic.error_message,
            "dataset_source s3://modelmon-models/churn/training/train.csv is outside the buckets this deployment may use (reports)"
        );
    }

    #[tokio::test]
    async fn a_failed_job_says_why_and_whether_to_retry() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(FsObjectStore::new(dir.path()));
        let job: BaselineJob = serde_json::from_str(include_str!("../../../infra/events/baseline.json")).unwrap();
        let diagnostic = Diagnostic::from(handle(&store, &AllowedBuckets::any(), job).await.unwrap_err());
        assert_eq!(diagnostic.error_type, "JobFailed");
        assert_eq!(
            diagnostic.error_message,
            "s3://modelmon-models/churn/training/train.csv: no objects to baseline"
        );
    }
}
