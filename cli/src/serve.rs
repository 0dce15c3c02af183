//! `modelmon serve`: the control plane, the analysis runs and the baselining jobs on this
//! machine, with local adapters: the same API (boto3's `sagemaker` client works with
//! `endpoint_url`), schedules fired and processing jobs run in-process, objects in folders
//! (`--store files`) or in S3 (`--store s3`, with the AWS SDK's default credential chain).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, Utc};
use clap::{Args, ValueEnum};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use modelmon_cloud::control::api::{self, ApiResponse};
use modelmon_cloud::control::{ControlPlane, ControlSettings};
use modelmon_cloud::local::{
    FileJobLog, FileMetrics, FileTable, FsObjectStore, InProcessLauncher, LocalPython, LocalScheduler,
};
use modelmon_cloud::ports::{JobLog, ObjectStore, ScriptRunner};
use modelmon_cloud::run::{AnalysisRunner, JobRunSettings, ProcessingJobRunner, RunResult, RunSettings, ScheduledRun};
use modelmon_cloud::ObjectUri;
use tokio::net::TcpListener;

use crate::CliError;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Folder for schedules, executions and processing jobs (table/), timers (scheduler.json),
    /// metrics (metrics.jsonl) and processing jobs' logs (logs/); objects too (s3/) with
    /// `--store files` unless --data-root is given.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// Where `s3://bucket/key` is: the file DATA_ROOT/bucket/key (`files`), or the S3 object,
    /// reached with the AWS SDK's default credential chain; AWS_ENDPOINT_URL_S3 (or
    /// AWS_ENDPOINT_URL) points it at any S3-compatible endpoint (`s3`). With `s3`, processing
    /// jobs' log lines go to CloudWatch Logs (/aws/sagemaker/ProcessingJobs), where the
    /// SageMaker SDK reads them.
    #[arg(long, value_enum, default_value_t = Store::Files)]
    store: Store,
    /// Where `s3://bucket/key` points with `--store files`: DIR/bucket/key.
    #[arg(long, value_name = "DIR")]
    data_root: Option<PathBuf>,
    /// The endpoints' capture destination (DataCaptureConfig.DestinationS3Uri), for jobs whose
    /// Environment names none.
    #[arg(long, value_name = "S3_URI")]
    capture_destination: Option<String>,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[arg(long, default_value = "123456789012")]
    account_id: String,
    /// Monitoring schedules at most (more are refused with ResourceLimitExceeded, as SageMaker
    /// refuses past an account's quota).
    #[arg(long, default_value_t = 1000)]
    max_schedules: usize,
    /// How long a baselining job may go without a sign of life before it counts as failed (its
    /// runner looks for a Stop every sixth of this).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    job_lease_seconds: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Store {
    Files,
    S3,
}

pub fn run(args: ServeArgs) -> Result<(), CliError> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::Usage(format!("cannot start tokio: {e}")))?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let capture_destination = args.capture_destination.as_deref().map(ObjectUri::parse).transpose();
    let capture_destination = capture_destination.map_err(|e| CliError::Usage(e.to_string()))?;
    let table = Arc::new(FileTable::new(args.state.join("table")));
    let scheduler = Arc::new(LocalScheduler::new(args.state.join("scheduler.json")));
    let (store, job_log, objects) = object_store(&args).await?;
    let settings = ControlSettings {
        region: args.region.clone(),
        account_id: args.account_id.clone(),
        max_schedules: args.max_schedules,
    };
    // Users' scripts on this machine's Python 3, started at a job's first script.
    let scripts: Arc<dyn ScriptRunner> = Arc::new(LocalPython::from_env().map_err(CliError::Script)?);
    let jobs = Arc::new(
        ProcessingJobRunner::new(
            table.clone(),
            Arc::clone(&store),
            job_log,
            JobRunSettings {
                lease: Duration::seconds(args.job_lease_seconds.max(1)),
                scratch: None,
            },
        )
        .with_scripts(Arc::clone(&scripts)),
    );
    let plane = Arc::new(
        ControlPlane::new(table.clone(), scheduler.clone(), settings)
            .with_job_launcher(Arc::new(InProcessLauncher::new(jobs))),
    );
    let state_report = check_state(&table, &scheduler, &plane).await?;
    let runner = Arc::new(
        AnalysisRunner::new(
            table,
            store,
            Arc::new(FileMetrics::new(args.state.join("metrics.jsonl"))),
            RunSettings {
                capture_destination,
                claim_timeout: Duration::minutes(15),
                scratch: None,
                read: Default::default(),
            },
        )
        .with_scripts(scripts),
    );
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port)))
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
    let address = listener.local_addr().map_err(|e| CliError::Usage(e.to_string()))?;
    println!(
        "modelmon serve: listening on http://{address} (state in {}, objects in {objects})",
        args.state.display(),
    );
    for line in state_report {
        println!("modelmon serve: {line}");
    }
    tokio::spawn(fire_due_schedules(scheduler, runner));
    loop {
        let connection = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Ok((stream, _)) = connection else { continue };
        let plane = Arc::clone(&plane);
        tokio::spawn(async move {
            let service = service_fn(move |request| respond(Arc::clone(&plane), request));
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %err, "connection closed");
            }
        });
    }
}

/// Reads the whole state back before serving: counts what is there, names what cannot be read
/// back (left in place), removes the temp files of writes a crash interrupted, and brings the
/// timers in line with their records. Returns the lines to print, the summary last.
async fn check_state(
    table: &Arc<FileTable>,
    scheduler: &Arc<LocalScheduler>,
    plane: &ControlPlane,
) -> Result<Vec<String>, CliError> {
    let failed = |err: &dyn std::fmt::Display| CliError::Usage(format!("cannot check the state: {err}"));
    let (table_files, timer_file) = (Arc::clone(table), Arc::clone(scheduler));
    let checked = tokio::task::spawn_blocking(move || {
        let timers = timer_file.check()?;
        let specs = if timers.unreadable.is_empty() {
            Some(timer_file.specs()?)
        } else {
            None
        };
        Ok::<_, modelmon_cloud::CloudError>((table_files.check()?, timers, specs))
    });
    let (items, timers, specs) = checked.await.map_err(|e| failed(&e))?.map_err(|e| failed(&e))?;
    let counts: Vec<String> = items
        .counts
        .iter()
        .chain(&timers.counts)
        .filter(|(_, count)| **count > 0)
        .map(|(kind, count)| format!("{kind} {count}"))
        .collect();
    let unreadable: Vec<_> = items.unreadable.iter().chain(&timers.unreadable).collect();
    let mut lines: Vec<String> = unreadable
        .iter()
        .map(|err| {
            format!("cannot read back {err} (left in place: requests that need it fail until it is fixed or removed)")
        })
        .collect();
    let repaired = match specs {
        Some(specs) if unreadable.is_empty() => {
            let repairs = plane.reconcile(specs).await.map_err(|e| failed(&e))?;
            lines.extend(repairs.iter().map(|note| format!("repaired {note}")));
            repairs.len().to_string()
        }
        _ => "timers not compared with their records while a file cannot be read back, so 0".into(),
    };
    // The summary comes last: a reader knows the report ends with it.
    lines.push(format!(
        "state checked: {}; {} unreadable; {repaired} repaired; {} temp files of interrupted writes removed",
        if counts.is_empty() {
            "empty".to_string()
        } else {
            counts.join(", ")
        },
        unreadable.len(),
        items.temps_removed + timers.temps_removed
    ));
    Ok(lines)
}

/// Where objects are, where processing jobs' log lines go, and the store's description.
async fn object_store(args: &ServeArgs) -> Result<(Arc<dyn ObjectStore>, Arc<dyn JobLog>, String), CliError> {
    match args.store {
        Store::Files => {
            let data_root = args.data_root.clone().unwrap_or_else(|| args.state.join("s3"));
            let description = data_root.display().to_string();
            let job_log = Arc::new(FileJobLog::new(args.state.join("logs")));
            Ok((Arc::new(FsObjectStore::new(data_root)), job_log, description))
        }
        #[cfg(feature = "s3-store")]
        Store::S3 => {
            if args.data_root.is_some() {
                return Err(CliError::Usage(
                    "--data-root is for --store files; --store s3 uses S3".into(),
                ));
            }
            let sdk = modelmon_cloud::aws::load_sdk_config().await;
            let job_log = Arc::new(modelmon_cloud::aws::CloudWatchJobLog::new(&sdk));
            let store = Arc::new(modelmon_cloud::aws::S3Store::new(&sdk));
            Ok((store, job_log, "S3".to_string()))
        }
        #[cfg(not(feature = "s3-store"))]
        Store::S3 => Err(CliError::Usage(
            "this modelmon was built without the S3 store (cargo feature `s3-store`)".into(),
        )),
    }
}

/// Every second: the schedules whose time has come run, each in its own task.
async fn fire_due_schedules(scheduler: Arc<LocalScheduler>, runner: Arc<AnalysisRunner>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        // `due` reads and writes the timers' file: off the async threads.
        let timers = Arc::clone(&scheduler);
        let due = match tokio::task::spawn_blocking(move || timers.due(Utc::now())).await {
            Ok(Ok(due)) => due,
            Ok(Err(err)) => {
                tracing::error!(error = %err, "cannot read the local schedules");
                continue;
            }
            Err(err) => {
                tracing::error!(error = %err, "the schedule check failed");
                continue;
            }
        };
        for (schedule_name, scheduled_time) in due {
            let runner = Arc::clone(&runner);
            tokio::spawn(async move {
                let event = ScheduledRun {
                    schedule_name,
                    scheduled_time,
                };
                match runner.run(&event).await {
                    Ok(RunResult::Finished(record)) => tracing::info!(
                        schedule = %event.schedule_name,
                        status = ?record.summary.monitoring_execution_status,
                        reports = record.report_uri.as_deref().unwrap_or("-"),
                        "analysis finished"
                    ),
                    Ok(RunResult::Skipped(reason)) => {
                        tracing::info!(schedule = %event.schedule_name, %reason, "skipped")
                    }
                    Err(err) => tracing::error!(schedule = %event.schedule_name, error = %err, "analysis failed"),
                }
            });
        }
    }
}

async fn respond(plane: Arc<ControlPlane>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() != Method::POST {
        let answer = ApiResponse::error(405, "UnknownOperationException", "The API takes POST / requests");
        return Ok(to_http(answer));
    }
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match Limited::new(request.into_body(), api::MAX_REQUEST_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            let message = format!("The request body exceeds the limit of {} bytes", api::MAX_REQUEST_BYTES);
            return Ok(to_http(ApiResponse::error(413, "ValidationException", &message)));
        }
    };
    Ok(to_http(api::handle(&plane, target.as_deref(), &body).await))
}

fn to_http(answer: ApiResponse) -> Response<Full<Bytes>> {
    let mut response = Response::builder().status(answer.status);
    for (name, value) in answer.headers() {
        response = response.header(name, value);
    }
    response
        .body(Full::new(Bytes::from(answer.body)))
        .expect("status and headers are valid")
}
