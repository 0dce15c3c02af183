//! [`JobLauncher`] on Lambda: an asynchronous invocation (`InvocationType: Event`) of the
//! baseline function with `{"processing_job_name": ...}`. Lambda queues the event and answers
//! at once; the function claims the job and runs it.

use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde_json::json;

use crate::control::records::ProcessingJobRecord;
use crate::ports::JobLauncher;
use crate::CloudError;

const SERVICE: &str = "lambda";

/// How long Lambda may hold the event before the function gets it: the template's
/// `EventInvokeConfig.MaximumEventAgeInSeconds` of the baseline function (900 s), and a minute.
pub const START_TIMEOUT_SECONDS: i64 = 960;

#[derive(Debug, Clone)]
pub struct LambdaLauncher {
    pub client: aws_sdk_lambda::Client,
    /// The baseline function's name (or ARN).
    pub function_name: String,
}

impl LambdaLauncher {
    pub fn new(config: &aws_config::SdkConfig, function_name: impl Into<String>) -> LambdaLauncher {
        LambdaLauncher {
            client: aws_sdk_lambda::Client::new(config),
            function_name: function_name.into(),
        }
    }
}

#[async_trait]
impl JobLauncher for LambdaLauncher {
    async fn launch(&self, job: &ProcessingJobRecord) -> Result<(), CloudError> {
        let event = json!({ "processing_job_name": job.processing_job_name });
        let output = self
            .client
            .invoke()
            .function_name(&self.function_name)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(event.to_string()))
            .send()
            .await
            .map_err(|err| CloudError::aws(SERVICE, "Invoke", err))?;
        if let Some(error) = output.function_error() {
            return Err(CloudError::Aws {
                service: SERVICE,
                operation: "Invoke",
                message: format!("{} answered with a function error: {error}", self.function_name),
            });
        }
        Ok(())
    }

    fn start_timeout(&self) -> chrono::Duration {
        chrono::Duration::seconds(START_TIMEOUT_SECONDS)
    }
}
