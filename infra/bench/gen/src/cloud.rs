//! `bench-cloud`: modelmon's runs against an AWS emulator (moto server, at `AWS_ENDPOINT_URL`),
//! through the real SDK clients, for infra/bench/bench.py. Each command is one process, so the
//! benchmark measures its wall time and peak memory from outside; what a command measures inside
//! is printed as one JSON line.
//!
//! - `upload --from PATH --to s3://bucket/prefix`: a file, or a folder's files (keys relative to
//!   it), into S3 (the bucket is made if missing). Set-up: not measured.
//! - `baseline --source s3://... --output s3://... --format csv --mode streamed|staged`: the
//!   baselining job as the baseline function runs it (streamed), or as it ran before it streamed
//!   (staged: every object downloaded to a temporary folder, 16 at a time, then profiled there).
//! - `analyze-setup --bucket B --baseline DIR [--capture DIR]`: a table, a schedule group, the
//!   baseline (and the capture) in S3, and an hourly schedule on them; prints their names.
//! - `fire --table T --bucket B --schedule S --time T`: the scheduler's event for the
//!   schedule, to the analyze function's code: from the event to the reports in S3, the metrics
//!   and the execution record, with the phases the run measures itself.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use modelmon_cloud::aws::{
    create_group, create_table, load_sdk_config, CloudWatchMetrics, DynamoTable, EventBridgeScheduler, S3Store,
    SchedulerSettings,
};
use modelmon_cloud::control::api::handle;
use modelmon_cloud::control::{ControlPlane, ControlSettings};
use modelmon_cloud::ports::ObjectStore;
use modelmon_cloud::run::{
    data_objects, engine_failure, run_baseline, AnalysisRunner, BaselineJob, RunResult, RunSettings, ScheduledRun,
};
use modelmon_cloud::{AllowedBuckets, CloudError, ObjectUri};
use modelmon_engine::dataset::{profile_sources, DatasetFormat, FileSource, ReadOptions, SourceRef};
use modelmon_engine::profile::DatasetProfile;
use modelmon_engine::suggest::suggest_constraints;
use serde_json::{json, Value};

#[derive(Parser)]
#[command(
    name = "bench-cloud",
    about = "modelmon's runs against an AWS emulator, for the benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Streamed,
    Staged,
}

#[derive(Subcommand)]
enum Command {
    Upload {
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        to: String,
    },
    Baseline {
        #[arg(long)]
        source: String,
        #[arg(long)]
        output: String,
        #[arg(long, value_enum)]
        mode: Mode,
    },
    AnalyzeSetup {
        #[arg(long)]
        bucket: String,
        /// A folder with the baseline's statistics.json and constraints.json.
        #[arg(long)]
        baseline: PathBuf,
        /// A capture root (bench-gen capture's output); without it, the bucket's capture stays.
        #[arg(long)]
        capture: Option<PathBuf>,
    },
    Fire {
        #[arg(long)]
        table: String,
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        schedule: String,
        #[arg(long)]
        time: DateTime<Utc>,
    },
}

const ENDPOINT: &str = "bench-endpoint";

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let sdk = load_sdk_config().await;
    let s3 = S3Store::new(&sdk);
    let store: Arc<dyn ObjectStore> = Arc::new(s3.clone());
    let result = match cli.command {
        Command::Upload { from, to } => upload(&s3, &from, &ObjectUri::parse(&to).unwrap()).await,
        Command::Baseline { source, output, mode } => baseline(&store, source, output, mode).await,
        Command::AnalyzeSetup {
            bucket,
            baseline,
            capture,
        } => analyze_setup(&sdk, &s3, &bucket, &baseline, capture.as_deref()).await,
        Command::Fire {
            table,
            bucket,
            schedule,
            time,
        } => fire(&sdk, store, &table, &bucket, schedule, time).await,
    };
    match result {
        Ok(value) => {
            println!("{value}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("bench-cloud: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The files under `from` (or `from` itself), with their keys relative to it.
fn files_under(from: &Path) -> Vec<(PathBuf, String)> {
    if from.is_file() {
        let name = from.file_name().unwrap().to_string_lossy().to_string();
        return vec![(from.to_path_buf(), name)];
    }
    let mut files = Vec::new();
    let mut folders = vec![from.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let key = path.strip_prefix(from).unwrap().to_string_lossy().to_string();
                files.push((path, key));
            }
        }
    }
    files.sort();
    files
}

async fn upload(s3: &S3Store, from: &Path, to: &ObjectUri) -> Result<Value, CloudError> {
    let _ = s3.client.create_bucket().bucket(&to.bucket).send().await;
    let started = Instant::now();
    let mut bytes = 0;
    for (path, key) in files_under(from) {
        let body = aws_sdk_s3::primitives::ByteStream::from_path(&path)
            .await
            .map_err(|e| CloudError::Internal(e.to_string()))?;
        let object = to.join(&key);
        s3.client
            .put_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .body(body)
            .send()
            .await
            .map_err(|err| CloudError::aws("s3", "PutObject", err))?;
        bytes += std::fs::metadata(&path).map_or(0, |m| m.len());
    }
    Ok(json!({"bytes": bytes, "seconds": started.elapsed().as_secs_f64()}))
}

async fn baseline(
    store: &Arc<dyn ObjectStore>,
    source: String,
    output: String,
    mode: Mode,
) -> Result<Value, CloudError> {
    let started = Instant::now();
    let written = ObjectUri::parse(&output)?.join("statistics.json");
    let records = match mode {
        Mode::Streamed => {
            let job = BaselineJob {
                dataset_source: source,
                dataset_format: r#"{"csv": {"header": true}}"#.into(),
                output_path: output,
            };
            run_baseline(store, &job, &AllowedBuckets::any(), None).await?.records
        }
        Mode::Staged => staged_baseline(store, &source, &output).await?,
    };
    let seconds = started.elapsed().as_secs_f64();
    // What was written, to compare the two modes: a hash of statistics.json (std's SipHash, fixed keys).
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&store.get(&written).await?, &mut hasher);
    let statistics = format!("{:016x}", std::hash::Hasher::finish(&hasher));
    Ok(
        json!({"seconds": seconds, "records": records.read, "analysed": records.analysed, "statistics_hash": statistics}),
    )
}

/// The baselining job as it ran before it streamed: download everything, then profile.
async fn staged_baseline(
    store: &Arc<dyn ObjectStore>,
    source: &str,
    output: &str,
) -> Result<modelmon_engine::profile::RecordAccount, CloudError> {
    let root = ObjectUri::parse(source)?.as_prefix();
    let objects = data_objects(store.list(&root).await?, &root);
    let dir = tempfile::tempdir().map_err(|e| CloudError::io(std::env::temp_dir(), e))?;
    let mut tasks = tokio::task::JoinSet::new();
    let mut sources: Vec<SourceRef> = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        if tasks.len() >= 16 {
            tasks.join_next().await.unwrap().unwrap()?;
        }
        let path = dir.path().join(i.to_string());
        let (store, uri) = (Arc::clone(store), object.uri.clone());
        tasks.spawn(async move {
            let bytes = store.get(&uri).await?;
            tokio::fs::write(&path, bytes)
                .await
                .map_err(|e| CloudError::io(&path, e))
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap()?;
    }
    for (i, object) in objects.iter().enumerate() {
        let path = dir.path().join(i.to_string());
        sources.push(Arc::new(FileSource::named(path, object.uri.to_string())));
    }
    let profile = tokio::task::spawn_blocking(move || {
        let mut profile = DatasetProfile::default();
        let format = DatasetFormat::Csv { header: true };
        profile_sources(&sources, format, ReadOptions::default(), &mut profile, &mut |_| {}).map(|_| profile)
    })
    .await
    .unwrap()
    .map_err(engine_failure)?;
    let statistics = profile.to_statistics();
    let output = ObjectUri::parse(output)?;
    store
        .put(
            &output.join("statistics.json"),
            statistics.to_json().into_bytes(),
            "application/json",
        )
        .await?;
    let constraints = suggest_constraints(&statistics).to_json().into_bytes();
    store
        .put(&output.join("constraints.json"), constraints, "application/json")
        .await?;
    Ok(profile.records)
}

fn scheduler_settings(group: &str) -> SchedulerSettings {
    SchedulerSettings {
        group_name: group.to_string(),
        target_arn: "arn:aws:lambda:us-east-1:123456789012:function:modelmon-analyze".into(),
        role_arn: "arn:aws:iam::123456789012:role/modelmon-scheduler".into(),
        dead_letter_arn: None,
        max_retry_attempts: 2,
        max_event_age_seconds: 3600,
    }
}

fn unique(prefix: &str) -> String {
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

async fn analyze_setup(
    sdk: &aws_config::SdkConfig,
    s3: &S3Store,
    bucket: &str,
    baseline: &Path,
    capture: Option<&Path>,
) -> Result<Value, CloudError> {
    let (table, group, schedule) = (unique("bench-table"), unique("bench-group"), unique("bench"));
    create_table(&aws_sdk_dynamodb::Client::new(sdk), &table).await?;
    create_group(&aws_sdk_scheduler::Client::new(sdk), &group).await?;
    let root = ObjectUri::parse(&format!("s3://{bucket}/"))?;
    upload(s3, baseline, &root.join("baseline")).await?;
    if let Some(capture) = capture {
        upload(s3, capture, &root.join("datacapture")).await?;
    }
    let plane = ControlPlane::new(
        Arc::new(DynamoTable::new(sdk, &table)),
        Arc::new(EventBridgeScheduler::new(sdk, scheduler_settings(&group))),
        ControlSettings {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            max_schedules: 100,
        },
    );
    let uri = |key: &str| format!("s3://{bucket}/{key}");
    let request = json!({
        "MonitoringScheduleName": schedule,
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinition": {
                "BaselineConfig": {
                    "ConstraintsResource": {"S3Uri": uri("baseline/constraints.json")},
                    "StatisticsResource": {"S3Uri": uri("baseline/statistics.json")}
                },
                "MonitoringInputs": [{"EndpointInput": {"EndpointName": ENDPOINT, "LocalPath": "/opt/ml/processing/input"}}],
                "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {"S3Uri": uri("reports"), "LocalPath": "/opt/ml/processing/output"}}]},
                "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
                "MonitoringAppSpecification": {"ImageUri": "modelmon"},
                "RoleArn": "arn:aws:iam::123456789012:role/monitoring"
            }
        }
    });
    let response = handle(
        &plane,
        Some("SageMaker.CreateMonitoringSchedule"),
        request.to_string().as_bytes(),
    )
    .await;
    if response.status != 200 {
        return Err(CloudError::Internal(String::from_utf8_lossy(&response.body).into()));
    }
    Ok(json!({"table": table, "group": group, "schedule": schedule}))
}

async fn fire(
    sdk: &aws_config::SdkConfig,
    store: Arc<dyn ObjectStore>,
    table: &str,
    bucket: &str,
    schedule: String,
    time: DateTime<Utc>,
) -> Result<Value, CloudError> {
    let runner = AnalysisRunner::new(
        Arc::new(DynamoTable::new(sdk, table)),
        store,
        Arc::new(CloudWatchMetrics::new(sdk)),
        RunSettings {
            capture_destination: Some(ObjectUri::parse(&format!("s3://{bucket}/datacapture"))?),
            claim_timeout: Duration::minutes(15),
            scratch: None,
            read: ReadOptions::default(),
        },
    );
    let event = ScheduledRun {
        schedule_name: schedule,
        scheduled_time: time,
    };
    let started = Instant::now();
    let result = runner.run(&event).await?;
    let seconds = started.elapsed().as_secs_f64();
    let RunResult::Finished(record) = result else {
        return Err(CloudError::Internal("the run was skipped".into()));
    };
    Ok(json!({
        "seconds": seconds,
        "status": record.summary.monitoring_execution_status,
        "records": record.records,
        "timings": record.timings,
    }))
}
