//! Settings from the environment, read once at start-up; a missing or malformed variable is an
//! error that names it.

use chrono::Duration;

use crate::control::ControlSettings;
use crate::run::{JobRunSettings, RunSettings};
use crate::{AllowedBuckets, CloudError, ObjectUri};

pub fn required(name: &str) -> Result<String, CloudError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(CloudError::Config(format!("environment variable {name} is not set"))),
    }
}

pub fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

/// An optional number, `default` when unset.
pub fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, CloudError> {
    match optional(name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| CloudError::Config(format!("environment variable {name}={text:?} is not a number"))),
    }
}

impl AllowedBuckets {
    /// `ALLOWED_BUCKETS`: the comma-separated buckets the functions may use; unset allows any.
    pub fn from_env() -> Result<AllowedBuckets, CloudError> {
        Ok(match optional("ALLOWED_BUCKETS") {
            None => AllowedBuckets::any(),
            Some(list) => AllowedBuckets::only(list.split(',').map(str::trim).filter(|b| !b.is_empty())),
        })
    }
}

impl ControlSettings {
    /// `AWS_REGION` (set by Lambda), `ACCOUNT_ID`, and `MAX_MONITORING_SCHEDULES` (default 1000).
    pub fn from_env() -> Result<ControlSettings, CloudError> {
        Ok(ControlSettings {
            region: required("AWS_REGION")?,
            account_id: required("ACCOUNT_ID")?,
            max_schedules: number("MAX_MONITORING_SCHEDULES", 1000)?,
        })
    }
}

impl RunSettings {
    /// `CAPTURE_DESTINATION_S3_URI` (optional) and `CLAIM_TIMEOUT_SECONDS` (default 960: the
    /// longest a Lambda function runs, 900 s, and a minute).
    pub fn from_env() -> Result<RunSettings, CloudError> {
        Ok(RunSettings {
            capture_destination: optional("CAPTURE_DESTINATION_S3_URI")
                .map(|uri| ObjectUri::parse(&uri))
                .transpose()?,
            claim_timeout: Duration::seconds(number("CLAIM_TIMEOUT_SECONDS", 960)?),
            scratch: None,
        })
    }
}

impl JobRunSettings {
    /// `PROCESSING_JOB_LEASE_SECONDS` (default 60): how long a baselining job's runner may go
    /// without renewing its lease before the job counts as lost.
    pub fn from_env() -> Result<JobRunSettings, CloudError> {
        Ok(JobRunSettings {
            lease: Duration::seconds(number("PROCESSING_JOB_LEASE_SECONDS", 60)?),
            scratch: None,
        })
    }
}

#[cfg(feature = "aws-scheduler")]
impl crate::aws::SchedulerSettings {
    /// `SCHEDULE_GROUP`, `ANALYZE_FUNCTION_ARN`, `SCHEDULER_ROLE_ARN`, `DEAD_LETTER_QUEUE_ARN`
    /// (optional), `MAX_RETRY_ATTEMPTS` (default 2) and `MAX_EVENT_AGE_SECONDS` (default 3600).
    pub fn from_env() -> Result<crate::aws::SchedulerSettings, CloudError> {
        Ok(crate::aws::SchedulerSettings {
            group_name: required("SCHEDULE_GROUP")?,
            target_arn: required("ANALYZE_FUNCTION_ARN")?,
            role_arn: required("SCHEDULER_ROLE_ARN")?,
            dead_letter_arn: optional("DEAD_LETTER_QUEUE_ARN"),
            max_retry_attempts: number("MAX_RETRY_ATTEMPTS", 2)?,
            max_event_age_seconds: number("MAX_EVENT_AGE_SECONDS", 3600)?,
        })
    }
}
