//! Requests that race, on both homes (the local adapters in a temporary folder; DynamoDB and
//! EventBridge Scheduler on moto through the real SDK clients): of N concurrent Deletes, Stops,
//! Starts and Updates of one schedule, of N Deletes of one job definition, and of N Stops of
//! one processing job, exactly one succeeds; and after random interleavings of Create, Update, Stop, Start and Delete every
//! record has its timer and every timer its record.
//!
//! To make "concurrent" mean the hardest case every time, the table is wrapped in a gate that
//! holds the first N conditional writes until all N have arrived: every request has read the
//! same version before any of them writes. The writes themselves go to the real adapters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use modelmon_cloud::control::lifecycle::is_deleting;
use modelmon_cloud::control::records::{ProcessingJobRecord, ScheduleRecord};
use modelmon_cloud::control::{ControlPlane, ControlSettings};
use modelmon_cloud::local::{FileTable, LocalScheduler};
use modelmon_cloud::ports::{Cadence, Item, ItemKey, ItemKind, JobLauncher, Scheduler, Table};
use modelmon_cloud::CloudError;
use serde_json::{json, Value};
use tokio::sync::Barrier;

use crate::api_calls;
use crate::processing_jobs::baselining_request;

/// Concurrent requests per race.
const RACERS: usize = 8;

/// A table whose next `updates` calls wait for each other (see the module's comment).
struct GatedTable {
    inner: Arc<dyn Table>,
    gate: Mutex<Option<(Arc<Barrier>, usize)>>,
}

impl GatedTable {
    fn arm(&self, updates: usize) {
        *self.gate.lock().unwrap() = Some((Arc::new(Barrier::new(updates)), updates));
    }

    /// The barrier this update waits at, if the gate still holds updates back.
    fn barrier(&self) -> Option<Arc<Barrier>> {
        let mut gate = self.gate.lock().unwrap();
        let (barrier, left) = gate.as_mut()?;
        let barrier = barrier.clone();
        *left -= 1;
        if *left == 0 {
            *gate = None;
        }
        Some(barrier)
    }
}

#[async_trait]
impl Table for GatedTable {
    async fn insert(&self, item: &Item) -> Result<(), CloudError> {
        self.inner.insert(item).await
    }
    async fn get(&self, key: &ItemKey) -> Result<Option<Item>, CloudError> {
        self.inner.get(key).await
    }
    async fn update(&self, item: &Item) -> Result<(), CloudError> {
        if let Some(barrier) = self.barrier() {
            barrier.wait().await;
        }
        self.inner.update(item).await
    }
    async fn delete(&self, key: &ItemKey, version: u64) -> Result<(), CloudError> {
        self.inner.delete(key, version).await
    }
    async fn list(&self, kind: ItemKind) -> Result<Vec<Item>, CloudError> {
        self.inner.list(kind).await
    }
    async fn list_executions(&self, schedule: &str) -> Result<Vec<Item>, CloudError> {
        self.inner.list_executions(schedule).await
    }
}

/// The timers of a home, as (cadence in the home's own spelling, enabled) by name.
#[async_trait]
trait Timers: Send + Sync {
    async fn timers(&self) -> BTreeMap<String, (String, bool)>;
    /// How the home spells a cadence in its timers.
    fn spell(&self, cadence: &Cadence) -> String;
}

struct LocalTimers(Arc<LocalScheduler>);

#[async_trait]
impl Timers for LocalTimers {
    async fn timers(&self) -> BTreeMap<String, (String, bool)> {
        let specs = self.0.specs().unwrap();
        specs
            .into_iter()
            .map(|spec| (spec.name, (self.spell(&spec.cadence), spec.enabled)))
            .collect()
    }
    fn spell(&self, cadence: &Cadence) -> String {
        format!("{cadence:?}")
    }
}

/// Starts no runner and gives the job an hour to be claimed: a Stop finds it InProgress.
struct IdleLauncher;

#[async_trait]
impl JobLauncher for IdleLauncher {
    async fn launch(&self, _job: &ProcessingJobRecord) -> Result<(), CloudError> {
        Ok(())
    }
    fn start_timeout(&self) -> chrono::Duration {
        chrono::Duration::hours(1)
    }
}

struct Home {
    plane: Arc<ControlPlane>,
    gate: Arc<GatedTable>,
    timers: Box<dyn Timers>,
    /// Names are unique per home (the AWS home's table and group are shared by nothing else).
    prefix: String,
    _dir: Option<tempfile::TempDir>,
}

fn settings() -> ControlSettings {
    ControlSettings {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        max_schedules: 1000,
    }
}

impl Home {
    fn new(table: Arc<dyn Table>, scheduler: Arc<dyn Scheduler>, timers: Box<dyn Timers>, prefix: &str) -> Home {
        let gate = Arc::new(GatedTable {
            inner: table,
            gate: Mutex::new(None),
        });
        Home {
            plane: Arc::new(
                ControlPlane::new(gate.clone(), scheduler, settings()).with_job_launcher(Arc::new(IdleLauncher)),
            ),
            gate,
            timers,
            prefix: prefix.to_string(),
            _dir: None,
        }
    }

    fn local() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let table = Arc::new(FileTable::new(dir.path().join("table")));
        let scheduler = Arc::new(LocalScheduler::new(dir.path().join("scheduler.json")));
        let timers = Box::new(LocalTimers(scheduler.clone()));
        Home {
            _dir: Some(dir),
            ..Home::new(table, scheduler, timers, "local")
        }
    }

    fn name(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    async fn call(&self, operation: &str, body: Value) -> (u16, Value) {
        api_calls::call(&self.plane, operation, body).await
    }

    async fn ok(&self, operation: &str, body: Value) -> Value {
        api_calls::ok(&self.plane, operation, body).await
    }

    /// `RACERS` concurrent calls whose first conditional writes all wait for each other;
    /// returns the answers' error codes (`"200"` for a success), sorted.
    async fn race(self: &Arc<Self>, operation: &str, bodies: Vec<Value>) -> Vec<String> {
        self.gate.arm(bodies.len());
        let calls: Vec<_> = bodies
            .into_iter()
            .map(|body| {
                let (home, operation) = (self.clone(), operation.to_string());
                tokio::spawn(async move { home.call(&operation, body).await })
            })
            .collect();
        let mut codes = Vec::new();
        for call in calls {
            let (status, body) = call.await.unwrap();
            codes.push(match status {
                200 => "200".to_string(),
                _ => body["__type"].as_str().unwrap_or("?").to_string(),
            });
        }
        codes.sort();
        codes
    }

    /// The schedules' records (none may be left half deleted), as (cadence spelled as the
    /// timers spell it, enabled) by name.
    async fn records(&self) -> BTreeMap<String, (String, bool)> {
        let mut records = BTreeMap::new();
        for item in self.gate.inner.list(ItemKind::Schedule).await.unwrap() {
            assert!(!is_deleting(&item.body), "a deletion was left unfinished: {item:?}");
            let record: ScheduleRecord = serde_json::from_value(item.body.clone()).unwrap();
            let cadence = record.internal.cadence.expect("new records keep their cadence");
            let enabled = format!("{:?}", record.monitoring_schedule_status) != "Stopped";
            records.insert(record.monitoring_schedule_name, (self.timers.spell(&cadence), enabled));
        }
        records
    }

    /// Every record has its timer, as the record says, and every timer its record.
    async fn assert_records_and_timers_agree(&self) -> usize {
        let records = self.records().await;
        let timers = self.timers.timers().await;
        assert_eq!(records, timers, "records (left) and timers (right) disagree");
        records.len()
    }
}

fn create_request(name: &str, expression: &str) -> Value {
    json!({
        "MonitoringScheduleName": name,
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": expression},
            "MonitoringJobDefinition": {
                "BaselineConfig": {
                    "ConstraintsResource": {"S3Uri": "s3://models/churn/constraints.json"},
                    "StatisticsResource": {"S3Uri": "s3://models/churn/statistics.json"}
                },
                "MonitoringInputs": [{"EndpointInput": {"EndpointName": "churn-endpoint", "LocalPath": "/opt/ml/processing/input"}}],
                "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://reports/monitoring", "LocalPath": "/opt/ml/processing/output"}}]},
                "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
                "MonitoringAppSpecification": {"ImageUri": "analyzer"},
                "RoleArn": "arn:aws:iam::123456789012:role/monitoring"
            }
        }
    })
}

fn job_definition_request(name: &str) -> Value {
    let job = &create_request("x", "cron(0 * ? * * *)")["MonitoringScheduleConfig"]["MonitoringJobDefinition"];
    json!({
        "JobDefinitionName": name,
        "DataQualityBaselineConfig": job["BaselineConfig"],
        "DataQualityAppSpecification": {"ImageUri": "analyzer"},
        "DataQualityJobInput": {"EndpointInput": job["MonitoringInputs"][0]["EndpointInput"]},
        "DataQualityJobOutputConfig": job["MonitoringOutputConfig"],
        "JobResources": job["MonitoringResources"],
        "RoleArn": job["RoleArn"],
    })
}

fn by_name(name: &str) -> Value {
    json!({ "MonitoringScheduleName": name })
}

fn codes(successes: usize, others: &str) -> Vec<String> {
    let mut codes: Vec<String> = std::iter::repeat_n("200".to_string(), successes)
        .chain(std::iter::repeat_n(others.to_string(), RACERS - successes))
        .collect();
    codes.sort();
    codes
}

/// Of concurrent Deletes one succeeds, the others are told the schedule does not exist; record
/// and timer are gone.
async fn deletes_of_a_schedule(home: Arc<Home>) {
    let name = home.name("deleted");
    home.ok("CreateMonitoringSchedule", create_request(&name, "cron(0 * ? * * *)"))
        .await;
    let answers = home
        .race("DeleteMonitoringSchedule", vec![by_name(&name); RACERS])
        .await;
    assert_eq!(answers, codes(1, "ResourceNotFound"));
    let (_, answer) = home.call("DescribeMonitoringSchedule", by_name(&name)).await;
    assert_eq!(answer["__type"], "ResourceNotFound");
    assert!(!home.records().await.contains_key(&name));
    assert!(!home.timers.timers().await.contains_key(&name));
}

/// Of concurrent Stops one succeeds, the others are told of the conflict; the same for Starts;
/// the record and the timer say what the winner did.
async fn stops_and_starts_of_a_schedule(home: Arc<Home>) {
    let name = home.name("paused");
    home.ok("CreateMonitoringSchedule", create_request(&name, "cron(0 * ? * * *)"))
        .await;
    let answers = home.race("StopMonitoringSchedule", vec![by_name(&name); RACERS]).await;
    assert_eq!(answers, codes(1, "ConflictException"));
    let described = home.ok("DescribeMonitoringSchedule", by_name(&name)).await;
    assert_eq!(described["MonitoringScheduleStatus"], "Stopped");
    assert!(!home.timers.timers().await[&name].1, "the timer is disabled");

    let answers = home.race("StartMonitoringSchedule", vec![by_name(&name); RACERS]).await;
    assert_eq!(answers, codes(1, "ConflictException"));
    let described = home.ok("DescribeMonitoringSchedule", by_name(&name)).await;
    assert_eq!(described["MonitoringScheduleStatus"], "Scheduled");
    assert!(home.timers.timers().await[&name].1, "the timer is enabled");
    home.assert_records_and_timers_agree().await;
}

/// Of concurrent Updates (each to another cadence) one succeeds; the record holds the winner's
/// configuration and the timer its cadence.
async fn updates_of_a_schedule(home: Arc<Home>) {
    let name = home.name("updated");
    home.ok("CreateMonitoringSchedule", create_request(&name, "cron(0 * ? * * *)"))
        .await;
    let expressions: Vec<String> = (0..RACERS).map(|hour| format!("cron(0 {hour} ? * * *)")).collect();
    let bodies = expressions
        .iter()
        .map(|expression| {
            let mut request = create_request(&name, expression);
            request.as_object_mut().unwrap().remove("Tags");
            request
        })
        .collect();
    let answers = home.race("UpdateMonitoringSchedule", bodies).await;
    assert_eq!(answers, codes(1, "ConflictException"));
    let described = home.ok("DescribeMonitoringSchedule", by_name(&name)).await;
    let winner = described["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"]
        .as_str()
        .unwrap();
    let hour: u32 = winner["cron(0 ".len()..].split(' ').next().unwrap().parse().unwrap();
    let cadence = Cadence::Hours {
        first_hour: hour,
        every_hours: 24,
    };
    assert_eq!(home.timers.timers().await[&name], (home.timers.spell(&cadence), true));
    home.assert_records_and_timers_agree().await;
}

/// Of concurrent Deletes of a job definition one succeeds.
async fn deletes_of_a_job_definition(home: Arc<Home>) {
    let name = home.name("definition");
    home.ok("CreateDataQualityJobDefinition", job_definition_request(&name))
        .await;
    let request = json!({ "JobDefinitionName": name });
    let answers = home
        .race("DeleteDataQualityJobDefinition", vec![request.clone(); RACERS])
        .await;
    assert_eq!(answers, codes(1, "ResourceNotFound"));
    let (_, answer) = home.call("DescribeDataQualityJobDefinition", request).await;
    assert_eq!(answer["__type"], "ResourceNotFound");
    // The name is free again.
    home.ok("CreateDataQualityJobDefinition", job_definition_request(&name))
        .await;
}

/// Of concurrent Stops of a processing job one succeeds; the others are told it is no longer
/// InProgress (SageMaker's ValidationException), and the job is Stopped.
async fn stops_of_a_processing_job(home: Arc<Home>) {
    let name = home.name("baselining");
    let request = baselining_request(&name, "s3://models/churn/train.csv", "s3://models/churn/baseline");
    home.ok("CreateProcessingJob", request).await;
    let by_job = json!({ "ProcessingJobName": name });
    let answers = home.race("StopProcessingJob", vec![by_job.clone(); RACERS]).await;
    assert_eq!(answers, codes(1, "ValidationException"));
    let described = home.ok("DescribeProcessingJob", by_job).await;
    assert_eq!(described["ProcessingJobStatus"], "Stopped");
    assert_eq!(
        described["ExitMessage"],
        "Stopped by StopProcessingJob before it started."
    );
}

/// A small seeded generator: the same interleavings are asked for on every run (the scheduler
/// of the threads still varies how they land).
struct Sequence(u64);

impl Sequence {
    fn next(&mut self, below: usize) -> usize {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % below as u64) as usize
    }
}

/// Workers run random Creates, Updates, Stops, Starts and Deletes on a few names at once; every
/// answer is a success or one of the answers a race may give, and at the end records and
/// timers agree.
async fn interleavings(home: Arc<Home>, workers: usize, calls_each: usize) {
    let names: Vec<String> = (0..3).map(|n| home.name(&format!("mixed-{n}"))).collect();
    let successes = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let (home, names, successes) = (home.clone(), names.clone(), successes.clone());
            tokio::spawn(async move {
                let mut sequence = Sequence(worker as u64 + 1);
                for _ in 0..calls_each {
                    let name = &names[sequence.next(names.len())];
                    let (operation, body) = match sequence.next(5) {
                        0 => ("CreateMonitoringSchedule", create_request(name, "cron(0 * ? * * *)")),
                        1 => {
                            let hour = sequence.next(24);
                            let mut request = create_request(name, &format!("cron(0 {hour} ? * * *)"));
                            request.as_object_mut().unwrap().remove("Tags");
                            ("UpdateMonitoringSchedule", request)
                        }
                        2 => ("StopMonitoringSchedule", by_name(name)),
                        3 => ("StartMonitoringSchedule", by_name(name)),
                        _ => ("DeleteMonitoringSchedule", by_name(name)),
                    };
                    let (status, answer) = home.call(operation, body).await;
                    let code = answer["__type"].as_str().unwrap_or("");
                    match (status, code) {
                        (200, _) => {
                            successes.fetch_add(1, Ordering::Relaxed);
                        }
                        (400, "ResourceNotFound" | "ResourceInUse" | "ConflictException") => {}
                        _ => panic!("{operation} {name}: {status} {answer}"),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert!(successes.load(Ordering::Relaxed) > 0);
    home.assert_records_and_timers_agree().await;
}

mod local {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_deletes_of_a_schedule_give_one_success() {
        deletes_of_a_schedule(Arc::new(Home::local())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_stops_and_starts_give_one_success_each() {
        stops_and_starts_of_a_schedule(Arc::new(Home::local())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_updates_give_one_success() {
        updates_of_a_schedule(Arc::new(Home::local())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_deletes_of_a_job_definition_give_one_success() {
        deletes_of_a_job_definition(Arc::new(Home::local())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_stops_of_a_processing_job_give_one_success() {
        stops_of_a_processing_job(Arc::new(Home::local())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn interleaved_changes_leave_records_and_timers_that_agree() {
        for _ in 0..3 {
            interleavings(Arc::new(Home::local()), 8, 40).await;
        }
    }
}

#[cfg(feature = "aws")]
mod aws {
    use modelmon_cloud::aws::{create_group, create_table, expression, DynamoTable, EventBridgeScheduler};

    use super::*;
    use crate::common::{scenario, sdk_config, unique};

    struct EventBridgeTimers {
        client: aws_sdk_scheduler::Client,
        group: String,
    }

    #[async_trait]
    impl Timers for EventBridgeTimers {
        async fn timers(&self) -> BTreeMap<String, (String, bool)> {
            let mut timers = BTreeMap::new();
            let mut pages = self
                .client
                .list_schedules()
                .group_name(&self.group)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for summary in page.unwrap().schedules() {
                    let name = summary.name().unwrap().to_string();
                    let timer = self
                        .client
                        .get_schedule()
                        .group_name(&self.group)
                        .name(&name)
                        .send()
                        .await
                        .unwrap();
                    let enabled = timer.state() == Some(&aws_sdk_scheduler::types::ScheduleState::Enabled);
                    timers.insert(name, (timer.schedule_expression().unwrap().to_string(), enabled));
                }
            }
            timers
        }
        fn spell(&self, cadence: &Cadence) -> String {
            expression(cadence)
        }
    }

    async fn home() -> Arc<Home> {
        let sdk = sdk_config().await;
        let table_name = unique("table");
        create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table_name)
            .await
            .unwrap();
        let group = unique("group");
        let client = aws_sdk_scheduler::Client::new(&sdk);
        create_group(&client, &group).await.unwrap();
        let settings = scenario::scheduler_settings(&group, "arn:aws:lambda:us-east-1:123456789012:function:analyze");
        Arc::new(Home::new(
            Arc::new(DynamoTable::new(&sdk, &table_name)),
            Arc::new(EventBridgeScheduler::new(&sdk, settings)),
            Box::new(EventBridgeTimers { client, group }),
            "aws",
        ))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_deletes_of_a_schedule_give_one_success() {
        deletes_of_a_schedule(home().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_stops_and_starts_give_one_success_each() {
        stops_and_starts_of_a_schedule(home().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_updates_give_one_success() {
        updates_of_a_schedule(home().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_deletes_of_a_job_definition_give_one_success() {
        deletes_of_a_job_definition(home().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_stops_of_a_processing_job_give_one_success() {
        stops_of_a_processing_job(home().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn interleaved_changes_leave_records_and_timers_that_agree() {
        interleavings(home().await, 6, 20).await;
    }
}
