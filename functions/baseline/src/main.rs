//! baseline: a baselining job, `{"dataset_source", "dataset_format", "output_path"}` with S3
//! URIs, writes statistics.json and the suggested constraints.json.

use std::sync::Arc;

use lambda_runtime::{run, service_fn, Diagnostic, Error, LambdaEvent};
use modelmon_cloud::aws::{load_sdk_config, S3Store};
use modelmon_cloud::ports::ObjectStore;
use modelmon_cloud::run::{run_baseline, BaselineJob};
use modelmon_cloud::CloudError;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = load_sdk_config().await;
    let store: Arc<dyn ObjectStore> = Arc::new(S3Store::new(&sdk));
    let store = &store;
    run(service_fn(move |event: LambdaEvent<BaselineJob>| async move {
        run_baseline(store, &event.payload, None).await.map_err(JobFailed)
    }))
    .await
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
