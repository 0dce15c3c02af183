//! [`FanoutStarter`] on Step Functions: StartExecution of the `BaselineFanOut` state machine.

use async_trait::async_trait;

use crate::ports::FanoutStarter;
use crate::CloudError;

const SERVICE: &str = "states";

#[derive(Debug, Clone)]
pub struct StepFunctionsFanout {
    pub client: aws_sdk_sfn::Client,
    pub state_machine_arn: String,
}

impl StepFunctionsFanout {
    pub fn new(config: &aws_config::SdkConfig, state_machine_arn: impl Into<String>) -> StepFunctionsFanout {
        StepFunctionsFanout {
            client: aws_sdk_sfn::Client::new(config),
            state_machine_arn: state_machine_arn.into(),
        }
    }
}

#[async_trait]
impl FanoutStarter for StepFunctionsFanout {
    async fn start(&self, name: &str, input: &serde_json::Value) -> Result<String, CloudError> {
        // A STANDARD state machine answers a repeated name with the same input with the same
        // execution, so a redelivered job does not start a second one.
        let output = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await
            .map_err(|err| CloudError::aws(SERVICE, "StartExecution", err))?;
        Ok(output.execution_arn().to_string())
    }
}
