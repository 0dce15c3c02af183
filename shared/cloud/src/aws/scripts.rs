//! [`ScriptRunner`] on the scripts Lambda function (a Python runtime running
//! `functions/scripts/`): one synchronous invocation per request.

use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;

use crate::ports::ScriptRunner;
use crate::CloudError;

const SERVICE: &str = "lambda";

/// Lambda's limit on a synchronous invocation's request, and on its response: 6 MB.
pub const PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// Invocations of the scripts function in flight at once for one run (each a batch of records).
const PARALLEL_INVOCATIONS: usize = 8;

/// The scripts function, invoked by name or ARN.
#[derive(Debug, Clone)]
pub struct LambdaScripts {
    pub client: aws_sdk_lambda::Client,
    pub function: String,
}

impl LambdaScripts {
    pub fn new(config: &aws_config::SdkConfig, function: impl Into<String>) -> LambdaScripts {
        LambdaScripts {
            client: aws_sdk_lambda::Client::new(config),
            function: function.into(),
        }
    }
}

#[async_trait]
impl ScriptRunner for LambdaScripts {
    fn payload_limit(&self) -> usize {
        PAYLOAD_LIMIT
    }

    fn parallelism(&self) -> usize {
        PARALLEL_INVOCATIONS
    }

    async fn answer(&self, request: Vec<u8>) -> Result<Vec<u8>, CloudError> {
        let output = self
            .client
            .invoke()
            .function_name(&self.function)
            .payload(Blob::new(request))
            .send()
            .await
            .map_err(|err| CloudError::aws(SERVICE, "Invoke", err))?;
        let payload = output.payload.map(Blob::into_inner).unwrap_or_default();
        if let Some(kind) = output.function_error {
            // The runtime's own error (the runner crashed, ran out of time or memory): Lambda's
            // {"errorType", "errorMessage"}.
            let error: serde_json::Value = serde_json::from_slice(&payload).unwrap_or_default();
            return Err(CloudError::Script(format!(
                "the scripts function {} failed ({kind}): {}: {}",
                self.function,
                error["errorType"].as_str().unwrap_or("unknown error"),
                error["errorMessage"].as_str().unwrap_or_default()
            )));
        }
        Ok(payload)
    }
}
