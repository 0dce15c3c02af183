//! Adapters of the ports to AWS: S3, DynamoDB, EventBridge Scheduler, CloudWatch, and Lambda
//! (the scripts function).
//!
//! Every client comes from one [`aws_config::SdkConfig`] loaded the standard way, so the endpoint,
//! region and credentials are the environment's business: in Lambda the execution role and
//! region, against an emulator `AWS_ENDPOINT_URL` (plus `S3_FORCE_PATH_STYLE=true`, which
//! [`S3Store::new`] reads because the Rust SDK has no environment switch for it).

mod cloudwatch;
mod dynamodb;
mod lambda;
mod s3;
mod scheduler;

pub use cloudwatch::{CloudWatchMetrics, MAX_DATUMS_PER_REQUEST};
pub use dynamodb::{create_table, DynamoTable, KIND_INDEX};
pub use lambda::LambdaScripts;
pub use s3::S3Store;
pub use scheduler::{create_group, expression, EventBridgeScheduler, SchedulerSettings};

/// The SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`, ...).
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}
