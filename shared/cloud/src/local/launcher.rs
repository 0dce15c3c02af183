//! [`JobLauncher`] for `modelmon serve`: the job runs in a task of this process.

use std::sync::Arc;

use async_trait::async_trait;

use crate::control::records::ProcessingJobRecord;
use crate::ports::JobLauncher;
use crate::run::{JobRunResult, ProcessingJobRunner};
use crate::CloudError;

pub struct InProcessLauncher {
    runner: Arc<ProcessingJobRunner>,
}

impl InProcessLauncher {
    pub fn new(runner: Arc<ProcessingJobRunner>) -> InProcessLauncher {
        InProcessLauncher { runner }
    }
}

#[async_trait]
impl JobLauncher for InProcessLauncher {
    async fn launch(&self, job: &ProcessingJobRecord) -> Result<(), CloudError> {
        let runner = Arc::clone(&self.runner);
        let name = job.processing_job_name.clone();
        tokio::spawn(async move {
            match runner.run(&name, None).await {
                Ok(JobRunResult::Finished(record)) => {
                    tracing::info!(job = %name, status = ?record.processing_job_status, "processing job ended")
                }
                Ok(JobRunResult::Skipped(reason)) => tracing::info!(job = %name, %reason, "processing job skipped"),
                Err(err) => tracing::error!(job = %name, error = %err, "processing job could not be run"),
            }
        });
        Ok(())
    }

    /// The task starts at once; a minute covers a busy machine.
    fn start_timeout(&self) -> chrono::Duration {
        chrono::Duration::minutes(1)
    }
}
