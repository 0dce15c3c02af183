//! Adapters of the ports to AWS: S3, DynamoDB, EventBridge Scheduler, CloudWatch metrics,
//! Lambda (starting processing jobs; the scripts function), CloudWatch Logs (their log lines) and
//! Step Functions (the fan-out of big baselines).
//! Each is behind a cargo feature of its own (`aws-s3`, ...; `aws` is all of them), so a binary
//! builds only the SDK crates it uses.
//!
//! Every client comes from one [`aws_config::SdkConfig`] loaded the standard way, so the endpoint,
//! region and credentials are the environment's business: in Lambda the execution role and
//! region, against an emulator `AWS_ENDPOINT_URL` (plus `S3_FORCE_PATH_STYLE=true`, which
//! [`S3Store::new`] reads because the Rust SDK has no environment switch for it).

#[cfg(feature = "aws-cloudwatch")]
mod cloudwatch;
#[cfg(feature = "aws-dynamodb")]
mod dynamodb;
#[cfg(feature = "aws-lambda")]
mod lambda;
#[cfg(feature = "aws-logs")]
mod logs;
#[cfg(feature = "aws-s3")]
mod s3;
#[cfg(feature = "aws-scheduler")]
mod scheduler;
#[cfg(feature = "aws-lambda")]
mod scripts;
#[cfg(feature = "aws-sfn")]
mod stepfunctions;

#[cfg(feature = "aws-cloudwatch")]
pub use cloudwatch::{CloudWatchMetrics, MAX_DATUMS_PER_REQUEST};
#[cfg(feature = "aws-dynamodb")]
pub use dynamodb::{create_table, DynamoTable, KIND_INDEX};
#[cfg(feature = "aws-lambda")]
pub use lambda::{LambdaLauncher, START_TIMEOUT_SECONDS};
#[cfg(feature = "aws-logs")]
pub use logs::{CloudWatchJobLog, PROCESSING_JOBS_LOG_GROUP};
#[cfg(feature = "aws-s3")]
pub use s3::S3Store;
#[cfg(feature = "aws-scheduler")]
pub use scheduler::{create_group, expression, EventBridgeScheduler, SchedulerSettings};
#[cfg(feature = "aws-lambda")]
pub use scripts::LambdaScripts;
#[cfg(feature = "aws-sfn")]
pub use stepfunctions::StepFunctionsFanout;

/// The SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`, ...).
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}
