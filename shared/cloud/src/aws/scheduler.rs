//! [`Scheduler`] on EventBridge Scheduler: one schedule per monitoring schedule, in one group,
//! targeting the analysis function with the schedule's name and the scheduled time.

use async_trait::async_trait;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, ScheduleState,
    Target,
};

use crate::ports::{Cadence, ScheduleSpec, Scheduler};
use crate::CloudError;

const SERVICE: &str = "scheduler";

/// The context attribute EventBridge Scheduler replaces with the invocation's scheduled time.
const SCHEDULED_TIME: &str = "<aws.scheduler.scheduled-time>";

/// Where the schedules live and what they invoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerSettings {
    /// The schedule group (created with the stack).
    pub group_name: String,
    /// The analysis function's ARN.
    pub target_arn: String,
    /// The role EventBridge Scheduler assumes to invoke the target.
    pub role_arn: String,
    /// An SQS queue for invocations that failed after all retries.
    pub dead_letter_arn: Option<String>,
    /// 0 to 185.
    pub max_retry_attempts: i32,
    /// 60 to 86400.
    pub max_event_age_seconds: i32,
}

#[derive(Debug, Clone)]
pub struct EventBridgeScheduler {
    pub client: aws_sdk_scheduler::Client,
    pub settings: SchedulerSettings,
}

impl EventBridgeScheduler {
    pub fn new(config: &aws_config::SdkConfig, settings: SchedulerSettings) -> EventBridgeScheduler {
        EventBridgeScheduler {
            client: aws_sdk_scheduler::Client::new(config),
            settings,
        }
    }

    /// What CreateSchedule and UpdateSchedule both carry for `spec`.
    fn definition(&self, spec: &ScheduleSpec, operation: &'static str) -> Result<Definition, CloudError> {
        let settings = &self.settings;
        let input = serde_json::json!({ "schedule_name": spec.name, "scheduled_time": SCHEDULED_TIME }).to_string();
        let retry_policy = RetryPolicy::builder()
            .maximum_retry_attempts(settings.max_retry_attempts)
            .maximum_event_age_in_seconds(settings.max_event_age_seconds)
            .build();
        let target = Target::builder()
            .arn(&settings.target_arn)
            .role_arn(&settings.role_arn)
            .input(input)
            .retry_policy(retry_policy)
            .set_dead_letter_config(
                settings
                    .dead_letter_arn
                    .as_ref()
                    .map(|arn| DeadLetterConfig::builder().arn(arn).build()),
            )
            .build()
            .map_err(|err| CloudError::aws(SERVICE, operation, err))?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|err| CloudError::aws(SERVICE, operation, err))?;
        Ok(Definition {
            expression: expression(&spec.cadence),
            target,
            window,
            state: if spec.enabled {
                ScheduleState::Enabled
            } else {
                ScheduleState::Disabled
            },
        })
    }
}

struct Definition {
    expression: String,
    target: Target,
    window: FlexibleTimeWindow,
    state: ScheduleState,
}

/// The schedule group's time zone for every expression.
const TIMEZONE: &str = "UTC";

/// The EventBridge Scheduler expression for a cadence (evaluated in UTC).
pub fn expression(cadence: &Cadence) -> String {
    match *cadence {
        Cadence::Hours { every_hours: 1, .. } => "cron(0 * * * ? *)".to_string(),
        Cadence::Hours {
            first_hour,
            every_hours: 24,
        } => format!("cron(0 {first_hour} * * ? *)"),
        Cadence::Hours {
            first_hour,
            every_hours,
        } => format!("cron(0 {first_hour}/{every_hours} * * ? *)"),
        Cadence::Minutes { minutes } => format!("cron(0/{minutes} * * * ? *)"),
        Cadence::Once { at } => format!("at({})", at.format("%Y-%m-%dT%H:%M:%S")),
    }
}

#[async_trait]
impl Scheduler for EventBridgeScheduler {
    async fn create(&self, spec: &ScheduleSpec) -> Result<(), CloudError> {
        let operation = "CreateSchedule";
        let definition = self.definition(spec, operation)?;
        let result = self
            .client
            .create_schedule()
            .name(&spec.name)
            .group_name(&self.settings.group_name)
            .schedule_expression(definition.expression)
            .schedule_expression_timezone(TIMEZONE)
            .flexible_time_window(definition.window)
            .state(definition.state)
            .action_after_completion(ActionAfterCompletion::None)
            .target(definition.target)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conflict_exception()) => {
                Err(CloudError::AlreadyExists {
                    what: format!("EventBridge schedule {}", spec.name),
                })
            }
            Err(err) => Err(CloudError::aws(SERVICE, operation, err)),
        }
    }

    async fn update(&self, spec: &ScheduleSpec) -> Result<(), CloudError> {
        let operation = "UpdateSchedule";
        let definition = self.definition(spec, operation)?;
        let result = self
            .client
            .update_schedule()
            .name(&spec.name)
            .group_name(&self.settings.group_name)
            .schedule_expression(definition.expression)
            .schedule_expression_timezone(TIMEZONE)
            .flexible_time_window(definition.window)
            .state(definition.state)
            .action_after_completion(ActionAfterCompletion::None)
            .target(definition.target)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Err(CloudError::ItemNotFound {
                    what: format!("EventBridge schedule {}", spec.name),
                })
            }
            Err(err) => Err(CloudError::aws(SERVICE, operation, err)),
        }
    }

    async fn delete(&self, name: &str) -> Result<(), CloudError> {
        let result = self
            .client
            .delete_schedule()
            .name(name)
            .group_name(&self.settings.group_name)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(CloudError::aws(SERVICE, "DeleteSchedule", err)),
        }
    }
}

/// Creates the schedule group `name` unless it exists: for tests and local stacks. (It asks
/// first because moto's CreateScheduleGroup silently replaces an existing group, schedules and
/// all, where EventBridge Scheduler answers ConflictException.)
pub async fn create_group(client: &aws_sdk_scheduler::Client, name: &str) -> Result<(), CloudError> {
    match client.get_schedule_group().name(name).send().await {
        Ok(_) => return Ok(()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) => {}
        Err(err) => return Err(CloudError::aws(SERVICE, "GetScheduleGroup", err)),
    }
    match client.create_schedule_group().name(name).send().await {
        Ok(_) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_conflict_exception()) => Ok(()),
        Err(err) => Err(CloudError::aws(SERVICE, "CreateScheduleGroup", err)),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn hourly_daily_and_every_n_hours() {
        assert_eq!(
            expression(&Cadence::Hours {
                first_hour: 0,
                every_hours: 1
            }),
            "cron(0 * * * ? *)"
        );
        // Hourly ignores the first hour: every hour is one.
        assert_eq!(
            expression(&Cadence::Hours {
                first_hour: 5,
                every_hours: 1
            }),
            "cron(0 * * * ? *)"
        );
        assert_eq!(
            expression(&Cadence::Hours {
                first_hour: 0,
                every_hours: 24
            }),
            "cron(0 0 * * ? *)"
        );
        assert_eq!(
            expression(&Cadence::Hours {
                first_hour: 7,
                every_hours: 24
            }),
            "cron(0 7 * * ? *)"
        );
        assert_eq!(
            expression(&Cadence::Hours {
                first_hour: 2,
                every_hours: 6
            }),
            "cron(0 2/6 * * ? *)"
        );
        assert_eq!(
            expression(&Cadence::Hours {
                first_hour: 0,
                every_hours: 12
            }),
            "cron(0 0/12 * * ? *)"
        );
    }

    #[test]
    fn sub_hourly() {
        assert_eq!(expression(&Cadence::Minutes { minutes: 5 }), "cron(0/5 * * * ? *)");
        assert_eq!(expression(&Cadence::Minutes { minutes: 30 }), "cron(0/30 * * * ? *)");
    }

    #[test]
    fn once_drops_fractions_and_zone() {
        let at = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap() + chrono::Duration::milliseconds(890);
        assert_eq!(expression(&Cadence::Once { at }), "at(2026-03-04T05:06:07)");
    }
}
