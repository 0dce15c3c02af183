//! The control plane and the analysis run on the AWS adapters when the services fail: the SDK
//! clients talk to moto through a fault-injecting proxy (tests/common/fault_proxy.rs), and what
//! was left behind is checked in moto directly. Retries cure passing faults; a persistent one
//! ends as an error that says what failed, with no orphan records or timers, a Failed execution
//! with the reason, and a retried run that counts once.

use crate::common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, TimeZone, Utc};
use modelmon_cloud::aws::{CloudWatchMetrics, DynamoTable, EventBridgeScheduler, S3Store};
use modelmon_cloud::control::api::handle;
use modelmon_cloud::control::ControlPlane;
use modelmon_cloud::ports::ObjectStore;
use modelmon_cloud::run::{AnalysisRunner, RunResult, ScheduledRun};
use serde_json::{json, Value};

use common::fault_proxy::{Fault, FaultProxy};
use common::scenario::{self, ENDPOINT};
use common::{sdk_config, unique};

const ANALYZE_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:modelmon-analyze";
const PUT_ITEM: &str = "DynamoDB_20120810.PutItem";
/// Only the conditional create of a record (an update's condition is on the version).
const INSERT: &str = "attribute_not_exists(pk)";
const CREATE_TIMER: &str = "POST /schedules/";
const DELETE_TIMER: &str = "DELETE /schedules/";
const PUT_METRIC_DATA: &str = "Action=PutMetricData";
/// Each attempt's limit in the proxied clients; a `Fault::Delay` is longer.
const ATTEMPT_TIMEOUT: StdDuration = StdDuration::from_secs(2);
const STALL: StdDuration = StdDuration::from_secs(5);

struct Stack {
    proxy: FaultProxy,
    /// Straight to moto: what the faults left behind.
    direct: aws_config::SdkConfig,
    table_name: String,
    group: String,
    bucket: String,
    store: Arc<dyn ObjectStore>,
    plane: Arc<ControlPlane>,
    runner: AnalysisRunner,
}

impl Stack {
    async fn new() -> Stack {
        let direct = sdk_config().await;
        let upstream = std::env::var("AWS_ENDPOINT_URL").unwrap();
        let proxy = FaultProxy::start(&upstream).await;
        // Three attempts, short back-off, a per-attempt timeout: faults cost seconds, not minutes.
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&proxy.url)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(StdDuration::from_millis(20)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .build(),
            )
            .load()
            .await;
        let (table_name, group) = common::table_and_group(&direct).await;
        let bucket = unique("bucket");
        S3Store::new(&direct)
            .client
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        let settings = scenario::scheduler_settings(&group, ANALYZE_ARN);
        let table = Arc::new(DynamoTable::new(&sdk, &table_name));
        let control = scenario::control_settings();
        let plane = Arc::new(ControlPlane::new(
            table.clone(),
            Arc::new(EventBridgeScheduler::new(&sdk, settings)),
            control,
        ));
        let store: Arc<dyn ObjectStore> = Arc::new(S3Store::new(&sdk));
        let runner = AnalysisRunner::new(
            table,
            store.clone(),
            Arc::new(CloudWatchMetrics::new(&sdk)),
            crate::run_settings(Some(&format!("s3://{bucket}/datacapture"))),
        );
        Stack {
            proxy,
            direct,
            table_name,
            group,
            bucket,
            store,
            plane,
            runner,
        }
    }

    /// The proxy's pattern for an S3 request on this stack's bucket: `"PUT"`, `"reports/"`.
    fn s3(&self, method: &str, key: &str) -> String {
        format!("{method} /{}/{key}", self.bucket)
    }

    async fn call(&self, operation: &str, body: Value) -> (u16, Value) {
        let response = handle(
            &self.plane,
            Some(&format!("SageMaker.{operation}")),
            body.to_string().as_bytes(),
        )
        .await;
        (response.status, serde_json::from_slice(&response.body).unwrap())
    }

    async fn ok(&self, operation: &str, body: Value) -> Value {
        let (status, response) = self.call(operation, body).await;
        assert_eq!(status, 200, "{operation}: {response}");
        response
    }

    /// The baseline of `age,plan` training data, and a schedule `name` on it, hourly.
    async fn schedule(&self, name: &str) {
        scenario::baseline(&self.store, &self.bucket).await;
        self.ok("CreateMonitoringSchedule", self.create_request(name)).await;
    }

    async fn capture(&self, hour: DateTime<Utc>, drift: bool) {
        scenario::capture(&self.store, &self.bucket, hour, drift).await
    }

    fn create_request(&self, name: &str) -> Value {
        scenario::create_request(&self.bucket, name, "cron(0 * ? * * *)")
    }

    /// The schedule's DynamoDB item, read in moto directly.
    async fn item(&self, name: &str) -> Option<std::collections::HashMap<String, AttributeValue>> {
        aws_sdk_dynamodb::Client::new(&self.direct)
            .get_item()
            .table_name(&self.table_name)
            .key("pk", AttributeValue::S(format!("schedule#{name}")))
            .key("sk", AttributeValue::S("schedule".into()))
            .send()
            .await
            .unwrap()
            .item
    }

    /// Whether the schedule's EventBridge timer exists, asked of moto directly.
    async fn has_timer(&self, name: &str) -> bool {
        aws_sdk_scheduler::Client::new(&self.direct)
            .get_schedule()
            .group_name(&self.group)
            .name(name)
            .send()
            .await
            .is_ok()
    }

    async fn executions(&self, name: &str) -> Vec<Value> {
        let listed = self
            .ok("ListMonitoringExecutions", json!({"MonitoringScheduleName": name}))
            .await;
        listed["MonitoringExecutionSummaries"].as_array().unwrap().clone()
    }

    /// The FailureReason of the schedule's one Failed execution.
    async fn the_failure_reason(&self, name: &str) -> String {
        let executions = self.executions(name).await;
        let failed: Vec<&Value> = executions
            .iter()
            .filter(|e| e["MonitoringExecutionStatus"] == "Failed")
            .collect();
        assert_eq!(failed.len(), 1, "{executions:?}");
        failed[0]["FailureReason"].as_str().unwrap().to_string()
    }

    /// How many data points CloudWatch (moto, directly) holds of the schedule's age drift metric
    /// around `hour`. moto's GetMetricData matches dimensions but not the namespace, so the
    /// schedule's unique name is what keeps other tests' points out.
    async fn drift_samples(&self, name: &str, hour: DateTime<Utc>) -> f64 {
        let dimensions = [("Endpoint", ENDPOINT), ("MonitoringSchedule", name)];
        let metric = Metric::builder()
            .namespace("aws/sagemaker/Endpoints/data-metrics")
            .metric_name("feature_baseline_drift_age")
            .set_dimensions(Some(
                dimensions
                    .iter()
                    .map(|(n, v)| Dimension::builder().name(*n).value(*v).build())
                    .collect(),
            ))
            .build();
        let query = MetricDataQuery::builder()
            .id("count")
            .metric_stat(
                MetricStat::builder()
                    .metric(metric)
                    .period(3600)
                    .stat("SampleCount")
                    .build(),
            )
            .build();
        let to_smithy = |t: DateTime<Utc>| aws_smithy_types::DateTime::from_secs(t.timestamp());
        let result = aws_sdk_cloudwatch::Client::new(&self.direct)
            .get_metric_data()
            .metric_data_queries(query)
            .start_time(to_smithy(hour - Duration::hours(3)))
            .end_time(to_smithy(hour + Duration::hours(3)))
            .send()
            .await
            .unwrap();
        result.metric_data_results().iter().flat_map(|r| r.values()).sum()
    }
}

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, hour, 0, 0).unwrap()
}

fn event(name: &str, time: DateTime<Utc>) -> ScheduledRun {
    ScheduledRun {
        schedule_name: name.to_string(),
        scheduled_time: time,
    }
}

#[tokio::test]
async fn create_retries_failed_and_throttled_writes() {
    let stack = Stack::new().await;
    let name = unique("retried");
    stack.proxy.inject(PUT_ITEM, Fault::InternalError, 1);
    stack.proxy.inject(PUT_ITEM, Fault::Throttle, 1);
    stack.ok("CreateMonitoringSchedule", stack.create_request(&name)).await;
    assert_eq!(stack.proxy.seen(INSERT), 3, "{:?}", stack.proxy.log());
    let item = stack.item(&name).await.expect("the schedule's record");
    let body: Value = serde_json::from_str(item["body"].as_s().unwrap()).unwrap();
    assert_eq!(body["MonitoringScheduleStatus"], "Scheduled");
    assert!(stack.has_timer(&name).await);

    // The timer's creation too, throttled by the scheduler.
    let name = unique("retried");
    stack.proxy.inject(CREATE_TIMER, Fault::Throttle, 2);
    stack.ok("CreateMonitoringSchedule", stack.create_request(&name)).await;
    assert_eq!(stack.proxy.seen(CREATE_TIMER), 4, "{:?}", stack.proxy.log());
    assert!(stack.item(&name).await.is_some());
    assert!(stack.has_timer(&name).await);
}

#[tokio::test]
async fn a_scheduler_that_keeps_failing_leaves_no_record() {
    let stack = Stack::new().await;
    let name = unique("orphan");
    stack.proxy.always(CREATE_TIMER, Fault::InternalError);
    let (status, body) = stack
        .call("CreateMonitoringSchedule", stack.create_request(&name))
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["__type"], "InternalFailure");
    assert_eq!(stack.proxy.seen(CREATE_TIMER), 3, "three attempts");
    assert!(stack.item(&name).await.is_none(), "no record without a timer");
    assert!(!stack.has_timer(&name).await);

    // The name is free again once the scheduler works.
    stack.proxy.clear();
    stack.ok("CreateMonitoringSchedule", stack.create_request(&name)).await;
    assert!(stack.item(&name).await.is_some());
    assert!(stack.has_timer(&name).await);
}

#[tokio::test]
async fn a_delete_the_scheduler_refuses_keeps_the_schedule() {
    let stack = Stack::new().await;
    let name = unique("kept");
    stack.ok("CreateMonitoringSchedule", stack.create_request(&name)).await;
    stack.proxy.always(DELETE_TIMER, Fault::Throttle);
    let (status, body) = stack
        .call("DeleteMonitoringSchedule", json!({"MonitoringScheduleName": name}))
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(stack.proxy.seen(DELETE_TIMER), 3);
    assert!(stack.item(&name).await.is_some(), "the record stays");
    assert!(stack.has_timer(&name).await, "and so does its timer");
    stack
        .ok("DescribeMonitoringSchedule", json!({"MonitoringScheduleName": name}))
        .await;

    stack.proxy.clear();
    stack
        .ok("DeleteMonitoringSchedule", json!({"MonitoringScheduleName": name}))
        .await;
    assert!(stack.item(&name).await.is_none());
    assert!(!stack.has_timer(&name).await);
}

#[tokio::test]
async fn a_run_whose_reports_cannot_be_written_fails_then_runs_once_more() {
    let stack = Stack::new().await;
    let name = unique("reports");
    stack.schedule(&name).await;
    stack.capture(at(12), false).await;
    stack.capture(at(13), true).await;
    let event = event(&name, at(14));

    stack.proxy.always(&stack.s3("PUT", "reports/"), Fault::InternalError);
    let err = stack.runner.run(&event).await.unwrap_err().to_string();
    assert!(err.starts_with("s3 PutObject failed: "), "{err}");
    assert_eq!(
        stack.proxy.seen(&stack.s3("PUT", "reports/")),
        3,
        "one object, three attempts"
    );
    let executions = stack.executions(&name).await;
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert_eq!(executions[0]["MonitoringExecutionStatus"], "Failed");
    let reason = executions[0]["FailureReason"].as_str().unwrap();
    assert!(reason.starts_with("s3 PutObject failed: "), "{reason}");
    assert!(reason.contains("InternalError"), "{reason}");
    assert_eq!(
        stack.proxy.seen(PUT_METRIC_DATA),
        0,
        "no metrics from a run without reports"
    );
    assert_eq!(stack.drift_samples(&name, at(14)).await, 0.0);

    // The scheduler's retry of the same event, the faults gone: the Failed execution runs again.
    stack.proxy.clear();
    let RunResult::Finished(record) = stack.runner.run(&event).await.unwrap() else {
        panic!("skipped")
    };
    assert_eq!(
        format!("{:?}", record.summary.monitoring_execution_status),
        "CompletedWithViolations"
    );
    let executions = stack.executions(&name).await;
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert_eq!(executions[0]["MonitoringExecutionStatus"], "CompletedWithViolations");
    assert!(executions[0].get("FailureReason").is_none(), "{executions:?}");
    assert_eq!(stack.drift_samples(&name, at(14)).await, 1.0);
    // A third delivery is a repeat.
    assert!(matches!(stack.runner.run(&event).await.unwrap(), RunResult::Skipped(_)));
    assert_eq!(stack.drift_samples(&name, at(14)).await, 1.0);
}

#[tokio::test]
async fn a_baseline_read_that_drops_or_stalls_is_retried_and_a_lasting_one_fails_the_run() {
    let stack = Stack::new().await;
    let name = unique("baseline");
    stack.schedule(&name).await;
    let statistics = stack.s3("GET", "baseline/statistics.json");
    let constraints = stack.s3("GET", "baseline/constraints.json");
    stack.capture(at(12), false).await;
    stack.capture(at(13), false).await;

    stack.proxy.inject(&statistics, Fault::Drop, 1);
    stack.proxy.inject(&constraints, Fault::Delay(STALL), 1);
    let RunResult::Finished(record) = stack.runner.run(&event(&name, at(13))).await.unwrap() else {
        panic!("skipped")
    };
    assert_eq!(format!("{:?}", record.summary.monitoring_execution_status), "Completed");
    assert_eq!(stack.proxy.seen(&statistics), 2);
    assert_eq!(stack.proxy.seen(&constraints), 2);

    stack.proxy.always(&statistics, Fault::Drop);
    let err = stack.runner.run(&event(&name, at(14))).await.unwrap_err().to_string();
    assert!(err.starts_with("s3 GetObject failed: "), "{err}");
    assert_eq!(stack.proxy.seen(&statistics), 5);
    let reason = stack.the_failure_reason(&name).await;
    assert!(reason.starts_with("s3 GetObject failed: "), "{reason}");
    assert!(reason.contains("connection closed"), "{reason}");
}

#[tokio::test]
async fn a_capture_read_that_drops_is_retried_and_a_lasting_failure_names_the_object() {
    let stack = Stack::new().await;
    let name = unique("capture-read");
    stack.schedule(&name).await;
    for hour in [12, 13, 14] {
        stack.capture(at(hour), false).await;
    }
    let key = format!("datacapture/{ENDPOINT}/AllTraffic/2026/11/25/13/05-00-000-f.jsonl");
    let get = stack.s3("GET", &key);

    stack.proxy.inject(&get, Fault::Drop, 1);
    let RunResult::Finished(record) = stack.runner.run(&event(&name, at(14))).await.unwrap() else {
        panic!("skipped")
    };
    assert_eq!(format!("{:?}", record.summary.monitoring_execution_status), "Completed");
    assert_eq!(stack.proxy.seen(&get), 2, "the streamed read was retried");

    // Read again as the hour before the next window's: a lasting failure fails that run, as the
    // store's error (a retried delivery may get through) naming the object.
    stack.proxy.always(&get, Fault::Drop);
    let err = stack.runner.run(&event(&name, at(15))).await.unwrap_err().to_string();
    let prefix = format!("s3 GetObject failed: s3://{}/{key}: ", stack.bucket);
    assert!(err.starts_with(&prefix), "{err}");
    let reason = stack.the_failure_reason(&name).await;
    assert!(reason.starts_with(&prefix), "{reason}");
}

#[tokio::test]
async fn throttled_metrics_are_retried_and_counted_once() {
    let stack = Stack::new().await;
    let name = unique("metrics");
    stack.schedule(&name).await;
    stack.capture(at(12), false).await;
    stack.capture(at(13), true).await;
    stack.proxy.inject(PUT_METRIC_DATA, Fault::Throttle, 1);
    let RunResult::Finished(record) = stack.runner.run(&event(&name, at(14))).await.unwrap() else {
        panic!("skipped")
    };
    assert_eq!(
        format!("{:?}", record.summary.monitoring_execution_status),
        "CompletedWithViolations"
    );
    assert_eq!(stack.proxy.seen(PUT_METRIC_DATA), 2, "{:?}", stack.proxy.log());
    assert_eq!(stack.drift_samples(&name, at(14)).await, 1.0);
}

#[tokio::test]
async fn a_create_whose_record_write_answer_was_lost_creates_the_schedule() {
    let stack = Stack::new().await;
    let name = unique("lost");
    // The record is written, the answer lost; the SDK's retry meets the record it wrote.
    stack.proxy.inject(INSERT, Fault::LoseAnswer, 1);
    stack.ok("CreateMonitoringSchedule", stack.create_request(&name)).await;
    assert_eq!(stack.proxy.seen(INSERT), 2);
    let item = stack.item(&name).await.expect("the schedule's record");
    let body: Value = serde_json::from_str(item["body"].as_s().unwrap()).unwrap();
    assert_eq!(body["MonitoringScheduleStatus"], "Scheduled");
    assert!(stack.has_timer(&name).await);
    // And another create of the name is still refused.
    let (status, body) = stack
        .call("CreateMonitoringSchedule", stack.create_request(&name))
        .await;
    assert_eq!((status, &body["__type"]), (400, &json!("ResourceInUse")), "{body}");

    // The same for the timer: CreateSchedule took effect, its answer was lost.
    let name = unique("lost");
    stack.proxy.inject(CREATE_TIMER, Fault::LoseAnswer, 1);
    stack.ok("CreateMonitoringSchedule", stack.create_request(&name)).await;
    assert!(stack.item(&name).await.is_some());
    assert!(stack.has_timer(&name).await);
}

#[tokio::test]
async fn a_run_whose_record_write_answers_were_lost_runs_once() {
    let stack = Stack::new().await;
    let name = unique("claim");
    stack.schedule(&name).await;
    stack.capture(at(12), false).await;
    stack.capture(at(13), true).await;
    // The claim (a conditional create, after the one of the execution's processing-job name)
    // and the execution's final update (conditional on its version) each take effect with
    // their answers lost.
    let inserts = stack.proxy.seen(INSERT);
    stack.proxy.inject(INSERT, Fault::LoseAnswer, 2);
    stack.proxy.inject(":expected", Fault::LoseAnswer, 1);
    let RunResult::Finished(record) = stack.runner.run(&event(&name, at(14))).await.unwrap() else {
        panic!("skipped")
    };
    assert_eq!(
        format!("{:?}", record.summary.monitoring_execution_status),
        "CompletedWithViolations"
    );
    assert_eq!(
        stack.proxy.seen(INSERT) - inserts,
        4,
        "the job's name and the claim, twice each"
    );
    let executions = stack.executions(&name).await;
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert_eq!(executions[0]["MonitoringExecutionStatus"], "CompletedWithViolations");
    assert_eq!(stack.drift_samples(&name, at(14)).await, 1.0);
}
