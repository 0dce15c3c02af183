//! The control plane and the analysis run on the local adapters (files in a temporary folder):
//! every operation, the error paths, the window rules, idempotent runs. The same code runs on
//! the AWS adapters in `aws_stack.rs`, against moto server.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use modelmon_cloud::control::api::handle;
use modelmon_cloud::control::{ControlPlane, ControlSettings};
use modelmon_cloud::local::{FileMetrics, FileTable, FsObjectStore, LocalScheduler};
use modelmon_cloud::ports::{ItemKey, ObjectStore, ScheduleSpec, Scheduler, Table};
use modelmon_cloud::run::{AnalysisRunner, RunResult, ScheduledRun};
use modelmon_cloud::{CloudError, ObjectUri};
use serde_json::{json, Value};
use tempfile::TempDir;

const ENDPOINT: &str = "churn-endpoint";

struct Stack {
    dir: TempDir,
    table: Arc<FileTable>,
    scheduler: Arc<LocalScheduler>,
    store: Arc<FsObjectStore>,
    plane: ControlPlane,
    runner: AnalysisRunner,
}

impl Stack {
    fn new() -> Stack {
        Stack::with_scheduler(None)
    }

    fn with_scheduler(scheduler: Option<Arc<dyn Scheduler>>) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let table = Arc::new(FileTable::new(dir.path().join("table")));
        let local_scheduler = Arc::new(LocalScheduler::new(dir.path().join("scheduler.json")));
        let store = Arc::new(FsObjectStore::new(dir.path().join("s3")));
        let settings = ControlSettings {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            max_schedules: 3,
        };
        let plane_scheduler = scheduler.unwrap_or_else(|| local_scheduler.clone());
        let plane = ControlPlane::new(table.clone(), plane_scheduler, settings);
        let runner = AnalysisRunner::new(
            table.clone(),
            store.clone(),
            Arc::new(FileMetrics::new(dir.path().join("metrics.jsonl"))),
            crate::run_settings(Some("s3://capture-bucket/datacapture")),
        );
        Stack {
            dir,
            table,
            scheduler: local_scheduler,
            store,
            plane,
            runner,
        }
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

    /// Fails unless the call fails with `code`; returns the message.
    async fn fails(&self, operation: &str, body: Value, code: &str) -> String {
        let (status, response) = self.call(operation, body).await;
        assert_ne!(status, 200, "{operation} succeeded: {response}");
        assert_eq!(response["__type"], code, "{operation}: {response}");
        response["message"].as_str().unwrap().to_string()
    }

    fn object(&self, uri: &str) -> Option<Vec<u8>> {
        let uri = ObjectUri::parse(uri).unwrap();
        std::fs::read(self.dir.path().join("s3").join(&uri.bucket).join(&uri.key)).ok()
    }

    /// A baseline of two features (`age` integral 20..60, `plan` in {basic, pro}) in the store.
    async fn put_baseline(&self) {
        let csv: String = std::iter::once("age,plan".to_string())
            .chain((0..400).map(|i| format!("{},{}", 20 + i % 40, if i % 3 == 0 { "pro" } else { "basic" })))
            .collect::<Vec<_>>()
            .join("\n");
        let data = self.dir.path().join("train.csv");
        std::fs::write(&data, csv + "\n").unwrap();
        let format = modelmon_engine::dataset::DatasetFormat::Csv { header: true };
        let profile = modelmon_engine::dataset::profile_dataset(&[data], format, &mut |_| {}).unwrap();
        let statistics = profile.to_statistics();
        let constraints = modelmon_engine::suggest::suggest_constraints(&statistics);
        let put = |key: &str, text: String| {
            let store = self.store.clone();
            let uri = ObjectUri::parse(&format!("s3://models/churn/{key}")).unwrap();
            async move { store.put(&uri, text.into_bytes(), "application/json").await.unwrap() }
        };
        put("statistics.json", statistics.to_json()).await;
        put("constraints.json", constraints.to_json()).await;
    }

    /// `count` capture records a minute apart from `start`, CSV payloads `age,plan`; `drift`
    /// shifts ages by 100 (a drift and nothing else).
    fn put_capture(&self, start: DateTime<Utc>, count: usize, drift: bool) {
        let mut files: std::collections::BTreeMap<String, String> = Default::default();
        for i in 0..count {
            let time = start + Duration::minutes(i as i64);
            let age = 20 + i % 40 + if drift { 100 } else { 0 };
            let plan = if i % 3 == 0 { "pro" } else { "basic" };
            let record = json!({
                "captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": format!("{age},{plan}"), "encoding": "CSV"}},
                "eventMetadata": {"eventId": format!("e{i}"), "inferenceTime": time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
                "eventVersion": "0"
            });
            let file = format!("{}/{}.jsonl", time.format("%Y/%m/%d/%H"), time.format("%M-00-000-file"));
            let text = files.entry(file).or_default();
            text.push_str(&record.to_string());
            text.push('\n');
        }
        for (file, text) in files {
            let path = self
                .dir
                .path()
                .join("s3/capture-bucket/datacapture")
                .join(ENDPOINT)
                .join("AllTraffic")
                .join(file);
            write(&path, &text);
        }
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn endpoint_input(offsets: Option<(&str, &str)>) -> Value {
    let mut input = json!({"EndpointName": ENDPOINT, "LocalPath": "/opt/ml/processing/input/endpoint"});
    if let Some((start, end)) = offsets {
        input["StartTimeOffset"] = json!(start);
        input["EndTimeOffset"] = json!(end);
    }
    input
}

fn job_definition(input: Value) -> Value {
    json!({
        "BaselineConfig": {
            "ConstraintsResource": {"S3Uri": "s3://models/churn/constraints.json"},
            "StatisticsResource": {"S3Uri": "s3://models/churn/statistics.json"}
        },
        "MonitoringInputs": [{"EndpointInput": input}],
        "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://reports/monitoring", "LocalPath": "/opt/ml/processing/output"}}]},
        "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
        "MonitoringAppSpecification": {"ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
        "RoleArn": "arn:aws:iam::123456789012:role/service-role/monitoring"
    })
}

fn create_request(name: &str, expression: &str) -> Value {
    json!({
        "MonitoringScheduleName": name,
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": expression},
            "MonitoringJobDefinition": job_definition(endpoint_input(None)),
            "MonitoringType": "DataQuality"
        },
        "Tags": [{"Key": "team", "Value": "churn"}]
    })
}

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, hour, 0, 0).unwrap()
}

#[tokio::test]
async fn create_describe_list_stop_start_delete() {
    let stack = Stack::new();
    let created = stack
        .ok(
            "CreateMonitoringSchedule",
            create_request("churn-hourly", "cron(0 * ? * * *)"),
        )
        .await;
    assert_eq!(
        created["MonitoringScheduleArn"],
        "arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/churn-hourly"
    );

    let described = stack
        .ok(
            "DescribeMonitoringSchedule",
            json!({"MonitoringScheduleName": "churn-hourly"}),
        )
        .await;
    assert_eq!(described["MonitoringScheduleStatus"], "Scheduled");
    assert_eq!(described["EndpointName"], ENDPOINT);
    assert_eq!(described["MonitoringType"], "DataQuality");
    assert_eq!(
        described["MonitoringScheduleConfig"],
        create_request("x", "cron(0 * ? * * *)")["MonitoringScheduleConfig"]
    );
    assert!(described.get("Tags").is_none(), "Describe returns no tags");
    assert!(described["CreationTime"].as_f64().unwrap() > 1.7e9);

    let timer = stack.scheduler.specs().unwrap();
    assert_eq!(timer.len(), 1);
    assert!(timer[0].enabled);

    stack
        .ok(
            "StopMonitoringSchedule",
            json!({"MonitoringScheduleName": "churn-hourly"}),
        )
        .await;
    let described = stack
        .ok(
            "DescribeMonitoringSchedule",
            json!({"MonitoringScheduleName": "churn-hourly"}),
        )
        .await;
    assert_eq!(described["MonitoringScheduleStatus"], "Stopped");
    assert!(!stack.scheduler.specs().unwrap()[0].enabled);
    stack
        .ok(
            "StartMonitoringSchedule",
            json!({"MonitoringScheduleName": "churn-hourly"}),
        )
        .await;
    assert!(stack.scheduler.specs().unwrap()[0].enabled);

    let listed = stack
        .ok("ListMonitoringSchedules", json!({"EndpointName": ENDPOINT}))
        .await;
    let summaries = listed["MonitoringScheduleSummaries"].as_array().unwrap();
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0]["MonitoringScheduleStatus"], "Scheduled");
    assert!(summaries[0].get("MonitoringScheduleConfig").is_none());

    stack
        .ok(
            "DeleteMonitoringSchedule",
            json!({"MonitoringScheduleName": "churn-hourly"}),
        )
        .await;
    assert!(
        stack.scheduler.specs().unwrap().is_empty(),
        "the timer goes with the schedule"
    );
    stack
        .fails(
            "DescribeMonitoringSchedule",
            json!({"MonitoringScheduleName": "churn-hourly"}),
            "ResourceNotFound",
        )
        .await;
    stack
        .fails(
            "DeleteMonitoringSchedule",
            json!({"MonitoringScheduleName": "churn-hourly"}),
            "ResourceNotFound",
        )
        .await;
}

#[tokio::test]
async fn error_paths_answer_in_sagemakers_words() {
    let stack = Stack::new();
    stack
        .ok("CreateMonitoringSchedule", create_request("dup", "cron(0 * ? * * *)"))
        .await;
    let message = stack
        .fails(
            "CreateMonitoringSchedule",
            create_request("dup", "cron(0 * ? * * *)"),
            "ResourceInUse",
        )
        .await;
    assert!(message.contains("'dup' already exists"), "{message}");

    let message = stack
        .fails(
            "CreateMonitoringSchedule",
            create_request("bad_name", "cron(0 * ? * * *)"),
            "ValidationException",
        )
        .await;
    assert!(message.contains("monitoringScheduleName"), "{message}");
    let message = stack
        .fails(
            "CreateMonitoringSchedule",
            create_request("hourly-typo", "Hourly: cron(0 * ? * * *)"),
            "ValidationException",
        )
        .await;
    assert!(
        message.starts_with("Invalid ScheduleExpression 'Hourly: cron(0 * ? * * *)'"),
        "{message}"
    );
    let message = stack
        .fails(
            "CreateMonitoringSchedule",
            create_request("now-alone", "NOW"),
            "ValidationException",
        )
        .await;
    assert!(message.contains("DataAnalysisStartTime"), "{message}");

    let mut no_baseline = create_request("no-baseline", "cron(0 * ? * * *)");
    no_baseline["MonitoringScheduleConfig"]["MonitoringJobDefinition"]
        .as_object_mut()
        .unwrap()
        .remove("BaselineConfig");
    let message = stack
        .fails("CreateMonitoringSchedule", no_baseline, "ValidationException")
        .await;
    assert!(
        message.contains("BaselineConfig.StatisticsResource.S3Uri is required"),
        "{message}"
    );

    let mut too_long = create_request("too-long", "cron(0 * ? * * *)");
    too_long["MonitoringScheduleConfig"]["MonitoringJobDefinition"]["StoppingCondition"]["MaxRuntimeInSeconds"] =
        json!(7200);
    let message = stack
        .fails("CreateMonitoringSchedule", too_long, "ValidationException")
        .await;
    assert!(
        message.contains("exceeds the schedule's period of 3600 seconds"),
        "{message}"
    );

    let mut model_quality = create_request("mq", "cron(0 * ? * * *)");
    model_quality["MonitoringScheduleConfig"]["MonitoringType"] = json!("ModelQuality");
    stack
        .fails("CreateMonitoringSchedule", model_quality, "ValidationException")
        .await;

    let mut bad_uri = create_request("bad-uri", "cron(0 * ? * * *)");
    bad_uri["MonitoringScheduleConfig"]["MonitoringJobDefinition"]["MonitoringOutputConfig"]["MonitoringOutputs"][0]
        ["S3Output"]["S3Uri"] = json!("s3://Bad_Bucket/x");
    stack
        .fails("CreateMonitoringSchedule", bad_uri, "ValidationException")
        .await;

    stack
        .ok(
            "CreateMonitoringSchedule",
            create_request("second", "cron(0 * ? * * *)"),
        )
        .await;
    stack
        .ok("CreateMonitoringSchedule", create_request("third", "cron(0 * ? * * *)"))
        .await;
    let message = stack
        .fails(
            "CreateMonitoringSchedule",
            create_request("fourth", "cron(0 * ? * * *)"),
            "ResourceLimitExceeded",
        )
        .await;
    assert!(message.contains("3 monitoring schedules"), "{message}");

    let response = handle(&stack.plane, Some("SageMaker.CreateEndpoint"), b"{}").await;
    assert_eq!(
        (response.status, response.error_type.as_deref()),
        (400, Some("UnknownOperationException"))
    );
    let response = handle(&stack.plane, None, b"{}").await;
    assert_eq!(response.error_type.as_deref(), Some("UnknownOperationException"));
    let response = handle(&stack.plane, Some("SageMaker.ListMonitoringSchedules"), b"{not json").await;
    assert_eq!(response.error_type.as_deref(), Some("SerializationException"));
    let huge = vec![b' '; 300 * 1024];
    let response = handle(&stack.plane, Some("SageMaker.ListMonitoringSchedules"), &huge).await;
    assert_eq!(response.status, 413);
    stack
        .fails(
            "ListMonitoringSchedules",
            json!({"NextToken": "forged"}),
            "ValidationException",
        )
        .await;
    stack
        .fails(
            "ListMonitoringSchedules",
            json!({"MaxResults": 0}),
            "ValidationException",
        )
        .await;
}

/// A scheduler that refuses every call: the control plane must not leave a record behind.
struct BrokenScheduler;

#[async_trait]
impl Scheduler for BrokenScheduler {
    async fn create(&self, _: &ScheduleSpec) -> Result<(), CloudError> {
        Err(CloudError::Internal("scheduler unavailable".into()))
    }
    async fn update(&self, _: &ScheduleSpec) -> Result<(), CloudError> {
        Err(CloudError::Internal("scheduler unavailable".into()))
    }
    async fn delete(&self, _: &str) -> Result<(), CloudError> {
        Err(CloudError::Internal("scheduler unavailable".into()))
    }
}

#[tokio::test]
async fn a_failed_timer_leaves_no_record() {
    let stack = Stack::with_scheduler(Some(Arc::new(BrokenScheduler)));
    let (status, response) = stack
        .call(
            "CreateMonitoringSchedule",
            create_request("orphan", "cron(0 * ? * * *)"),
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(response["__type"], "InternalFailure");
    assert!(
        !response["message"].as_str().unwrap().contains("unavailable"),
        "no internals in the answer: {response}"
    );
    assert!(stack
        .table
        .get(&ItemKey::Schedule("orphan".into()))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn concurrent_creates_of_one_name_give_one_success() {
    let stack = Arc::new(Stack::new());
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let stack = stack.clone();
        tasks.push(tokio::spawn(async move {
            stack
                .call("CreateMonitoringSchedule", create_request("race", "cron(0 * ? * * *)"))
                .await
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|(status, _)| *status == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses
        .iter()
        .filter(|(status, _)| *status != 200)
        .all(|(_, body)| body["__type"] == "ResourceInUse"));
    assert_eq!(stack.scheduler.specs().unwrap().len(), 1);
}

#[tokio::test]
async fn lists_filter_sort_and_page() {
    let stack = Stack::new();
    for name in ["b-sched", "a-sched", "c-other"] {
        stack
            .ok("CreateMonitoringSchedule", create_request(name, "cron(0 * ? * * *)"))
            .await;
    }
    let names = |response: &Value| -> Vec<String> {
        response["MonitoringScheduleSummaries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["MonitoringScheduleName"].as_str().unwrap().to_string())
            .collect()
    };
    let by_name = stack
        .ok(
            "ListMonitoringSchedules",
            json!({"SortBy": "Name", "SortOrder": "Ascending"}),
        )
        .await;
    assert_eq!(names(&by_name), ["a-sched", "b-sched", "c-other"]);
    let newest_first = stack.ok("ListMonitoringSchedules", json!({})).await;
    assert_eq!(names(&newest_first)[0], "c-other");
    let contains = stack
        .ok("ListMonitoringSchedules", json!({"NameContains": "SCHED"}))
        .await;
    assert_eq!(names(&contains).len(), 2);
    let stopped = stack
        .ok("ListMonitoringSchedules", json!({"StatusEquals": "Stopped"}))
        .await;
    assert!(names(&stopped).is_empty());

    let mut token = None;
    let mut paged = Vec::new();
    loop {
        let mut request = json!({"SortBy": "Name", "MaxResults": 2});
        if let Some(token) = &token {
            request["NextToken"] = json!(token);
        }
        let page = stack.ok("ListMonitoringSchedules", request).await;
        paged.extend(names(&page));
        match page.get("NextToken") {
            Some(next) => token = Some(next.as_str().unwrap().to_string()),
            None => break,
        }
    }
    assert_eq!(paged, ["c-other", "b-sched", "a-sched"]);
}

#[tokio::test]
async fn job_definitions_can_be_named_by_schedules_and_are_locked_while_used() {
    let stack = Stack::new();
    let definition = job_definition(endpoint_input(None));
    let request = json!({
        "JobDefinitionName": "churn-dq",
        "DataQualityBaselineConfig": definition["BaselineConfig"],
        "DataQualityAppSpecification": {"ImageUri": "analyzer", "Environment": {"publish_cloudwatch_metrics": "Enabled"}},
        "DataQualityJobInput": {"EndpointInput": endpoint_input(None)},
        "DataQualityJobOutputConfig": definition["MonitoringOutputConfig"],
        "JobResources": definition["MonitoringResources"],
        "RoleArn": definition["RoleArn"],
    });
    let created = stack.ok("CreateDataQualityJobDefinition", request.clone()).await;
    assert_eq!(
        created["JobDefinitionArn"],
        "arn:aws:sagemaker:us-east-1:123456789012:data-quality-job-definition/churn-dq"
    );
    stack
        .fails("CreateDataQualityJobDefinition", request, "ResourceInUse")
        .await;
    let described = stack
        .ok(
            "DescribeDataQualityJobDefinition",
            json!({"JobDefinitionName": "churn-dq"}),
        )
        .await;
    assert_eq!(
        described["DataQualityJobInput"]["EndpointInput"]["EndpointName"],
        ENDPOINT
    );
    let listed = stack
        .ok("ListDataQualityJobDefinitions", json!({"EndpointName": ENDPOINT}))
        .await;
    assert_eq!(
        listed["JobDefinitionSummaries"][0]["MonitoringJobDefinitionName"],
        "churn-dq"
    );

    let schedule = json!({
        "MonitoringScheduleName": "by-name",
        "MonitoringScheduleConfig": {"ScheduleConfig": {"ScheduleExpression": "cron(0 0/6 ? * * *)"}, "MonitoringJobDefinitionName": "churn-dq", "MonitoringType": "DataQuality"}
    });
    stack.ok("CreateMonitoringSchedule", schedule).await;
    let listed = stack
        .ok(
            "ListMonitoringSchedules",
            json!({"MonitoringJobDefinitionName": "churn-dq"}),
        )
        .await;
    assert_eq!(
        listed["MonitoringScheduleSummaries"][0]["MonitoringJobDefinitionName"],
        "churn-dq"
    );
    let message = stack
        .fails(
            "DeleteDataQualityJobDefinition",
            json!({"JobDefinitionName": "churn-dq"}),
            "ResourceInUse",
        )
        .await;
    assert!(message.contains("by-name"), "{message}");
    stack
        .ok("DeleteMonitoringSchedule", json!({"MonitoringScheduleName": "by-name"}))
        .await;
    stack
        .ok(
            "DeleteDataQualityJobDefinition",
            json!({"JobDefinitionName": "churn-dq"}),
        )
        .await;
    stack
        .fails(
            "DescribeDataQualityJobDefinition",
            json!({"JobDefinitionName": "churn-dq"}),
            "ResourceNotFound",
        )
        .await;
    let missing = json!({
        "MonitoringScheduleName": "dangling",
        "MonitoringScheduleConfig": {"MonitoringJobDefinitionName": "churn-dq"}
    });
    stack
        .fails("CreateMonitoringSchedule", missing, "ResourceNotFound")
        .await;
}

#[tokio::test]
async fn an_hourly_run_analyses_the_previous_hour_once() {
    let stack = Stack::new();
    stack.put_baseline().await;
    // 13:00 to 14:00 drifted; the hour before and after not: the 14:00 run sees only drift.
    stack.put_capture(at(12), 60, false);
    stack.put_capture(at(13), 60, true);
    stack.put_capture(at(14), 60, false);
    stack
        .ok(
            "CreateMonitoringSchedule",
            create_request("churn-hourly", "cron(0 * ? * * *)"),
        )
        .await;

    let event = ScheduledRun {
        schedule_name: "churn-hourly".into(),
        scheduled_time: at(14),
    };
    let RunResult::Finished(record) = stack.runner.run(&event).await.unwrap() else {
        panic!("the run was skipped")
    };
    assert_eq!(
        format!("{:?}", record.summary.monitoring_execution_status),
        "CompletedWithViolations"
    );
    let report = "s3://reports/monitoring/churn-endpoint/churn-hourly/2026/11/25/14/";
    assert_eq!(record.report_uri.as_deref(), Some(report));
    let records = record.records.as_ref().unwrap();
    assert_eq!(records["read"], 60, "exactly the window's records: {records}");
    assert_eq!(records["analysed"], 60);

    let violations: Value =
        serde_json::from_slice(&stack.object(&format!("{report}constraint_violations.json")).unwrap()).unwrap();
    let violated: Vec<(&str, &str)> = violations["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["feature_name"].as_str().unwrap(),
                v["constraint_check_type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(violated, [("age", "baseline_drift_check")]);
    assert!(stack.object(&format!("{report}statistics.json")).is_some());
    let metrics = std::fs::read_to_string(stack.dir.path().join("metrics.jsonl")).unwrap();
    let drift_line = metrics
        .lines()
        .find(|l| l.contains("\"feature_baseline_drift_age\""))
        .expect("the drift metric");
    let drift: Value = serde_json::from_str(drift_line).unwrap();
    assert_eq!(drift["namespace"], "aws/sagemaker/Endpoints/data-metrics");
    assert_eq!(drift["dimensions"]["Endpoint"], ENDPOINT);
    assert_eq!(drift["dimensions"]["MonitoringSchedule"], "churn-hourly");

    // The same delivery again: no second execution, no second set of metrics.
    let metric_lines = metrics.lines().count();
    assert!(matches!(stack.runner.run(&event).await.unwrap(), RunResult::Skipped(_)));
    assert_eq!(
        std::fs::read_to_string(stack.dir.path().join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count(),
        metric_lines
    );

    // The hour after: no drift.
    let next = ScheduledRun {
        schedule_name: "churn-hourly".into(),
        scheduled_time: at(15),
    };
    let RunResult::Finished(record) = stack.runner.run(&next).await.unwrap() else {
        panic!("skipped")
    };
    assert_eq!(format!("{:?}", record.summary.monitoring_execution_status), "Completed");

    let listed = stack
        .ok(
            "ListMonitoringExecutions",
            json!({"MonitoringScheduleName": "churn-hourly", "SortBy": "ScheduledTime", "SortOrder": "Ascending"}),
        )
        .await;
    let executions = listed["MonitoringExecutionSummaries"].as_array().unwrap();
    let statuses: Vec<&str> = executions
        .iter()
        .map(|e| e["MonitoringExecutionStatus"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["CompletedWithViolations", "Completed"]);
    assert_eq!(
        executions[0]["ScheduledTime"].as_f64().unwrap(),
        at(14).timestamp() as f64
    );
    assert_eq!(executions[0]["EndpointName"], ENDPOINT);
    assert!(
        executions[0].get("ReportUri").is_none(),
        "the summary is SageMaker's shape"
    );
    let failed = stack
        .ok("ListMonitoringExecutions", json!({"StatusEquals": "Failed"}))
        .await;
    assert!(failed["MonitoringExecutionSummaries"].as_array().unwrap().is_empty());

    let described = stack
        .ok(
            "DescribeMonitoringSchedule",
            json!({"MonitoringScheduleName": "churn-hourly"}),
        )
        .await;
    assert_eq!(
        described["LastMonitoringExecutionSummary"]["MonitoringExecutionStatus"],
        "Completed"
    );
}

#[tokio::test]
async fn an_empty_window_is_a_failed_execution_that_says_no_data() {
    let stack = Stack::new();
    stack.put_baseline().await;
    stack
        .ok("CreateMonitoringSchedule", create_request("quiet", "cron(0 * ? * * *)"))
        .await;
    let event = ScheduledRun {
        schedule_name: "quiet".into(),
        scheduled_time: at(3),
    };
    let RunResult::Finished(record) = stack.runner.run(&event).await.unwrap() else {
        panic!("skipped")
    };
    assert_eq!(format!("{:?}", record.summary.monitoring_execution_status), "Failed");
    let reason = record.summary.failure_reason.unwrap();
    assert!(reason.starts_with("Job inputs had no data. NoData: the input held no records to analyse in the window [2026-11-25T02:00:00+00:00, 2026-11-25T03:00:00+00:00)"), "{reason}");
    let report = "s3://reports/monitoring/churn-endpoint/quiet/2026/11/25/03/";
    assert!(stack.object(&format!("{report}report.json")).is_some());
    assert!(stack.object(&format!("{report}constraint_violations.json")).is_none());
}

#[tokio::test]
async fn a_failed_run_names_the_object_and_a_retry_runs_again() {
    let stack = Stack::new();
    stack
        .ok(
            "CreateMonitoringSchedule",
            create_request("no-baseline-yet", "cron(0 * ? * * *)"),
        )
        .await;
    let event = ScheduledRun {
        schedule_name: "no-baseline-yet".into(),
        scheduled_time: at(10),
    };
    let RunResult::Finished(record) = stack.runner.run(&event).await.unwrap() else {
        panic!("skipped")
    };
    assert_eq!(format!("{:?}", record.summary.monitoring_execution_status), "Failed");
    assert_eq!(
        record.summary.failure_reason.as_deref(),
        Some("s3://models/churn/statistics.json: no such object")
    );

    // The baseline arrives, a retried delivery runs the failed execution again.
    stack.put_baseline().await;
    stack.put_capture(at(9), 30, false);
    let RunResult::Finished(record) = stack.runner.run(&event).await.unwrap() else {
        panic!("skipped")
    };
    assert_eq!(format!("{:?}", record.summary.monitoring_execution_status), "Completed");
    let listed = stack
        .ok(
            "ListMonitoringExecutions",
            json!({"MonitoringScheduleName": "no-baseline-yet"}),
        )
        .await;
    assert_eq!(
        listed["MonitoringExecutionSummaries"].as_array().unwrap().len(),
        1,
        "one execution per scheduled time"
    );

    // A corrupt capture line is counted and named by its object, not a scratch path.
    let bad = stack
        .dir
        .path()
        .join("s3/capture-bucket/datacapture")
        .join(ENDPOINT)
        .join("AllTraffic/2026/11/25/10/59-00-000-bad.jsonl");
    write(&bad, "{\"captureData\": oops\n");
    stack.put_capture(at(10), 5, false);
    let later = ScheduledRun {
        schedule_name: "no-baseline-yet".into(),
        scheduled_time: at(11),
    };
    let RunResult::Finished(record) = stack.runner.run(&later).await.unwrap() else {
        panic!("skipped")
    };
    let records = record.records.unwrap();
    assert_eq!(records["read"], 6, "{records}");
    assert_eq!(records["analysed"], 5, "{records}");
    let examples = records["rejected"].to_string();
    assert!(
        examples
            .contains("s3://capture-bucket/datacapture/churn-endpoint/AllTraffic/2026/11/25/10/59-00-000-bad.jsonl:1"),
        "{examples}"
    );
}

#[tokio::test]
async fn a_now_schedule_analyses_its_window_relative_to_the_request() {
    let stack = Stack::new();
    stack.put_baseline().await;
    let now = Utc::now();
    stack.put_capture(now - Duration::minutes(50), 40, false);
    let mut request = create_request("once", "NOW");
    request["MonitoringScheduleConfig"]["ScheduleConfig"] =
        json!({"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT1H", "DataAnalysisEndTime": "-PT0H"});
    stack.ok("CreateMonitoringSchedule", request).await;
    let due = stack.scheduler.due(Utc::now() + Duration::seconds(2)).unwrap();
    assert_eq!(due.len(), 1, "a NOW schedule fires at once");
    let (name, scheduled_time) = due[0].clone();
    let RunResult::Finished(record) = stack
        .runner
        .run(&ScheduledRun {
            schedule_name: name,
            scheduled_time,
        })
        .await
        .unwrap()
    else {
        panic!("skipped")
    };
    assert_eq!(format!("{:?}", record.summary.monitoring_execution_status), "Completed");
    assert_eq!(record.records.unwrap()["analysed"], 40);
    assert!(
        stack.scheduler.due(Utc::now() + Duration::hours(3)).unwrap().is_empty(),
        "and only once"
    );
}

#[tokio::test]
async fn window_offsets_move_the_window() {
    let stack = Stack::new();
    stack.put_baseline().await;
    stack.put_capture(at(8), 60, false);
    let mut request = create_request("offsets", "cron(0 * ? * * *)");
    request["MonitoringScheduleConfig"]["MonitoringJobDefinition"]["MonitoringInputs"][0]["EndpointInput"] =
        endpoint_input(Some(("-PT3H", "-PT2H")));
    stack.ok("CreateMonitoringSchedule", request).await;
    let event = ScheduledRun {
        schedule_name: "offsets".into(),
        scheduled_time: at(11),
    };
    let RunResult::Finished(record) = stack.runner.run(&event).await.unwrap() else {
        panic!("skipped")
    };
    assert_eq!(
        record.records.unwrap()["analysed"],
        60,
        "11:00 - 3h .. 11:00 - 2h is 08:00 to 09:00"
    );
}

#[tokio::test]
async fn stopped_and_deleted_schedules_do_not_run() {
    let stack = Stack::new();
    stack.put_baseline().await;
    stack
        .ok(
            "CreateMonitoringSchedule",
            create_request("paused", "cron(0 * ? * * *)"),
        )
        .await;
    stack
        .ok("StopMonitoringSchedule", json!({"MonitoringScheduleName": "paused"}))
        .await;
    let event = ScheduledRun {
        schedule_name: "paused".into(),
        scheduled_time: at(5),
    };
    assert!(
        matches!(stack.runner.run(&event).await.unwrap(), RunResult::Skipped(reason) if reason.contains("stopped"))
    );
    let gone = ScheduledRun {
        schedule_name: "never-made".into(),
        scheduled_time: at(5),
    };
    assert!(
        matches!(stack.runner.run(&gone).await.unwrap(), RunResult::Skipped(reason) if reason.contains("does not exist"))
    );
}

#[tokio::test]
async fn jobs_naming_other_buckets_are_refused() {
    let stack = Stack::new();
    let settings = ControlSettings {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        max_schedules: 3,
    };
    let allowed = modelmon_cloud::AllowedBuckets::only(["models", "reports", "capture-bucket"]);
    let plane =
        ControlPlane::new(stack.table.clone(), stack.scheduler.clone(), settings).with_allowed_buckets(allowed.clone());
    let call = |body: Value| {
        let plane = &plane;
        async move {
            let response = handle(
                plane,
                Some("SageMaker.CreateMonitoringSchedule"),
                body.to_string().as_bytes(),
            )
            .await;
            (
                response.status,
                serde_json::from_slice::<Value>(&response.body).unwrap(),
            )
        }
    };
    let (status, _) = call(create_request("inside", "cron(0 * ? * * *)")).await;
    assert_eq!(status, 200);

    let mut elsewhere = create_request("elsewhere", "cron(0 * ? * * *)");
    elsewhere["MonitoringScheduleConfig"]["MonitoringJobDefinition"]["MonitoringOutputConfig"]["MonitoringOutputs"]
        [0]["S3Output"]["S3Uri"] = json!("s3://someone-elses-bucket/reports");
    let (status, answer) = call(elsewhere).await;
    assert_eq!((status, answer["__type"].as_str()), (400, Some("ValidationException")));
    assert_eq!(
        answer["message"],
        "MonitoringOutputs S3Output.S3Uri s3://someone-elses-bucket/reports is outside the buckets this deployment may use (models, reports, capture-bucket)"
    );

    let mut capture_elsewhere = create_request("capture-elsewhere", "cron(0 * ? * * *)");
    capture_elsewhere["MonitoringScheduleConfig"]["MonitoringJobDefinition"]["Environment"] =
        json!({"capture_destination_s3_uri": "s3://private-data/capture"});
    let (_, answer) = call(capture_elsewhere).await;
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .starts_with("Environment.capture_destination_s3_uri s3://private-data/capture is outside"),
        "{answer}"
    );
    assert!(stack
        .table
        .get(&ItemKey::Schedule("elsewhere".into()))
        .await
        .unwrap()
        .is_none());

    // A run checks again: a schedule written before the allow-list existed is refused at run time.
    stack
        .ok("CreateMonitoringSchedule", create_request("older", "cron(0 * ? * * *)"))
        .await;
    let strict_runner = AnalysisRunner::new(
        stack.table.clone(),
        stack.store.clone(),
        Arc::new(FileMetrics::new(stack.dir.path().join("metrics.jsonl"))),
        crate::run_settings(None),
    )
    .with_allowed_buckets(modelmon_cloud::AllowedBuckets::only(["capture-bucket"]));
    let event = ScheduledRun {
        schedule_name: "older".into(),
        scheduled_time: at(4),
    };
    let RunResult::Finished(record) = strict_runner.run(&event).await.unwrap() else {
        panic!("skipped")
    };
    let reason = record.summary.failure_reason.unwrap();
    assert!(
        reason.starts_with("BaselineConfig.StatisticsResource.S3Uri s3://models/churn/statistics.json is outside"),
        "{reason}"
    );
}

/// What a crash between a Delete's mark and its end leaves: a record marked deleting, its timer
/// still there. It is gone for every caller; a Create of the name finishes the deletion first,
/// and a Delete finishes it and says the schedule does not exist.
#[tokio::test]
async fn a_deletion_cut_short_is_finished_by_whoever_meets_it() {
    let stack = Stack::new();
    let mark = |name: &'static str| {
        let table = stack.table.clone();
        async move {
            let key = ItemKey::Schedule(name.into());
            let mut item = table.get(&key).await.unwrap().unwrap();
            item.body["modelmon"]["deleting"] = json!(true);
            item.version += 1;
            table.update(&item).await.unwrap();
        }
    };
    for name in ["recreated", "deleted"] {
        stack
            .ok("CreateMonitoringSchedule", create_request(name, "cron(0 * ? * * *)"))
            .await;
        mark(name).await;
    }
    assert_eq!(stack.scheduler.specs().unwrap().len(), 2, "the timers outlived the cut");
    stack
        .fails(
            "DescribeMonitoringSchedule",
            json!({"MonitoringScheduleName": "recreated"}),
            "ResourceNotFound",
        )
        .await;
    let listed = stack.ok("ListMonitoringSchedules", json!({})).await;
    assert_eq!(listed["MonitoringScheduleSummaries"], json!([]));
    stack
        .fails(
            "StopMonitoringSchedule",
            json!({"MonitoringScheduleName": "recreated"}),
            "ResourceNotFound",
        )
        .await;

    stack
        .ok(
            "CreateMonitoringSchedule",
            create_request("recreated", "cron(0 0/6 ? * * *)"),
        )
        .await;
    let described = stack
        .ok(
            "DescribeMonitoringSchedule",
            json!({"MonitoringScheduleName": "recreated"}),
        )
        .await;
    assert_eq!(
        described["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"],
        "cron(0 0/6 ? * * *)"
    );
    assert!(described.get("modelmon").is_none(), "modelmon's own state is not shown");
    stack
        .fails(
            "DeleteMonitoringSchedule",
            json!({"MonitoringScheduleName": "deleted"}),
            "ResourceNotFound",
        )
        .await;
    assert!(stack
        .table
        .get(&ItemKey::Schedule("deleted".into()))
        .await
        .unwrap()
        .is_none());
    let timers: Vec<_> = stack
        .scheduler
        .specs()
        .unwrap()
        .into_iter()
        .map(|t| (t.name, t.cadence))
        .collect();
    assert_eq!(
        timers,
        [(
            "recreated".to_string(),
            modelmon_cloud::ports::Cadence::Hours {
                first_hour: 0,
                every_hours: 6
            }
        )]
    );
}

/// `reconcile` (serve's start-up check) repairs each thing a crash can leave, and then finds
/// nothing more to repair.
#[tokio::test]
async fn reconcile_brings_timers_in_line_with_records() {
    let stack = Stack::new();
    // (The stack allows three schedules.)
    for name in ["timer-lost", "timer-stale", "half-deleted"] {
        stack
            .ok("CreateMonitoringSchedule", create_request(name, "cron(0 * ? * * *)"))
            .await;
    }
    // A record whose timer is gone, a timer that says enabled for a stopped record, a deletion
    // cut short after its mark, and a timer whose record is gone.
    stack.scheduler.delete("timer-lost").await.unwrap();
    stack
        .ok(
            "StopMonitoringSchedule",
            json!({"MonitoringScheduleName": "timer-stale"}),
        )
        .await;
    let hourly = modelmon_cloud::ports::Cadence::Hours {
        first_hour: 0,
        every_hours: 1,
    };
    let spec = |name: &str, enabled| ScheduleSpec {
        name: name.into(),
        cadence: hourly,
        enabled,
    };
    stack.scheduler.update(&spec("timer-stale", true)).await.unwrap();
    let key = ItemKey::Schedule("half-deleted".into());
    let mut item = stack.table.get(&key).await.unwrap().unwrap();
    item.body["modelmon"]["deleting"] = json!(true);
    item.version += 1;
    stack.table.update(&item).await.unwrap();
    stack.scheduler.create(&spec("orphan", true)).await.unwrap();

    let notes = stack.plane.reconcile(stack.scheduler.specs().unwrap()).await.unwrap();
    assert_eq!(
        notes,
        [
            "schedule half-deleted: finished its interrupted deletion",
            "schedule timer-lost: its timer was missing, created",
            "schedule timer-stale: its timer differed from the record, set",
            "timer orphan: had no schedule record, removed",
        ]
    );
    let timers = stack.scheduler.specs().unwrap();
    assert_eq!(timers, [spec("timer-lost", true), spec("timer-stale", false)]);
    assert!(stack.table.get(&key).await.unwrap().is_none());
    assert!(stack
        .plane
        .reconcile(stack.scheduler.specs().unwrap())
        .await
        .unwrap()
        .is_empty());
}
