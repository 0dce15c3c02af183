//! Processing jobs on the local adapters: baselining jobs of CreateProcessingJob run in-process
//! to their end state (Completed, Failed with the reason, Stopped), a lost runner or one that
//! never started ends Failed by its lease, MaxRuntimeInSeconds and the runner's own deadline end
//! a job, concurrent Stops give one success; monitoring executions are processing jobs too; tags
//! on all three kinds of resource; a big job handed to the fan-out, which its steps end. The whole SDK notebook against both homes is in
//! tests/test_sdk_notebook.py.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use modelmon_cloud::control::records::ProcessingJobRecord;
use modelmon_cloud::control::{ControlPlane, ControlSettings};
use modelmon_cloud::local::{FileJobLog, FileMetrics, FileTable, FsObjectStore, InProcessLauncher, LocalScheduler};
use modelmon_cloud::ports::{ByteChunks, FanoutStarter, JobLauncher, ObjectInfo, ObjectStore};
use modelmon_cloud::run::{
    run_baseline, AnalysisRunner, FanoutSettings, JobRunResult, JobRunSettings, ProcessingJobRunner, RunResult,
    ScheduledRun,
};
use modelmon_cloud::AllowedBuckets;
use modelmon_cloud::{CloudError, ObjectUri};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::Semaphore;

use crate::api_calls;

const IMAGE: &str = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer";
const ROLE: &str = "arn:aws:iam::123456789012:role/service-role/monitoring";
const ENDPOINT: &str = "churn-endpoint";
/// How long a test waits for a job to end before it fails (the jobs take milliseconds).
const WAIT: StdDuration = StdDuration::from_secs(60);

/// The object store, except that reading an object whose key holds `stall/` waits until the test
/// releases it: a job held in the middle of its work.
struct StallingStore {
    inner: FsObjectStore,
    gate: Semaphore,
    reached: Semaphore,
}

#[async_trait]
impl ObjectStore for StallingStore {
    async fn get(&self, uri: &ObjectUri) -> Result<Vec<u8>, CloudError> {
        if uri.key.contains("stall/") {
            self.reached.add_permits(1);
            let _permit = self.gate.acquire().await.expect("the gate is never closed");
        }
        self.inner.get(uri).await
    }

    // The runs read their inputs in ranges (this store has no local files to read in place).
    async fn read_range(&self, uri: &ObjectUri, start: u64, end: u64) -> Result<Box<dyn ByteChunks>, CloudError> {
        if uri.key.contains("stall/") {
            self.reached.add_permits(1);
            let _permit = self.gate.acquire().await.expect("the gate is never closed");
        }
        self.inner.read_range(uri, start, end).await
    }

    async fn put(&self, uri: &ObjectUri, body: Vec<u8>, content_type: &str) -> Result<(), CloudError> {
        self.inner.put(uri, body, content_type).await
    }

    async fn list(&self, prefix: &ObjectUri) -> Result<Vec<ObjectInfo>, CloudError> {
        self.inner.list(prefix).await
    }

    async fn delete(&self, uri: &ObjectUri) -> Result<(), CloudError> {
        self.inner.delete(uri).await
    }
}

/// A launcher that starts nothing: the job waits for a runner that never comes.
pub struct NoLauncher;

#[async_trait]
impl JobLauncher for NoLauncher {
    async fn launch(&self, _job: &ProcessingJobRecord) -> Result<(), CloudError> {
        Ok(())
    }

    fn start_timeout(&self) -> chrono::Duration {
        Duration::seconds(1)
    }
}

struct Stack {
    dir: TempDir,
    table: Arc<FileTable>,
    store: Arc<StallingStore>,
    jobs: Arc<ProcessingJobRunner>,
    plane: ControlPlane,
    runner: AnalysisRunner,
}

impl Stack {
    fn new() -> Stack {
        Stack::with(Duration::seconds(60), None)
    }

    /// `lease`: the runner's; `launcher`: instead of running jobs in-process.
    fn with(lease: Duration, launcher: Option<Arc<dyn JobLauncher>>) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let table = Arc::new(FileTable::new(dir.path().join("table")));
        let jobs_table = table.clone();
        let store = Arc::new(StallingStore {
            inner: FsObjectStore::new(dir.path().join("s3")),
            gate: Semaphore::new(0),
            reached: Semaphore::new(0),
        });
        let jobs = Arc::new(ProcessingJobRunner::new(
            table.clone(),
            store.clone(),
            Arc::new(FileJobLog::new(dir.path().join("logs"))),
            JobRunSettings { lease, scratch: None },
        ));
        let settings = ControlSettings {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            max_schedules: 10,
        };
        let launcher = launcher.unwrap_or_else(|| Arc::new(InProcessLauncher::new(jobs.clone())));
        let plane = ControlPlane::new(
            table.clone(),
            Arc::new(LocalScheduler::new(dir.path().join("scheduler.json"))),
            settings,
        )
        .with_job_launcher(launcher);
        let runner = AnalysisRunner::new(
            table,
            store.clone(),
            Arc::new(FileMetrics::new(dir.path().join("metrics.jsonl"))),
            crate::run_settings(Some("s3://capture-bucket/datacapture")),
        );
        Stack {
            dir,
            table: jobs_table,
            store,
            jobs,
            plane,
            runner,
        }
    }

    async fn call(&self, operation: &str, body: Value) -> (u16, Value) {
        api_calls::call(&self.plane, operation, body).await
    }

    async fn ok(&self, operation: &str, body: Value) -> Value {
        api_calls::ok(&self.plane, operation, body).await
    }

    async fn fails(&self, operation: &str, body: Value, code: &str) -> String {
        api_calls::fails(&self.plane, operation, body, code).await
    }

    async fn describe(&self, job: &str) -> Value {
        self.ok("DescribeProcessingJob", json!({ "ProcessingJobName": job }))
            .await
    }

    /// Describes the job until its status is `status`; fails after [`WAIT`].
    async fn wait_for(&self, job: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let described = self.describe(job).await;
            if described["ProcessingJobStatus"] == status {
                return described;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{job} is not {status}: {described}"
            );
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
    }

    fn put(&self, key: &str, text: &str) {
        let path = self.dir.path().join("s3/models").join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn object(&self, uri: &str) -> Option<String> {
        let uri = ObjectUri::parse(uri).unwrap();
        std::fs::read_to_string(self.dir.path().join("s3").join(uri.bucket).join(uri.key)).ok()
    }

    /// Waits until a job reads a stalled object.
    async fn stalled(&self) {
        let reached = tokio::time::timeout(WAIT, self.store.reached.acquire()).await;
        reached.expect("the job reaches the stalled object").unwrap().forget();
    }

    fn log(&self, job: &str) -> String {
        let dir = self.dir.path().join("logs").join(job);
        let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(entries.len(), 1, "one stream: {entries:?}");
        std::fs::read_to_string(&entries[0]).unwrap()
    }
}

/// `age,plan`, 300 rows (age 20..60, plan basic or pro), and `extra` lines after them.
fn training_csv(extra: &str) -> String {
    let mut text = String::from("age,plan\n");
    for i in 0..300 {
        text.push_str(&format!(
            "{},{}\n",
            20 + i % 40,
            if i % 3 == 0 { "pro" } else { "basic" }
        ));
    }
    text + extra
}

/// CreateProcessingJob as the SDK's `suggest_baseline` sends it.
pub fn baselining_request(name: &str, dataset: &str, output: &str) -> Value {
    json!({
        "ProcessingJobName": name,
        "ProcessingInputs": [{
            "InputName": "baseline_dataset_input", "AppManaged": false,
            "S3Input": {"S3Uri": dataset, "LocalPath": "/opt/ml/processing/input/baseline_dataset_input",
                        "S3DataType": "S3Prefix", "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}}],
        "ProcessingOutputConfig": {"Outputs": [{
            "OutputName": "monitoring_output", "AppManaged": false,
            "S3Output": {"S3Uri": output, "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
        "AppSpecification": {"ImageUri": IMAGE},
        "Environment": {
            "dataset_format": "{\"csv\": {\"header\": true, \"output_columns_position\": \"START\"}}",
            "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
            "output_path": "/opt/ml/processing/output",
            "publish_cloudwatch_metrics": "Disabled"
        },
        "RoleArn": ROLE,
        "Tags": [{"Key": "team", "Value": "churn"}]
    })
}

#[tokio::test]
async fn a_baselining_job_runs_to_completed_and_echoes_its_request() {
    let stack = Stack::new();
    stack.put("churn/train.csv", &training_csv(""));
    let request = baselining_request(
        "baseline-churn",
        "s3://models/churn/train.csv",
        "s3://models/churn/baseline",
    );
    let created = stack.ok("CreateProcessingJob", request.clone()).await;
    assert_eq!(
        created["ProcessingJobArn"],
        "arn:aws:sagemaker:us-east-1:123456789012:processing-job/baseline-churn"
    );
    let described = stack.wait_for("baseline-churn", "Completed").await;
    for member in [
        "ProcessingInputs",
        "ProcessingOutputConfig",
        "ProcessingResources",
        "StoppingCondition",
        "AppSpecification",
        "Environment",
        "RoleArn",
    ] {
        assert_eq!(described[member], request[member], "{member}");
    }
    assert!(
        described.get("Tags").is_none() && described.get("LeaseExpiresAt").is_none(),
        "{described}"
    );
    let (created, started, ended) = (
        described["CreationTime"].as_f64().unwrap(),
        described["ProcessingStartTime"].as_f64().unwrap(),
        described["ProcessingEndTime"].as_f64().unwrap(),
    );
    assert!(created <= started && started <= ended, "{described}");
    assert_eq!(described["LastModifiedTime"].as_f64(), Some(ended));
    assert_eq!(
        described["ExitMessage"],
        "Baselined 300 records into s3://models/churn/baseline/statistics.json and \
         s3://models/churn/baseline/constraints.json: read 300, analysed 300, rejected 0."
    );
    assert!(described.get("FailureReason").is_none());
    let statistics: Value =
        serde_json::from_str(&stack.object("s3://models/churn/baseline/statistics.json").unwrap()).unwrap();
    assert_eq!(statistics["dataset"]["item_count"], 300);
    assert!(stack.object("s3://models/churn/baseline/constraints.json").is_some());

    // The job's own log lines, in its stream `<job>/algo-1-<epoch>`.
    let log = stack.log("baseline-churn");
    assert!(log.contains("baselining job baseline-churn"), "{log}");
    assert!(log.contains("dataset_source s3://models/churn/train.csv"), "{log}");
    assert!(log.contains("Completed: Baselined 300 records"), "{log}");

    // A second job of the same name (in any case) is refused.
    let again = stack
        .fails("CreateProcessingJob", request.clone(), "ResourceInUse")
        .await;
    assert_eq!(again, "Processing job 'baseline-churn' already exists");
    let mut upper = request.clone();
    upper["ProcessingJobName"] = json!("Baseline-Churn");
    stack.fails("CreateProcessingJob", upper, "ResourceInUse").await;
    // Describe by the name in any case (ARNs, and the SDK, carry it lower-cased).
    assert_eq!(
        stack.describe("BASELINE-CHURN").await["ProcessingJobName"],
        "baseline-churn"
    );
    let missing = stack
        .fails(
            "DescribeProcessingJob",
            json!({"ProcessingJobName": "nope"}),
            "ResourceNotFound",
        )
        .await;
    assert_eq!(missing, "Processing job 'nope' does not exist");
}

#[tokio::test]
async fn jobs_the_analyzer_would_not_run_are_refused_and_leave_nothing() {
    let stack = Stack::new();
    let mut other = baselining_request("other-image", "s3://models/churn/train.csv", "s3://models/out");
    other["AppSpecification"]["ImageUri"] =
        json!("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1");
    let message = stack.fails("CreateProcessingJob", other, "ValidationException").await;
    assert!(
        message.contains("is not the model-monitor analyzer: modelmon runs only SageMaker's model-monitor analyzer"),
        "{message}"
    );
    let mut unmounted = baselining_request("unmounted", "s3://models/churn/train.csv", "s3://models/out");
    unmounted["Environment"]["dataset_source"] = json!("/opt/ml/processing/input/elsewhere");
    let message = stack
        .fails("CreateProcessingJob", unmounted, "ValidationException")
        .await;
    assert!(
        message.starts_with("Environment.dataset_source '/opt/ml/processing/input/elsewhere' is not the LocalPath"),
        "{message}"
    );
    let mut bad_format = baselining_request("bad-format", "s3://models/churn/train.csv", "s3://models/out");
    bad_format["Environment"]["dataset_format"] = json!("{\"tsv\": {}}");
    let message = stack
        .fails("CreateProcessingJob", bad_format, "ValidationException")
        .await;
    assert!(message.starts_with("Environment.dataset_format: line 1"), "{message}");
    let listed = stack.ok("ListProcessingJobs", json!({})).await;
    assert_eq!(listed["ProcessingJobSummaries"], json!([]));
}

#[tokio::test]
async fn bad_data_fails_with_the_reason_or_is_counted() {
    let stack = Stack::new();
    // No such dataset.
    stack
        .ok(
            "CreateProcessingJob",
            baselining_request("missing", "s3://models/nothing/here.csv", "s3://models/out/missing"),
        )
        .await;
    let failed = stack.wait_for("missing", "Failed").await;
    assert_eq!(
        failed["FailureReason"],
        "s3://models/nothing/here.csv: no objects to baseline"
    );
    assert!(stack
        .log("missing")
        .contains("Failed: s3://models/nothing/here.csv: no objects to baseline"));

    // Rows with the wrong number of fields: the job completes and counts them.
    stack.put("bad/train.csv", &training_csv("1,2,3\n41\n"));
    stack
        .ok(
            "CreateProcessingJob",
            baselining_request("bad-rows", "s3://models/bad/train.csv", "s3://models/out/bad"),
        )
        .await;
    let completed = stack.wait_for("bad-rows", "Completed").await;
    let message = completed["ExitMessage"].as_str().unwrap();
    assert!(
        message.contains("read 302, analysed 300, rejected 2 (wrong field count 2)"),
        "{message}"
    );
    assert!(
        message.ends_with("First wrong field count: s3://models/bad/train.csv:302: expected 2 fields, found 3."),
        "{message}"
    );

    // A header and no rows: Failed, and why.
    stack.put("empty/train.csv", "age,plan\n");
    stack
        .ok(
            "CreateProcessingJob",
            baselining_request("no-rows", "s3://models/empty/train.csv", "s3://models/out/empty"),
        )
        .await;
    let failed = stack.wait_for("no-rows", "Failed").await;
    assert_eq!(
        failed["FailureReason"],
        "s3://models/empty/train.csv: the dataset has no records to baseline (read 0, analysed 0, rejected 0)"
    );
    assert!(stack.object("s3://models/out/empty/statistics.json").is_none());
}

#[tokio::test]
async fn a_stop_ends_a_running_job_and_of_concurrent_stops_one_succeeds() {
    // The runner looks for a Stop every half second (a sixth of its lease).
    let stack = Arc::new(Stack::with(Duration::seconds(3), None));
    stack.put("stall/train.csv", &training_csv(""));
    stack
        .ok(
            "CreateProcessingJob",
            baselining_request("stopped", "s3://models/stall/train.csv", "s3://models/out/stopped"),
        )
        .await;
    stack.stalled().await;
    assert_eq!(stack.describe("stopped").await["ProcessingJobStatus"], "InProgress");
    let stops: Vec<_> = (0..8)
        .map(|_| {
            let stack = stack.clone();
            tokio::spawn(async move {
                stack
                    .call("StopProcessingJob", json!({"ProcessingJobName": "stopped"}))
                    .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for stop in stops {
        answers.push(stop.await.unwrap());
    }
    let succeeded = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(succeeded, 1, "{answers:?}");
    for (_, refused) in answers.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(refused["__type"], "ValidationException", "{refused}");
        assert_eq!(
            refused["message"],
            "Processing job 'stopped' is Stopping: only a job InProgress can be stopped"
        );
    }
    let stopped = stack.wait_for("stopped", "Stopped").await;
    assert_eq!(stopped["ExitMessage"], "Stopped by StopProcessingJob.");
    assert!(stack
        .log("stopped")
        .ends_with("Stopped: Stopped by StopProcessingJob.\n"));
    assert!(stopped["ProcessingEndTime"].as_f64().is_some());
    assert!(stack.object("s3://models/out/stopped/statistics.json").is_none());
    let again = stack
        .fails(
            "StopProcessingJob",
            json!({"ProcessingJobName": "stopped"}),
            "ValidationException",
        )
        .await;
    assert_eq!(
        again,
        "Processing job 'stopped' is Stopped: only a job InProgress can be stopped"
    );
}

#[tokio::test]
async fn max_runtime_and_the_runners_deadline_end_a_job() {
    let stack = Stack::with(Duration::seconds(60), Some(Arc::new(NoLauncher)));
    stack.put("stall/train.csv", &training_csv(""));
    let mut request = baselining_request("too-long", "s3://models/stall/train.csv", "s3://models/out/long");
    request["StoppingCondition"] = json!({"MaxRuntimeInSeconds": 1});
    stack.ok("CreateProcessingJob", request).await;
    let JobRunResult::Finished(record) = stack.jobs.run("too-long", None).await.unwrap() else {
        panic!("skipped")
    };
    assert_eq!(
        record.failure_reason.as_deref(),
        Some(
            "The job exceeded its StoppingCondition.MaxRuntimeInSeconds of 1 s and was ended before it finished; \
             its output at s3://models/out/long may be missing or incomplete"
        )
    );
    assert_eq!(stack.describe("too-long").await["ProcessingJobStatus"], "Failed");

    stack
        .ok(
            "CreateProcessingJob",
            baselining_request("deadline", "s3://models/stall/train.csv", "s3://models/out/deadline"),
        )
        .await;
    let JobRunResult::Finished(record) = stack
        .jobs
        .run("deadline", Some(Utc::now() + Duration::seconds(1)))
        .await
        .unwrap()
    else {
        panic!("skipped")
    };
    let reason = record.failure_reason.unwrap();
    assert!(
        reason.starts_with("The job did not finish within the baseline function's time limit"),
        "{reason}"
    );
    // A second delivery of an ended job does nothing.
    let again = stack.jobs.run("deadline", None).await.unwrap();
    assert_eq!(again, JobRunResult::Skipped("the job is Failed".into()));
}

#[tokio::test]
async fn a_job_whose_runner_dies_or_never_comes_ends_failed() {
    // Nobody picks the job up within the launcher's start timeout (1 s).
    let stack = Stack::with(Duration::seconds(2), Some(Arc::new(NoLauncher)));
    stack.put("stall/train.csv", &training_csv(""));
    stack
        .ok(
            "CreateProcessingJob",
            baselining_request("never", "s3://models/stall/train.csv", "s3://models/out/never"),
        )
        .await;
    assert_eq!(stack.describe("never").await["ProcessingJobStatus"], "InProgress");
    let failed = stack.wait_for("never", "Failed").await;
    let reason = failed["FailureReason"].as_str().unwrap();
    assert!(
        reason.starts_with("The job never started: nothing ran it by "),
        "{reason}"
    );
    // A late delivery writes the failure down and does not run it.
    let late = stack.jobs.run("never", None).await.unwrap();
    assert_eq!(
        late,
        JobRunResult::Skipped("the job was lost before this delivery: it is Failed".into())
    );

    // A runner that dies in the middle (its task is dropped): the lease (2 s) runs out.
    stack
        .ok(
            "CreateProcessingJob",
            baselining_request("crashed", "s3://models/stall/train.csv", "s3://models/out/crashed"),
        )
        .await;
    let jobs = stack.jobs.clone();
    let running = tokio::spawn(async move { jobs.run("crashed", None).await });
    stack.stalled().await;
    assert_eq!(stack.describe("crashed").await["ProcessingJobStatus"], "InProgress");
    running.abort();
    let failed = stack.wait_for("crashed", "Failed").await;
    let reason = failed["FailureReason"].as_str().unwrap();
    assert!(
        reason.starts_with("The job's runner stopped without finishing: it last renewed its lease until "),
        "{reason}"
    );
    let listed = stack.ok("ListProcessingJobs", json!({"StatusEquals": "Failed"})).await;
    let names: Vec<&str> = listed["ProcessingJobSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["ProcessingJobName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["crashed", "never"]);
    stack
        .fails(
            "StopProcessingJob",
            json!({"ProcessingJobName": "crashed"}),
            "ValidationException",
        )
        .await;
}

fn capture(stack: &Stack, hour: DateTime<Utc>) {
    let mut text = String::new();
    for minute in 0..60 {
        let at = hour + Duration::minutes(minute);
        let record = json!({
            "captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                "data": format!("{},{}", 20 + minute % 40, if minute % 3 == 0 { "pro" } else { "basic" }), "encoding": "CSV"}},
            "eventMetadata": {"eventId": format!("e{minute}"), "inferenceTime": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
            "eventVersion": "0"
        });
        text.push_str(&format!("{record}\n"));
    }
    let path: &Path = &stack.dir.path().join(format!(
        "s3/capture-bucket/datacapture/{ENDPOINT}/AllTraffic/{}/00-00-000-capture.jsonl",
        hour.format("%Y/%m/%d/%H")
    ));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn executions_are_processing_jobs_and_everything_takes_tags() {
    let stack = Stack::new();
    stack.put("churn/train.csv", &training_csv(""));
    stack
        .ok(
            "CreateProcessingJob",
            baselining_request("baseline", "s3://models/churn/train.csv", "s3://models/churn/baseline"),
        )
        .await;
    stack.wait_for("baseline", "Completed").await;
    let definition = stack
        .ok(
            "CreateDataQualityJobDefinition",
            json!({
                "JobDefinitionName": "churn-definition",
                "DataQualityBaselineConfig": {
                    "BaseliningJobName": "baseline",
                    "ConstraintsResource": {"S3Uri": "s3://models/churn/baseline/constraints.json"},
                    "StatisticsResource": {"S3Uri": "s3://models/churn/baseline/statistics.json"}},
                "DataQualityAppSpecification": {"ImageUri": IMAGE, "Environment": {"publish_cloudwatch_metrics": "Enabled"}},
                "DataQualityJobInput": {"EndpointInput": {"EndpointName": ENDPOINT, "LocalPath": "/opt/ml/processing/input/endpoint"}},
                "DataQualityJobOutputConfig": {"MonitoringOutputs": [{"S3Output": {
                    "S3Uri": "s3://reports/monitoring", "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "Continuous"}}]},
                "JobResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
                "RoleArn": ROLE,
                "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
                "Tags": [{"Key": "team", "Value": "churn"}]
            }),
        )
        .await;
    let schedule = stack
        .ok(
            "CreateMonitoringSchedule",
            json!({
                "MonitoringScheduleName": "churn-hourly",
                "MonitoringScheduleConfig": {
                    "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                    "MonitoringJobDefinitionName": "churn-definition",
                    "MonitoringType": "DataQuality"},
                "Tags": [{"Key": "team", "Value": "churn"}]
            }),
        )
        .await;
    let hour = Utc.with_ymd_and_hms(2026, 11, 25, 13, 0, 0).unwrap();
    capture(&stack, hour);
    let event = ScheduledRun {
        schedule_name: "churn-hourly".into(),
        scheduled_time: hour + Duration::hours(1),
    };
    let RunResult::Finished(_) = stack.runner.run(&event).await.unwrap() else {
        panic!("skipped")
    };

    let listed = stack
        .ok(
            "ListMonitoringExecutions",
            json!({"MonitoringScheduleName": "churn-hourly"}),
        )
        .await;
    let arn = listed["MonitoringExecutionSummaries"][0]["ProcessingJobArn"]
        .as_str()
        .unwrap()
        .to_string();
    let name = arn.split_once(":processing-job/").unwrap().1.to_string();
    assert!(name.starts_with("model-monitoring-202611251400-"), "{arn}");
    let last = stack
        .ok(
            "DescribeMonitoringSchedule",
            json!({"MonitoringScheduleName": "churn-hourly"}),
        )
        .await;
    assert_eq!(last["LastMonitoringExecutionSummary"]["ProcessingJobArn"], arn);

    // What the SDK's MonitoringExecution reads.
    let job = stack.describe(&name).await;
    assert_eq!(job["ProcessingJobStatus"], "Completed", "{job}");
    assert_eq!(job["ProcessingJobArn"], arn);
    assert_eq!(job["MonitoringScheduleArn"], schedule["MonitoringScheduleArn"]);
    assert_eq!(
        job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"],
        "s3://reports/monitoring/churn-endpoint/churn-hourly/2026/11/25/14"
    );
    assert!(stack
        .object("s3://reports/monitoring/churn-endpoint/churn-hourly/2026/11/25/14/statistics.json")
        .is_some());
    assert_eq!(
        job["ExitMessage"],
        "Completed: Job completed successfully with no violations."
    );
    let environment = &job["Environment"];
    assert_eq!(environment["start_time"], "2026-11-25T13:00:00Z");
    assert_eq!(environment["end_time"], "2026-11-25T14:00:00Z");
    assert_eq!(environment["sagemaker_monitoring_schedule_name"], "churn-hourly");
    assert_eq!(environment["sagemaker_endpoint_name"], ENDPOINT);
    assert_eq!(environment["publish_cloudwatch_metrics"], "Enabled");
    assert_eq!(environment["dataset_source"], "/opt/ml/processing/input/endpoint");
    let inputs: Vec<(&str, &str)> = job["ProcessingInputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["InputName"].as_str().unwrap(),
                i["S3Input"]["S3Uri"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        inputs,
        [
            ("endpoint_input_1", "s3://capture-bucket/datacapture/churn-endpoint"),
            ("baseline", "s3://models/churn/baseline/statistics.json"),
            ("constraints", "s3://models/churn/baseline/constraints.json"),
        ]
    );
    assert_eq!(job["AppSpecification"]["ImageUri"], IMAGE);
    assert_eq!(job["RoleArn"], ROLE);
    assert_eq!(job["StoppingCondition"]["MaxRuntimeInSeconds"], 1800);
    let stop = stack
        .fails(
            "StopProcessingJob",
            json!({"ProcessingJobName": name}),
            "ValidationException",
        )
        .await;
    assert!(
        stop.contains("is the monitoring execution of schedule 'churn-hourly'"),
        "{stop}"
    );

    // ListProcessingJobs holds both kinds, with its filters and paging.
    let all = stack
        .ok(
            "ListProcessingJobs",
            json!({"SortBy": "Name", "SortOrder": "Ascending", "MaxResults": 1}),
        )
        .await;
    assert_eq!(all["ProcessingJobSummaries"][0]["ProcessingJobName"], "baseline");
    let rest = stack
        .ok(
            "ListProcessingJobs",
            json!({"SortBy": "Name", "SortOrder": "Ascending", "NextToken": all["NextToken"]}),
        )
        .await;
    assert_eq!(rest["ProcessingJobSummaries"][0]["ProcessingJobName"], name);
    assert!(rest.get("NextToken").is_none());
    let monitoring = stack
        .ok("ListProcessingJobs", json!({"NameContains": "model-monitoring"}))
        .await;
    assert_eq!(monitoring["ProcessingJobSummaries"].as_array().unwrap().len(), 1);

    // Tags on a schedule, a job definition, a baselining job and an execution's job.
    for arn in [
        schedule["MonitoringScheduleArn"].as_str().unwrap(),
        definition["JobDefinitionArn"].as_str().unwrap(),
        "arn:aws:sagemaker:us-east-1:123456789012:processing-job/baseline",
        &arn,
    ] {
        let before = stack.ok("ListTags", json!({"ResourceArn": arn})).await;
        let had_team = before["Tags"].as_array().unwrap().iter().any(|t| t["Key"] == "team");
        assert_eq!(had_team, !arn.contains("model-monitoring"), "{arn}: {before}");
        stack
            .ok(
                "AddTags",
                json!({"ResourceArn": arn, "Tags": [{"Key": "stage", "Value": "dev"}, {"Key": "team", "Value": "risk"}]}),
            )
            .await;
        let tagged = stack.ok("ListTags", json!({"ResourceArn": arn})).await;
        let mut tags: Vec<(&str, &str)> = tagged["Tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["Key"].as_str().unwrap(), t["Value"].as_str().unwrap()))
            .collect();
        tags.sort();
        assert_eq!(tags, [("stage", "dev"), ("team", "risk")], "{arn}");
        stack
            .ok("DeleteTags", json!({"ResourceArn": arn, "TagKeys": ["team"]}))
            .await;
        let left = stack.ok("ListTags", json!({"ResourceArn": arn})).await;
        assert_eq!(left["Tags"], json!([{"Key": "stage", "Value": "dev"}]), "{arn}");
    }
    let unknown = stack
        .fails(
            "ListTags",
            json!({"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/nope"}),
            "ResourceNotFound",
        )
        .await;
    assert_eq!(
        unknown,
        "arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/nope does not exist"
    );
    let endpoint = stack
        .fails(
            "AddTags",
            json!({"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn", "Tags": []}),
            "ValidationException",
        )
        .await;
    assert!(endpoint.contains("not of endpoint resources"), "{endpoint}");
    let many: Vec<Value> = (0..50).map(|i| json!({"Key": format!("k{i}"), "Value": "v"})).collect();
    let too_many = stack
        .fails(
            "AddTags",
            json!({"ResourceArn": schedule["MonitoringScheduleArn"], "Tags": many}),
            "ValidationException",
        )
        .await;
    assert!(
        too_many.ends_with("would have 51 tags; a resource has at most 50"),
        "{too_many}"
    );

    // The job definition is in use: it goes after its schedule, as the SDK deletes them.
    stack
        .fails(
            "DeleteDataQualityJobDefinition",
            json!({"JobDefinitionName": "churn-definition"}),
            "ResourceInUse",
        )
        .await;
    stack
        .ok(
            "DeleteMonitoringSchedule",
            json!({"MonitoringScheduleName": "churn-hourly"}),
        )
        .await;
    stack
        .ok(
            "DeleteDataQualityJobDefinition",
            json!({"JobDefinitionName": "churn-definition"}),
        )
        .await;
    // The execution's job outlives the schedule, as the execution history does.
    assert_eq!(stack.describe(&name).await["ProcessingJobStatus"], "Completed");
}

/// The fan-out's state machine as the runner sees it: the executions it was asked to start.
#[derive(Default)]
struct StartedFanouts(std::sync::Mutex<Vec<(String, Value)>>);

#[async_trait]
impl FanoutStarter for StartedFanouts {
    async fn start(&self, name: &str, input: &Value) -> Result<String, CloudError> {
        self.0.lock().unwrap().push((name.to_string(), input.clone()));
        Ok(format!("arn:aws:states:us-east-1:123456789012:execution:fanout:{name}"))
    }
}

#[tokio::test]
async fn a_big_job_is_handed_to_the_fan_out_whose_steps_end_it() {
    let stack = Stack::with(Duration::seconds(60), Some(Arc::new(NoLauncher)));
    let started = Arc::new(StartedFanouts::default());
    let jobs = ProcessingJobRunner::new(
        stack.table.clone(),
        stack.store.clone(),
        Arc::new(FileJobLog::new(stack.dir.path().join("logs"))),
        JobRunSettings {
            lease: Duration::seconds(60),
            scratch: None,
        },
    )
    .with_fanout(FanoutSettings {
        starter: started.clone(),
        threshold_bytes: 1_000,
    });
    stack.put("big/train.csv", &training_csv(""));
    stack.put("small/train.csv", "age,plan\n31,basic\n45,pro\n");
    let create = |name: &str, dataset: &str| {
        let mut request = baselining_request(name, dataset, &format!("s3://models/out/{name}"));
        request["Environment"]["categorical_drift_method"] = json!("ChiSquared");
        request
    };

    // Over the threshold: handed over, InProgress, with its lease until MaxRuntimeInSeconds.
    stack.ok("CreateProcessingJob", create("big", "s3://models/big")).await;
    let JobRunResult::Finished(handed) = jobs.run("big", None).await.unwrap() else {
        panic!("skipped")
    };
    assert_eq!(format!("{:?}", handed.processing_job_status), "InProgress");
    let until = handed.lease_expires_at.unwrap() - handed.processing_start_time.unwrap();
    assert_eq!(until.round(), 1800.0);
    let arn = "arn:aws:states:us-east-1:123456789012:execution:fanout:big";
    assert_eq!(handed.fanout_execution.as_deref(), Some(arn));
    assert_eq!(
        started.0.lock().unwrap().clone(),
        [(
            "big".to_string(),
            json!({
                "dataset_source": "s3://models/big",
                "dataset_format": "{\"csv\": {\"header\": true, \"output_columns_position\": \"START\"}}",
                "output_path": "s3://models/out/big",
                "processing_job": "big",
                "categorical_drift_method": "ChiSquared"
            })
        )]
    );
    let described = stack.describe("big").await;
    assert_eq!(described["ProcessingJobStatus"], "InProgress");
    assert!(described.get("FanoutExecution").is_none(), "{described}");
    // A second delivery of the job does not start it again.
    assert!(matches!(jobs.run("big", None).await.unwrap(), JobRunResult::Skipped(_)));
    assert_eq!(started.0.lock().unwrap().len(), 1);

    // The merge step finds it open and ends it with its outputs.
    assert!(jobs.fanned_out_job_open("big").await.unwrap());
    let store: Arc<dyn ObjectStore> = stack.store.clone();
    let job = modelmon_cloud::run::BaselineJob {
        dataset_source: "s3://models/big".into(),
        dataset_format: r#"{"csv": {"header": true}}"#.into(),
        output_path: "s3://models/out/big".into(),
    };
    let outputs = run_baseline(&store, &job, &AllowedBuckets::any(), None).await.unwrap();
    let ended = jobs.end_fanned_out("big", Ok(&outputs)).await.unwrap();
    assert_eq!(format!("{:?}", ended.processing_job_status), "Completed");
    let described = stack.describe("big").await;
    assert!(
        described["ExitMessage"]
            .as_str()
            .unwrap()
            .starts_with("Baselined 300 records into s3://models/out/big/statistics.json"),
        "{described}"
    );
    let log = stack.log("big");
    let handed_line = log.find(&format!(
        "(1 objects, {} bytes; more than the threshold of 1000 bytes) is baselined by the fan-out",
        training_csv("").len()
    ));
    let completed_line = log.find("Completed: Baselined 300 records");
    assert!(handed_line.is_some() && completed_line > handed_line, "{log}");

    // The failure step ends a job Failed with the reason it is given.
    stack
        .ok("CreateProcessingJob", create("broken", "s3://models/big"))
        .await;
    jobs.run("broken", None).await.unwrap();
    let ended = jobs
        .end_fanned_out(
            "broken",
            Err("the batch of 1 objects from s3://models/big/train.csv failed: line 3"),
        )
        .await
        .unwrap();
    assert_eq!(format!("{:?}", ended.processing_job_status), "Failed");
    assert_eq!(
        stack.describe("broken").await["FailureReason"],
        "the batch of 1 objects from s3://models/big/train.csv failed: line 3"
    );

    // Stopped while the Map ran: the merge step ends it Stopped, with no baseline.
    stack
        .ok("CreateProcessingJob", create("stopped", "s3://models/big"))
        .await;
    jobs.run("stopped", None).await.unwrap();
    stack
        .ok("StopProcessingJob", json!({"ProcessingJobName": "stopped"}))
        .await;
    assert_eq!(stack.describe("stopped").await["ProcessingJobStatus"], "Stopping");
    assert!(!jobs.fanned_out_job_open("stopped").await.unwrap());
    assert_eq!(stack.describe("stopped").await["ProcessingJobStatus"], "Stopped");

    // Past its MaxRuntimeInSeconds without an end from the workflow: Failed, naming the execution.
    let mut late = create("late", "s3://models/big");
    late["StoppingCondition"]["MaxRuntimeInSeconds"] = json!(1);
    stack.ok("CreateProcessingJob", late).await;
    jobs.run("late", None).await.unwrap();
    let failed = stack.wait_for("late", "Failed").await;
    let reason = failed["FailureReason"].as_str().unwrap();
    assert!(
        reason.starts_with("The job exceeded its StoppingCondition.MaxRuntimeInSeconds: its fan-out ")
            && reason.contains("execution:fanout:late"),
        "{reason}"
    );
    assert!(!jobs.fanned_out_job_open("late").await.unwrap());

    // Under the threshold, with InstanceCount 1: one function, no fan-out.
    stack
        .ok("CreateProcessingJob", create("small", "s3://models/small"))
        .await;
    let JobRunResult::Finished(small) = jobs.run("small", None).await.unwrap() else {
        panic!("skipped")
    };
    assert_eq!(format!("{:?}", small.processing_job_status), "Completed");
    // InstanceCount 2 asks for the fan-out whatever the size.
    let mut asked = create("asked", "s3://models/small");
    asked["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = json!(2);
    stack.ok("CreateProcessingJob", asked).await;
    jobs.run("asked", None).await.unwrap();
    let names: Vec<String> = started.0.lock().unwrap().iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(names, ["big", "broken", "stopped", "late", "asked"]);
    assert!(stack
        .log("asked")
        .contains("InstanceCount 2) is baselined by the fan-out"));
}
