//! create-schedule: API Gateway (HTTP API, payload 2.0) in front of modelmon's
//! SageMaker-compatible control plane. `POST /` with `X-Amz-Target: SageMaker.<Operation>`.
//! CreateProcessingJob's baselining jobs start as asynchronous invocations of the baseline
//! function named by `BASELINE_FUNCTION_NAME`.

use std::sync::Arc;

use lambda_http::{run, service_fn, Error, Request};
use modelmon_cloud::aws::{load_sdk_config, DynamoTable, EventBridgeScheduler, LambdaLauncher, SchedulerSettings};
use modelmon_cloud::config::{optional, required};
use modelmon_cloud::control::{ControlPlane, ControlSettings};
use modelmon_cloud::AllowedBuckets;

mod handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let sdk = load_sdk_config().await;
    let mut plane = ControlPlane::new(
        Arc::new(DynamoTable::new(&sdk, required("TABLE_NAME")?)),
        Arc::new(EventBridgeScheduler::new(&sdk, SchedulerSettings::from_env()?)),
        ControlSettings::from_env()?,
    )
    .with_allowed_buckets(AllowedBuckets::from_env()?);
    if let Some(function) = optional("BASELINE_FUNCTION_NAME") {
        plane = plane.with_job_launcher(Arc::new(LambdaLauncher::new(&sdk, function)));
    }
    let plane = &plane;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handler::respond(plane, request).await)
    }))
    .await
}
