//! The control plane, the analysis run and the baselining job on the AWS adapters, against moto
//! server through the real SDK clients: what the functions do on AWS, checked in the emulated
//! services themselves (the DynamoDB item, the EventBridge schedule, the S3 reports, the
//! CloudWatch metrics, a processing job's log lines in CloudWatch Logs).

use crate::api_calls::call;
use crate::common;

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_scheduler::types::ScheduleState;
use chrono::{DateTime, Duration, TimeZone, Utc};
use modelmon_cloud::aws::{
    CloudWatchJobLog, CloudWatchMetrics, DynamoTable, EventBridgeScheduler, S3Store, PROCESSING_JOBS_LOG_GROUP,
};
use modelmon_cloud::control::api::handle;
use modelmon_cloud::control::ControlPlane;
use modelmon_cloud::local::InProcessLauncher;
use modelmon_cloud::ports::{JobLauncher, ObjectStore};
use modelmon_cloud::run::{
    run_baseline, AnalysisRunner, BaselineJob, JobRunSettings, ProcessingJobRunner, RunResult, ScheduledRun,
};
use modelmon_cloud::{AllowedBuckets, ObjectUri};
use serde_json::{json, Value};

use common::scenario::{self, ENDPOINT};
use common::{sdk_config, unique};

const ANALYZE_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:modelmon-analyze";

struct Stack {
    sdk: aws_config::SdkConfig,
    table_name: String,
    group: String,
    bucket: String,
    store: Arc<dyn ObjectStore>,
    plane: Arc<ControlPlane>,
    runner: AnalysisRunner,
}

impl Stack {
    async fn new() -> Stack {
        let sdk = sdk_config().await;
        let (table_name, group) = common::table_and_group(&sdk).await;
        let bucket = unique("bucket");
        let s3 = S3Store::new(&sdk);
        s3.client.create_bucket().bucket(&bucket).send().await.unwrap();
        let settings = scenario::scheduler_settings(&group, ANALYZE_ARN);
        let table = Arc::new(DynamoTable::new(&sdk, &table_name));
        let control = scenario::control_settings();
        let plane = Arc::new(ControlPlane::new(
            table.clone(),
            Arc::new(EventBridgeScheduler::new(&sdk, settings)),
            control,
        ));
        let store: Arc<dyn ObjectStore> = Arc::new(s3);
        let runner = AnalysisRunner::new(
            table,
            store.clone(),
            Arc::new(CloudWatchMetrics::new(&sdk)),
            crate::run_settings(Some(&format!("s3://{bucket}/datacapture"))),
        );
        Stack {
            sdk,
            table_name,
            group,
            bucket,
            store,
            plane,
            runner,
        }
    }

    fn uri(&self, key: &str) -> ObjectUri {
        scenario::uri(&self.bucket, key)
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

    /// The training data in S3, baselined by the baselining job.
    async fn baseline(&self) -> Value {
        serde_json::to_value(scenario::baseline(&self.store, &self.bucket).await).unwrap()
    }

    async fn capture(&self, hour: DateTime<Utc>, drift: bool) {
        scenario::capture(&self.store, &self.bucket, hour, drift).await
    }

    fn create_request(&self, name: &str, expression: &str) -> Value {
        scenario::create_request(&self.bucket, name, expression)
    }

    async fn item(&self, name: &str) -> Option<std::collections::HashMap<String, AttributeValue>> {
        aws_sdk_dynamodb::Client::new(&self.sdk)
            .get_item()
            .table_name(&self.table_name)
            .key("pk", AttributeValue::S(format!("schedule#{name}")))
            .key("sk", AttributeValue::S("schedule".into()))
            .send()
            .await
            .unwrap()
            .item
    }

    async fn timer(&self, name: &str) -> Option<aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput> {
        aws_sdk_scheduler::Client::new(&self.sdk)
            .get_schedule()
            .group_name(&self.group)
            .name(name)
            .send()
            .await
            .ok()
    }
}

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, hour, 0, 0).unwrap()
}

#[tokio::test]
async fn schedule_run_and_reports_on_aws() {
    let stack = Stack::new().await;
    let baseline = stack.baseline().await;
    assert_eq!(baseline["records"]["read"], 400, "{baseline}");
    assert_eq!(
        baseline["statistics"],
        stack.uri("baseline/statistics.json").to_string()
    );

    let name = unique("hourly");
    stack
        .ok(
            "CreateMonitoringSchedule",
            stack.create_request(&name, "cron(0 * ? * * *)"),
        )
        .await;

    let item = stack.item(&name).await.expect("the schedule's DynamoDB item");
    assert_eq!(item["kind"], AttributeValue::S("schedule".into()));
    let body: Value = serde_json::from_str(item["body"].as_s().unwrap()).unwrap();
    assert_eq!(body["MonitoringScheduleStatus"], "Scheduled");
    assert_eq!(body["EndpointName"], ENDPOINT);

    let timer = stack.timer(&name).await.expect("the EventBridge schedule");
    assert_eq!(timer.schedule_expression(), Some("cron(0 * * * ? *)"));
    assert_eq!(timer.schedule_expression_timezone(), Some("UTC"));
    assert_eq!(timer.state(), Some(&ScheduleState::Enabled));
    let target = timer.target().unwrap();
    assert_eq!(target.arn(), ANALYZE_ARN);
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(
        input,
        json!({"schedule_name": name, "scheduled_time": "<aws.scheduler.scheduled-time>"})
    );

    stack.capture(at(12), false).await;
    stack.capture(at(13), true).await;
    // The scheduler's event, with the context attribute filled in as EventBridge does.
    let event: ScheduledRun =
        serde_json::from_value(json!({"schedule_name": name, "scheduled_time": "2026-11-25T14:00:00Z"})).unwrap();
    let RunResult::Finished(record) = stack.runner.run(&event).await.unwrap() else {
        panic!("skipped")
    };
    assert_eq!(
        format!("{:?}", record.summary.monitoring_execution_status),
        "CompletedWithViolations"
    );
    assert_eq!(record.records.as_ref().unwrap()["analysed"], 60);
    let reports = format!("s3://{}/reports/{ENDPOINT}/{name}/2026/11/25/14/", stack.bucket);
    assert_eq!(record.report_uri.as_deref(), Some(reports.as_str()));
    let listed: Vec<String> = stack
        .store
        .list(&ObjectUri::parse(&reports).unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.uri.key)
        .collect();
    let files: Vec<&str> = listed.iter().map(|k| k.rsplit('/').next().unwrap()).collect();
    assert_eq!(
        files,
        [
            "constraint_violations.json",
            "report.html",
            "report.json",
            "statistics.json"
        ]
    );
    let violations: Value = serde_json::from_slice(
        &stack
            .store
            .get(&ObjectUri::parse(&format!("{reports}constraint_violations.json")).unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(violations["violations"][0]["feature_name"], "age");
    assert_eq!(
        violations["violations"][0]["constraint_check_type"],
        "baseline_drift_check"
    );

    // The metrics, in CloudWatch under SageMaker's namespace and dimensions.
    let metrics = aws_sdk_cloudwatch::Client::new(&stack.sdk)
        .list_metrics()
        .namespace("aws/sagemaker/Endpoints/data-metrics")
        .metric_name("feature_baseline_drift_age")
        .send()
        .await
        .unwrap();
    let ours = metrics.metrics().iter().find(|m| {
        m.dimensions()
            .iter()
            .any(|d| d.name() == Some("MonitoringSchedule") && d.value() == Some(name.as_str()))
    });
    let dimensions: Vec<(&str, &str)> = ours
        .expect("the drift metric")
        .dimensions()
        .iter()
        .map(|d| (d.name().unwrap(), d.value().unwrap()))
        .collect();
    assert!(dimensions.contains(&("Endpoint", ENDPOINT)), "{dimensions:?}");

    // A repeated delivery of the same event: no second execution.
    assert!(matches!(stack.runner.run(&event).await.unwrap(), RunResult::Skipped(_)));
    let executions = stack
        .ok("ListMonitoringExecutions", json!({"MonitoringScheduleName": name}))
        .await;
    let summaries = executions["MonitoringExecutionSummaries"].as_array().unwrap();
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0]["MonitoringExecutionStatus"], "CompletedWithViolations");
    let described = stack
        .ok("DescribeMonitoringSchedule", json!({"MonitoringScheduleName": name}))
        .await;
    assert_eq!(
        described["LastMonitoringExecutionSummary"]["MonitoringExecutionStatus"],
        "CompletedWithViolations"
    );

    stack
        .ok("StopMonitoringSchedule", json!({"MonitoringScheduleName": name}))
        .await;
    assert_eq!(
        stack.timer(&name).await.unwrap().state(),
        Some(&ScheduleState::Disabled)
    );
    stack
        .ok("StartMonitoringSchedule", json!({"MonitoringScheduleName": name}))
        .await;
    assert_eq!(stack.timer(&name).await.unwrap().state(), Some(&ScheduleState::Enabled));
    let mut every_six = stack.create_request(&name, "cron(0 2/6 ? * * *)");
    every_six.as_object_mut().unwrap().remove("Tags");
    stack.ok("UpdateMonitoringSchedule", every_six).await;
    assert_eq!(
        stack.timer(&name).await.unwrap().schedule_expression(),
        Some("cron(0 2/6 * * ? *)")
    );

    stack
        .ok("DeleteMonitoringSchedule", json!({"MonitoringScheduleName": name}))
        .await;
    assert!(stack.timer(&name).await.is_none(), "the EventBridge schedule is gone");
    assert!(stack.item(&name).await.is_none(), "the DynamoDB item is gone");
    let executions = stack
        .ok("ListMonitoringExecutions", json!({"MonitoringScheduleName": name}))
        .await;
    assert_eq!(
        executions["MonitoringExecutionSummaries"].as_array().unwrap().len(),
        1,
        "history stays"
    );
}

#[tokio::test]
async fn concurrent_creates_give_one_schedule_and_one_timer() {
    let stack = Arc::new(Stack::new().await);
    let name = unique("race");
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (stack, request) = (stack.clone(), stack.create_request(&name, "cron(0 * ? * * *)"));
        tasks.push(tokio::spawn(async move {
            stack.call("CreateMonitoringSchedule", request).await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    assert_eq!(
        answers.iter().filter(|(status, _)| *status == 200).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .filter(|(status, _)| *status != 200)
            .all(|(_, body)| body["__type"] == "ResourceInUse"),
        "{answers:?}"
    );
    assert!(stack.timer(&name).await.is_some());
    let listed = stack.ok("ListMonitoringSchedules", json!({"NameContains": name})).await;
    assert_eq!(listed["MonitoringScheduleSummaries"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_now_schedule_is_a_one_time_timer() {
    let stack = Stack::new().await;
    let name = unique("once");
    let mut request = stack.create_request(&name, "NOW");
    request["MonitoringScheduleConfig"]["ScheduleConfig"] =
        json!({"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT1H", "DataAnalysisEndTime": "-PT0H"});
    let before = Utc::now();
    stack.ok("CreateMonitoringSchedule", request).await;
    let expression = stack
        .timer(&name)
        .await
        .unwrap()
        .schedule_expression()
        .unwrap()
        .to_string();
    let at = chrono::NaiveDateTime::parse_from_str(&expression, "at(%Y-%m-%dT%H:%M:%S)")
        .unwrap()
        .and_utc();
    assert!(at >= before - Duration::seconds(1) && at <= Utc::now(), "{expression}");
}

#[tokio::test]
async fn a_baseline_of_nothing_says_so() {
    let stack = Stack::new().await;
    let job = BaselineJob {
        dataset_source: stack.uri("no-such-folder/").to_string(),
        dataset_format: r#"{"csv": {"header": true}}"#.into(),
        output_path: stack.uri("baseline").to_string(),
    };
    let err = run_baseline(&stack.store, &job, &AllowedBuckets::any(), None)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("{}: no objects to baseline", job.dataset_source));
    let job = BaselineJob {
        dataset_format: r#"{"tsv": {}}"#.into(),
        ..job
    };
    let err = run_baseline(&stack.store, &job, &AllowedBuckets::any(), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("dataset_format: line 1"), "{err}");
}

/// A control plane whose baselining jobs run in this process on the AWS adapters (DynamoDB, S3,
/// CloudWatch Logs), or, with `launcher`, are started by it.
fn baselining_plane(stack: &Stack, launcher: Option<Arc<dyn JobLauncher>>) -> ControlPlane {
    let table = Arc::new(DynamoTable::new(&stack.sdk, &stack.table_name));
    let jobs = Arc::new(ProcessingJobRunner::new(
        table.clone(),
        stack.store.clone(),
        Arc::new(CloudWatchJobLog::new(&stack.sdk)),
        JobRunSettings {
            lease: Duration::seconds(30),
            scratch: None,
        },
    ));
    let scheduler = EventBridgeScheduler::new(&stack.sdk, scenario::scheduler_settings(&stack.group, ANALYZE_ARN));
    let launcher = launcher.unwrap_or_else(|| Arc::new(InProcessLauncher::new(jobs)));
    ControlPlane::new(table, Arc::new(scheduler), scenario::control_settings()).with_job_launcher(launcher)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_baselining_job_runs_on_dynamodb_s3_and_cloudwatch_logs() {
    let stack = Stack::new().await;
    let plane = baselining_plane(&stack, None);
    let csv: String = (0..400)
        .map(|i| format!("{},{}\n", 20 + i % 40, ["basic", "pro"][i % 2]))
        .collect();
    let data = stack.uri("training/train.csv");
    stack
        .store
        .put(&data, format!("age,plan\n{csv}").into_bytes(), "text/csv")
        .await
        .unwrap();
    let name = unique("baseline");
    let request =
        crate::processing_jobs::baselining_request(&name, &data.to_string(), &stack.uri("baseline").to_string());
    let (status, created) = call(&plane, "CreateProcessingJob", request).await;
    assert_eq!(status, 200, "{created}");
    let described = loop {
        let (_, described) = call(&plane, "DescribeProcessingJob", json!({"ProcessingJobName": name})).await;
        if described["ProcessingJobStatus"] != "InProgress" {
            break described;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(described["ProcessingJobStatus"], "Completed", "{described}");
    assert!(described["ExitMessage"]
        .as_str()
        .unwrap()
        .contains("read 400, analysed 400, rejected 0"));
    assert!(stack.store.get(&stack.uri("baseline/statistics.json")).await.is_ok());

    // The record in DynamoDB, under its own partition and in the kind index.
    let item = aws_sdk_dynamodb::Client::new(&stack.sdk)
        .get_item()
        .table_name(&stack.table_name)
        .key("pk", AttributeValue::S(format!("processing-job#{name}")))
        .key("sk", AttributeValue::S("processing-job".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the job's item");
    assert_eq!(item["kind"], AttributeValue::S("processing-job".into()));
    let body: Value = serde_json::from_str(item["body"].as_s().unwrap()).unwrap();
    assert_eq!(body["ProcessingJobStatus"], "Completed");
    assert!(
        body.get("LeaseExpiresAt").is_none(),
        "an ended job holds no lease: {body}"
    );

    // Its own lines, where the SDK reads them.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&stack.sdk);
    let streams = logs
        .describe_log_streams()
        .log_group_name(PROCESSING_JOBS_LOG_GROUP)
        .log_stream_name_prefix(format!("{name}/"))
        .send()
        .await
        .unwrap();
    let [stream] = streams.log_streams() else {
        panic!("one stream: {streams:?}")
    };
    let events = logs
        .get_log_events()
        .log_group_name(PROCESSING_JOBS_LOG_GROUP)
        .log_stream_name(stream.log_stream_name().unwrap())
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    let messages: Vec<&str> = events.events().iter().filter_map(|e| e.message()).collect();
    assert!(messages[0].ends_with(&format!("baselining job {name}")), "{messages:?}");
    assert!(
        messages.last().unwrap().starts_with("Completed: Baselined 400 records"),
        "{messages:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn of_concurrent_stops_on_dynamodb_exactly_one_succeeds() {
    let stack = Stack::new().await;
    let plane = Arc::new(baselining_plane(
        &stack,
        Some(Arc::new(crate::processing_jobs::NoLauncher)),
    ));
    let name = unique("stopped");
    let request = crate::processing_jobs::baselining_request(
        &name,
        &stack.uri("training/train.csv").to_string(),
        &stack.uri("baseline").to_string(),
    );
    assert_eq!(call(&plane, "CreateProcessingJob", request).await.0, 200);
    let stops: Vec<_> = (0..8)
        .map(|_| {
            let (plane, name) = (plane.clone(), name.clone());
            tokio::spawn(async move { call(&plane, "StopProcessingJob", json!({"ProcessingJobName": name})).await })
        })
        .collect();
    let mut answers = Vec::new();
    for stop in stops {
        answers.push(stop.await.unwrap());
    }
    assert_eq!(
        answers.iter().filter(|(status, _)| *status == 200).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .filter(|(status, _)| *status != 200)
            .all(|(_, body)| body["message"]
                == format!("Processing job '{name}' is Stopped: only a job InProgress can be stopped")),
        "{answers:?}"
    );
    let (_, described) = call(&plane, "DescribeProcessingJob", json!({"ProcessingJobName": name})).await;
    assert_eq!(described["ProcessingJobStatus"], "Stopped");
}
