//! [`JobLog`] on CloudWatch Logs, in SageMaker's log group for processing jobs, where the SDK's
//! `wait(logs=True)` reads. The group and the stream are created on first use.

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;

use crate::ports::{JobLog, LogLine};
use crate::CloudError;

const SERVICE: &str = "logs";

/// SageMaker's log group of processing jobs.
pub const PROCESSING_JOBS_LOG_GROUP: &str = "/aws/sagemaker/ProcessingJobs";

#[derive(Debug, Clone)]
pub struct CloudWatchJobLog {
    pub client: aws_sdk_cloudwatchlogs::Client,
}

impl CloudWatchJobLog {
    pub fn new(config: &aws_config::SdkConfig) -> CloudWatchJobLog {
        CloudWatchJobLog {
            client: aws_sdk_cloudwatchlogs::Client::new(config),
        }
    }

    async fn put(&self, stream: &str, events: &[InputLogEvent]) -> Result<(), PutFailed> {
        let result = self
            .client
            .put_log_events()
            .log_group_name(PROCESSING_JOBS_LOG_GROUP)
            .log_stream_name(stream)
            .set_log_events(Some(events.to_vec()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Err(PutFailed::NoStream)
            }
            Err(err) => Err(PutFailed::Other(CloudError::aws(SERVICE, "PutLogEvents", err))),
        }
    }

    /// Creates the group (if missing) and the stream.
    async fn create_stream(&self, stream: &str) -> Result<(), CloudError> {
        let group = self
            .client
            .create_log_group()
            .log_group_name(PROCESSING_JOBS_LOG_GROUP)
            .send()
            .await;
        if let Err(err) = group {
            if !err
                .as_service_error()
                .is_some_and(|e| e.is_resource_already_exists_exception())
            {
                return Err(CloudError::aws(SERVICE, "CreateLogGroup", err));
            }
        }
        let created = self
            .client
            .create_log_stream()
            .log_group_name(PROCESSING_JOBS_LOG_GROUP)
            .log_stream_name(stream)
            .send()
            .await;
        match created {
            Err(err)
                if !err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_already_exists_exception()) =>
            {
                Err(CloudError::aws(SERVICE, "CreateLogStream", err))
            }
            _ => Ok(()),
        }
    }
}

enum PutFailed {
    NoStream,
    Other(CloudError),
}

#[async_trait]
impl JobLog for CloudWatchJobLog {
    async fn append(&self, stream: &str, lines: &[LogLine]) -> Result<(), CloudError> {
        if lines.is_empty() {
            return Ok(());
        }
        let events = lines
            .iter()
            .map(|line| {
                InputLogEvent::builder()
                    .timestamp(line.time.timestamp_millis())
                    .message(&line.message)
                    .build()
                    .map_err(|err| CloudError::aws(SERVICE, "PutLogEvents", err))
            })
            .collect::<Result<Vec<_>, _>>()?;
        match self.put(stream, &events).await {
            Ok(()) => Ok(()),
            Err(PutFailed::Other(err)) => Err(err),
            Err(PutFailed::NoStream) => {
                self.create_stream(stream).await?;
                match self.put(stream, &events).await {
                    Ok(()) => Ok(()),
                    Err(PutFailed::Other(err)) => Err(err),
                    Err(PutFailed::NoStream) => Err(CloudError::Aws {
                        service: SERVICE,
                        operation: "PutLogEvents",
                        message: format!("{PROCESSING_JOBS_LOG_GROUP} {stream}: no such stream after creating it"),
                    }),
                }
            }
        }
    }
}
